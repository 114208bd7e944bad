"""What choosing the level decision rule (or the binary threshold) on few posts costs, simulated on saved OOF.

A level model chooses its decision rule (argmax or one of eleven expected-cost rules, ``LEVEL_CANDIDATES``) by
``choose_level_rule``: the best QWK among the rules within 0.01 weighted F1 of the best (the criterion is
``select_level_rule``, which this script calls on each subset). ``char-linear`` and
``embedding-linear`` choose on the out-of-fold probabilities of all their training posts (about 800 in a
cross-validation fold); an ensemble or a fine-tuned encoder chooses on its 15% validation split, about 120
SOS-1K posts. This script asks what that costs, without training anything: it takes the out-of-fold
probabilities of a five-fold cross-validation (``cv_encoders.py --save-oof DIR``), draws ``--draws`` random
subsets of ``--choose-on`` posts, lets each strategy choose a rule on the subset, and scores the chosen rule
on the other posts. Strategies:

* ``current``: ``choose_level_rule`` over every candidate (what sosrisk does);
* ``argmax``: no choice;
* ``no zero_one <= 2``: the same criterion without the four rules that trade the most F1 for QWK
  (``zero_one`` 2 or 0, and the squared-distance rule);
* ``... and under_weight 1``: also without the rules that weigh underestimation 1.5 times.

Reported per file and averaged: weighted F1, QWK and the share of posts underestimated by 3 levels or
more, on the posts not used to choose.

The binary threshold gets the same treatment from the ``<config>-binary.npz`` files: ``choose_binary_threshold``
for a target recall of 0.8 at each ``confidence`` in ``CONFIDENCES`` (0.5 aims at 0.8 itself on the posts it
chooses on, the rule before 2026-12-05; sosrisk's default is ``RECALL_CONFIDENCE``), scored by weighted F1,
high-risk recall and precision, and how often the recall on the other posts fell below the target. Run:
``python benchmarks/rule_selection.py --oof DIR [--choose-on 120 700]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, run_line, write_results

NAME = "rule_selection"
# which candidates each strategy may choose from (a predicate on the rule; None: all of them)
STRATEGIES: dict[str, Callable[[Any], bool] | None] = {
    "current": None,
    "argmax": lambda rule: rule.rule == "argmax",
    "no zero_one <= 2": lambda rule: rule.rule == "argmax" or (rule.power == 1 and rule.zero_one > 2),
    "no zero_one <= 2, under_weight 1": lambda rule: (
        rule.rule == "argmax" or (rule.power == 1 and rule.zero_one > 2 and rule.under_weight == 1)
    ),
}


def _scores(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    from sklearn.metrics import cohen_kappa_score, f1_score

    return (
        float(f1_score(y, predicted, average="weighted", zero_division=0)),
        float(cohen_kappa_score(y, predicted, labels=list(range(11)), weights="quadratic")),
        float(np.mean(predicted <= y - 3)),
    )


def simulate(path: Path, choose_on: int, draws: int, seed: int) -> dict[str, Any]:
    from sosrisk.models.decision import LEVEL_CANDIDATES, describe, select_level_rule

    data = np.load(path, allow_pickle=False)
    y, proba = data["labels"], data["proba"]
    if proba.shape[1] != 11:
        raise SystemExit(f"{path}: expected level probabilities (11 columns), got {proba.shape[1]}")
    classes = np.arange(11)
    predictions = [rule.decide(proba, classes) for rule in LEVEL_CANDIDATES]
    allowed = {
        name: [i for i, rule in enumerate(LEVEL_CANDIDATES) if keep is None or keep(rule)]
        for name, keep in STRATEGIES.items()
    }
    rng = np.random.default_rng(seed)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in STRATEGIES}
    for _ in range(draws):
        order = rng.permutation(len(y))
        chosen, scored = order[:choose_on], order[choose_on:]
        measured = [_scores(y[chosen], p[chosen]) for p in predictions]
        for name, indices in allowed.items():
            index = indices[select_level_rule([measured[i][:2] for i in indices])]
            results[name].append(_scores(y[scored], predictions[index][scored]))
    pooled = {
        describe(r): dict(zip(("weighted_f1", "qwk", "under_by_3"), _scores(y, p), strict=True))
        for r, p in zip(LEVEL_CANDIDATES, predictions, strict=True)
    }
    means = {
        name: dict(zip(("weighted_f1", "qwk", "under_by_3"), np.mean(values, axis=0).tolist(), strict=True))
        for name, values in results.items()
    }
    candidates = {name: [describe(LEVEL_CANDIDATES[i]) for i in indices] for name, indices in allowed.items()}
    return {
        "file": path.name,
        "posts": len(y),
        "choose_on": choose_on,
        "candidates": candidates,
        "strategies": means,
        "pooled": pooled,
    }


CONFIDENCES = (0.5, 0.8, 0.9, 0.95)
TARGET_RECALL = 0.8


def simulate_binary(path: Path, choose_on: int, draws: int, seed: int) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from sosrisk.models.decision import choose_binary_threshold

    data = np.load(path, allow_pickle=False)
    y, proba = data["labels"], data["proba"]
    if proba.shape[1] != 2:
        raise SystemExit(f"{path}: expected binary probabilities (2 columns), got {proba.shape[1]}")
    rng = np.random.default_rng(seed)
    results: dict[float, list[tuple[float, float, float, float]]] = {c: [] for c in CONFIDENCES}
    for _ in range(draws):
        order = rng.permutation(len(y))
        chosen, scored = order[:choose_on], order[choose_on:]
        for confidence in CONFIDENCES:
            rule, _ = choose_binary_threshold(
                proba[chosen], y[chosen], target_recall=TARGET_RECALL, confidence=confidence
            )
            predicted = (proba[scored, 1] >= rule.threshold).astype(int)
            hits = int(np.sum(predicted & y[scored]))
            recall = hits / max(int(y[scored].sum()), 1)
            precision = hits / max(int(predicted.sum()), 1)
            wf1 = float(f1_score(y[scored], predicted, average="weighted", zero_division=0))
            results[confidence].append((wf1, recall, precision, float(recall < TARGET_RECALL)))
    keys = ("weighted_f1", "high_risk_recall", "high_risk_precision", "recall_below_target")
    return {
        "file": path.name,
        "posts": len(y),
        "choose_on": choose_on,
        "confidences": {str(c): dict(zip(keys, np.mean(v, axis=0).tolist(), strict=True)) for c, v in results.items()},
    }


def render_binary(payload: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for size, runs in payload.get("binary_sizes", {}).items():
        lines += [
            f"## binary threshold (target recall {TARGET_RECALL}) chosen on {size} posts",
            "",
            "| run | confidence | weighted F1 | high-risk recall | high-risk precision | recall below target |",
            "|---|---|---|---|---|---|",
        ]
        for run in runs:
            for confidence, m in run["confidences"].items():
                lines.append(
                    f"| {run['file'].removesuffix('-binary.npz')} | {confidence} | {m['weighted_f1']:.4f} | "
                    f"{m['high_risk_recall']:.4f} | {m['high_risk_precision']:.4f} | {m['recall_below_target']:.2f} |"
                )
        for confidence in CONFIDENCES:
            keys = ("weighted_f1", "high_risk_recall", "high_risk_precision", "recall_below_target")
            v = np.mean([[r["confidences"][str(confidence)][k] for k in keys] for r in runs], 0)
            lines.append(
                f"| **mean of {len(runs)}** | {confidence} | {v[0]:.4f} | {v[1]:.4f} | {v[2]:.4f} | {v[3]:.2f} |"
            )
        lines.append("")
    return lines


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# Choosing the level decision rule (and the binary threshold) on few posts: what it costs",
        "",
        run_line(env),
        "",
        f"Out-of-fold probabilities of five-fold CV runs (`cv_encoders.py --save-oof`); {payload['draws']} random "
        "subsets per size choose the rule (or the threshold), the other posts score it (seed 0). See the "
        "script's docstring.",
        "",
    ]
    for size, runs in payload["sizes"].items():
        lines += [
            f"## rule chosen on {size} posts",
            "",
            "| run | strategy | weighted F1 | QWK | under by ≥3 |",
            "|---|---|---|---|---|",
        ]
        for run in runs:
            for name, m in run["strategies"].items():
                lines.append(
                    f"| {run['file'].removesuffix('-level.npz')} | {name} | {m['weighted_f1']:.4f} | "
                    f"{m['qwk']:.4f} | {m['under_by_3']:.3f} |"
                )
        for name in STRATEGIES:
            values = np.mean(
                [[r["strategies"][name][k] for k in ("weighted_f1", "qwk", "under_by_3")] for r in runs], 0
            )
            lines.append(f"| **mean of {len(runs)}** | {name} | {values[0]:.4f} | {values[1]:.4f} | {values[2]:.3f} |")
        lines.append("")
    lines += render_binary(payload)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oof", type=Path, required=True, help="folder of <config>-level.npz files (--save-oof)")
    parser.add_argument("--choose-on", type=int, nargs="+", default=[120, 700], metavar="N")
    parser.add_argument("--draws", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted(args.oof.glob("*-level.npz"))
    binary_files = sorted(args.oof.glob("*-binary.npz"))
    if not files and not binary_files:
        print(
            f"error: no <config>-level.npz or <config>-binary.npz files in {args.oof} "
            f"(run cv_encoders.py --save-oof {args.oof})",
            file=sys.stderr,
        )
        return 2
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    sizes: dict[str, list[dict[str, Any]]] = {}
    for size in args.choose_on:
        for path in files:
            print(f"{path.name}: choosing on {size} posts ...", file=sys.stderr, flush=True)
            sizes.setdefault(str(size), []).append(simulate(path, size, args.draws, args.seed))
    binary_sizes: dict[str, list[dict[str, Any]]] = {}
    for size in args.choose_on:
        for path in binary_files:
            print(f"{path.name}: choosing the threshold on {size} posts ...", file=sys.stderr, flush=True)
            binary_sizes.setdefault(str(size), []).append(simulate_binary(path, size, args.draws, args.seed))
    payload = {"environment": environment(), "draws": args.draws, "sizes": sizes, "binary_sizes": binary_sizes}
    json_path, md_path = write_results(NAME, payload, render(payload))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
