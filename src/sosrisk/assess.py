"""Assessments: what sosrisk answers for one post, shared by the CLI, the service and batch scoring.

An assessment carries the level (with its probabilities, tier and definition) from a ``level`` model,
the high-risk flag (with its probability) from a ``binary`` model, or both when both are given, and the
scope decision: whether the post is about the writer's own suicidal thoughts, plans, self-harm or crisis
at all (``in_scope``, ``scope_probability``, ``scope_reason``), and the safety-net rules that fired
(``rule_hits``). A post out of scope gets level 0 and low risk. The scope is decided once per post, by the
level model's scope stage when it has one, else the binary model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .models.base import ModelError, RiskModel
from .scale import N_LEVELS, level, tier_of

if TYPE_CHECKING:
    from .scope.stage import ScopeDecision

SCOPE_REASONS = ("in_scope", "rule", "out_of_scope", "blank")


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
    in_scope: bool | None = None
    scope_probability: float | None = None
    scope_reason: str | None = None
    rule_hits: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return asdict(self)

    def flat(self) -> dict[str, Any]:
        """One flat row (probabilities as ``p_level_0`` ... ``p_level_10``) for CSV and tables."""
        return flat_row(asdict(self))


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
    texts = list(texts)
    scope = decide_scope(texts, level_model, binary_model)
    if scope is not None:
        for row, (result, reason) in enumerate(zip(results, scope_reasons(texts, scope), strict=True)):
            result.in_scope = bool(scope.in_scope[row])
            result.scope_probability = round(float(scope.scope_probability[row]), 6)
            result.scope_reason = reason
            result.rule_hits = [hit.to_dict() for hit in scope.rule_hits[row]]
    if level_model is not None:
        details = level_model.predict_details(texts, batch_size=batch_size, scope=scope)
        proba, labels = details.proba, details.labels
        assert level_model.classes_ is not None and len(level_model.classes_) == N_LEVELS
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
        details = binary_model.predict_details(texts, batch_size=batch_size, scope=scope)
        proba, labels = details.proba, details.labels
        for result, value, row in zip(results, labels, proba, strict=True):
            result.high_risk = bool(value == 1)
            result.high_risk_probability = round(float(row[1]), 6)
    return results


def decide_scope(
    texts: Sequence[str], level_model: RiskModel | None, binary_model: RiskModel | None
) -> ScopeDecision | None:
    """The scope decision for ``texts``: the level model's stage if it has one, else the binary model's, else none."""
    for model in (level_model, binary_model):
        if model is not None and model.scope_ is not None:
            return model.scope_.decide(texts)
    return None


def scope_reasons(texts: Sequence[str], scope: ScopeDecision) -> list[str]:
    """Why each post is in or out of scope: ``in_scope`` (the gate), ``rule``, ``out_of_scope`` or ``blank``."""
    reasons = []
    for text, gate_in, in_scope in zip(texts, scope.gate_in_scope, scope.in_scope, strict=True):
        if not text.strip():
            reasons.append("blank")
        elif gate_in:
            reasons.append("in_scope")
        elif in_scope:
            reasons.append("rule")
        else:
            reasons.append("out_of_scope")
    return reasons


def flat_row(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An answer's fields (an :class:`Assessment`'s, maybe beside others such as ``id``) as one flat row:
    the level probabilities as ``p_level_0`` ... ``p_level_10`` after the other fields, the rule hits
    joined by :func:`format_rule_hits`."""
    row = {k: v for k, v in answer.items() if k != "level_probabilities"}
    if row.get("rule_hits") is not None:
        row["rule_hits"] = format_rule_hits(row["rule_hits"])
    for value, p in enumerate(answer.get("level_probabilities") or []):
        row[f"p_level_{value}"] = p
    return row


def format_rule_hits(hits: Sequence[dict[str, Any]]) -> str:
    """Rule hits in one table cell: ``family/rule`` joined by ``;`` (empty when no rule fired)."""
    return ";".join(f"{hit['family']}/{hit['rule']}" for hit in hits)
