"""Batch scoring at scale: stream millions of posts through a model, resumably, locally or on Ray.

``score(model_dirs, inputs, output, ...)`` is the one entry point (``sosrisk score`` wraps it); see
``docs/scoring.md`` for the output columns, the rejects file and the resume semantics.
"""

from __future__ import annotations

from ..data.reader import INPUT_FORMATS, REJECT_REASONS
from .api import ScoreSummary, ScoringInterrupted, score
from .settings import ScoreSettings
from .workdir import ScoringError

__all__ = [
    "INPUT_FORMATS",
    "REJECT_REASONS",
    "ScoreSettings",
    "ScoreSummary",
    "ScoringError",
    "ScoringInterrupted",
    "score",
]
