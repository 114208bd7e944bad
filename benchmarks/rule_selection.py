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


# the columns of each task's tables: (key in the results, header, format)
LEVEL_COLUMNS = (("weighted_f1", "weighted F1", ".4f"), ("qwk", "QWK", ".4f"), ("under_by_3", "under by ≥3", ".3f"))
BINARY_COLUMNS = (
    ("weighted_f1", "weighted F1", ".4f"),
    ("high_risk_recall", "high-risk recall", ".4f"),
    ("high_risk_precision", "high-risk precision", ".4f"),
    ("recall_below_target", "recall below target", ".2f"),
)


def _keys(columns: tuple[tuple[str, str, str], ...]) -> tuple[str, ...]:
    return tuple(key for key, _, _ in columns)


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
    keys = _keys(LEVEL_COLUMNS)
    pooled = {
        describe(r): dict(zip(keys, _scores(y, p), strict=True))
        for r, p in zip(LEVEL_CANDIDATES, predictions, strict=True)
    }
    means = {name: dict(zip(keys, np.mean(values, axis=0).tolist(), strict=True)) for name, values in results.items()}
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
    keys = _keys(BINARY_COLUMNS)
    return {
        "file": path.name,
        "posts": len(y),
        "choose_on": choose_on,
        "confidences": {str(c): dict(zip(keys, np.mean(v, axis=0).tolist(), strict=True)) for c, v in results.items()},
    }


def _table(
    heading: str,
    runs: list[dict[str, Any]],
    field: str,
    label: str,
    names: list[str],
    suffix: str,
    columns: tuple[tuple[str, str, str], ...],
) -> list[str]:
    """One results table: each run's row per strategy (or confidence) in ``run[field]``, then their means."""
    lines = [
        heading,
        "",
        f"| run | {label} | " + " | ".join(header for _, header, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for run in runs:
        for name, m in run[field].items():
            cells = " | ".join(format(m[key], fmt) for key, _, fmt in columns)
            lines.append(f"| {run['file'].removesuffix(suffix)} | {name} | {cells} |")
    for name in names:
        means = np.mean([[r[field][name][key] for key in _keys(columns)] for r in runs], 0)
        cells = " | ".join(format(v, fmt) for v, (_, _, fmt) in zip(means, columns, strict=True))
        lines.append(f"| **mean of {len(runs)}** | {name} | {cells} |")
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
        lines += _table(
            f"## rule chosen on {size} posts",
            runs,
            "strategies",
            "strategy",
            list(STRATEGIES),
            "-level.npz",
            LEVEL_COLUMNS,
        )
    for size, runs in payload.get("binary_sizes", {}).items():
        heading = f"## binary threshold (target recall {TARGET_RECALL}) chosen on {size} posts"
        names = [str(c) for c in CONFIDENCES]
        lines += _table(heading, runs, "confidences", "confidence", names, "-binary.npz", BINARY_COLUMNS)
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
