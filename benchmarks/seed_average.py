"""Does averaging several fine-tunes of `best` help? A proxy for issue #14's cross-fitted ensembles.

A cross-fitted `best` would average the five fold models of a cross-validation instead of using one model
trained on all folds. Measuring that honestly needs a nested cross-validation (four inner fine-tunes per
outer fold, four times the CPU of a normal run). What it would buy is the variance a single fine-tune
carries, and that can be measured from runs we already have: `cv_encoders.py --save-oof DIR` keeps the
out-of-fold probabilities of `best` trained from several encoder seeds (each seed also draws its own
validation split), and their average is what averaging that many fine-tunes would give, trained on the
same posts.

Every run, and every average, goes through one decision procedure so that they compare like with like:
for each official fold, the rule (binary: the threshold aimed at 0.8 recall with 80% confidence; levels:
the rule chosen by ``choose_level_rule``) is chosen on the other four folds' out-of-fold probabilities and
applied to this fold. Reported: ROC AUC and average precision (binary; no threshold involved), weighted F1,
high-risk recall and precision, or weighted F1, QWK and the negative log-likelihood (levels).

Run: ``python benchmarks/seed_average.py --binary DIR/best-binary+scope-twice{,-s1,-s2}-binary.npz
--level DIR/best-level+scope-twice-s1-level.npz DIR/best-level+scope-twice-s2-level.npz``; results go to
``results/seed_average.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, write_results
from sosrisk.models.decision import choose_binary_threshold, choose_level_rule


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("labels", "proba", "fold_sizes")}


def folds(sizes: np.ndarray) -> list[np.ndarray]:
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [np.arange(edges[i], edges[i + 1]) for i in range(len(sizes))]


def binary_scores(y: np.ndarray, proba: np.ndarray, sizes: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    pred = np.zeros_like(y)
    for rows in folds(sizes):
        rest = np.setdiff1d(np.arange(len(y)), rows)
        rule, _ = choose_binary_threshold(proba[rest], y[rest], target_recall=0.8)
        pred[rows] = (proba[rows, 1] >= rule.threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba[:, 1])),
        "average_precision": float(average_precision_score(y, proba[:, 1])),
        "weighted_f1": float(f1_score(y, pred, average="weighted")),
        "high_risk_recall": float(recall_score(y, pred)),
        "high_risk_precision": float(precision_score(y, pred)),
    }


def level_scores(y: np.ndarray, proba: np.ndarray, sizes: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import cohen_kappa_score, f1_score

    classes = np.arange(proba.shape[1])
    pred = np.zeros_like(y)
    for rows in folds(sizes):
        rest = np.setdiff1d(np.arange(len(y)), rows)
        rule, _ = choose_level_rule(proba[rest], y[rest], classes)
        pred[rows] = rule.decide(proba[rows], classes)
    return {
        "weighted_f1": float(f1_score(y, pred, average="weighted")),
        "qwk": float(cohen_kappa_score(y, pred, weights="quadratic")),
        "nll": float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-9, 1.0)))),
    }


def compare(paths: list[Path], scores: Any) -> dict[str, Any]:
    runs = {p.stem: load(p) for p in paths}
    first = next(iter(runs.values()))
    for name, run in runs.items():
        if not (
            np.array_equal(run["labels"], first["labels"]) and np.array_equal(run["fold_sizes"], first["fold_sizes"])
        ):
            raise SystemExit(f"{name}: not the same posts in the same folds as {paths[0].stem}")
    y, sizes = first["labels"], first["fold_sizes"]
    rows: dict[str, dict[str, float]] = {name: scores(y, run["proba"], sizes) for name, run in runs.items()}
    names = list(runs)
    for k in range(2, len(names) + 1):
        for group in combinations(names, k):
            rows[" + ".join(group)] = scores(y, np.mean([runs[n]["proba"] for n in group], axis=0), sizes)
    singles = [rows[n] for n in names]
    rows["mean of the single runs"] = {key: float(np.mean([r[key] for r in singles])) for key in singles[0]}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, nargs="*", default=[], help="binary out-of-fold .npz files")
    parser.add_argument("--level", type=Path, nargs="*", default=[], help="level out-of-fold .npz files")
    args = parser.parse_args()
    if len(args.binary) < 2 and len(args.level) < 2:
        parser.error("give at least two out-of-fold files for one task")
    payload: dict[str, Any] = {"environment": environment(("sosrisk", "numpy", "scikit-learn")), "tasks": {}}
    if len(args.binary) >= 2:
        payload["tasks"]["binary"] = compare(args.binary, binary_scores)
    if len(args.level) >= 2:
        payload["tasks"]["level"] = compare(args.level, level_scores)
    env = payload["environment"]
    lines = [
        "# Averaging fine-tunes of `best` (a proxy for cross-fitted ensembles)",
        "",
        f"Run: {env['date']} · {env['machine']['cpu']} ({env['machine']['cores']} cores) · commit {env['git_commit']}",
        "",
        "Out-of-fold probabilities of `best` from different encoder seeds, alone and averaged; every row's rule "
        "chosen on the other four folds (see the script).",
    ]
    for task, rows in payload["tasks"].items():
        keys = list(next(iter(rows.values())))
        lines += ["", f"## {task}", "", "| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(f"{r[k]:.4f}" for k in keys) + " |" for name, r in rows.items()]
    markdown = "\n".join(lines) + "\n"
    write_results("seed_average", payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
