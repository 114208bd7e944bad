"""A pair's scope from both stages: what the binary stage would add to the level stage's decision (read data only).

With both models, ``sosrisk.assess`` takes the scope from the level model's stage. On helper-42's blind trio the
binary model alone raised 67 of 80 plainly written plans and attempts where the pair raised 56-58, so this measures,
on the same models and read data, three ways of letting the binary stage in (a measurement; nothing here is built):

- ``union``: every decision of both stages joined (in scope where either has it, the higher rule floor, both stages'
  hits; recovered only where every stage that has the post in scope reads it so and no rule raised it);
- ``raises``: only the binary stage's raises to level 6+ (its regex rules, nets and raiser) joined;
- ``flagged``: the binary stage's posts in scope that its model flags high risk joined.

Counted for each, and for the level stage alone: the posts raised (level 6+ or high risk, as ``sosrisk score``
queues them) of the probe files given, the 13,766 held-out ordinary sentences of ``bench_scope.py`` in scope, at
level 6+ and high risk, and the behavioural suites' passes per group.

Run: ``python benchmarks/scope_union.py LEVEL_DIR BINARY_DIR [--probe FILE ...]``; results go to
``results/scope_union.{json,md}``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, run_line, write_results
from bench_probes import count
from bench_raiser import ordinary_counts, suite_passes
from sosrisk import load_model
from sosrisk.models import RiskModel
from sosrisk.scale import RAISING_LEVEL
from sosrisk.scope.raiser import read_probe
from sosrisk.scope.stage import ScopeDecision

ASSESS = importlib.import_module("sosrisk.assess")  # the module (the package exports a function of that name)
WAYS = ("level stage", "union", "raises", "flagged")


def joined(a: ScopeDecision, b: ScopeDecision) -> ScopeDecision:
    """Both decisions joined: see the module docstring's ``union``."""
    n = len(a.in_scope)
    none = np.zeros(n, dtype=bool)
    hits = []
    for own, other in zip(a.rule_hits, b.rule_hits, strict=True):
        seen = {(hit.family, hit.rule) for hit in own}
        hits.append([*own, *(hit for hit in other if (hit.family, hit.rule) not in seen)])
    floors = np.maximum(a.floors, b.floors)
    in_scope = a.in_scope | b.in_scope
    someone_else = None
    if a.someone_else is not None or b.someone_else is not None:
        a_else = none if a.someone_else is None else a.someone_else
        b_else = none if b.someone_else is None else b.someone_else
        someone_else = (a_else | b_else) & ~in_scope
    recovered = None
    if a.recovered is not None or b.recovered is not None:
        a_back = none if a.recovered is None else a.recovered
        b_back = none if b.recovered is None else b.recovered
        both = a.in_scope & b.in_scope
        recovered = np.where(both, a_back & b_back, np.where(a.in_scope, a_back, b_back)) & (floors < RAISING_LEVEL)
    return ScopeDecision(
        np.maximum(a.scope_probability, b.scope_probability),
        a.gate_in_scope | b.gate_in_scope,
        in_scope,
        floors,
        hits,
        someone_else,
        recovered,
    )


def kept(decision: ScopeDecision, keep: np.ndarray) -> ScopeDecision:
    """``decision`` for the posts ``keep`` marks; the others as out of scope with no hit."""
    return ScopeDecision(
        np.where(keep, decision.scope_probability, 0.0),
        decision.gate_in_scope & keep,
        decision.in_scope & keep,
        np.where(keep, decision.floors, -1),
        [hits if k else [] for hits, k in zip(decision.rule_hits, keep, strict=True)],
        None,
        None if decision.recovered is None else decision.recovered & keep,
    )


def deciding(way: str, original: Any) -> Any:
    """A ``decide_scope`` for ``way``."""

    def decide(texts: Sequence[str], level: RiskModel | None, binary: RiskModel | None) -> ScopeDecision | None:
        decision = original(texts, level, binary)
        if way == "level stage" or level is None or binary is None or binary.scope_ is None or decision is None:
            return decision
        other = binary.scope_.decide(texts)
        if way == "raises":
            other = kept(other, other.floors >= RAISING_LEVEL)
        elif way == "flagged":
            keep = other.in_scope.copy()
            rows = np.flatnonzero(keep)
            if len(rows):
                details = binary.predict_details([texts[i] for i in rows], scope=other.take(rows))
                keep[rows] = np.asarray(details.labels) == 1
            other = kept(other, keep)
        return joined(decision, other)

    return decide


def counts(level: RiskModel, binary: RiskModel, probes: list[Path]) -> dict[str, Any]:
    """What ``bench_raiser.py`` counts for a pair: the probe posts raised, the held-out ordinary sentences, the suites
    (``decide_scope`` is looked up in ``sosrisk.assess`` on every call, so they all read the way being measured)."""
    out: dict[str, Any] = {path.stem: count(level, binary, read_probe(path))["raised"] for path in probes}
    out["ordinary"] = ordinary_counts(level, binary)[0]
    out["suites"] = suite_passes(level, binary)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("level", type=Path)
    parser.add_argument("binary", type=Path)
    parser.add_argument("--probe", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    level, binary = load_model(args.level), load_model(args.binary)
    if level.scope_ is None or binary.scope_ is None:
        raise SystemExit("both models need a scope stage")
    original = ASSESS.decide_scope
    results: dict[str, Any] = {}
    try:
        for way in WAYS:
            ASSESS.decide_scope = deciding(way, original)
            results[way] = counts(level, binary, args.probe)
            print(way, results[way], file=sys.stderr, flush=True)
    finally:
        ASSESS.decide_scope = original
    env = environment(("sosrisk", "numpy", "torch"))
    probes = [p.stem for p in args.probe]
    groups = list(results["level stage"]["suites"])
    head = ["scope from", *probes, "ordinary in scope / L6+ / high", *groups]
    lines = ["# A pair's scope from both stages (read data only)", "", run_line(env) + ".", ""]
    lines += [f"Level model `{args.level}`, binary model `{args.binary}`.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for way, row in results.items():
        ordinary = row["ordinary"]
        cells = [way, *(str(row[p]) for p in probes)]
        cells.append(f"{ordinary['in_scope']} / {ordinary['level_6_plus']} / {ordinary['high_risk']}")
        cells += [str(row["suites"][g]) for g in groups]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Held-out ordinary sentences: {results['level stage']['ordinary']['sentences']}.", ""]
    payload = {"environment": env, "models": [str(args.level), str(args.binary)], "results": results}
    write_results("scope_union", payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
