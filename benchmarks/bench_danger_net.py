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

Run: ``python benchmarks/bench_danger_net.py``; results go to ``results/danger_net.{json,md}``.
"""

from __future__ import annotations

import sys
from typing import Any

from _env import environment, sos1k_root, write_results
from bench_scope import aligned_sos, heldout_parts, log
from sosrisk.behaviour import GROUPS, SUITES, load_cases
from sosrisk.data import PostSet
from sosrisk.scope.encoder import SentenceEncoder, cached_embeddings
from sosrisk.scope.training import ScopeSettings, at_risk_mask, fit_danger_net, gate_negatives


def main() -> int:
    encoder = SentenceEncoder.shared()
    negatives = gate_negatives(ScopeSettings())
    level_folds, binary_folds = aligned_sos(sos1k_root())
    payload: dict[str, Any] = {"environment": environment(("sosrisk", "numpy", "scikit-learn")), "sos1k": {}}
    nets = {}
    for task, folds in (("level", level_folds), ("binary", binary_folds)):
        rows = []
        for k, held in enumerate(folds):
            train = PostSet.concat([p for j, p in enumerate(folds) if j != k])
            net = fit_danger_net(train.texts, at_risk_mask(task, train.labels(task)), negatives)
            fired = net.fires(encoder.encode(held.texts))
            at_risk = at_risk_mask(task, held.labels(task))
            rows.append(
                {"fold": k, "posts": len(held), "fired": int(fired.sum()), "at_risk": int(at_risk[fired].sum())}
            )
            log(f"{task} fold {k}: fires on {fired.sum()}, {at_risk[fired].sum()} at risk")
        whole = PostSet.concat(folds)
        nets[task] = fit_danger_net(whole.texts, at_risk_mask(task, whole.labels(task)), negatives)
        payload["sos1k"][task] = {"folds": rows, "threshold_all_folds": nets[task].threshold_}
    heldout = heldout_parts()
    payload["ordinary"] = {}
    for name, texts in heldout.items():
        embeddings = cached_embeddings(texts)
        payload["ordinary"][name] = {
            "sentences": len(texts),
            **{task: int(net.fires(embeddings).sum()) for task, net in nets.items()},
        }
    payload["behaviour"] = {}
    for suite in SUITES:
        cases = load_cases(suite)
        embeddings = encoder.encode([c.text for c in cases])
        payload["behaviour"][suite] = {
            task: {
                group: [
                    int(sum(f for c, f in zip(cases, fired, strict=True) if c.group == group)),
                    sum(c.group == group for c in cases),
                ]
                for group in GROUPS
            }
            for task, fired in ((t, net.fires(embeddings)) for t, net in nets.items())
        }
    write_results("danger_net", payload, render(payload))
    print(render(payload))
    return 0


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# The plain-danger net on its own",
        "",
        f"Run: {env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · commit {env['git_commit']}"
        f" · {env['versions']}",
        "",
        "**SOS-1K, out of fold** (trained on four folds, fired on the fifth; at risk: level 6+ / labelled high risk):",
        "",
        "| task | fold 0 | fold 1 | fold 2 | fold 3 | fold 4 | all: fired | of them at risk |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, result in payload["sos1k"].items():
        folds = result["folds"]
        fired, at_risk = sum(r["fired"] for r in folds), sum(r["at_risk"] for r in folds)
        cells = " | ".join(f"{r['at_risk']}/{r['fired']}" for r in folds)
        share = f"{at_risk} ({at_risk / fired:.0%})" if fired else "0"
        lines.append(f"| {task} | {cells} | {fired} of {sum(r['posts'] for r in folds)} | {share} |")
    lines += ["", "**Held-out ordinary text** (trained on all five folds): sentences it fires on", ""]
    lines += ["| source | sentences | level net | binary net |", "|---|---|---|---|"]
    total = {"sentences": 0, "level": 0, "binary": 0}
    for name, row in payload["ordinary"].items():
        lines.append(f"| {name} | {row['sentences']} | {row['level']} | {row['binary']} |")
        for key in total:
            total[key] += row[key]
    lines.append(f"| all | {total['sentences']} | {total['level']} | {total['binary']} |")
    lines += ["", "**Behavioural suites**: cases the net alone fires on (level net / binary net)", ""]
    lines += ["| group | cases.tsv | holdout.tsv |", "|---|---|---|"]
    for group in GROUPS:
        cells = []
        for suite in SUITES:
            result = payload["behaviour"][suite]
            (lf, n), (bf, _) = result["level"][group], result["binary"][group]
            cells.append(f"{lf} / {bf} of {n}")
        lines.append(f"| {GROUPS[group].title} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
