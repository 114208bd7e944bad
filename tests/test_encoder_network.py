"""The torch side of the encoder kinds: batching, the frozen-layer cache and its guard (tiny local BERT)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason='the encoder kinds need torch: pip install "sosrisk[transformers]"')
pytest.importorskip("transformers", reason='the encoder kinds need transformers: pip install "sosrisk[transformers]"')

from sosrisk.models import ModelError
from sosrisk.models.encoder import EncoderModel
from sosrisk.models.encoder_network import (
    cached_logits,
    classifier_class,
    frozen_outputs,
    network_logits,
    pooler_kwargs,
    token_batches,
)
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(3) for text in TEXTS]
LEVELS = [i % 11 for i in range(len(POSTS))]
FAST = {"epochs": 1, "batch_size": 8, "validation_fraction": 0.3}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_token_batches_cover_every_post_once_within_the_budget() -> None:
    lengths = [5, 300, 40, 41, 7, 600, 39, 12]
    batches = list(token_batches(lengths, max_posts=3, max_tokens=100))
    assert sorted(i for b in batches for i in b) == list(range(8))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100


def test_frozen_lower_layers_are_cached_and_give_the_full_networks_answer(tiny_bert: Path) -> None:
    settings = {**FAST, "freeze_layers": 6}  # the fast recipe's 6 on a 2-layer BERT: 1 is frozen, 1 is trained
    model = EncoderModel(task="level", backbone=str(tiny_bert), **settings).fit(POSTS, LEVELS)
    assert model.training_["frozen_layers"] == 1
    network = model.network_
    assert not any(p.requires_grad for p in network.encoder.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in network.encoder.encoder.layer[1].parameters())
    rows = model._encode(POSTS)
    hidden = frozen_outputs(network, rows, pad_id=model.pad_id_, layer=1)
    assert [len(h) for h in hidden] == [len(r) for r in rows]
    np.testing.assert_allclose(
        cached_logits(network, hidden, layer=1, n_classes=11),
        network_logits(network, rows, pad_id=model.pad_id_, n_classes=11),
        atol=1e-5,
    )


def test_training_refuses_a_frozen_layer_cache_that_disagrees_with_the_network(
    tiny_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    network_class = classifier_class()
    right = network_class.forward_from
    # as if a transformers release ran its layers differently from what forward_from assumes
    monkeypatch.setattr(network_class, "forward_from", lambda self, *args: right(self, *args) + 0.5)
    with pytest.raises(ModelError) as caught:
        EncoderModel(task="level", backbone=str(tiny_bert), **FAST, freeze_layers=1).fit(POSTS, LEVELS)
    assert str(caught.value) == (
        f"The frozen-layer cache does not reproduce the whole network with transformers {transformers.__version__} "
        "(largest logit difference 0.5, expected <= 0.0001). Fix: train with freeze_layers=0 (--set "
        'freeze_layers=0; slower), or pip install "transformers<6" at a version sosrisk was tested with (see '
        "pyproject.toml)."
    )
    EncoderModel(task="level", backbone=str(tiny_bert), **FAST, freeze_layers=0).fit(POSTS, LEVELS)  # no cache


def test_the_pooler_is_left_out_and_built_unused_when_transformers_moves_its_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import transformers

    config = transformers.BertConfig()
    assert pooler_kwargs(transformers, config) == {"add_pooling_layer": False}
    monkeypatch.setitem(sys.modules, "transformers.models.auto.modeling_auto", None)  # the import now fails
    assert pooler_kwargs(transformers, config) == {}
