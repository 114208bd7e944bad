"""Assessments: what sosrisk answers for one post, shared by the CLI, the service and batch scoring.

An assessment carries the level (with its probabilities, tier and definition) from a ``level`` model,
the high-risk flag (with its probability) from a ``binary`` model, or both when both are given, and the
scope decision: whether the post is about the writer's own suicidal thoughts, plans, self-harm or crisis
at all (``in_scope``, ``scope_probability``, ``scope_reason``), and the safety-net rules that fired
(``rule_hits``). A post out of scope gets level 0 and low risk. The scope is decided once per post, by the
level model's scope stage when it has one, else the binary model's.

With both models, a post the level model puts in the "plan" tier or above (level 6+: suicide planned,
a method chosen, a date, an attempt) is flagged high risk even where the binary model alone would not
flag it (``high_risk_probability`` stays the binary model's own): the two answers never contradict each
other on the posts a crisis team must see, and the flag only ever rises. Measured on SOS-1K out of fold
(README, "Out of scope is not high risk"): high-risk recall 0.826 to 0.880 for ``best`` at precision 0.822
to 0.793, 0.865 to 0.886 for ``char-linear`` at 0.760 to 0.741. ``level_raises_high_risk=False`` keeps the
binary model's flag alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .models.base import ModelError, RiskModel
from .scale import N_LEVELS, RAISING_LEVEL, level, tier_of

if TYPE_CHECKING:
    from .scope.stage import ScopeDecision

SCOPE_REASONS = ("in_scope", "recovered", "rule", "someone_else", "out_of_scope", "blank")


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


@dataclass
class AnswerColumns:
    """The answers for a batch of posts, field by field as arrays: what :func:`assess` turns into
    :class:`Assessment` records and :func:`sosrisk.scoring.results.score_table` into Arrow columns, so that
    both give the same numbers. Columns of a task whose model was not given (of the scope, when no model
    has a scope stage) are ``None``. Probabilities are rounded to 6 decimals, the expected level to 4."""

    scope: ScopeDecision | None = None
    in_scope: np.ndarray | None = None
    scope_probability: np.ndarray | None = None
    scope_reason: list[str] | None = None
    rule_hits: list[list[dict[str, Any]]] | None = None
    risk_level: np.ndarray | None = None
    level_probabilities: np.ndarray | None = None  # (n, 11)
    expected_level: np.ndarray | None = None
    high_risk: np.ndarray | None = None
    high_risk_probability: np.ndarray | None = None

    def assessments(self, n: int) -> list[Assessment]:
        """One :class:`Assessment` per post (``n`` posts)."""
        results = [Assessment() for _ in range(n)]
        if self.in_scope is not None:
            assert self.scope_probability is not None and self.scope_reason is not None and self.rule_hits is not None
            scope = zip(
                self.in_scope.tolist(), self.scope_probability.tolist(), self.scope_reason, self.rule_hits, strict=True
            )
            for result, (in_scope, probability, reason, hits) in zip(results, scope, strict=True):
                result.in_scope, result.scope_probability, result.scope_reason = in_scope, probability, reason
                result.rule_hits = hits
        if self.risk_level is not None:
            assert self.level_probabilities is not None and self.expected_level is not None
            levels = zip(
                self.risk_level.tolist(), self.level_probabilities.tolist(), self.expected_level.tolist(), strict=True
            )
            for result, (value, probabilities, expected) in zip(results, levels, strict=True):
                entry = level(value)
                tier = tier_of(value)
                result.risk_level = value
                result.level_probabilities = probabilities
                result.level_name = entry.name
                result.definition_en = entry.definition_en
                result.definition_zh = entry.definition_zh
                result.tier = tier.key
                result.tier_name = tier.name_en
                result.expected_level = expected
        if self.high_risk is not None:
            assert self.high_risk_probability is not None
            flags = zip(self.high_risk.tolist(), self.high_risk_probability.tolist(), strict=True)
            for result, (flag, probability) in zip(results, flags, strict=True):
                result.high_risk, result.high_risk_probability = flag, probability
        return results


def assess(
    texts: Sequence[str],
    *,
    level_model: RiskModel | None = None,
    binary_model: RiskModel | None = None,
    batch_size: int = 256,
    level_raises_high_risk: bool = True,
) -> list[Assessment]:
    """Assess ``texts`` with a level model, a binary model, or both (at least one); see the module docstring
    for ``level_raises_high_risk``."""
    check_models(level_model, binary_model)
    texts = list(texts)
    if not texts:
        return []
    columns = answer_columns(
        texts,
        level_model=level_model,
        binary_model=binary_model,
        batch_size=batch_size,
        level_raises_high_risk=level_raises_high_risk,
    )
    return columns.assessments(len(texts))


def check_models(level_model: RiskModel | None, binary_model: RiskModel | None) -> None:
    """Refuse neither model, or a model of the other task."""
    if level_model is None and binary_model is None:
        raise ModelError("Expected a level model, a binary model or both; got neither.")
    if level_model is not None and level_model.task != "level":
        raise ModelError(f"The level model must be trained for the 'level' task, got a {level_model.task!r} model.")
    if binary_model is not None and binary_model.task != "binary":
        raise ModelError(f"The binary model must be trained for the 'binary' task, got a {binary_model.task!r} model.")


def answer_columns(
    texts: list[str],
    *,
    level_model: RiskModel | None = None,
    binary_model: RiskModel | None = None,
    batch_size: int = 256,
    level_raises_high_risk: bool = True,
) -> AnswerColumns:
    """The answers for ``texts`` as :class:`AnswerColumns`: the scope decided once, then each model (with both,
    level 6+ raises the high-risk flag unless ``level_raises_high_risk`` is false)."""
    check_models(level_model, binary_model)
    columns = AnswerColumns(scope=decide_scope(texts, level_model, binary_model))
    scope = columns.scope
    if scope is not None:
        columns.in_scope = np.asarray(scope.in_scope, dtype=bool)
        columns.scope_probability = np.round(np.asarray(scope.scope_probability, dtype=np.float64), 6)
        columns.scope_reason = scope_reasons(texts, scope)
        columns.rule_hits = [[hit.to_dict() for hit in hits] for hits in scope.rule_hits]
    if level_model is not None:
        details = level_model.predict_details(texts, batch_size=batch_size, scope=scope)
        assert level_model.classes_ is not None and len(level_model.classes_) == N_LEVELS
        columns.risk_level = np.asarray(details.labels, dtype=np.int64)
        proba = np.asarray(details.proba, dtype=np.float64)
        columns.level_probabilities = np.round(proba, 6)
        columns.expected_level = np.round(proba @ np.arange(N_LEVELS), 4)
    if binary_model is not None:
        details = binary_model.predict_details(texts, batch_size=batch_size, scope=scope)
        columns.high_risk = np.asarray(details.labels) == 1
        columns.high_risk_probability = np.round(np.asarray(details.proba[:, 1], dtype=np.float64), 6)
        if columns.risk_level is not None and level_raises_high_risk:
            columns.high_risk |= columns.risk_level >= RAISING_LEVEL
    return columns


def decide_scope(
    texts: Sequence[str], level_model: RiskModel | None, binary_model: RiskModel | None
) -> ScopeDecision | None:
    """The scope decision for ``texts``: the level model's stage if it has one, else the binary model's, else none."""
    for model in (level_model, binary_model):
        if model is not None and model.scope_ is not None:
            return model.scope_.decide(texts)
    return None


def scope_reasons(texts: Sequence[str], scope: ScopeDecision) -> list[str]:
    """Why each post is in or out of scope: ``in_scope`` (the gate), ``recovered`` (in scope, read by the stage's
    recovery cap as looking back on a crisis that is over: level at most 5, not high risk), ``rule``,
    ``someone_else`` (the gate or the plain-danger net kept it, but it asks how to help someone else in danger and
    no regex rule raised it), ``out_of_scope`` or ``blank``."""
    reasons = []
    n = len(texts)
    someone_else = scope.someone_else if scope.someone_else is not None else np.zeros(n, dtype=bool)
    recovered = scope.recovered if scope.recovered is not None else np.zeros(n, dtype=bool)
    for text, gate_in, in_scope, other, back in zip(
        texts, scope.gate_in_scope, scope.in_scope, someone_else, recovered, strict=True
    ):
        if not text.strip():
            reasons.append("blank")
        elif other and not in_scope:
            reasons.append("someone_else")
        elif back:
            reasons.append("recovered")
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
