"""Leakage checks: a text in both the training and the evaluation data inflates every metric."""

from __future__ import annotations

import re
import unicodedata

from .errors import Problem
from .posts import PostSet

_SPACE = re.compile(r"\s+")


def normalize_for_matching(text: str) -> str:
    """The form two texts are compared in: NFKC, whitespace removed, case folded."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def find_leaks(train: PostSet, evaluation: PostSet) -> list[Problem]:
    """Report every evaluation post whose text (normalised) also appears in the training data."""
    seen: dict[str, tuple[str, int]] = {}
    for text, source, line in zip(train.frame["text"], train.frame["source"], train.frame["line"], strict=True):
        seen.setdefault(normalize_for_matching(text), (str(source), int(line)))
    leaks = []
    for text, source, line in zip(
        evaluation.frame["text"], evaluation.frame["source"], evaluation.frame["line"], strict=True
    ):
        hit = seen.get(normalize_for_matching(text))
        if hit is not None:
            leaks.append(
                Problem(
                    "leak",
                    str(source),
                    int(line),
                    f"this evaluation text is also in the training data at {hit[0]}:{hit[1]}",
                )
            )
    return leaks
