"""Evaluation metrics as flat dicts of floats with stable key names, from ``sklearn.metrics``.

Both tasks: ``accuracy``, ``weighted_precision/recall/f1`` (what the SOS-1K paper reports),
``macro_precision/recall/f1``, ``ece`` (expected calibration error, when probabilities are given).
Levels also: ``qwk`` (quadratic weighted kappa), ``mae``, ``within_one``, ``under_by_3plus`` (share
of posts whose level is underestimated by 3 or more). Binary also: ``high_risk_precision``,
``high_risk_recall``, ``high_risk_f1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    mean_absolute_error,
    precision_recall_fscore_support,
)

from .scale import check_task, labels_for

LEVEL_KEYS = ("qwk", "mae", "within_one", "under_by_3plus")
BINARY_KEYS = ("high_risk_precision", "high_risk_recall", "high_risk_f1")


def evaluate_predictions(
    task: str,
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    proba: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of ``task`` for true and predicted labels (and optionally the probabilities)."""
    check_task(task)
    labels = list(labels_for(task))
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"Expected two 1-d label arrays of equal length. Got {y_true.shape} and {y_pred.shape}.")
    if len(y_true) == 0:
        raise ValueError("Expected at least one post to evaluate; got none.")
    result: dict[str, float] = {"n": float(len(y_true)), "accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("weighted", "macro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
        result[f"{average}_precision"] = float(p)
        result[f"{average}_recall"] = float(r)
        result[f"{average}_f1"] = float(f)
    if task == "level":
        result["qwk"] = quadratic_weighted_kappa(y_true, y_pred)
        result["mae"] = float(mean_absolute_error(y_true, y_pred))
        result["within_one"] = float(np.mean(np.abs(y_true - y_pred) <= 1))
        result["under_by_3plus"] = float(np.mean(y_true - y_pred >= 3))
    else:
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[1], average=None, zero_division=0)
        result["high_risk_precision"] = float(p[0])
        result["high_risk_recall"] = float(r[0])
        result["high_risk_f1"] = float(f[0])
    if proba is not None:
        result["ece"] = expected_calibration_error(y_true, proba, labels)
    return result


def quadratic_weighted_kappa(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights over the 11 levels (1 = perfect, 0 = chance)."""
    value = cohen_kappa_score(y_true, y_pred, labels=list(range(11)), weights="quadratic")
    return 0.0 if np.isnan(value) else float(value)


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[int], n_bins: int = 10) -> float:
    """Top-label expected calibration error: the gap between confidence and accuracy, binned."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise ValueError(f"Expected probabilities of shape ({len(y_true)}, {len(labels)}). Got {proba.shape}.")
    confidence, correct = _top_label(y_true, proba, labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def reliability_table(
    y_true: np.ndarray, proba: np.ndarray, labels: Sequence[int], n_bins: int = 10
) -> list[dict[str, float]]:
    """Per-bin confidence, accuracy and count of the top label (the data of a reliability plot)."""
    confidence, correct = _top_label(np.asarray(y_true), np.asarray(proba, dtype=float), labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    table = []
    for b in range(n_bins):
        mask = bins == b
        table.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": float(mask.sum()),
                "confidence": float(confidence[mask].mean()) if mask.any() else float("nan"),
                "accuracy": float(correct[mask].mean()) if mask.any() else float("nan"),
            }
        )
    return table


def _top_label(y_true: np.ndarray, proba: np.ndarray, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    label_array = np.asarray(labels)
    top = np.argmax(proba, axis=1)
    return proba[np.arange(len(proba)), top], (label_array[top] == np.asarray(y_true)).astype(float)


def per_class_report(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> list[dict[str, float]]:
    """Precision, recall, F1 and support of every level (or class), as rows."""
    labels = list(labels_for(task))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return [
        {
            "label": float(lab),
            "precision": float(pp),
            "recall": float(rr),
            "f1": float(ff),
            "support": float(ss),
        }
        for lab, pp, rr, ff, ss in zip(labels, p, r, f, s, strict=True)
    ]


def confusion(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Confusion matrix with rows = true label, columns = predicted label, over all labels of the task."""
    return confusion_matrix(y_true, y_pred, labels=list(labels_for(task)))


def scope_metrics(task: str, y_true: np.ndarray, scope: Any) -> dict[str, float]:
    """What the scope stage did on labelled posts (empty when the model has no scope stage).

    ``out_of_scope_share``: posts the stage put out of scope; ``at_risk_in_scope``: the share of at-risk posts
    (level 6+ for levels, high risk for binary) kept in scope (absent when there is none); ``rule_raised_share``:
    posts a safety-net rule raised; with a recovery cap, ``recovered_share``: posts it kept at level 5 or below and
    low risk, and ``at_risk_recovered``: the share of at-risk posts it did so to (what the cap costs).
    """
    if scope is None:
        return {}
    y_true = np.asarray(y_true)
    at_risk = y_true >= 6 if task == "level" else y_true == 1
    in_scope = np.asarray(scope.in_scope, dtype=bool)
    out = {
        "out_of_scope_share": float(1 - in_scope.mean()) if len(in_scope) else 0.0,
        "rule_raised_share": float((np.asarray(scope.floors) >= 0).mean()) if len(in_scope) else 0.0,
    }
    if at_risk.any():  # left out, not NaN, when the posts hold no at-risk post
        out["at_risk_in_scope"] = float(in_scope[at_risk].mean())
    recovered = getattr(scope, "recovered", None)
    if recovered is not None:
        recovered = np.asarray(recovered, dtype=bool)
        out["recovered_share"] = float(recovered.mean()) if len(recovered) else 0.0
        if at_risk.any():
            out["at_risk_recovered"] = float(recovered[at_risk].mean())
    return out


def summarize_folds(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof=1) of each metric over folds: ``{key: {mean, std}}``."""
    keys = [k for k in per_fold[0] if k != "n"]
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        values = np.array([fold[key] for fold in per_fold], dtype=float)
        summary[key] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        }
    return summary


def full_report(task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None) -> dict[str, Any]:
    """Metrics, per-class rows and the confusion matrix in one JSON-ready dict."""
    return {
        "metrics": evaluate_predictions(task, y_true, y_pred, proba),
        "per_class": per_class_report(task, y_true, y_pred),
        "confusion_matrix": confusion(task, y_true, y_pred).tolist(),
        "labels": list(labels_for(task)),
    }
