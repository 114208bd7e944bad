"""A logistic regression on frozen sentence features: the shared part of ``embedding-linear`` and ``use-linear``.

A kind built on it only says how a post becomes a feature vector (:meth:`FrozenLinearModel.embed`) and
which encoder made the vectors (``backbone_sha256_``, checked when a saved model is used again). The head
is the same for every such kind: the features are standardised and a logistic regression is fitted on
top; calibration and the decision rule come from out-of-fold logits of a cross-validation inside the
training data, as for ``char-linear``. The weights are one ``weights.npz`` (scaler, coefficients and the
encoder's sha256); the encoder itself is never copied into the model directory.

``head="ordinal"`` replaces the multinomial head for levels with a conditional ordinal one in the manner of
CORN (Shi, Cao and Raschka, 2023): one binary logistic regression per threshold ``k`` learns
``P(level > k | level >= k)`` on the posts at level ``k`` or above, and ``P(level > k)`` is the product of
those up to ``k``, so the cumulative probabilities can never cross. A level's probability is the
difference of two of them; the model's logits are their logarithms. With two labels both heads are the
same model.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..progress import progress_bar
from .base import ModelError, RiskModel, read_npz
from .calibration import finalize_from_oof
from .params import Constraint, Options

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
HEADS = ("softmax", "ordinal")
_SMALLEST = 1e-12  # the least probability a level gets from the ordinal head (its logit stays finite)


class FrozenLinearModel(RiskModel):
    """Standardised frozen features + logistic regression, calibrated, with an ordinal-aware decision rule.

    Subclasses declare the head's parameters (``C``, ``class_weight``, ``decision``, ``target_recall``,
    ``cv_folds``, ``seed``: :data:`~sosrisk.models.calibration.LOGISTIC_HEAD_CONSTRAINTS`) beside their own,
    and implement :meth:`embed`, which sets ``backbone_sha256_`` (the sha256 identifying the encoder).
    ``head`` (``"softmax"`` or ``"ordinal"``, see the module docstring) is declared here.
    """

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **RiskModel._parameter_constraints,
        "head": Options(HEADS),
    }

    head: str
    C: float | None
    class_weight: str
    decision: str
    target_recall: float
    cv_folds: int
    seed: int

    def _init_head_state(self) -> None:
        self.backbone_sha256_: str | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self._loaded_from: Path | None = None  # the model directory it was read from: then nothing is downloaded

    @abstractmethod
    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """``(len(texts), dimension)`` frozen features of ``texts``."""

    # ------------------------------------------------------------------ training
    @property
    def _ordinal(self) -> bool:
        """Whether the ordinal head is in use (``head="ordinal"`` and more than two labels)."""
        return self.head == "ordinal" and self.classes_ is not None and len(self.classes_) > 2

    def _fit_once(self, features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        standard = (features - mean) / scale
        assert self.classes_ is not None
        if self._ordinal:
            return (mean, scale, *self._fit_ordinal(standard, np.searchsorted(self.classes_, y)))
        clf = LogisticRegression(
            C=self.resolved("C"), class_weight="balanced" if self.class_weight == "balanced" else None, max_iter=3000
        )
        clf.fit(standard, y)
        coef = np.zeros((len(self.classes_), features.shape[1]))
        intercept = np.full(len(self.classes_), -30.0)
        seen = np.searchsorted(self.classes_, clf.classes_)
        if len(clf.classes_) == 2 and clf.coef_.shape[0] == 1:
            coef[seen[1]], intercept[seen[1]] = clf.coef_[0], clf.intercept_[0]
            intercept[seen[0]] = 0.0
        else:
            coef[seen], intercept[seen] = clf.coef_, clf.intercept_
        return mean, scale, coef, intercept

    def _fit_ordinal(self, standard: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One logistic regression per threshold ``k``: ``P(label > k | label >= k)`` on the posts at ``k`` or above.

        The posts keep the weights the multinomial head would give them, so rare levels count as much. A
        threshold whose posts all fall on one side (or that no post reaches) gets a constant: the smoothed
        share of posts above it.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.utils.class_weight import compute_sample_weight

        assert self.classes_ is not None
        thresholds = len(self.classes_) - 1
        weights = compute_sample_weight("balanced" if self.class_weight == "balanced" else None, index)
        coef = np.zeros((thresholds, standard.shape[1]))
        intercept = np.zeros(thresholds)
        for k in range(thresholds):
            rows = index >= k
            above = index[rows] > k
            if 0 < above.sum() < len(above):
                clf = LogisticRegression(C=self.resolved("C"), max_iter=3000)
                clf.fit(standard[rows], above, sample_weight=weights[rows])
                coef[k], intercept[k] = clf.coef_[0], clf.intercept_[0]
            else:
                share = (above.sum() + 0.5) / (len(above) + 1.0)
                intercept[k] = np.log(share / (1.0 - share))
        return coef, intercept

    def fit_features(self, features: np.ndarray, labels: np.ndarray, *, show_progress: bool = False) -> None:
        """Fit on precomputed features (``classes_`` must be set); used by :meth:`_fit`."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(labels)
        folds = min(self.cv_folds, int(counts[counts > 0].min()))
        with progress_bar(max(folds, 0) + 1, f"training {self.kind} ({self.task})", enabled=show_progress) as adv:
            if folds >= 2:
                assert self.classes_ is not None
                oof = np.zeros((len(labels), len(self.classes_)))
                splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
                for train_idx, test_idx in splitter.split(features, labels):
                    mean, scale, coef, intercept = self._fit_once(features[train_idx], labels[train_idx])
                    oof[test_idx] = self._head_logits((features[test_idx] - mean) / scale, coef, intercept)
                    adv()
                finalize_from_oof(self, oof, labels, decision=self.decision, target_recall=self.target_recall)
            else:
                logger.warning("too few posts per label for an inner cross-validation: no calibration")
            self.mean_, self.scale_, self.coef_, self.intercept_ = self._fit_once(features, labels)
            adv()

    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        if len(np.unique(labels)) < 2:
            raise ModelError("Training needs posts of at least two different labels.")
        self.fit_features(self.embed(texts, show_progress=show_progress), labels, show_progress=show_progress)

    # ------------------------------------------------------------------ prediction
    def _head_logits(self, standard: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """The head's logits of standardised features: linear scores, or log level probabilities (ordinal)."""
        scores = standard @ coef.T + intercept
        if not self._ordinal:
            return scores
        go_on = 1.0 / (1.0 + np.exp(-np.clip(scores, -50.0, 50.0)))  # P(label > k | label >= k)
        above = np.cumprod(go_on, axis=1)  # P(label > k): never increases with k
        ones, zeros = np.ones((len(scores), 1)), np.zeros((len(scores), 1))
        proba = np.hstack([ones, above]) - np.hstack([above, zeros])
        return np.log(np.maximum(proba, _SMALLEST))

    def logits_from_features(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated scores of precomputed features."""
        assert self.mean_ is not None and self.scale_ is not None and self.coef_ is not None
        assert self.intercept_ is not None
        return self._head_logits((features - self.mean_) / self.scale_, self.coef_, self.intercept_)

    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        return self.logits_from_features(self.embed(texts))

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, directory: Path) -> dict[str, str]:
        from ..atomic import atomic_write

        assert self.mean_ is not None and self.scale_ is not None and self.coef_ is not None
        assert self.intercept_ is not None and self.backbone_sha256_ is not None
        with atomic_write(directory / WEIGHTS_FILE, "wb") as handle:
            np.savez_compressed(
                handle,
                mean=self.mean_,
                scale=self.scale_,
                coef=self.coef_,
                intercept=self.intercept_,
                backbone_sha256=np.array(self.backbone_sha256_),
            )
        return {"weights": WEIGHTS_FILE}

    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        if files.get("weights") != WEIGHTS_FILE:
            raise ModelError(f"{directory}: expected files.weights = {WEIGHTS_FILE!r}, got {files.get('weights')!r}.")
        assert self.classes_ is not None
        n_classes = len(self.classes_) - 1 if self._ordinal else len(self.classes_)  # rows: levels or thresholds
        expected = (
            f"the {n_classes} thresholds between the {n_classes + 1} labels in config.json (ordinal head)"
            if self._ordinal
            else f"the {n_classes} labels in config.json"
        )

        def check_shapes(shapes: dict[str, tuple[int, ...]]) -> str | None:
            d = shapes["mean"][0] if len(shapes["mean"]) == 1 else -1
            fits = shapes["scale"] == (d,) and shapes["coef"] == (n_classes, d) and shapes["intercept"] == (n_classes,)
            if d < 0 or not fits or shapes["backbone_sha256"] != ():
                return f"array shapes {shapes} do not match {expected}"
            return None

        arrays = read_npz(
            directory / WEIGHTS_FILE,
            {"mean": "f", "scale": "f", "coef": "f", "intercept": "f", "backbone_sha256": "U"},
            check_shapes=check_shapes,
        )
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.backbone_sha256_ = str(arrays["backbone_sha256"])
        self._loaded_from = directory

    def _head_text(self) -> str:
        """The head, in words, for the model card."""
        if self.head == "ordinal":
            return "chain of binary logistic regressions (the ordinal head, one per level threshold)"
        return "logistic regression"

    def _card_privacy(self) -> list[str]:
        return [
            f"- `{WEIGHTS_FILE}`: the mean and spread of the training posts' embeddings and the coefficients; no "
            "text, but aggregate statistics of the training posts.",
        ]
