"""Contrastive sentence-level fine-tuning before the head, in the spirit of SetFit: issue #14's last untried lever.

SetFit (Tunstall et al., 2022) first fine-tunes a sentence encoder on pairs of training posts, pulling
posts of the same class together and pushing posts of different classes apart (cosine similarity towards
1 or 0, mean squared error), then fits a logistic regression on the tuned embeddings. It is strong with few
posts per class, which is SOS-1K's situation (999 posts, 11 levels).

Here, per official fold and task, on the four training folds:

- **frozen** (the base): e5-small's mean-pooled, L2-normalised embeddings ("query: " prefix, 256 tokens),
  untouched, and the ``embedding-linear`` head on them (standardised features, logistic regression at the
  kind's C, calibration and decision rule from its inner cross-validation);
- **setfit**: the same encoder after contrastive tuning, then the same head. The pairs are every pair in a
  batch of 32 (SetFit samples pairs; in-batch pairs give about 30x more per forward pass on a CPU), same
  class = 1 and different = 0, the positive and negative pairs' losses averaged separately so that both
  count equally (SetFit balances its sampled pairs). As the ``fast`` encoder recipe: the word embeddings and
  the lowest 6 layers frozen (their outputs computed once), AdamW, linear warm-up 10% and decay; one
  setting, not tuned (learning rate and epochs below).

and each with ``char-linear`` beside it (the mean of the two models' probabilities, levels by argmax, high
risk at 0.5), as ``--model best`` would use the member. Binary rows of the heads alone use the kind's own
rule (the threshold for 80% recall chosen inside the training data). Caveat: the head's inner
cross-validation sees embeddings of posts the tuned encoder trained on, so its calibration and threshold
are chosen on optimistic scores (as in SetFit itself); the frozen base has no such bias.

Run: ``python benchmarks/cv_setfit.py [--tasks level binary] [--epochs 4] [--learning-rate 5e-5]``
-> ``results/cv_setfit.{json,md}``. About 15 minutes on 2 cores for both tasks.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

from _env import environment, run_line, sos1k_root, write_results

NAME = "cv_setfit"
FROZEN_LAYERS = 6
BATCH = 32
MAX_LENGTH = 256
KEYS = {"level": ["weighted_f1", "qwk", "mae", "under_by_3plus"], "binary": ["weighted_f1", "high_risk_recall"]}


class Body:
    """e5-small with its lower layers frozen and cached: embeds posts, and tunes the upper layers on pairs."""

    def __init__(self, texts: list[str], seed: int) -> None:
        from sosrisk.models.encoder import EncoderModel
        from sosrisk.models.encoder_network import classifier_class, freeze, frozen_outputs, require_torch

        self.torch, _ = require_torch()
        probe = EncoderModel(task="binary", backbone="e5-small")
        encoder, tokenizer, _ = probe.load_backbone()
        tokenizer.enable_truncation(MAX_LENGTH)
        self.torch.manual_seed(seed)
        self.network = classifier_class()(encoder, 2, probe.resolved_pooling_, 0.1)
        freeze(self.network, embeddings=True, layers=FROZEN_LAYERS)
        self.index = {text: i for i, text in enumerate(texts)}
        rows = [e.ids for e in tokenizer.encode_batch([(probe.resolved_prefix_ or "") + t for t in texts])]
        self.cached = frozen_outputs(self.network, rows, pad_id=probe.pad_id_, layer=FROZEN_LAYERS)

    def _pooled(self, rows: list[int]) -> Any:
        from sosrisk.models.encoder_network import pad_hidden, run_layers

        torch = self.torch
        hidden, mask = pad_hidden([self.cached[i] for i in rows], torch)
        states = run_layers(self.network.encoder, hidden, mask, FROZEN_LAYERS)
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [self.index[t] for t in texts]
        self.network.eval()
        out = []
        with self.torch.inference_mode():
            for start in range(0, len(rows), 64):
                out.append(self._pooled(rows[start : start + 64]).double().numpy())
        return np.vstack(out)

    def tune(self, texts: list[str], labels: np.ndarray, *, epochs: int, learning_rate: float, seed: int) -> float:
        """Contrastive tuning on every in-batch pair; returns the last epoch's mean loss."""
        from sosrisk.models.encoder_recipes import RECIPES
        from sosrisk.models.encoder_training import lr_factor

        torch = self.torch
        rows = np.array([self.index[t] for t in texts])
        params = [p for p in self.network.encoder.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.01)
        steps = math.ceil(len(rows) / BATCH) * epochs
        recipe = RECIPES["fast"]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe, steps))
        self.network.train()
        loss_sum = 0.0
        for epoch in range(epochs):
            torch.manual_seed(seed * 100_003 + epoch)
            order = np.random.default_rng([seed, epoch]).permutation(len(rows))
            loss_sum, batches = 0.0, 0
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                if len(batch) < 2:
                    continue
                emb = self._pooled(list(rows[batch]))
                cosine = emb @ emb.T
                y = torch.as_tensor(labels[batch])
                same = (y[:, None] == y[None, :]).float()
                off = 1.0 - torch.eye(len(batch))
                positive, negative = same * off, (1.0 - same) * off
                loss = torch.zeros(())
                if positive.sum() > 0:
                    loss = loss + (((cosine - 1.0) ** 2) * positive).sum() / positive.sum()
                if negative.sum() > 0:
                    loss = loss + ((cosine**2) * negative).sum() / negative.sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                loss_sum += float(loss.detach())
                batches += 1
            loss_sum /= max(batches, 1)
        self.network.eval()
        return loss_sum


def head_model(task: str, table: dict[str, np.ndarray]) -> Any:
    """The embedding-linear head, reading each post's embedding from ``table``."""
    from sosrisk.models.embedding_linear import EmbeddingLinearModel

    class Precomputed(EmbeddingLinearModel):
        def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
            return np.vstack([table[t] for t in texts]).astype(np.float32)

    return Precomputed(task=task)


def run_task(task: str, *, epochs: int, learning_rate: float, seed: int, log: Any) -> dict[str, Any]:
    from sosrisk.data import PostSet, load_folds
    from sosrisk.metrics import evaluate_predictions
    from sosrisk.models.char_linear import CharLinearModel

    parts = load_folds(task, sos1k_root())  # type: ignore[arg-type]
    every = [t for p in parts for t in p.texts]
    body = Body(every, seed)
    frozen_table = dict(zip(every, body.embed(every), strict=True))
    initial = {k: v.detach().clone() for k, v in body.network.state_dict().items()}
    per_fold: dict[str, list[dict[str, float]]] = {v: [] for v in ("frozen", "setfit", "char+frozen", "char+setfit")}
    losses = []
    for k, test in enumerate(parts):
        started = time.perf_counter()
        train = PostSet.concat([p for j, p in enumerate(parts) if j != k])
        y_train, y_test = np.asarray(train.labels(task)), np.asarray(test.labels(task))
        body.network.load_state_dict(initial)
        losses.append(body.tune(train.texts, y_train, epochs=epochs, learning_rate=learning_rate, seed=seed))
        tuned_table = dict(zip(every, body.embed(every), strict=True))
        char = CharLinearModel(task=task).fit(train.texts, y_train)
        char_proba = char.predict_proba(test.texts)
        for name, table in (("frozen", frozen_table), ("setfit", tuned_table)):
            head = head_model(task, table).fit(train.texts, y_train)
            per_fold[name].append(evaluate_predictions(task, y_test, head.predict(test.texts)))
            mean = (head.predict_proba(test.texts) + char_proba) / 2
            per_fold[f"char+{name}"].append(evaluate_predictions(task, y_test, mean.argmax(axis=1)))
        scores = ", ".join(f"{name} {rows[-1]['weighted_f1']:.4f}" for name, rows in per_fold.items())
        log(f"[{task}] fold {k + 1}: weighted F1 {scores} ({time.perf_counter() - started:.0f} s)")
    return {"per_fold": per_fold, "final_losses": losses}


def summary(rows: list[dict[str, float]], key: str) -> tuple[float, float]:
    values = np.array([r[key] for r in rows])
    return float(values.mean()), float(values.std())


def render(payload: dict[str, Any]) -> str:
    env = payload["environment"]
    lines = [
        "# Contrastive fine-tuning before the head (SetFit-style): five-fold CV on SOS-1K",
        "",
        run_line(env),
        "",
        f"Settings: {payload['settings']}. See the script's docstring for the protocol and its caveat. "
        "The `frozen` row is `embedding-linear` rebuilt in this script (256 tokens), so it differs a little "
        "from that row of `cv_encoders.md`.",
    ]
    for task, result in payload["tasks"].items():
        keys = KEYS[task]
        lines += ["", f"## {task}", "", "| variant | " + " | ".join(keys) + " | Δ weighted F1 vs its base (paired) |"]
        lines.append("|---|" + "---|" * (len(keys) + 1))
        folds = result["per_fold"]
        for variant, rows in folds.items():
            cells = [f"{m:.4f} ± {s:.3f}" for m, s in (summary(rows, key) for key in keys)]
            base = {"setfit": "frozen", "char+setfit": "char+frozen"}.get(variant)
            delta = "–"
            if base:
                diffs = np.array([a["weighted_f1"] - b["weighted_f1"] for a, b in zip(rows, folds[base], strict=True)])
                delta = f"{diffs.mean():+.4f} (better on {(diffs > 0).sum()}/{len(diffs)} folds) vs {base}"
            lines.append(f"| {variant} | " + " | ".join(cells) + f" | {delta} |")
        header = " | ".join(f"fold {i + 1}" for i in range(5))
        lines += ["", "Weighted F1 per fold:", "", f"| variant | {header} |"]
        lines.append("|---|" + "---|" * 5)
        for variant, rows in folds.items():
            lines.append(f"| {variant} | " + " | ".join(f"{r['weighted_f1']:.4f}" for r in rows) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["level", "binary"], choices=["level", "binary"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    tasks = {
        task: run_task(task, epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed, log=log)
        for task in args.tasks
    }
    payload = {
        "environment": environment(("sosrisk", "torch", "transformers", "numpy", "scikit-learn")),
        "settings": {
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "batch": BATCH,
            "frozen_layers": FROZEN_LAYERS,
            "max_length": MAX_LENGTH,
            "seed": args.seed,
        },
        "tasks": tasks,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_results(NAME, payload, render(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
