"""Tests of ``embedding-linear`` (frozen encoder embeddings + logistic regression) on a tiny local BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason='embedding-linear needs torch: pip install "sosrisk[transformers]"')
pytest.importorskip("transformers", reason='embedding-linear needs transformers: pip install "sosrisk[transformers]"')

from sosrisk.models import ModelError, load_model
from sosrisk.models.embedding_linear import EmbeddingLinearModel
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(3) for text in TEXTS]
BINARY = [i % 2 for i in range(len(POSTS))]


def test_fit_predict_round_trip(tmp_path: Path) -> None:
    folder = build_tiny_bert(tmp_path / "bert")
    model = EmbeddingLinearModel(task="binary", backbone=str(folder), cv_folds=3).fit(POSTS, BINARY)
    proba = model.predict_proba(POSTS[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.embed(POSTS[:2]), model.embed(POSTS[:2]))  # memo gives the same vectors
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["params"] == {
        "backbone": str(folder),
        "pooling": "auto",
        "prefix": "auto",
        "max_length": 256,
        "layers": None,
        "combine_layers": "mean",
        "head": "softmax",
        "C": 0.005,
        "class_weight": "balanced",
        "decision": "auto",
        "target_recall": 0.8,
        "cv_folds": 3,
        "seed": 0,
    }
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(POSTS), model.predict_proba(POSTS), atol=1e-8)


def test_a_different_backbone_is_refused(tmp_path: Path) -> None:
    folder = build_tiny_bert(tmp_path / "bert")
    model = EmbeddingLinearModel(task="binary", backbone=str(folder), cv_folds=3).fit(POSTS, BINARY)
    model.save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["initializer_range"] = 0.03  # another checkpoint in the same folder
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match="is not the one this model was trained on"):
        load_model(tmp_path / "m").predict_proba(POSTS[:1])


def test_a_loaded_model_never_touches_the_network_for_its_backbone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from sosrisk.models.decision import DecisionRule

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    connections: list[object] = []

    def no_network(*args: object, **kwargs: object) -> None:
        connections.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    model = EmbeddingLinearModel(task="binary", backbone="someone/a-model-not-in-the-cache")
    model.classes_ = np.array([0, 1])
    model.decision_ = DecisionRule("threshold", threshold=0.5)
    model.mean_, model.scale_ = np.zeros(4), np.ones(4)
    model.coef_, model.intercept_ = np.zeros((2, 4)), np.zeros(2)
    model.backbone_sha256_ = "0" * 64
    directory = model.save(tmp_path / "m")
    loaded = load_model(directory)
    with pytest.raises(ModelError) as info:
        loaded.predict(["好累"])
    assert str(info.value) == (
        f"{directory}: The backbone 'someone/a-model-not-in-the-cache' is a hub id that is not in the local hub "
        "cache, and loading a model directory never downloads anything. Fix: put the checkpoint in the hub cache on "
        "this machine (download it where there is internet and copy the cache), or retrain the model with a local "
        "checkpoint folder or 'e5-small'."
    )
    assert connections == []


# ---------------------------------------------------------------------------------------------- layers
def reference_embedding(folder: Path, texts: list[str], layers: list[int], combine: str = "mean") -> np.ndarray:
    """Mean-pooled, L2-normalised states of each layer, averaged and normalised (or concatenated), post by post."""
    import tokenizers
    import torch
    import transformers

    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([tokenizer.encode(text).ids])
            states = model(input_ids=ids, output_hidden_states=True).hidden_states
            pooled = [torch.nn.functional.normalize(states[layer][0].mean(0), dim=-1) for layer in layers]
            if combine == "concat":
                out.append((torch.cat(pooled) / len(pooled) ** 0.5).numpy())
            else:
                out.append(torch.nn.functional.normalize(torch.stack(pooled).mean(0), dim=-1).numpy())
    return np.stack(out)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_bert import build_tiny_bert as build

    return build(tmp_path_factory.mktemp("layers-bert"))


def test_the_default_layers_are_the_last_layer_exactly_as_before(tiny: Path) -> None:
    default = EmbeddingLinearModel(backbone=str(tiny), pooling="mean")
    vectors = default.embed(POSTS)
    np.testing.assert_allclose(vectors, reference_embedding(tiny, POSTS, [2]), atol=1e-5)
    for same in ([2], [-1]):  # the last layer, named: the very same embedder and memo
        named = EmbeddingLinearModel(backbone=str(tiny), pooling="mean", layers=same)
        assert named._get_embedder() is default._get_embedder()
        np.testing.assert_array_equal(named.embed(POSTS), vectors)


@pytest.mark.parametrize("combine", ["mean", "concat"])
@pytest.mark.parametrize("layers", [[0, 1, 2], [1, -1]])
def test_several_layers_join_their_normalised_pooled_states(tiny: Path, layers: list[int], combine: str) -> None:
    model = EmbeddingLinearModel(backbone=str(tiny), pooling="mean", layers=layers, combine_layers=combine)
    vectors = model.embed(POSTS)
    assert vectors.shape == (len(POSTS), 32 * len(layers) if combine == "concat" else 32)
    resolved = [layer if layer >= 0 else 3 + layer for layer in layers]
    np.testing.assert_allclose(vectors, reference_embedding(tiny, POSTS, resolved, combine), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    last = EmbeddingLinearModel(backbone=str(tiny), pooling="mean").embed(POSTS)
    assert model._get_embedder() is not EmbeddingLinearModel(backbone=str(tiny), pooling="mean")._get_embedder()
    if combine == "mean":
        assert np.abs(vectors - last).max() > 1e-3  # another memo: other layers' vectors never mix in


def test_how_layers_are_joined_keys_the_memo_only_when_there_are_several(tiny: Path) -> None:
    def embedder(**params: object) -> object:
        return EmbeddingLinearModel(backbone=str(tiny), pooling="mean", **params)._get_embedder()  # type: ignore[arg-type]

    assert embedder(layers=[1, 2], combine_layers="mean") is not embedder(layers=[1, 2], combine_layers="concat")
    assert embedder(combine_layers="concat") is embedder()  # one layer: the same vectors either way


def test_layers_are_saved_and_loaded(tiny: Path, tmp_path: Path) -> None:
    model = EmbeddingLinearModel(
        task="binary", backbone=str(tiny), layers=[1, 2], combine_layers="concat", cv_folds=3
    ).fit(POSTS, BINARY)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["params"]["layers"] == [1, 2] and config["params"]["combine_layers"] == "concat"
    assert "the concatenation of layers [1, 2]" in (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, EmbeddingLinearModel) and loaded.layers == [1, 2]
    assert loaded.combine_layers == "concat" and loaded.coef_ is not None and loaded.coef_.shape == (2, 64)
    np.testing.assert_allclose(loaded.predict_proba(POSTS), model.predict_proba(POSTS), atol=1e-8)
    config["params"]["layers"] = [1, 1]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match=r"field 'params': The 'layers' parameter of embedding-linear must be None"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [],
            "The 'layers' parameter of embedding-linear must be None or a non-empty list of distinct ints (layer "
            "numbers: 0 the embeddings, 1 the first layer, -1 the last). Got [] instead.",
        ),
        (
            [1, 1],
            "The 'layers' parameter of embedding-linear must be None or a non-empty list of distinct ints (layer "
            "numbers: 0 the embeddings, 1 the first layer, -1 the last). Got [1, 1] instead.",
        ),
        (
            "2",
            "The 'layers' parameter of embedding-linear must be None or a non-empty list of distinct ints (layer "
            "numbers: 0 the embeddings, 1 the first layer, -1 the last). Got '2' instead.",
        ),
        (
            [3],
            "The 'layers' parameter of embedding-linear names layer 3, but the backbone '{folder}' has 2 layers. "
            "Expected layer numbers from 0 (the embeddings) to 2, or from -1 (the last) to -3.",
        ),
        (
            [2, -1],
            "The 'layers' parameter of embedding-linear names one layer twice ([2, -1] in a backbone of 2 layers). "
            "Name each layer once.",
        ),
    ],
)
def test_bad_layers_are_refused_with_the_allowed_values(tiny: Path, layers: object, message: str) -> None:
    model = EmbeddingLinearModel(task="binary", backbone=str(tiny), layers=layers, cv_folds=3)  # type: ignore[arg-type]
    with pytest.raises(ModelError) as caught:
        model.fit(POSTS, BINARY)
    assert str(caught.value) == message.format(folder=tiny)


@pytest.mark.parametrize("combine", ["mean", "concat"])
def test_several_layers_under_bfloat16_give_close_float32_vectors(
    tiny: Path, combine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sosrisk import threads

    monkeypatch.setitem(threads._PRECISION, "encoders", "float32")
    model = EmbeddingLinearModel(backbone=str(tiny), pooling="mean", layers=[1, 2], combine_layers=combine)
    exact = model.embed(POSTS)
    threads.set_encoder_precision("bfloat16")
    fast = model.embed(POSTS)
    threads.set_encoder_precision("float32")
    assert fast.dtype == np.float32 and not np.array_equal(fast, exact)  # it really ran in bfloat16
    np.testing.assert_allclose(fast, exact, atol=0.05)
    np.testing.assert_array_equal(model.embed(POSTS), exact)  # the memo kept the two apart
