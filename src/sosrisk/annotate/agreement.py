"""Agreement between the model's pre-annotation and expert labels, so a team sees where it can be trusted.

Posts are paired by id where both files have the same ids, else by their text (normalised: NFKC,
whitespace removed, case folded). Flagged posts (no model level) are counted, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import normalize_for_matching, read_posts
from ..data.errors import DataError
from ..scale import LEVELS
from .run import review_levels


@dataclass
class Agreement:
    """Accuracy, Cohen's kappa (linear and quadratic), the confusion matrix and per-level figures."""

    compared: int
    flagged: int
    unmatched: int
    metrics: dict[str, float]
    confusion: list[list[int]]
    per_level: list[dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "flagged": self.flagged,
            "without_expert_label": self.unmatched,
            "metrics": self.metrics,
            "confusion_matrix": {
                "rows": "expert level",
                "columns": "model level",
                "labels": list(LEVELS),
                "counts": self.confusion,
            },
            "per_level": self.per_level,
        }

    def render(self) -> str:
        m = self.metrics
        lines = [
            f"agreement with the experts on {self.compared} posts ({self.flagged} flagged by the model and "
            f"{self.unmatched} without an expert label left out)",
            f"  accuracy {m['accuracy']:.3f}   within one level {m['within_one']:.3f}   mean absolute error "
            f"{m['mae']:.2f}",
            f"  Cohen's kappa: linear {m['kappa_linear']:.3f}, quadratic {m['kappa_quadratic']:.3f}   "
            f"plan-or-worse tiers (levels 6-10) agree {m['plan_or_worse_agreement']:.3f}",
            "  level  experts  model agrees (recall)  precision     f1  mean model level",
        ]
        for row in self.per_level:
            if row["support"] == 0 and row["predicted"] == 0:
                continue
            mean = f"{row['mean_model_level']:.1f}" if row["support"] else "-"
            lines.append(
                f"  {int(row['level']):>5}  {int(row['support']):>7}  {row['recall']:>21.3f}  "
                f"{row['precision']:>9.3f}  {row['f1']:>5.3f}  {mean:>16}"
            )
        lines.append("confusion matrix (rows: expert, columns: model)")
        lines.append("      " + " ".join(f"{lv:>4}" for lv in LEVELS))
        for level_value, counts in zip(LEVELS, self.confusion, strict=True):
            lines.append(f"  {level_value:>3} " + " ".join(f"{c:>4}" for c in counts))
        return "\n".join(lines)


def agreement(expert: np.ndarray, model: np.ndarray, *, flagged: int = 0, unmatched: int = 0) -> Agreement:
    """Agreement figures for paired expert and model levels."""
    from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(expert, dtype=np.int64)
    y_pred = np.asarray(model, dtype=np.int64)
    if len(y_true) == 0:
        raise DataError("--compare", "no post of the review file has both an expert label and a model level")
    labels = list(LEVELS)
    kappa_linear = float(cohen_kappa_score(y_true, y_pred, labels=labels, weights="linear"))
    kappa_quadratic = float(cohen_kappa_score(y_true, y_pred, labels=labels, weights="quadratic"))
    metrics = {
        "n": float(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "within_one": float(np.mean(np.abs(y_true - y_pred) <= 1)),
        "mae": float(np.mean(np.abs(y_true - y_pred))),
        "kappa_linear": 0.0 if np.isnan(kappa_linear) else kappa_linear,
        "kappa_quadratic": 0.0 if np.isnan(kappa_quadratic) else kappa_quadratic,
        "plan_or_worse_agreement": float(np.mean((y_true >= 6) == (y_pred >= 6))),
        "model_higher": float(np.mean(y_pred > y_true)),
        "model_lower": float(np.mean(y_pred < y_true)),
    }
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_level = []
    for index, level_value in enumerate(labels):
        mask = y_true == level_value
        per_level.append(
            {
                "level": float(level_value),
                "support": float(support[index]),
                "predicted": float(matrix[:, index].sum()),
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "mean_model_level": float(y_pred[mask].mean()) if mask.any() else float("nan"),
            }
        )
    return Agreement(
        compared=len(y_true),
        flagged=flagged,
        unmatched=unmatched,
        metrics=metrics,
        confusion=matrix.astype(int).tolist(),
        per_level=per_level,
    )


def compare_review(review_file: str | Path, expert_file: str | Path) -> Agreement:
    """Agreement between a review file's model levels and an expert file's levels (official or our columns)."""
    ids, texts, levels = review_levels(review_file)
    experts = read_posts(expert_file, task="level")
    expert_levels = experts.labels("level")
    expert_ids = [str(v) for v in experts.frame["id"]] if experts.frame["id"].notna().all() else []
    by_id = dict(zip(expert_ids, expert_levels.tolist(), strict=True)) if expert_ids else {}
    use_ids = bool(by_id) and all(i in by_id for i in ids if i)
    by_text: dict[str, int] = {}
    for text, value in zip(experts.texts, expert_levels.tolist(), strict=True):
        by_text.setdefault(normalize_for_matching(text), value)
    paired_expert, paired_model = [], []
    flagged = unmatched = 0
    for post_id, text, value in zip(ids, texts, levels, strict=True):
        expert_value = by_id.get(post_id) if use_ids else by_text.get(normalize_for_matching(text))
        if expert_value is None:
            unmatched += 1
            continue
        if value is None:
            flagged += 1
            continue
        paired_expert.append(expert_value)
        paired_model.append(value)
    if not paired_expert:
        raise DataError(
            Path(review_file),
            f"no post pairs with {expert_file}: expected the same ids or the same texts in both files",
        )
    return agreement(np.array(paired_expert), np.array(paired_model), flagged=flagged, unmatched=unmatched)
