"""The plain-danger net on its own: where it fires on SOS-1K (out of fold), on held-out ordinary text, and on
the behavioural suites.

Like the rule families (``bench_scope.py --sections rules``) the net must earn its place: the posts it raises
must be at risk far more often than not, and it may fire on at most about one ordinary sentence in 10,000.

- **SOS-1K, out of fold.** For each task and each official fold, the net is trained as ``fit_scope`` trains
  it (the team's hard positives against the gate's ordinary sources with the hard negatives, and the four
  training folds' posts that are not at risk) and fires on the fifth fold's posts. Reported: how many posts it
  fires on and how many of them are at risk (level 6+ or labelled high risk). The prefilter in front of it is
  left out here: every post is scored.
- **Held-out ordinary text**: the share of each source's held-out part (the same capped sample as
  ``bench_scope.py``) it fires on, with the net trained on all five folds.
- **Behavioural suites**: how many cases of each group it fires on (the net alone, not the model).

- **Whole models** (``--model NAME LEVEL_DIR BINARY_DIR``, repeatable): the behavioural pass rates of trained
  model directories with their net retrained as each variant trains it (on all five folds), everything else
  as saved.

Each is measured for every variant of :data:`VARIANTS`: the threshold at one ordinary training sentence in
10,000 (until 2026-12-06) or in 2,000 (the default since), the team's recovery posts as calm posts
(:mod:`sosrisk.scope.recovery_posts`, ``ScopeSettings.danger_recovery``; measured 2026-12-06, not adopted),
and the same posts training the net's recovery veto instead (``ScopeSettings.danger_veto``, the default since
2026-12-06, later). The SOS-1K and ordinary-text counts are of hits after the veto.

Run: ``python benchmarks/bench_danger_net.py [--model NAME LEVEL_DIR BINARY_DIR ...]``; results go to
``results/danger_net.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _env import environment, sos1k_root, write_results
from bench_scope import aligned_sos, heldout_parts, log
from sosrisk.behaviour import GROUPS, SUITES, load_cases, pass_rates, run_cases
from sosrisk.data import PostSet
from sosrisk.scope.encoder import SentenceEncoder, cached_embeddings
from sosrisk.scope.training import ScopeSettings, at_risk_mask, fit_danger_net, gate_negatives

# name -> fit_danger_net settings
VARIANTS: dict[str, dict[str, Any]] = {
    "threshold at one ordinary sentence in 10,000, no recovery posts (until 2026-12-06)": {
        "quantile": 0.9999,
        "veto": False,
    },
    "the same with recovery posts (not adopted)": {"quantile": 0.9999, "recovery": True, "veto": False},
    "threshold at one ordinary sentence in 2,000 (the default since 2026-12-06)": {"quantile": 0.9995, "veto": False},
    "the same with the recovery veto (the default since 2026-12-06, later)": {"quantile": 0.9995, "veto": True},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        nargs=3,
        action="append",
        default=[],
        metavar=("NAME", "LEVEL_DIR", "BINARY_DIR"),
        help="also the pass rates of these trained models with each variant of the net (repeatable)",
    )
    args = parser.parse_args()
    encoder = SentenceEncoder.shared()
    negatives = gate_negatives(ScopeSettings())
    level_folds, binary_folds = aligned_sos(sos1k_root())
    heldout = heldout_parts()
    suites = {suite: load_cases(suite) for suite in SUITES}
    suite_embeddings = {suite: encoder.encode([c.text for c in cases]) for suite, cases in suites.items()}
    payload: dict[str, Any] = {"environment": environment(("sosrisk", "numpy", "scikit-learn")), "variants": {}}
    for variant, chosen in VARIANTS.items():
        result: dict[str, Any] = {"settings": chosen, "sos1k": {}}
        nets = {}
        for task, folds in (("level", level_folds), ("binary", binary_folds)):
            rows = []
            for k, held in enumerate(folds):
                train = PostSet.concat([p for j, p in enumerate(folds) if j != k])
                net = fit_danger_net(train.texts, at_risk_mask(task, train.labels(task)), negatives, **chosen)
                fired = net.fires(encoder.encode(held.texts))
                at_risk = at_risk_mask(task, held.labels(task))
                rows.append(
                    {"fold": k, "posts": len(held), "fired": int(fired.sum()), "at_risk": int(at_risk[fired].sum())}
                )
                log(f"{variant}, {task} fold {k}: fires on {fired.sum()}, {at_risk[fired].sum()} at risk")
            whole = PostSet.concat(folds)
            nets[task] = fit_danger_net(whole.texts, at_risk_mask(task, whole.labels(task)), negatives, **chosen)
            result["sos1k"][task] = {"folds": rows, "threshold_all_folds": nets[task].threshold_}
        result["ordinary"] = {}
        for name, texts in heldout.items():
            embeddings = cached_embeddings(texts)
            result["ordinary"][name] = {
                "sentences": len(texts),
                **{task: int(net.fires(embeddings).sum()) for task, net in nets.items()},
            }
        result["behaviour"] = {}
        for suite, cases in suites.items():
            result["behaviour"][suite] = {
                task: {
                    group: [
                        int(sum(f for c, f in zip(cases, fired, strict=True) if c.group == group)),
                        sum(c.group == group for c in cases),
                    ]
                    for group in GROUPS
                }
                for task, fired in ((t, net.fires(suite_embeddings[suite])) for t, net in nets.items())
            }
        payload["variants"][variant] = result
    payload["models"] = {name: whole_models(level, binary, negatives) for name, level, binary in args.model}
    write_results("danger_net", payload, render(payload))
    print(render(payload))
    return 0


def whole_models(level_dir: str, binary_dir: str, negatives: dict[str, list[str]]) -> dict[str, Any]:
    """Pass rates per suite and group of the saved models, their nets retrained as each variant."""
    from sosrisk.data import load_folds
    from sosrisk.models import load_model

    models = {"level": load_model(level_dir), "binary": load_model(binary_dir)}
    out: dict[str, Any] = {"level_dir": level_dir, "binary_dir": binary_dir}
    for variant, chosen in VARIANTS.items():
        for task, model in models.items():
            if model.scope_ is None or model.scope_.danger is None:
                raise SystemExit(f"{level_dir if task == 'level' else binary_dir}: no plain-danger net to retrain")
            whole = PostSet.concat(load_folds(task))
            at_risk = at_risk_mask(task, whole.labels(task))
            model.scope_.danger = fit_danger_net(whole.texts, at_risk, negatives, **chosen)
        out[variant] = {
            suite: {
                row["group"]: [row["passed"], row["cases"]]
                for row in pass_rates(
                    run_cases(load_cases(suite), level_model=models["level"], binary_model=models["binary"])
                )
            }
            for suite in SUITES
        }
        log(f"{level_dir}, {variant}: {out[variant]}")
    return out


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# The plain-danger net on its own",
        "",
        f"Run: {env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · commit {env['git_commit']}"
        f" · {env['versions']}",
    ]
    for variant, result in payload["variants"].items():
        lines += [
            "",
            f"## {variant[0].upper()}{variant[1:]}",
            "",
            "**SOS-1K, out of fold** (trained on four folds, fired on the fifth; at risk: level 6+ / labelled high"
            " risk):",
            "",
            "| task | fold 0 | fold 1 | fold 2 | fold 3 | fold 4 | all: fired | of them at risk |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for task, sos in result["sos1k"].items():
            folds = sos["folds"]
            fired, at_risk = sum(r["fired"] for r in folds), sum(r["at_risk"] for r in folds)
            cells = " | ".join(f"{r['at_risk']}/{r['fired']}" for r in folds)
            share = f"{at_risk} ({at_risk / fired:.0%})" if fired else "0"
            lines.append(f"| {task} | {cells} | {fired} of {sum(r['posts'] for r in folds)} | {share} |")
        lines += ["", "**Held-out ordinary text** (trained on all five folds): sentences it fires on", ""]
        lines += ["| source | sentences | level net | binary net |", "|---|---|---|---|"]
        total = {"sentences": 0, "level": 0, "binary": 0}
        for name, row in result["ordinary"].items():
            lines.append(f"| {name} | {row['sentences']} | {row['level']} | {row['binary']} |")
            for key in total:
                total[key] += row[key]
        lines.append(f"| all | {total['sentences']} | {total['level']} | {total['binary']} |")
        lines += ["", "**Behavioural suites**: cases the net alone fires on (level net / binary net)", ""]
        suites = [s for s in SUITES if s in result["behaviour"]]  # a suite written after the run is not there
        lines += ["| group | " + " | ".join(f"{s}.tsv" for s in suites) + " |", "|---|" + "---|" * len(suites)]
        for group in GROUPS:
            cells = []
            for suite in suites:
                counts = result["behaviour"][suite]
                (lf, n), (bf, _) = counts["level"][group], counts["binary"][group]
                cells.append(f"{lf} / {bf} of {n}")
            lines.append(f"| {GROUPS[group].title} | {' | '.join(cells)} |")
    for name, result in payload.get("models", {}).items():
        variants = [v for v in VARIANTS if v in result]
        suites = [s for s in SUITES if all(s in result[v] for v in variants)]
        lines += [
            "",
            f"## Whole models: {name}",
            "",
            f"`{result['level_dir']}` and `{result['binary_dir']}` as saved, their plain-danger nets retrained as each"
            " variant trains them. Cases passed per group, one number per variant in this order: "
            + "; ".join(variants)
            + ".",
            "",
            "| group | " + " | ".join(f"{s}.tsv" for s in suites) + " |",
            "|---|" + "---|" * len(suites),
        ]
        for group in GROUPS:
            cells = []
            for suite in suites:
                counts = [result[v][suite][group] for v in variants]
                cells.append(" / ".join(str(passed) for passed, _ in counts) + f" of {counts[0][1]}")
            lines.append(f"| {GROUPS[group].title} | {' | '.join(cells)} |")
        totals = [" / ".join(str(sum(result[v][suite][g][0] for g in GROUPS)) for v in variants) for suite in suites]
        lines.append(f"| all | {' | '.join(totals)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
