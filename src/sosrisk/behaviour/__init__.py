"""A behavioural test suite in the style of CheckList (Ribeiro et al., ACL 2020), written by the sosrisk team.

Groups of short posts we wrote ourselves (never taken from SOS-1K), each with the answer a crisis team
needs from sosrisk:

=======================  ==============================================================================
group                    must reach
=======================  ==============================================================================
hyperbole                at most level 3 and not high risk (everyday "烦死了", "热死了")
negation_recovery        at most level 5 and not high risk (denial, recovery, a past crisis)
third_person             at most level 3 and not high risk (news, fiction, lyrics, lectures)
help_for_others          at most level 3 and not high risk (asking how to help someone else)
wish_no_method           in scope and at least level 4 (a wish to die, no method)
plan_with_time           at least level 6 and high risk (a method and a time)
attempt_in_progress      at least level 6 and high risk (means taken or being used now)
farewell                 at least level 6 and high risk (a last post, a note, a goodbye)
=======================  ==============================================================================

Three kinds of check: ``mft`` (minimum functionality: the post alone must reach the group's answer),
``inv`` (invariance: a small change that must not move the tier or the high-risk flag), ``dir_up`` /
``dir_down`` (direction: adding a method, or a recovery, must not lower / raise the level or the flag).

Forty-one files: ``cases.tsv``, the suite we developed the scope stage and the rules with; ``holdout.tsv``,
written after the first settings were frozen, each later variant judged on it once; ``holdout2.tsv``
(2026-12-06), written after ``holdout.tsv`` had judged five variants, with no model run on it before the
defaults of that day were frozen (the plain-danger net's threshold was then chosen after reading its
failures, so it no longer judges that choice); and ``holdout3.tsv`` (2026-12-06, later the same day),
written before any model ran on it, to judge the defaults that ``holdout2.tsv`` had been read for; and
``holdout4.tsv`` (2026-12-06), written after ``holdout3.tsv``'s blind run had shown that held-out
farewells fail, and before any change made for them: it judges that change (its author knew which kinds of
farewell had failed, so it is fresh to the models, not to us); and ``holdout5.tsv`` (2026-12-06),
written after ``holdout4.tsv``'s run had shown held-out attempts in progress failing, before any change
made for them, to judge that change in the same way; and ``holdout6.tsv`` (2026-12-06), written before
the level-only wish rule of rules-7, to judge it (its author knew the rule's pattern, and wrote wishes both
in and outside its words); and ``holdout7.tsv`` (2026-12-06), written after ``holdout6.tsv``'s run had
shown held-out attempts and farewells failing in words the rules lack, before any change made for them;
and ``holdout8.tsv`` (2026-12-06), written after ``holdout7.tsv``'s run, before the results of an experiment
with the plain-danger net inside scope were read, to judge whatever comes of it; and ``holdout9.tsv``
(2026-12-06), written after ``holdout8.tsv``'s run and before any change made since, to judge the next one
(``hard-positives-3``, measured on it and reverted); and ``holdout10.tsv`` (2026-12-06), written after
``holdout9.tsv``'s run had shown negation and recovery failing, with more posts of that group, before any
change made for it; and ``holdout11.tsv`` (2026-12-06), written after ``holdout10.tsv``'s run had shown
wishes without a method failing for ``char-linear`` (in scope, level 0), with more posts of that group,
before any change made for it (it was then run once on the defaults of that day, which no change had been
made for: it measures them); and ``holdout12.tsv`` (2026-12-06), written after that run and before a
lower bar for the plain-danger net was tried, to judge it (it was not run then, and waits for the next
change); and ``holdout13.tsv`` (2026-12-06), written while ``holdout12.tsv`` was still unread, to judge the
change after that one (its author knew that quiet farewells to family and wishes without a death word had
failed, and wrote such posts among the others, each checked against every earlier suite and the template
sentences for near copies; it judged the weighted ordinary posts of ``char-linear`` and rules-10); and
``holdout14.tsv`` (2026-12-06), written after that run and before a change to how the rules read the past
tense (a plan after "以前" or "去年" in the same sentence), to judge it (its author knew the change, and wrote
such plans and also past crises told in one sentence among the others); and ``holdout15.tsv``
(2026-12-06), written after that run, before the plain-danger net's main bar was measured again without
the draw noise, to judge whatever comes of it; and ``holdout16.tsv`` (2026-12-06, a new session), written
after every earlier suite had been read, before any change of that session, to judge the first one (each
post checked against every earlier suite and the template sentences; 21 drafts that came out close to an
earlier post were rewritten; it judged the plain-danger net's own-voice bar); and ``holdout17.tsv``
(2026-12-06, the same session), written after that run and before the next change, to judge it (it judged
the own-voice bar at one in 100); and ``holdout18.tsv`` (2026-12-06, the same session), written after that
run and not run on any model, to judge the next change (it judged rules-14, in the next session); and
``holdout19.tsv`` (2026-12-06, that next session), written after rules-15, checked against every earlier suite,
the template sentences and the tests' sentences (22 drafts that came out close to an earlier post were
rewritten), and not run on any model, to judge the next change (it judged rules-18, in the next session);
and ``holdout20.tsv`` (2026-12-06, that session), written after ``holdout19.tsv``'s run by a team member who
never saw a model's answer on it, checked the same way (12 drafts rewritten, none left above 0.66
similarity), and not run on any model, to judge the next change (it judged rules-19); and ``holdout21.tsv``
(2026-12-06, that session), written after ``holdout20.tsv``'s run in the same way (no draft came out above 0.66
similarity), and not run on any model, to judge the next change (it judged rules-20); and ``holdout22.tsv``
(2026-12-06, that session), written after ``holdout21.tsv``'s run in the same way (7 drafts rewritten, none left
above 0.66 similarity), and not run on any model, to judge the next change; and ``holdout23.tsv`` (2026-12-07, a
new session), written before that change in the same way (10 drafts rewritten, none left above 0.66 similarity,
the templates and every earlier suite compared), and not run on any model, to judge the change after it (it
judged rules-21); and ``holdout24.tsv`` (2026-12-07, the same session), written after ``holdout22.tsv``'s run and
before ``holdout23.tsv``'s by a team member who saw no model's or rule's answer on it, checked the same way (7
drafts rewritten, none left above 0.66 similarity), and not run on any model, to judge the next change (it
judged rules-22); and ``holdout25.tsv`` (2026-12-07, the same session), written by a team member who saw no
model's or rule's answer on any suite, checked the same way (2 drafts rewritten for similarity, 8 more for
scenes used before, none left above 0.66), and not run on any model, to judge the change after the one
``holdout24.tsv`` judges (it no longer can: a scratch script that compared rule hits before and after a change
printed 13 of its posts with the rules that fire on them, so it was read before it judged anything); and
``holdout26.tsv`` (2026-12-07, the same session), written after that slip in the same way (no draft above 0.66,
the highest 0.49), and not run on any model, to judge the next change (its author was asked to include, among
the others, people rescued once who now plan or act again, and people rescued who are now well; it judged
rules-23); and ``holdout27.tsv`` (2026-12-07, the same session), written after ``holdout26.tsv``'s run in the same
way (no draft above 0.66, the highest 0.49), and not run on any model, to judge the next change (its author was
asked to use every common method, hanging told in many ways among them, and notes written, recorded or typed;
it judged rules-24); and ``holdout28.tsv`` (2026-12-07, the same session), written after that run in the same way
(10 drafts rewritten, none left above 0.66, the highest 0.47), and not run on any model, to judge the next change
(rules-25); and ``holdout29.tsv`` (2026-12-07, a new session), written by a team member who saw no model's or rule's
answer on any suite, checked the same way (18 drafts rewritten for similarity or for scenes used before, none left
above 0.66, the highest 0.43), and not run on any model, to judge the change after rules-25 (its author was asked to
include, among the others, plans whose time and method stand far apart, plans that hope not to be rescued, and
quiet farewells without a death word; it judged rules-26); and ``holdout30.tsv`` (2026-12-07, the same session),
written after that run in the same way (51 drafts rewritten for similarity or for scenes used before, none left
above 0.66, the highest 0.35), and not run on any model, to judge the next change (it judged rules-27); and
``holdout31.tsv`` (2026-12-07, the same session), written after that run in the same way (18 drafts rewritten for
similarity or for scenes used before, none left above 0.66, the highest 0.39), and not run on any model, to judge
the next change (it judged rules-28); and ``holdout32.tsv`` (2026-12-07, the same session), written after that run
in the same way (8 drafts rewritten, none left above 0.66, the highest 0.36), and not run on any model, to judge the
next change (its author was asked to include, among the others, everyday posts about a pet that ate something bad
or rat poison put out; it judged rules-29); and ``holdout33.tsv`` (2026-12-07, the same session), written after
that run in the same way (1 draft rewritten, none left above 0.66, the highest 0.62), and not run on any model, to
judge the next change (it judged rules-30); and ``holdout34.tsv`` (2026-12-07, a new session), written by a team
member who saw no model's or rule's answer (no draft above 0.66, the highest 0.58), and not run on any model, to
judge the next change (it judged rules-31); and ``holdout35.tsv`` (2026-12-07, the same session), written after
that run in the same way by a team member who saw no answer and no earlier suite (2 drafts reworded, none above
0.66, the highest 0.54; its author was asked to include quiet farewells and everyday look-alikes of them), and not
run on any model, to judge the next change (it judged rules-32); and ``holdout36.tsv`` (2026-12-07, the same
session), written the same way (1 draft rewritten, none left above 0.66, the highest 0.64; its author was asked
for recovery posts that tell a past attempt concretely, and for plans, attempts and wishes that mention a hospital,
treatment or a past rescue and are present now), and not run on any model, to judge the next change (it judged
the scope stage's recovery cap); and ``holdout37.tsv`` (2026-12-07, the same session), written the same way (2
drafts rewritten, none left above 0.66, the highest 0.62), and not run on any model, to judge the next change
(it judged rules-33); and ``holdout38.tsv`` (2026-12-07, the same session), written the same way (6 drafts
rewritten, none left above 0.66, the highest 0.63), and not run on any model, to judge the next change (it judged
rules-34); and ``holdout39.tsv`` (2026-12-07, the same session), written the same way (3 drafts rewritten, none
left above 0.66, the highest 0.59), and not run on any model, to judge the next change (it judged rules-35); and
``holdout40.tsv`` (2026-12-07, the same session), written the same way (8 drafts rewritten, none left above 0.66,
the highest 0.63), and not run on any model until it judged rules-40 (2026-12-07, a new session: no answer
changed); and ``holdout41.tsv`` (2026-12-07, by another helper that saw no rule, template, probe or answer: 12-13
cases in each of the eight groups, 3 of 104 dropped unread as near copies, the highest left 0.65), kept unread in
``benchmarks/probes/reserved/`` until it judged the fine-tuned danger net (2026-12-07, a new session: no group's
pass count changed for either default). Probe sets of everyday goodbyes and quiet farewells, written the same
way, are in ``src/sosrisk/scope/probes/`` (not suites: they have no groups or checks, ``benchmarks/bench_probes.py``
counts what is raised).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..assess import Assessment, assess
from ..models.base import ModelError, RiskModel
from ..scale import tier_of
from ..suites import SUITES

__all__ = ["CHECKS", "GROUPS", "SUITES", "Case", "CaseResult", "load_cases", "pass_rates", "run_cases"]

CHECKS = ("mft", "inv", "dir_up", "dir_down")


@dataclass(frozen=True)
class Group:
    """A group of cases and what every one of its posts must reach."""

    key: str
    title: str
    max_level: int | None = None
    min_level: int | None = None
    high_risk: bool | None = None
    in_scope: bool | None = None

    def expectation(self) -> str:
        """The group's requirement in words."""
        parts = []
        if self.in_scope:
            parts.append("in scope")
        if self.min_level is not None:
            parts.append(f"level >= {self.min_level}")
        if self.max_level is not None:
            parts.append(f"level <= {self.max_level}")
        if self.high_risk is not None:
            parts.append("high risk" if self.high_risk else "not high risk")
        return ", ".join(parts)


GROUPS: dict[str, Group] = {
    g.key: g
    for g in (
        Group("hyperbole", "everyday hyperbole", max_level=3, high_risk=False),
        Group("negation_recovery", "negation and recovery", max_level=5, high_risk=False),
        Group("third_person", "third person, news, fiction, lyrics", max_level=3, high_risk=False),
        Group("help_for_others", "help-seeking for others", max_level=3, high_risk=False),
        Group("wish_no_method", "wish without method", min_level=4, in_scope=True),
        Group("plan_with_time", "explicit plan with time", min_level=6, high_risk=True),
        Group("attempt_in_progress", "attempt in progress", min_level=6, high_risk=True),
        Group("farewell", "farewell, last post", min_level=6, high_risk=True),
    )
}


@dataclass(frozen=True)
class Case:
    """One check: a group, its kind, a post, and for ``inv``/``dir_*`` the changed post."""

    suite: str
    line: int
    group: str
    check: str
    text: str
    variant: str = ""


def load_cases(suite: str = "cases") -> list[Case]:
    """The cases of one suite file (one of :data:`SUITES`), validated."""
    if suite not in SUITES:
        raise ValueError(f"Unknown behavioural suite {suite!r}; expected one of {SUITES}.")
    name = f"{suite}.tsv"
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    cases = []
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    for line, row in enumerate(reader, start=2):
        group, check, post, variant = row["group"], row["check"], row["text"], row.get("variant") or ""
        if group not in GROUPS or check not in CHECKS or not post or (check != "mft") != bool(variant):
            raise ValueError(f"{name}:{line}: bad case (group {group!r}, check {check!r}).")
        cases.append(Case(suite, line, group, check, post, variant))
    return cases


@dataclass
class CaseResult:
    """A case and whether it passed, with the answers behind it."""

    case: Case
    passed: bool
    answers: list[dict[str, Any]] = field(default_factory=list)


def _meets(group: Group, answer: Assessment) -> bool:
    if group.in_scope and answer.in_scope is False:
        return False
    if answer.risk_level is not None:
        if group.min_level is not None and answer.risk_level < group.min_level:
            return False
        if group.max_level is not None and answer.risk_level > group.max_level:
            return False
    return not (group.high_risk is not None and answer.high_risk is not None and answer.high_risk != group.high_risk)


def _order(answer: Assessment) -> tuple[int, int]:
    """(tier rank, high-risk flag) of an answer, for invariance and direction."""
    rank = tier_of(answer.risk_level).rank if answer.risk_level is not None else 0
    return rank, int(bool(answer.high_risk))


def _summary(answer: Assessment) -> dict[str, Any]:
    return {
        "risk_level": answer.risk_level,
        "high_risk": answer.high_risk,
        "in_scope": answer.in_scope,
        "rules": [h["rule"] for h in answer.rule_hits or []],
    }


def run_cases(
    cases: Sequence[Case],
    *,
    level_model: RiskModel | None = None,
    binary_model: RiskModel | None = None,
    level_raises_high_risk: bool = True,
) -> list[CaseResult]:
    """Assess every post of ``cases`` with the models and judge each case (``level_raises_high_risk``: as for
    :func:`sosrisk.assess.assess`)."""
    if level_model is None and binary_model is None:
        raise ModelError("Expected a level model, a binary model or both; got neither.")
    texts = list(dict.fromkeys([c.text for c in cases] + [c.variant for c in cases if c.variant]))
    assessed = assess(
        texts, level_model=level_model, binary_model=binary_model, level_raises_high_risk=level_raises_high_risk
    )
    answers = dict(zip(texts, assessed, strict=True))
    results = []
    for case in cases:
        first = answers[case.text]
        if case.check == "mft":
            results.append(CaseResult(case, _meets(GROUPS[case.group], first), [_summary(first)]))
            continue
        second = answers[case.variant]
        a, b = _order(first), _order(second)
        if case.check == "inv":
            passed = a == b
        elif case.check == "dir_up":
            passed = b[0] >= a[0] and b[1] >= a[1]
        else:
            passed = b[0] <= a[0] and b[1] <= a[1]
        results.append(CaseResult(case, passed, [_summary(first), _summary(second)]))
    return results


def pass_rates(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """One row per group (in :data:`GROUPS` order): cases, passed, pass rate, per check kind, the requirement."""
    rows = []
    for key, group in GROUPS.items():
        mine = [r for r in results if r.case.group == key]
        if not mine:
            continue
        row: dict[str, Any] = {
            "group": key,
            "title": group.title,
            "must_reach": group.expectation(),
            "cases": len(mine),
            "passed": sum(r.passed for r in mine),
        }
        row["pass_rate"] = row["passed"] / row["cases"]
        for check in CHECKS:
            of_kind = [r for r in mine if r.case.check == check]
            if of_kind:
                row[check] = f"{sum(r.passed for r in of_kind)}/{len(of_kind)}"
        rows.append(row)
    return rows
