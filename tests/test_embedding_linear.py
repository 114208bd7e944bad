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
