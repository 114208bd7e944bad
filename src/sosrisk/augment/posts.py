"""Augmented posts and the augmented training file that ``sosrisk train --train`` reads."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data import PostSet

# Columns of an augmented training file (read_posts knows text, risk_level, high_risk and id; the
# others are kept for people and ignored by training).
AUGMENTED_COLUMNS = ("text", "risk_level", "high_risk", "origin", "derived_from")


@dataclass(frozen=True)
class AugmentedPost:
    """A post added to the training data, and where it came from.

    ``origin`` is ``original`` for the training posts themselves, else the method (``synonym``,
    ``back-translation:en``, ``llm``, ``pool-synonym:round3``...). ``derived_from`` names the source
    post (``file:line``) when there is one. Labels are the source's (a variant of a post keeps its
    annotations); a generated post has only the label it was generated for.
    """

    text: str
    risk_level: int | None
    high_risk: int | None
    origin: str
    derived_from: str | None = None


def originals(posts: PostSet) -> list[AugmentedPost]:
    """The training posts themselves, as rows of an augmented file."""
    rows = []
    for text, level, high, source, line in zip(
        posts.frame["text"],
        posts.frame["risk_level"],
        posts.frame["high_risk"],
        posts.frame["source"],
        posts.frame["line"],
        strict=True,
    ):
        rows.append(AugmentedPost(str(text), _int_or_none(level), _int_or_none(high), "original", f"{source}:{line}"))
    return rows


def _int_or_none(value: object) -> int | None:
    """An int from a nullable pandas value (``<NA>``, ``None`` and NaN give ``None``)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return int(value)  # type: ignore[call-overload]


def render_augmented(rows: Sequence[AugmentedPost], *, fmt: str = "tsv") -> str:
    """The rows as TSV or CSV with a header of :data:`AUGMENTED_COLUMNS`.

    A label column is written only when every row has that label (a post file with a partly empty
    label column cannot be read back): generated posts carry no ``high_risk``, so a file holding them
    has only ``risk_level``.
    """
    if fmt not in {"tsv", "csv"}:
        raise ValueError(f"The 'fmt' parameter must be 'tsv' or 'csv'. Got {fmt!r} instead.")
    columns = [
        name
        for name in AUGMENTED_COLUMNS
        if name not in {"risk_level", "high_risk"} or all(getattr(row, name) is not None for row in rows)
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if getattr(row, name) is None else getattr(row, name) for name in columns])
    return buffer.getvalue()


def write_augmented(path: str | Path, rows: Sequence[AugmentedPost]) -> Path:
    """Write an augmented training file atomically (``.csv`` as CSV, anything else as TSV)."""
    from ..atomic import atomic_write_text

    target = Path(path)
    fmt = "csv" if target.suffix.lower() == ".csv" else "tsv"
    atomic_write_text(target, render_augmented(rows, fmt=fmt))
    return target
