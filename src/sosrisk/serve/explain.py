"""Explanations: the phrases of a post that raised its assessment, for reviewers to check the model.

Each model kind can register its own explainer with :func:`register_explainer`; the service asks
:func:`explain_texts`, which falls back to occlusion for kinds without one.

- ``char-linear`` (method ``exact``): the model is linear in its n-gram features, so each n-gram's
  share of the score is exact (:meth:`sosrisk.models.char_linear.CharLinearModel.explain`).
- any other kind (method ``occlusion``): the text is cut into windows of a few characters, each window is
  removed in turn, and the drop in the probability of the explained label is that window's weight.
  Honest but approximate (windows interact), and it costs one extra prediction per window, at most
  ``max_windows`` per post. An encoder kind can register a better method (for example integrated
  gradients) later without touching the service.

The explained label is the assessed level for a level model, and *high risk* for a binary model (the
phrases that raised the high-risk probability, whatever the flag).

With a scope stage, a post out of scope gets no explanation: no model ran on it (its level 0 is the scope
stage's answer, and the safety-net rules that fired are reported as rule hits instead). For a post in scope
the explanation is of the risk model itself: occlusion predicts its variants with ``apply_scope=False``, so a
variant that the gate would put out of scope still shows how the model's own probability moves.

:func:`describe_rule_hit` gives a rule hit its matched span and the plain-language description of the rule
from :data:`sosrisk.scope.rules.RULE_SET`, for the API and the triage page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..assess import Assessment
from ..models.base import RiskModel

_BLANK = " \t\r\n，。！？、；：,.!?;:…“”\"'‘’（）()【】[]~～"


@dataclass(frozen=True)
class Phrase:
    """A span of the post (``text[start:end]``) and how much it raised the explained label's score."""

    text: str
    start: int
    end: int
    weight: float


Explainer = Callable[[RiskModel, Sequence[str], Sequence[int], int], list[list[Phrase]]]
_EXPLAINERS: dict[str, tuple[str, Explainer]] = {}


def register_explainer(kind: str, method: str) -> Callable[[Explainer], Explainer]:
    """Register ``function(model, texts, labels, top_k) -> phrases per text`` for a model kind.

    ``method`` names the technique in every answer (``exact``, ``occlusion``, ``integrated-gradients``...).
    Phrases must be spans of the given texts with positive weights, most important first.
    """

    def decorator(function: Explainer) -> Explainer:
        _EXPLAINERS[kind] = (method, function)
        return function

    return decorator


def explanation_method(model: RiskModel) -> str:
    """The method :func:`explain_texts` uses for ``model``."""
    entry = _EXPLAINERS.get(model.kind)
    return entry[0] if entry else "occlusion"


def explain_texts(
    model: RiskModel, texts: Sequence[str], labels: Sequence[int], *, top_k: int = 8
) -> tuple[str, list[list[Phrase]]]:
    """The method used and, per text, the phrases that raised the score of its label."""
    method, function = _EXPLAINERS.get(model.kind, ("occlusion", occlusion_phrases))
    return method, function(model, texts, labels, top_k)


@register_explainer("char-linear", "exact")
def _char_linear_phrases(
    model: RiskModel, texts: Sequence[str], labels: Sequence[int], top_k: int
) -> list[list[Phrase]]:
    explain = model.explain  # type: ignore[attr-defined]
    return [
        [Phrase(c.ngram, c.start, c.end, round(c.weight, 6)) for c in explain(text, label=label, top_k=top_k)]
        for text, label in zip(texts, labels, strict=True)
    ]


def occlusion_windows(text: str, max_windows: int) -> list[tuple[int, int]]:
    """Consecutive windows of at least 4 characters covering ``text``, at most ``max_windows`` of them."""
    if not text:
        return []
    size = max(4, math.ceil(len(text) / max_windows))
    return [(start, min(start + size, len(text))) for start in range(0, len(text), size)]


def occlusion_phrases(
    model: RiskModel, texts: Sequence[str], labels: Sequence[int], top_k: int, *, max_windows: int = 24
) -> list[list[Phrase]]:
    """Occlusion: the drop in the label's probability when each window of characters is removed."""
    assert model.classes_ is not None
    column = {int(label): index for index, label in enumerate(model.classes_)}
    variants: list[str] = []
    plan: list[list[tuple[int, int]]] = []
    for text in texts:
        windows = [w for w in occlusion_windows(text, max_windows) if text[w[0] : w[1]].strip(_BLANK)]
        plan.append(windows)
        variants.append(text)
        variants.extend(text[:start] + text[end:] for start, end in windows)
    # the risk model itself: a variant the scope gate would put out of scope must not read as a drop to level 0
    proba = model.predict_details(variants, apply_scope=False).proba
    results: list[list[Phrase]] = []
    row = 0
    for text, label, windows in zip(texts, labels, plan, strict=True):
        index = column[int(label)]
        full = float(proba[row, index])
        phrases = []
        for offset, (start, end) in enumerate(windows, start=1):
            weight = full - float(proba[row + offset, index])
            if weight > 0:
                phrases.append(_trimmed(text, start, end, weight))
        row += 1 + len(windows)
        phrases.sort(key=lambda phrase: -phrase.weight)
        results.append(phrases[:top_k])
    return results


def _trimmed(text: str, start: int, end: int, weight: float) -> Phrase:
    """The window without leading and trailing punctuation or spaces."""
    while start < end and text[start] in _BLANK:
        start += 1
    while end > start and text[end - 1] in _BLANK:
        end -= 1
    return Phrase(text[start:end], start, end, round(weight, 6))


def explain_assessments(
    texts: Sequence[str],
    assessments: Sequence[Assessment],
    *,
    level_model: RiskModel | None = None,
    binary_model: RiskModel | None = None,
    top_k: int = 8,
) -> list[list[dict[str, Any]]]:
    """Per post, one explanation per model given: ``{"model": "level"|"binary", "method", "label",
    "phrases": [{"text", "start", "end", "weight"}, ...]}`` (JSON-ready, stored with queued posts)."""
    results: list[list[dict[str, Any]]] = [[] for _ in texts]
    # a post out of scope is not explained: no model ran on it
    rows = [row for row, assessment in enumerate(assessments) if assessment.in_scope is not False]
    if not rows:
        return results
    chosen = [texts[row] for row in rows]
    targets: list[tuple[str, RiskModel, list[int]]] = []
    if level_model is not None:
        levels = [assessments[row].risk_level for row in rows]
        assert all(level is not None for level in levels)
        targets.append(("level", level_model, [int(level) for level in levels]))  # type: ignore[arg-type]
    if binary_model is not None:
        targets.append(("binary", binary_model, [1] * len(rows)))
    for name, model, labels in targets:
        method, phrases = explain_texts(model, chosen, labels, top_k=top_k)
        for row, label, found in zip(rows, labels, phrases, strict=True):
            results[row].append(
                {
                    "model": name,
                    "method": method,
                    "label": label,
                    "phrases": [asdict(phrase) for phrase in found],
                }
            )
    return results


def rule_description(family: str, rule: str) -> str:
    """The plain-language description of a safety-net rule of :data:`~sosrisk.scope.rules.RULE_SET`, or a
    note that this sosrisk's rule set no longer has it (a post queued under an earlier rule set)."""
    from ..scope import danger
    from ..scope.rules import RULE_SET, RULES_VERSION

    if family == danger.FAMILY and rule in danger.RULE_DESCRIPTIONS:
        return danger.RULE_DESCRIPTIONS[rule]
    for known in RULE_SET:
        if known.family == family and known.name == rule:
            return known.description
    return f"a rule that is not in this sosrisk's rule set ({RULES_VERSION})"


def describe_rule_hit(hit: dict[str, Any], text: str) -> dict[str, Any]:
    """A rule hit (``{family, rule, floor, start, end}``) with its matched span ``text`` and its ``description``."""
    start, end = int(hit["start"]), int(hit["end"])
    return {
        "family": hit["family"],
        "rule": hit["rule"],
        "floor": int(hit["floor"]),
        "start": start,
        "end": end,
        "text": text[start:end],
        "description": rule_description(str(hit["family"]), str(hit["rule"])),
    }
