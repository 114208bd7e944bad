"""Evaluating a saved model on labelled post files, with optional plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import DataError, read_many
from .metrics import full_report, reliability_table, scope_metrics
from .models import RiskModel
from .scale import labels_for


def evaluate_model(
    model: RiskModel,
    files: Sequence[str | Path],
    *,
    plots_dir: str | Path | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Metrics of ``model`` on labelled ``files`` (official or our column names).

    Returns ``{"metrics": {...}, "per_class": [...], "confusion_matrix": [[...]], "labels": [...],
    "reliability": [...], "files": [...], "problems": [...], "plots": [...], "leaked_posts": n}``.
    ``metrics`` is the flat dict of :func:`sosrisk.metrics.evaluate_predictions`, plus, for a model with a
    scope stage, the share of posts judged out of scope, the share of at-risk posts kept in scope and the
    share a rule raised (:func:`sosrisk.metrics.scope_metrics`). ``leaked_posts`` counts the evaluation posts
    that were training posts, or is ``None`` where this machine cannot tell (the model's training hashes are
    keyed with another machine's key, or it has none); ``problems`` then says so. With ``plots_dir``, a
    confusion-matrix plot and a reliability plot are written there as PNG.
    """
    posts = read_many(list(files), task=model.task)
    if len(posts) == 0:
        column, official = ("risk_level", "myLabel") if model.task == "level" else ("high_risk", "twoClass")
        raise DataError(
            ", ".join(str(f) for f in files),
            f"no posts to evaluate: expected a text column and a '{column}' (or official '{official}') label "
            "for each post, found no posts",
        )
    y_true = posts.labels(model.task)
    details = model.predict_details(posts.texts, batch_size=batch_size)
    y_pred, proba = details.labels, details.proba
    report = full_report(model.task, y_true, y_pred, proba)
    report["metrics"].update(scope_metrics(model.task, y_true, details.scope))
    report["reliability"] = reliability_table(y_true, proba, labels_for(model.task))
    report["files"] = [str(f) for f in files]
    report["problems"] = [str(p) for p in posts.problems]
    overlap = model.training_overlap(posts.texts)
    leaked = overlap.mask
    report["leaked_posts"] = int(leaked.sum()) if leaked is not None else None
    if leaked is None:
        report["problems"].append(f"leakage: {overlap.note}")
    elif leaked.any():
        first = posts.frame[leaked].iloc[0]
        report["problems"].append(
            f"{first['source']}:{first['line']}: leakage: {int(leaked.sum())} of {len(posts)} evaluation posts "
            "were in this model's training data; these metrics overstate how it does on new posts"
        )
    report["plots"] = []
    if plots_dir is not None:
        from .plots import plot_confusion_matrix, plot_reliability

        out = Path(plots_dir)
        report["plots"] = [
            str(
                plot_confusion_matrix(
                    report["confusion_matrix"],
                    report["labels"],
                    out / "confusion_matrix.png",
                    title=f"{model.kind} ({model.task})",
                )
            ),
            str(plot_reliability(report["reliability"], out / "reliability.png", title=f"{model.kind} ({model.task})")),
        ]
    return report
