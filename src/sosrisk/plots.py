"""Confusion-matrix and reliability plots as PNG (matplotlib, headless)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], labels: Sequence[int], path: str | Path, *, title: str = ""
) -> Path:
    """Write a confusion matrix (rows: true, columns: predicted) with counts in the cells."""
    figure_cls = _figure()
    size = 2.5 + 0.45 * len(labels)
    fig = figure_cls(figsize=(size, size * 0.9))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(labels)), [str(v) for v in labels])
    ax.set_yticks(range(len(labels)), [str(v) for v in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix {title}".strip())
    top = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                ax.text(
                    j,
                    i,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if count > top / 2 else "black",
                )
    fig.tight_layout()
    return _save(fig, path)


def plot_reliability(table: Sequence[dict[str, float]], path: str | Path, *, title: str = "") -> Path:
    """Write a reliability diagram: accuracy against confidence of the top label, per bin."""
    figure_cls = _figure()
    fig = figure_cls(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    points = [(row["confidence"], row["accuracy"], row["count"]) for row in table if not math.isnan(row["confidence"])]
    if points:
        xs, ys, counts = zip(*points, strict=True)
        total = sum(counts)
        ax.plot(xs, ys, marker="o", label="model")
        for x, y, c in points:
            ax.annotate(f"{int(c)}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        ax.set_title(f"Reliability {title} (n={int(total)})".strip())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence of the predicted label")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    return target
