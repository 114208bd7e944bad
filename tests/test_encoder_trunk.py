"""Encoder directories saved as a delta over a backbone sosrisk built, and the lower layers shared at prediction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.numpy import load_file, save_file

from sosrisk.models import ModelError, load_model
from sosrisk.models.embedding_linear import EmbeddingLinearModel
from sosrisk.models.encoder import EncoderModel
from sosrisk.models.encoder_trunk import TRUNK_MEMO_BYTES, shared_backbone, shared_tokenizer, split_delta
from tiny_bert import TEXTS, build_tiny_bert

POSTS = [f"{text}{i}" for i in range(3) for text in TEXTS]
LEVELS = [i % 11 for i in range(len(POSTS))]
BINARY = [i % 2 for i in range(len(POSTS))]
# the fast recipe's shape on a 2-layer network: word embeddings and the lower layer frozen
SETTINGS = {"epochs": 1, "batch_size": 8, "validation_fraction": 0.3, "freeze_layers": 1}


def built_backbone(folder: Path, sha: str = "a" * 64) -> Path:
    """A tiny BERT with the marker sosrisk writes into the backbones it builds (as for e5-small)."""
    build_tiny_bert(folder)
    marker = {"source": {"sha256": sha}, "pooling": "mean", "query_prefix": "query: "}
    (folder / "sosrisk_backbone.json").write_text(json.dumps(marker), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_backbone(tmp_path_factory.mktemp("built-backbone"))


@pytest.fixture(scope="module")
def saved(backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[EncoderModel, Path]:
    model = EncoderModel(task="level", backbone=str(backbone), **SETTINGS).fit(POSTS, LEVELS)
    return model, model.save(tmp_path_factory.mktemp("delta") / "level")


def test_a_delta_directory_holds_only_what_training_changed(saved: tuple[EncoderModel, Path], backbone: Path) -> None:
    model, directory = saved
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    assert config["files"]["encoder_base"] == "encoder/base.json"
    assert "tokenizer" not in config["files"] and not (directory / "encoder" / "tokenizer.json").exists()
    base = json.loads((directory / "encoder" / "base.json").read_text(encoding="utf-8"))
    assert base["shared"] == ["embeddings", "layer.0"] and base["source_sha256"] == "a" * 64
    stored = load_file(directory / "encoder" / "model.safetensors")
    assert stored and all(name.startswith("encoder.layer.1.") for name in stored)
    whole = load_file(backbone / "model.safetensors")
    assert sum(v.nbytes for v in stored.values()) < sum(v.nbytes for v in whole.values()) / 2
    # what is left out really is the backbone's, bit for bit
    state = {k: v.detach().numpy() for k, v in model.network_.encoder.state_dict().items()}
    for name in whole:
        if not name.startswith("encoder.layer.1."):
            np.testing.assert_array_equal(state[name], whole[name])


def test_a_loaded_delta_gives_the_trained_models_answers(saved: tuple[EncoderModel, Path]) -> None:
    model, directory = saved
    loaded = load_model(directory)
    assert isinstance(loaded, EncoderModel)
    assert loaded.trunk_ is not None and loaded.trunk_depth_ == 1
    np.testing.assert_allclose(loaded.predict_proba(POSTS), model.predict_proba(POSTS), atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(POSTS), model.predict(POSTS))
    # saved again, it is the same delta
    again = loaded.save(directory.parent / "again")
    first, second = (load_file(d / "encoder" / "model.safetensors") for d in (directory, again))
    assert set(first) == set(second) and all(np.array_equal(first[k], second[k]) for k in first)


def test_models_on_one_backbone_share_its_modules_and_its_trunk(
    saved: tuple[EncoderModel, Path], backbone: Path, tmp_path: Path
) -> None:
    _, level_dir = saved
    binary = EncoderModel(task="binary", backbone=str(backbone), **SETTINGS).fit(POSTS, BINARY)
    binary_dir = binary.save(tmp_path / "binary")
    level, loaded_binary = load_model(level_dir), load_model(binary_dir)
    assert isinstance(level, EncoderModel) and isinstance(loaded_binary, EncoderModel)
    shared = shared_backbone(backbone)
    assert level.network_.encoder.embeddings is shared.encoder.embeddings
    assert loaded_binary.network_.encoder.encoder.layer[0] is shared.encoder.encoder.layer[0]
    assert level.network_.encoder.encoder.layer[1] is not shared.encoder.encoder.layer[1]
    shared.clear()
    level.predict_proba(POSTS)
    remembered = len(shared._memo)
    np.testing.assert_allclose(loaded_binary.predict_proba(POSTS), binary.predict_proba(POSTS), atol=1e-6)
    assert len(shared._memo) == remembered > 0  # the second model found every post's trunk computed
    assert shared._memo_bytes <= TRUNK_MEMO_BYTES


def test_the_frozen_embedder_on_a_shared_trunk_gives_the_same_embeddings(
    saved: tuple[EncoderModel, Path], backbone: Path
) -> None:
    shared = shared_backbone(backbone)
    depths = set(shared.depths)
    shared.depths.clear()
    try:
        alone = EmbeddingLinearModel(backbone=str(backbone)).embed(POSTS)
        load_model(saved[1])  # registers its trunk depth
        assert shared.shared_depth == 1
        fresh = EmbeddingLinearModel(backbone=str(backbone), max_length=128)  # another embedder: no memo
        direct = EmbeddingLinearModel(backbone=str(backbone), max_length=128)
        via_trunk = fresh.embed(POSTS)
        shared.depths.clear()
        direct._get_embedder()._memo.clear()
        np.testing.assert_allclose(via_trunk, direct.embed(POSTS), atol=1e-5)
        np.testing.assert_allclose(alone, via_trunk, atol=1e-5)
    finally:
        shared.depths.update(depths)


def test_the_frozen_embedder_pools_several_layers_from_a_shared_trunk(
    saved: tuple[EncoderModel, Path], backbone: Path
) -> None:
    shared = shared_backbone(backbone)
    depths = set(shared.depths)
    shared.depths.clear()
    try:
        alone = {
            layers: EmbeddingLinearModel(backbone=str(backbone), layers=list(layers), max_length=96).embed(POSTS)
            for layers in ((1, 2), (0, 2))
        }
        load_model(saved[1])  # registers its trunk depth (1)
        shared.clear()
        below = EmbeddingLinearModel(backbone=str(backbone), layers=[0, 2], max_length=64).embed(POSTS)
        assert len(shared._memo) == 0  # layer 0 lies below the trunk: the whole network ran
        above = EmbeddingLinearModel(backbone=str(backbone), layers=[1, 2], max_length=64).embed(POSTS)
        assert len(shared._memo) > 0  # layers 1 and 2 came from the shared trunk
        np.testing.assert_allclose(above, alone[(1, 2)], atol=1e-5)
        np.testing.assert_allclose(below, alone[(0, 2)], atol=1e-5)
    finally:
        shared.depths.update(depths)


def test_one_tokenizer_per_file_truncates_as_the_library_does(backbone: Path, tmp_path: Path) -> None:
    import tokenizers

    path = backbone / "tokenizer.json"
    short, long = shared_tokenizer(path, 8), shared_tokenizer(path, 20)
    assert short.tokenizer is long.tokenizer  # read once, whatever the truncation length
    posts = ["", "我", *TEXTS, "".join(TEXTS), "query: " + TEXTS[1] * 3]
    for tokenizer in (short, long):
        reference = tokenizers.Tokenizer.from_file(str(path))
        reference.no_padding()
        reference.enable_truncation(tokenizer.max_length)
        want = [e.ids for e in reference.encode_batch(posts)]
        assert [e.ids for e in tokenizer.encode_batch(posts)] == want
        assert max(map(len, want)) == tokenizer.max_length  # some posts were cut
        tokenizer.save(str(tmp_path / "saved.json"))
        saved = tokenizers.Tokenizer.from_file(str(tmp_path / "saved.json"))
        assert [e.ids for e in saved.encode_batch(posts)] == want
    # the shared tokenizer itself never truncates, so each length keeps its own answers
    assert len(short.tokenizer.encode("".join(TEXTS)).ids) > 20
    with pytest.raises(ModelError, match="leaves no room"):
        shared_tokenizer(path, 2)


def test_a_changed_backbone_is_refused_with_the_directory_named(backbone: Path, tmp_path: Path) -> None:
    own = built_backbone(tmp_path / "backbone", sha="b" * 64)
    directory = EncoderModel(task="level", backbone=str(own), **SETTINGS).fit(POSTS, LEVELS).save(tmp_path / "m")
    marker = json.loads((own / "sosrisk_backbone.json").read_text(encoding="utf-8"))
    marker["source"]["sha256"] = "c" * 64
    (own / "sosrisk_backbone.json").write_text(json.dumps(marker), encoding="utf-8")
    with pytest.raises(ModelError, match=rf"{directory}.*sha256 b{{64}}.*has c{{64}}"):
        load_model(directory)
    shutil.rmtree(own)
    with pytest.raises(ModelError, match=str(directory)):
        load_model(directory)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "encoder" / "base.json").write_text("{", encoding="utf-8"), "not a readable JSON file"),
        (
            lambda d: (d / "encoder" / "base.json").write_text(json.dumps({"format": 1}), encoding="utf-8"),
            "expected format 1",
        ),
        (lambda d: (d / "encoder" / "base.json").unlink(), "missing or outside"),
        (lambda d: (d / "encoder" / "model.safetensors").write_bytes(b"\x00" * 20), "not a readable safetensors"),
        (
            lambda d: save_file(
                {k: v for k, v in load_file(d / "encoder" / "model.safetensors").items() if "intermediate" not in k},
                d / "encoder" / "model.safetensors",
            ),
            "do not fit the backbone",
        ),
        (
            lambda d: save_file(
                {"pooler.dense.weight": np.zeros((2, 2), np.float32)}, d / "encoder" / "model.safetensors"
            ),
            "unexpected tensor 'pooler.dense.weight'",
        ),
    ],
)
def test_a_damaged_delta_is_one_clear_error(
    saved: tuple[EncoderModel, Path], tmp_path: Path, damage: object, message: str
) -> None:
    directory = Path(shutil.copytree(saved[1], tmp_path / "copy"))
    damage(directory)  # type: ignore[operator]
    with pytest.raises(ModelError, match=message):
        load_model(directory)


def test_backbones_sosrisk_did_not_build_keep_the_whole_checkpoint(tmp_path: Path) -> None:
    plain = build_tiny_bert(tmp_path / "plain")
    directory = EncoderModel(task="level", backbone=str(plain), **SETTINGS).fit(POSTS, LEVELS).save(tmp_path / "m")
    assert not (directory / "encoder" / "base.json").exists()
    assert (directory / "encoder" / "tokenizer.json").is_file()
    loaded = load_model(directory)
    assert isinstance(loaded, EncoderModel) and loaded.trunk_ is None


def test_split_delta_refuses_layouts_it_does_not_know(saved: tuple[EncoderModel, Path], backbone: Path) -> None:
    import torch

    model = saved[0]
    whole = {k: torch.from_numpy(v) for k, v in load_file(backbone / "model.safetensors").items()}
    assert split_delta(model.network_.encoder, {**whole, "extra.weight": torch.zeros(1)}) is None
    renamed = {("x." + k if k.startswith("encoder.layer.1.") else k): v for k, v in whole.items()}
    assert split_delta(model.network_.encoder, renamed) is None


def test_bfloat16_answers_are_close_and_never_mix_with_float32(
    saved: tuple[EncoderModel, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sosrisk import threads

    model = load_model(saved[1])
    monkeypatch.setitem(threads._PRECISION, "encoders", "float32")
    exact = model.predict_proba(POSTS)
    threads.set_encoder_precision("bfloat16")
    fast = model.predict_proba(POSTS)
    threads.set_encoder_precision("float32")
    assert not np.array_equal(fast, exact)  # it really ran in bfloat16
    np.testing.assert_allclose(fast, exact, atol=0.05)
    np.testing.assert_array_equal(model.predict_proba(POSTS), exact)  # the trunk memo kept them apart
