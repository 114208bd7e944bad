"""Tests of the head shared by the frozen-feature kinds (:mod:`sosrisk.models.frozen_linear`), on made-up features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from sosrisk.models import ModelError
from sosrisk.models.calibration import LOGISTIC_HEAD_CONSTRAINTS
from sosrisk.models.frozen_linear import FrozenLinearModel
from sosrisk.models.params import Constraint

RNG = np.random.default_rng(7)
LEVELS = np.repeat(np.arange(11), 30)
# each post's features: its level on one axis (plus noise), and three noise axes
FEATURES = np.column_stack([LEVELS + RNG.normal(0, 0.8, len(LEVELS)), RNG.normal(0, 1, (len(LEVELS), 3))])
TEXTS = [f"post {i}" for i in range(len(LEVELS))]


class LookupLinear(FrozenLinearModel):
    """The frozen head on a table of features: post ``i`` has the features in row ``i`` of ``FEATURES``."""

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **FrozenLinearModel._parameter_constraints,
        **LOGISTIC_HEAD_CONSTRAINTS,
    }

    def __init__(self, *, task: str = "level", head: str = "softmax", C: float | None = 1.0) -> None:
        super().__init__(task=task)  # type: ignore[arg-type]
        self.head, self.C = head, C
        self.class_weight, self.decision, self.target_recall, self.cv_folds, self.seed = "balanced", "argmax", 0.8, 3, 0
        self._init_head_state()

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        self.backbone_sha256_ = "lookup"
        return FEATURES[[int(t.split()[1]) for t in texts]]


def test_the_ordinal_head_gives_levels_whose_cumulative_probabilities_never_cross() -> None:
    model = LookupLinear(head="ordinal").fit(TEXTS, LEVELS)
    assert model.coef_ is not None and model.coef_.shape == (10, 4)  # one row per threshold, not per level
    proba = model.predict_proba(TEXTS)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba > 0).all()
    # the probabilities before calibration: P(level > k) from the chained thresholds never rises with k
    raw = np.exp(model.logits_from_features(FEATURES))
    above = 1.0 - np.cumsum(raw, axis=1)[:, :-1]
    assert (np.diff(above, axis=1) <= 1e-9).all()
    # it learned the order: the expected level follows the feature that carries it
    expected = proba @ np.arange(11)
    assert np.corrcoef(expected, FEATURES[:, 0])[0, 1] > 0.95
    assert np.mean(np.abs(model.predict(TEXTS) - LEVELS)) < 1.0


def test_the_ordinal_head_is_the_softmax_head_for_two_labels() -> None:
    labels = (LEVELS >= 6).astype(int)
    ordinal = LookupLinear(task="binary", head="ordinal").fit(TEXTS, labels)
    softmax = LookupLinear(task="binary").fit(TEXTS, labels)
    np.testing.assert_array_equal(ordinal.predict_proba(TEXTS), softmax.predict_proba(TEXTS))


def test_thresholds_no_post_crosses_get_a_constant() -> None:
    labels = np.where(LEVELS > 2, 2, LEVELS)  # levels 0-2 only: nobody lies above the thresholds from 2 on
    model = LookupLinear(head="ordinal").fit(TEXTS, labels)
    assert model.coef_ is not None and model.coef_.shape == (10, 4)
    assert np.abs(model.coef_[:2]).max() > 0 and not model.coef_[2:].any()
    proba = model.predict_proba(TEXTS)
    assert proba[:, 3:].sum(axis=1).max() < 0.05 and model.predict(TEXTS).max() <= 2


def test_a_saved_ordinal_head_is_read_back_and_checked(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason='embedding-linear needs torch: pip install "sosrisk[transformers]"')
    from sosrisk.models import load_model
    from sosrisk.models.embedding_linear import EmbeddingLinearModel
    from tiny_bert import TEXTS as POSTS
    from tiny_bert import build_tiny_bert

    folder = build_tiny_bert(tmp_path / "bert")
    texts = [f"{text}{i}" for i in range(3) for text in POSTS]
    labels = [i % 3 for i in range(len(texts))]  # levels 0-2 of the eleven
    model = EmbeddingLinearModel(backbone=str(folder), head="ordinal", cv_folds=2).fit(texts, labels)
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))["params"]["head"] == "ordinal"
    assert "ordinal head" in (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-8)
    # the same weights read as a softmax head: one row short, and the error says what was expected
    config = json.loads((tmp_path / "m" / "config.json").read_text(encoding="utf-8"))
    config["params"]["head"] = "softmax"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match=r"'coef': \(10, 32\).* do not match the 11 labels in config.json"):
        load_model(tmp_path / "m")
