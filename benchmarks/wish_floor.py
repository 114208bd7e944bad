"""A semantic wish floor (measured, not adopted): would a learned "wish to die" net lift plain wishes to level 4?

On the blind suites the weakest group of the default `char-linear` is "wish without method" (in scope, level
4+): posts such as 我觉得自己是个累赘，不在了大家都会轻松 are put in scope at level 0. The plain-danger net
(:mod:`sosrisk.scope.danger`) raises plans and attempts; this experiment asks whether the same kind of net,
learned from SOS-1K itself, could raise wishes. A logistic regression on the scope stage's sentence
embedding (USE multilingual v3) learns SOS-1K posts at level 4+ (or 4-5 only) against the posts at levels
0-3 and the gate's ordinary sentences (half the weight to the positives, a quarter to each side), and
would raise to level 4 (no high-risk flag) the posts in scope that the level model put below 4, where its
probability is above a quantile of its probabilities on the ordinary sentences.

Two measurements, both without retraining any model:

- **SOS-1K, out of fold.** Each fold's net is trained on the other four; the level model's saved
  out-of-fold predictions (``sosrisk cv --task level --save-predictions FILE``) are raised where it fires.
  A post out of scope (probability 1 on level 0) is never raised. Weighted F1 and QWK are the mean over the
  folds, as ``sosrisk cv`` reports them.
- **The behavioural suites the model has been read on** (every suite but ``--hold-out``, which stays
  blind): minimum-functionality cases of the wish group it would lift (in scope, below 4) and of the
  calm groups (hyperbole, third person, help for others: they must stay at level 3 or below) it would
  break. Negation and recovery may reach level 5, and the danger groups are above 4 already where they pass.

Run: ``python benchmarks/wish_floor.py --oof cl-level.jsonl --model DIR`` (DIR holds ``level/``);
results go to ``results/wish_floor.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from _env import environment, publish, run_line, sos1k_root
from bench_scope import aligned_sos
from sosrisk.data import PostSet
from sosrisk.metrics import evaluate_predictions

WISH = 4
QUANTILES = (0.99, 0.995, 0.999)
POSITIVES = {"levels 4+": lambda y: y >= WISH, "levels 4-5": lambda y: (y >= WISH) & (y <= 5)}
CALM = ("hyperbole", "third_person", "help_for_others")


def fit_net(positive: np.ndarray, calm: np.ndarray, ordinary: np.ndarray) -> Any:
    """The wish net: ``positive`` against ``calm`` posts and ``ordinary`` sentences (weights 1/2, 1/4, 1/4)."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([positive, calm, ordinary])
    y = np.r_[np.ones(len(positive)), np.zeros(len(calm) + len(ordinary))]
    weights = np.r_[
        np.full(len(positive), 0.5 / len(positive)),
        np.full(len(calm), 0.25 / len(calm)),
        np.full(len(ordinary), 0.25 / len(ordinary)),
    ]
    return LogisticRegression(max_iter=3000).fit(x, y, sample_weight=weights * len(y))


def read_oof(path: Path, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Saved out-of-fold levels and whether each post was in scope, in the order of the folds."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    saved = np.array([row["label"] for row in rows])
    if not np.array_equal(saved, labels):
        raise SystemExit(f"{path}: its posts are not in the order of the official level folds")
    predictions = np.array([row["prediction"] for row in rows])
    in_scope = np.array([row["probabilities"][0] < 1.0 for row in rows])
    return predictions, in_scope


def metrics(labels: np.ndarray, predictions: np.ndarray, fold: np.ndarray) -> list[dict[str, float]]:
    rows = [evaluate_predictions("level", labels[fold == k], predictions[fold == k]) for k in np.unique(fold)]
    return [{"weighted_f1": row["weighted_f1"], "qwk": row["qwk"]} for row in rows]


def mean(rows: list[dict[str, float]], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oof", type=Path, required=True, help="sosrisk cv --task level --save-predictions FILE")
    parser.add_argument("--model", type=Path, required=True, help="a model directory pair (DIR/level) for the suites")
    parser.add_argument("--hold-out", nargs="*", default=["holdout12"], help="suites not to run (kept blind)")
    args = parser.parse_args()

    from sosrisk.behaviour import SUITES, load_cases, run_cases
    from sosrisk.models import load_model
    from sosrisk.scope.encoder import SentenceEncoder, cached_embeddings
    from sosrisk.scope.training import ScopeSettings, gate_negatives

    folds, _ = aligned_sos(sos1k_root())
    labels = np.concatenate([f.labels("level") for f in folds])
    fold = np.concatenate([np.full(len(f), k) for k, f in enumerate(folds)])
    predictions, in_scope = read_oof(args.oof, labels)
    encoder = SentenceEncoder.shared()
    embeddings = encoder.encode(PostSet.concat(folds).texts)
    ordinary = cached_embeddings([t for texts in gate_negatives(ScopeSettings()).values() for t in texts])
    before = metrics(labels, predictions, fold)
    oof: list[dict[str, Any]] = []
    for name, positive in POSITIVES.items():
        probability = np.zeros(len(labels))
        bars: dict[float, np.ndarray] = {q: np.zeros(len(labels)) for q in QUANTILES}
        for k in range(len(folds)):
            train = fold != k
            net = fit_net(embeddings[train & positive(labels)], embeddings[train & (labels < WISH)], ordinary)
            probability[fold == k] = net.predict_proba(embeddings[fold == k])[:, 1]
            on_ordinary = net.predict_proba(ordinary)[:, 1]
            for q in QUANTILES:
                bars[q][fold == k] = np.quantile(on_ordinary, q, method="higher")
        for q in QUANTILES:
            fired = in_scope & (predictions < WISH) & (probability > bars[q])
            after = predictions.copy()
            after[fired] = WISH
            rows = metrics(labels, after, fold)
            oof.append(
                {
                    "positives": name,
                    "quantile": q,
                    "raised": int(fired.sum()),
                    "raised_true_4_plus": int((labels[fired] >= WISH).sum()),
                    "raised_true_4_5": int(((labels[fired] >= WISH) & (labels[fired] <= 5)).sum()),
                    "weighted_f1": [mean(before, "weighted_f1"), mean(rows, "weighted_f1")],
                    "qwk": [mean(before, "qwk"), mean(rows, "qwk")],
                    "folds_better_f1": sum(
                        a["weighted_f1"] > b["weighted_f1"] for a, b in zip(rows, before, strict=True)
                    ),
                }
            )

    # the suites, with the net trained on all five folds (levels 4+)
    net = fit_net(embeddings[labels >= WISH], embeddings[labels < WISH], ordinary)
    on_ordinary = net.predict_proba(ordinary)[:, 1]
    bars_all = {q: float(np.quantile(on_ordinary, q, method="higher")) for q in QUANTILES}
    level = load_model(args.model / "level")
    suites = [s for s in SUITES if s not in set(args.hold_out)]
    counts: dict[str, dict[str, Any]] = {}
    for suite in suites:
        cases = [c for c in load_cases(suite) if c.check == "mft" and (c.group == "wish_no_method" or c.group in CALM)]
        results = run_cases(cases, level_model=level)
        probability = net.predict_proba(encoder.encode([c.text for c in cases]))[:, 1]
        for case, result, p in zip(cases, results, probability, strict=True):
            answer = result.answers[0]
            below = bool(answer["in_scope"]) and answer["risk_level"] < WISH
            row = counts.setdefault(case.group, {"cases": 0, "in_scope_below_4": 0, **{str(q): 0 for q in QUANTILES}})
            row["cases"] += 1
            row["in_scope_below_4"] += int(below)
            for q, bar in bars_all.items():
                # a wish lifted to 4 passes; a calm case that passed and is lifted to 4 fails
                if below and p > bar and (case.group == "wish_no_method" or result.passed):
                    row[str(q)] += 1

    env = environment()
    payload = {
        "environment": env,
        "oof": args.oof.name,
        "model": str(args.model),
        "suites": suites,
        "sos1k_oof": oof,
        "suite_counts": counts,
        "bars": bars_all,
    }
    lines = [
        "# A semantic wish floor (measured, not adopted)",
        "",
        run_line(env),
        "",
        f"`char-linear`'s saved out-of-fold levels (`{args.oof.name}`); each fold's wish net trained on the "
        "other four. Raised: posts in scope that the model put below 4 and the net fires on (set to level 4).",
        "",
        "**SOS-1K, out of fold**",
        "",
        "| positives | bar (quantile of ordinary sentences) | raised | of them true 4+ | true 4-5 | weighted F1 | QWK "
        "| folds better (F1) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in oof:
        lines.append(
            f"| {row['positives']} | {row['quantile']} | {row['raised']} | {row['raised_true_4_plus']} "
            f"| {row['raised_true_4_5']} | {row['weighted_f1'][0]:.4f} → {row['weighted_f1'][1]:.4f} "
            f"| {row['qwk'][0]:.4f} → {row['qwk'][1]:.4f} | {row['folds_better_f1']}/5 |"
        )
    lines += [
        "",
        f"**Behavioural suites** ({', '.join(suites)}; `{args.model}/level`, the net trained on all five folds, "
        "levels 4+): wish cases lifted to 4 (gained) and calm cases that passed and would be lifted to 4 (lost)",
        "",
        "| group | cases | in scope, below 4 | " + " | ".join(f"at {q}" for q in QUANTILES) + " |",
        "|---|---|---|" + "---|" * len(QUANTILES),
    ]
    for group, row in counts.items():
        verb = "gained" if group == "wish_no_method" else "lost"
        lines.append(
            f"| {group} | {row['cases']} | {row['in_scope_below_4']} | "
            + " | ".join(f"{row[str(q)]} {verb}" for q in QUANTILES)
            + " |"
        )
    lines.append("")
    publish("wish_floor", payload, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
