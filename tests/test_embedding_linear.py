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
