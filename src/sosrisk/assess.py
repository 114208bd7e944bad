"""Assessments: what sosrisk answers for one post, shared by the CLI, the service and batch scoring.

An assessment carries the level (with its probabilities, tier and definition) from a ``level`` model,
the high-risk flag (with its probability) from a ``binary`` model, or both when both are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .models.base import ModelError, RiskModel
from .scale import N_LEVELS, level, tier_of


@dataclass
class Assessment:
    """The answer for one post. Fields of a task whose model was not given are ``None``."""

    risk_level: int | None = None
    level_probabilities: list[float] | None = None
    level_name: str | None = None
    definition_en: str | None = None
    definition_zh: str | None = None
    tier: str | None = None
    tier_name: str | None = None
    expected_level: float | None = None
    high_risk: bool | None = None
    high_risk_probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return asdict(self)

    def flat(self) -> dict[str, Any]:
        """One flat row (probabilities as ``p_level_0`` ... ``p_level_10``) for CSV and tables."""
        row = {k: v for k, v in asdict(self).items() if k != "level_probabilities"}
        if self.level_probabilities is not None:
            for value, p in enumerate(self.level_probabilities):
                row[f"p_level_{value}"] = p
        return row


def assess(
    texts: Sequence[str],
    *,
    level_model: RiskModel | None = None,
    binary_model: RiskModel | None = None,
    batch_size: int = 256,
) -> list[Assessment]:
    """Assess ``texts`` with a level model, a binary model, or both (at least one)."""
    if level_model is None and binary_model is None:
        raise ModelError("Expected a level model, a binary model or both; got neither.")
    if level_model is not None and level_model.task != "level":
        raise ModelError(f"The level model must be trained for the 'level' task, got a {level_model.task!r} model.")
    if binary_model is not None and binary_model.task != "binary":
        raise ModelError(f"The binary model must be trained for the 'binary' task, got a {binary_model.task!r} model.")
    results = [Assessment() for _ in texts]
    if not results:
        return results
    if level_model is not None:
        proba = level_model.predict_proba(texts, batch_size=batch_size)
        assert level_model.classes_ is not None and len(level_model.classes_) == N_LEVELS
        labels = level_model.decision_.decide(proba, level_model.classes_)
        expected = proba @ np.arange(N_LEVELS)
        for result, value, row, mean in zip(results, labels, proba, expected, strict=True):
            entry = level(int(value))
            tier = tier_of(int(value))
            result.risk_level = int(value)
            result.level_probabilities = [round(float(p), 6) for p in row]
            result.level_name = entry.name
            result.definition_en = entry.definition_en
            result.definition_zh = entry.definition_zh
            result.tier = tier.key
            result.tier_name = tier.name_en
            result.expected_level = round(float(mean), 4)
    if binary_model is not None:
        proba = binary_model.predict_proba(texts, batch_size=batch_size)
        assert binary_model.classes_ is not None
        labels = binary_model.decision_.decide(proba, binary_model.classes_)
        for result, value, row in zip(results, labels, proba, strict=True):
            result.high_risk = bool(value == 1)
            result.high_risk_probability = round(float(row[1]), 6)
    return results
