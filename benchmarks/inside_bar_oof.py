"""The plain-danger net's inside bar on saved out-of-fold level predictions (for a model too slow to rerun).

``cv_encoders.py --save-oof DIR`` keeps a configuration's out-of-fold levels. This script trains each fold's
plain-danger net on the other four folds exactly as the scope stage trains it, and raises to level 6 the posts
where it fires at the inside bar (not at the main bar, whose hits the saved predictions already hold) and
that the fold's gate put in scope (a post out of scope has probability 1 on level 0 in the saved
probabilities). It reports weighted F1 and QWK (the mean over folds, as ``cross_validate`` reports them)
before and after, and the raised posts' true levels.

Run: ``python benchmarks/inside_bar_oof.py /work/oof/best-level+scope-r8-level.npz``; results go to
``results/inside_bar_oof.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, run_line, sos1k_root, write_results
from bench_scope import aligned_sos
from sosrisk.data import PostSet
from sosrisk.metrics import evaluate_predictions
from sosrisk.scale import RAISING_LEVEL
from sosrisk.scope.encoder import SentenceEncoder
from sosrisk.scope.training import ScopeSettings, at_risk_mask, fit_danger_net, gate_negatives


def per_fold(labels: np.ndarray, predictions: np.ndarray, fold: np.ndarray) -> list[dict[str, float]]:
    """Weighted F1 and QWK of each fold, as ``cross_validate`` computes them."""
    rows = [evaluate_predictions("level", labels[fold == k], predictions[fold == k]) for k in np.unique(fold)]
    return [{"weighted_f1": row["weighted_f1"], "qwk": row["qwk"]} for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("oof", type=Path, help="a level .npz written by cv_encoders.py --save-oof")
    args = parser.parse_args()
    saved = np.load(args.oof)
    labels, proba, predictions = saved["labels"], saved["proba"], saved["predictions"]
    folds, _ = aligned_sos(sos1k_root())
    if not np.array_equal(np.concatenate([f.labels("level") for f in folds]), labels):
        raise SystemExit(f"{args.oof}: its posts are not in the order of the official level folds")
    encoder = SentenceEncoder.shared()
    negatives = gate_negatives(ScopeSettings())
    inside = []
    for k, held in enumerate(folds):
        train = PostSet.concat([p for j, p in enumerate(folds) if j != k])
        net = fit_danger_net(train.texts, at_risk_mask("level", train.labels("level")), negatives)
        embeddings = encoder.encode(held.texts)
        anywhere, at_inside_bar, _ = net.firings(embeddings)
        inside.append(at_inside_bar & ~anywhere)
    fired = np.concatenate(inside)
    in_scope = ~((proba[:, 0] == 1.0) & (proba[:, 1:].sum(axis=1) == 0))
    raised = fired & in_scope & (predictions < RAISING_LEVEL)
    after = predictions.copy()
    after[raised] = RAISING_LEVEL
    fold = np.concatenate([np.full(len(f), k) for k, f in enumerate(folds)])
    before_rows, after_rows = per_fold(labels, predictions, fold), per_fold(labels, after, fold)
    payload: dict[str, Any] = {
        "environment": environment(("sosrisk", "numpy", "scikit-learn")),
        "oof": args.oof.name,
        "fired_inside": int(fired.sum()),
        "fired_inside_in_scope": int((fired & in_scope).sum()),
        "raised": int(raised.sum()),
        "raised_true_levels": sorted(labels[raised].tolist()),
        "before": before_rows,
        "after": after_rows,
    }
    mean = {
        name: {key: float(np.mean([r[key] for r in rows])) for key in ("weighted_f1", "qwk")}
        for name, rows in (("before", before_rows), ("after", after_rows))
    }
    payload["mean"] = mean
    lines = [
        "# The plain-danger net's inside bar on saved out-of-fold levels",
        "",
        run_line(payload["environment"]),
        "",
        f"`{args.oof.name}`: the net fires at the inside bar only (not at its main bar) on {payload['fired_inside']}"
        f" posts, {payload['fired_inside_in_scope']} of them in scope; it raises {payload['raised']} posts below"
        f" level {RAISING_LEVEL} (true levels {payload['raised_true_levels']}).",
        "",
        "| fold | weighted F1 before | after | QWK before | after |",
        "|---|---|---|---|---|",
    ]
    for k, (b, a) in enumerate(zip(before_rows, after_rows, strict=True), start=1):
        lines.append(f"| {k} | {b['weighted_f1']:.4f} | {a['weighted_f1']:.4f} | {b['qwk']:.4f} | {a['qwk']:.4f} |")
    lines.append(
        f"| **mean** | {mean['before']['weighted_f1']:.4f} | {mean['after']['weighted_f1']:.4f} | "
        f"{mean['before']['qwk']:.4f} | {mean['after']['qwk']:.4f} |"
    )
    markdown = "\n".join(lines) + "\n"
    write_results("inside_bar_oof", payload, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
