"""How much the draw of the risk models' ordinary posts alone moves `char-linear`: the noise floor of a change.

`char-linear` learns 1,000 ordinary sentences as level 0 / low risk, a fixed text-hashed sample of the
ordinary training posts its own scope stage lets through (about 2,900 of 103,000). Any change to the stage
(a rule, the net's bar) changes which posts pass and so which 1,000 are drawn, and each comparison of two
retrained models then mixes the change with a new draw. This benchmark trains the default `char-linear`
(both tasks, all five folds) with several draws and nothing else changed
(``ScopeSettings(risk_negatives_draw=d)``; draw 0 is the default) and reports:

- the behavioural suites the team has read (every suite but ``--hold-out``, which stays blind): pass
  rates per group for each draw, and how many checks each draw turns from pass to fail and back against
  draw 0;
- held-out ordinary text (the 20% of each source never trained on, at most 3,000 sentences each): in
  scope, level 6+ and high risk for each draw;
- with ``--cv``, five-fold cross-validation of both tasks for each draw (about 4.5 minutes a draw here).

With ``--all``, one more contender: no draw, every passing post learnt at weight 1,000 / (posts passing)
(``ScopeSettings(risk_negatives_all=True)``), compared with the draws in the same way.

Run: ``python benchmarks/draw_noise.py [--draws 0 1 2 3] [--all] [--cv]``; results go to
``results/draw_noise.{json,md}``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from _env import environment, publish, run_line, sos1k_root
from bench_scope import alarm_rates, aligned_sos, heldout_parts, log, train_all

GROUP_ORDER = (
    "hyperbole",
    "negation_recovery",
    "third_person",
    "help_for_others",
    "wish_no_method",
    "plan_with_time",
    "attempt_in_progress",
    "farewell",
)


def suite_outcomes(level_model: Any, binary_model: Any, suites: list[str]) -> dict[tuple[str, int], tuple[str, bool]]:
    """Every check of ``suites``: (suite, line) -> (group, passed)."""
    from sosrisk.behaviour import load_cases, run_cases

    out: dict[tuple[str, int], tuple[str, bool]] = {}
    for suite in suites:
        for result in run_cases(load_cases(suite), level_model=level_model, binary_model=binary_model):
            out[(suite, result.case.line)] = (result.case.group, result.passed)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--hold-out", nargs="*", default=["holdout12"], help="suites not to run (kept blind)")
    parser.add_argument("--all", action="store_true", help="also every passing post, weighted (no draw)")
    parser.add_argument("--cv", action="store_true", help="also cross-validate both tasks for every draw")
    args = parser.parse_args()
    if 0 not in args.draws:
        raise SystemExit("--draws must include 0, the default draw the others are compared with")

    from sosrisk.behaviour import SUITES
    from sosrisk.scope.training import ScopeSettings
    from sosrisk.training import cross_validate

    level_folds, binary_folds = aligned_sos(sos1k_root())
    suites = [s for s in SUITES if s not in set(args.hold_out)]
    heldout = heldout_parts()
    heldout_all = [t for texts in heldout.values() for t in texts]
    contenders: dict[str, ScopeSettings] = {f"draw {d}": ScopeSettings(risk_negatives_draw=d) for d in args.draws}
    if args.all:
        contenders["all, weighted"] = ScopeSettings(risk_negatives_all=True)
    outcomes: dict[str, dict[tuple[str, int], tuple[str, bool]]] = {}
    ordinary: dict[str, dict[str, float | None]] = {}
    cv: dict[str, dict[str, float]] = {}
    weights: dict[str, Any] = {}
    for draw, settings in contenders.items():
        log(f"{draw}: training char-linear (levels and binary) on all folds")
        level_model = train_all("level", level_folds, settings)
        binary_model = train_all("binary", binary_folds, settings)
        outcomes[draw] = suite_outcomes(level_model, binary_model, suites)
        ordinary[draw] = alarm_rates(level_model, binary_model, heldout_all)
        weights[draw] = {
            task: {k: model.training_["scope"].get(k) for k in ("risk_negatives", "risk_negative_weight")}
            for task, model in (("level", level_model), ("binary", binary_model))
        }
        if args.cv:
            log(f"{draw}: cross-validating")
            row: dict[str, float] = {}
            for task, folds in (("level", level_folds), ("binary", binary_folds)):
                result = cross_validate(task, folds=folds, scope=settings, show_progress=False)  # type: ignore[arg-type]
                mean = {k: v["mean"] for k, v in result.summary.items()}
                if task == "level":
                    row |= {"level_weighted_f1": mean["weighted_f1"], "qwk": mean["qwk"]}
                else:
                    row |= {"binary_weighted_f1": mean["weighted_f1"], "high_risk_recall": mean["high_risk_recall"]}
            cv[draw] = row

    base = "draw 0"
    groups = [g for g in GROUP_ORDER if any(g == group for group, _ in outcomes[base].values())]
    passes = {
        draw: {g: sum(ok for group, ok in result.values() if group == g) for g in groups}
        for draw, result in outcomes.items()
    }
    totals = {g: sum(1 for group, _ in outcomes[base].values() if group == g) for g in groups}
    flips = {
        draw: {
            "lost": sum(outcomes[base][k][1] and not outcomes[draw][k][1] for k in outcomes[base]),
            "gained": sum(not outcomes[base][k][1] and outcomes[draw][k][1] for k in outcomes[base]),
        }
        for draw in contenders
        if draw != base
    }
    env = environment()
    payload = {
        "environment": env,
        "contenders": {name: settings.to_dict() for name, settings in contenders.items()},
        "risk_negatives": weights,
        "suites": suites,
        "passes": passes,
        "checks": totals,
        "flips_against_draw_0": flips,
        "heldout_ordinary": ordinary,
        "heldout_sentences": len(heldout_all),
        "cv": cv,
    }
    head = " | ".join(contenders)
    lines = [
        "# The draw of the ordinary posts: how much it alone moves `char-linear`",
        "",
        run_line(env),
        "",
        "The default `char-linear` (levels and binary, all five folds) trained with different hash-drawn samples of "
        "the 1,000 ordinary posts it learns as level 0 / low risk (`ScopeSettings.risk_negatives_draw`; draw 0 is "
        "the default); nothing else differs."
        + (
            " `all, weighted`: no draw; every ordinary post the stage lets through, each weighted so that together "
            "they weigh 1,000 (`ScopeSettings.risk_negatives_all`)."
            if args.all
            else ""
        ),
        "",
        f"**Behavioural suites** ({', '.join(suites)}): checks passed per group",
        "",
        f"| group | checks | {head} | spread |",
        "|---|---|" + "---|" * len(contenders) + "---|",
    ]
    for g in groups:
        values = [passes[d][g] for d in contenders]
        lines.append(
            f"| {g} | {totals[g]} | " + " | ".join(str(v) for v in values) + f" | {max(values) - min(values)} |"
        )
    lines.append(
        f"| **all** | {sum(totals.values())} | " + " | ".join(str(sum(passes[d].values())) for d in contenders) + " | |"
    )
    lines += ["", "Ordinary posts learnt (levels / binary), and the weight of each:", ""]
    for draw, row in weights.items():
        lines.append(
            f"- {draw}: "
            + " / ".join(f"{v['risk_negatives']} at {v['risk_negative_weight'] or 1:.3g}" for v in row.values())
        )
    lines += ["", "Checks that change against draw 0 (passed → failed / failed → passed):", ""]
    for draw, row in flips.items():
        lines.append(f"- {draw}: {row['lost']} lost, {row['gained']} gained")
    lines += [
        "",
        f"**Held-out ordinary text** ({len(heldout_all)} sentences)",
        "",
        "| contender | in scope | level 6+ | high risk |",
        "|---|---|---|---|",
    ]
    for draw in contenders:
        rates = ordinary[draw]
        lines.append(
            f"| {draw} | {rates.get('in_scope', 0) or 0:.2%} | {rates['level6plus'] or 0:.2%} | "
            f"{rates['high_risk'] or 0:.2%} |"
        )
    if cv:
        lines += [
            "",
            "**Five-fold cross-validation** (mean over the folds)",
            "",
            "| contender | levels: weighted F1 | QWK | binary: weighted F1 | high-risk recall |",
            "|---|---|---|---|---|",
        ]
        for draw, row in cv.items():
            lines.append(
                f"| {draw} | {row['level_weighted_f1']:.4f} | {row['qwk']:.4f} | {row['binary_weighted_f1']:.4f} | "
                f"{row['high_risk_recall']:.4f} |"
            )
        draws = [row for name, row in cv.items() if name.startswith("draw")]
        spread = {k: float(np.ptp([row[k] for row in draws])) for k in draws[0]}
        lines += ["", "Spread of the draws (max - min): " + ", ".join(f"{k} {v:.4f}" for k, v in spread.items())]
    lines.append("")
    publish("draw_noise", payload, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
