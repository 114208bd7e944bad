"""Fine-tuning an encoder: the training loop, its learning-rate schedule and its per-epoch checkpoints.

The loop is plain PyTorch: AdamW over two parameter groups (the encoder's trainable layers and a
faster-learning head), :class:`torch.optim.lr_scheduler.LambdaLR` for warm-up and decay, gradient
clipping, gradient accumulation, class-weighted cross-entropy, length-bucketed batches and, when the
lower layers are frozen, their outputs computed once and cached. Each epoch is seeded on its own
(``seed * 100003 + epoch`` for torch, ``[seed, epoch]`` for the batch order), so a run resumed from a
checkpoint continues exactly as an uninterrupted one would.

A checkpoint (:class:`Checkpoint`) holds the trainable weights and the optimizer's and scheduler's own
``state_dict`` (tensors as safetensors, the rest as JSON: nothing is pickled), the best epoch's weights
when the recipe keeps them, and ``state.json`` with the progress, written last.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..progress import progress_bar
from .encoder_network import (
    cached_logits,
    check_frozen_layer_cache,
    frozen_outputs,
    network_logits,
    pad_hidden,
    pad_ids,
    require_torch,
)
from .encoder_recipes import Recipe
from .errors import ModelError

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2  # 1 (before): optimizer moments by parameter index; 2: the optimizer's own state_dict
UNLABELLED = -100  # a second head's label where the post has none (torch's cross-entropy ignore_index)


def validation_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)``: a stratified, seeded split (plain random where a class is too rare).

    The same labels, fraction and seed always give the same split (ensembles rely on it).
    """
    n = len(labels)
    everything = np.arange(n)
    n_val = round(n * fraction)
    if fraction <= 0 or n_val < 1 or n - n_val < 1:
        return everything, np.zeros(0, dtype=np.int64)
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 and n_val >= len(counts[counts > 0]) else None
    train_idx, val_idx = train_test_split(everything, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train_idx), np.sort(val_idx)


def class_weights(torch: Any, y_index: np.ndarray, n_classes: int, mode: str) -> Any:
    """Cross-entropy weights per class: none, inverse frequency (``balanced``) or its square root (``sqrt``)."""
    if mode == "none":
        return None
    counts = np.bincount(y_index, minlength=n_classes).astype(float)
    weights = len(y_index) / (n_classes * np.maximum(counts, 1.0))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return torch.as_tensor(weights, dtype=torch.float32)


def bucketed_batches(
    indices: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within windows of 8 batches, shuffle the batches."""
    order = indices[rng.permutation(len(indices))]
    batches: list[np.ndarray] = []
    window = batch_size * 8
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    for position in rng.permutation(len(batches)):
        yield batches[position]


def lr_factor(recipe: Recipe, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier of optimizer step ``step``: linear warm-up, then constant or linear decay."""
    warmup = int(recipe.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if recipe.schedule == "constant":
            return 1.0
        return max(0.0, (total_steps - step) / max(total_steps - warmup, 1))

    return factor


def mean_nll(logits: np.ndarray, y_index: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels under ``softmax(logits)``."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(y_index)), y_index]))


def head_slices(heads: tuple[int, ...]) -> list[slice]:
    """The columns of each head in the network's output (heads side by side, in order)."""
    ends = np.cumsum(heads)
    return [slice(int(end - size), int(end)) for size, end in zip(heads, ends, strict=True)]


def heads_nll(logits: np.ndarray, y_index: np.ndarray, heads: tuple[int, ...]) -> float:
    """The validation loss of a network with several heads: the sum of each head's mean NLL over its labelled
    posts (:data:`UNLABELLED` rows left out); with one head, :func:`mean_nll`."""
    if len(heads) == 1:
        return mean_nll(logits, y_index.reshape(-1))
    total = 0.0
    for column, columns in enumerate(head_slices(heads)):
        known = y_index[:, column] != UNLABELLED
        if known.any():
            total += mean_nll(logits[known, columns], y_index[known, column])
    return total


@dataclass
class FineTuning:
    """One fine-tuning run: the network, the encoded posts, the split and how to train."""

    network: Any
    rows: list[list[int]]
    y_index: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    recipe: Recipe
    seed: int
    pad_id: int
    checkpoint: Checkpoint | None = None
    resume: bool = False
    after_epoch: Callable[[int], None] = field(default=lambda epoch: None)
    description: str = "fine-tuning encoder"
    heads: tuple[int, ...] | None = None
    """Several heads side by side in the network's output (sizes in order; ``None``: one head). Then
    ``y_index`` has a column per head, :data:`UNLABELLED` where a post has no label for that head, and the
    loss is the sum of the heads' class-weighted cross-entropies."""


def fine_tune(run: FineTuning, *, show_progress: bool) -> dict[str, Any]:
    """Train ``run.network`` in place; returns the progress record (epochs, best epoch, history per epoch)."""
    torch, _ = require_torch()
    recipe, network = run.recipe, run.network
    n_classes = int(network.head.out_features)
    heads = run.heads or (n_classes,)
    if sum(heads) != n_classes:
        raise ModelError(f"The heads {heads} need {sum(heads)} outputs; the network has {n_classes}.")
    targets = run.y_index.reshape(len(run.y_index), len(heads))
    layer = recipe.freeze_layers
    cached = None
    if layer:
        # Frozen lower layers: their output is computed once per post (no dropout) and cached, so each epoch
        # runs only the layers above them.
        check_frozen_layer_cache(network, [run.rows[i] for i in run.train_idx], run.pad_id, layer)
        cached = frozen_outputs(network, run.rows, pad_id=run.pad_id, layer=layer)
    encoder_params = [p for p in network.encoder.parameters() if p.requires_grad]
    head_params = list(network.head.parameters())
    trainable = encoder_params + head_params
    names = [n for n, p in network.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": recipe.learning_rate},
            {"params": head_params, "lr": recipe.learning_rate * recipe.head_lr_multiplier},
        ],
        weight_decay=recipe.weight_decay,
    )
    steps_per_epoch = math.ceil(math.ceil(len(run.train_idx) / recipe.batch_size) / recipe.gradient_accumulation)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe, steps_per_epoch * recipe.epochs))
    weights = []
    for column, size in enumerate(heads):
        known = targets[run.train_idx, column]
        weights.append(class_weights(torch, known[known != UNLABELLED], size, recipe.class_weight))
    columns = head_slices(heads)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "best_loss": math.inf, "best_epoch": 0, "stale": 0, "history": []}
    best_state: dict[str, Any] | None = None
    if run.checkpoint is not None:
        if run.resume:
            state = run.checkpoint.load(network, optimizer, scheduler, names)
            best_state = run.checkpoint.best()
            logger.info("resuming encoder training after epoch %d", state["epoch"])
        else:
            run.checkpoint.start()
    lengths = np.array([len(v) for v in run.rows])
    batches_per_epoch = math.ceil(len(run.train_idx) / recipe.batch_size)
    remaining = (recipe.epochs - state["epoch"]) * batches_per_epoch
    with progress_bar(remaining, run.description, enabled=show_progress) as advance:
        for epoch in range(state["epoch"], recipe.epochs):
            if recipe.patience is not None and state["stale"] >= recipe.patience:
                break
            network.train()
            torch.manual_seed(run.seed * 100_003 + epoch)
            rng = np.random.default_rng([run.seed, epoch])
            train_loss, n_seen = 0.0, 0
            batches = list(bucketed_batches(run.train_idx, lengths, recipe.batch_size, rng))
            for position, batch in enumerate(batches):
                if cached is not None:
                    hidden, mask = pad_hidden([cached[i] for i in batch], torch)
                    logits = network.forward_from(hidden, mask, layer)
                else:
                    input_ids, mask = pad_ids([run.rows[i] for i in batch], run.pad_id, torch)
                    logits = network(input_ids, mask)
                target = torch.as_tensor(targets[batch], dtype=torch.long)
                loss = sum(
                    _head_loss(torch, logits[:, part], target[:, column], weight)
                    for column, (part, weight) in enumerate(zip(columns, weights, strict=True))
                )
                (loss / recipe.gradient_accumulation).backward()
                train_loss += float(loss.detach()) * len(batch)
                n_seen += len(batch)
                if (position + 1) % recipe.gradient_accumulation == 0 or position == len(batches) - 1:
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    state["step"] += 1
                advance()
            record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": round(train_loss / max(n_seen, 1), 5)}
            if len(run.val_idx):
                val_loss = heads_nll(_validation_logits(run, cached, n_classes), targets[run.val_idx], heads)
                record["val_loss"] = round(val_loss, 5)
                if val_loss < state["best_loss"] - 1e-6:
                    state.update(best_loss=val_loss, best_epoch=epoch + 1, stale=0)
                    if recipe.select == "best_val_loss":
                        params = dict(network.named_parameters())
                        best_state = {name: params[name].detach().clone() for name in names}
                else:
                    state["stale"] += 1
            state["epoch"] = epoch + 1
            state["history"].append(record)
            logger.info("epoch %s", json.dumps(record))
            if run.checkpoint is not None:
                run.checkpoint.save(network, optimizer, scheduler, names, state, best_state)
            run.after_epoch(epoch + 1)
    if recipe.select == "best_val_loss" and best_state is not None:
        network.load_state_dict(best_state, strict=False)
    network.eval()
    return state


def _head_loss(torch: Any, logits: Any, target: Any, weight: Any) -> Any:
    """One head's class-weighted cross-entropy over the batch's labelled posts (0 when it has none)."""
    if bool((target == UNLABELLED).all()):
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits, target, weight=weight, ignore_index=UNLABELLED)


def _validation_logits(run: FineTuning, cached: list[Any] | None, n_classes: int) -> np.ndarray:
    if cached is not None:
        return cached_logits(
            run.network, [cached[i] for i in run.val_idx], layer=run.recipe.freeze_layers, n_classes=n_classes
        )
    return network_logits(run.network, [run.rows[i] for i in run.val_idx], pad_id=run.pad_id, n_classes=n_classes)


class Checkpoint:
    """Per-epoch checkpoint of a fine-tuning run: trainable weights, optimizer and scheduler state, progress.

    Frozen weights are not written (they come from the backbone again). ``state.json`` is written last
    and atomically, so an interrupted write leaves the previous epoch's checkpoint usable. ``key``
    identifies the run (data, task, backbone and settings): another run's checkpoint is refused.
    """

    STATE = "state.json"
    WEIGHTS = "trainable.safetensors"
    OPTIMIZER = "optimizer.safetensors"
    BEST = "best.safetensors"

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.key = key

    def start(self) -> None:
        """Begin a new run here: refuse an unfinished one's checkpoint, clear a finished one's."""
        state = self._read_state()
        if state is not None and not state.get("finished"):
            raise ModelError(
                f"{self.folder} holds the checkpoint of an earlier, unfinished training run. Expected an empty "
                "checkpoint folder; fix: pass resume=True (--resume) to continue it, or delete the folder."
            )
        if state is not None:
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads((self.folder / self.STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def load(self, network: Any, optimizer: Any, scheduler: Any, names: list[str]) -> dict[str, Any]:
        """Restore the weights, optimizer and scheduler of the last finished epoch; return the progress."""
        from safetensors.torch import load_file

        state = self._read_state()
        if state is None:
            raise ModelError(
                f"Nothing to resume: expected a checkpoint ({self.STATE}) in {self.folder}, got none. "
                "Fix: train without resume."
            )
        if state.get("key") != self.key:
            raise ModelError(
                f"The checkpoint in {self.folder} belongs to another run (other data or settings). Expected "
                "the same training data, task, backbone and settings; fix: resume with those, or delete it."
            )
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ModelError(
                f"The checkpoint in {self.folder} was written by an earlier sosrisk in another format (expected "
                f"format {CHECKPOINT_FORMAT}, got {state.get('format', 1)}). Fix: delete the folder and train again."
            )
        weights = load_file(os.fspath(self.folder / self.WEIGHTS))
        if set(weights) != set(names):
            raise ModelError(f"{self.folder / self.WEIGHTS}: expected the run's trainable weights, got others.")
        network.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(
            _unflatten(load_file(os.fspath(self.folder / self.OPTIMIZER)), state.pop("optimizer"), optimizer)
        )
        scheduler.load_state_dict(state.pop("scheduler"))
        for entry in ("key", "finished", "format"):
            state.pop(entry, None)
        state["best_loss"] = math.inf if state.get("best_loss") is None else float(state["best_loss"])
        return state

    def best(self) -> dict[str, Any] | None:
        """The best epoch's trainable weights, when they were kept."""
        from safetensors.torch import load_file

        path = self.folder / self.BEST
        return dict(load_file(os.fspath(path))) if path.is_file() else None

    def save(
        self,
        network: Any,
        optimizer: Any,
        scheduler: Any,
        names: list[str],
        state: dict[str, Any],
        best_state: dict[str, Any] | None,
    ) -> None:
        """Write the checkpoint of the epoch just finished (``state.json`` last)."""
        from safetensors.torch import save as save_tensors

        params = dict(network.named_parameters())
        atomic_write_bytes(
            self.folder / self.WEIGHTS,
            save_tensors({n: params[n].detach().contiguous() for n in names}),
        )
        tensors, optimizer_rest = _flatten(optimizer.state_dict())
        atomic_write_bytes(self.folder / self.OPTIMIZER, save_tensors(tensors))
        if best_state is not None and state["best_epoch"] == state["epoch"]:
            atomic_write_bytes(
                self.folder / self.BEST, save_tensors({k: v.contiguous() for k, v in best_state.items()})
            )
        payload = {
            **state,
            "format": CHECKPOINT_FORMAT,
            "key": self.key,
            "best_loss": state["best_loss"] if math.isfinite(state["best_loss"]) else None,
            "optimizer": optimizer_rest,
            "scheduler": scheduler.state_dict(),
        }
        atomic_write_text(self.folder / self.STATE, json.dumps(payload, indent=2) + "\n")

    def finish(self) -> None:
        """Mark the run finished: resuming it again only reloads the final weights (ensembles rely on it)."""
        state = self._read_state()
        if state is not None:
            state["finished"] = True
            atomic_write_text(self.folder / self.STATE, json.dumps(state, indent=2) + "\n")


def _flatten(optimizer_state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An optimizer ``state_dict`` as safetensors-ready tensors (``index.name``) and a JSON-ready rest."""
    tensors: dict[str, Any] = {}
    layout: dict[str, list[str]] = {}
    for index, entry in optimizer_state["state"].items():
        layout[str(index)] = sorted(entry)
        for name, value in entry.items():
            tensors[f"{index}.{name}"] = value.detach().contiguous()
    return tensors, {"state": layout, "param_groups": optimizer_state["param_groups"]}


def _unflatten(tensors: dict[str, Any], rest: dict[str, Any], optimizer: Any) -> dict[str, Any]:
    """The ``state_dict`` written by :func:`_flatten`; tuples (AdamW's ``betas``) come back as tuples."""
    state = {int(index): {name: tensors[f"{index}.{name}"] for name in names} for index, names in rest["state"].items()}
    groups = []
    for saved, current in zip(rest["param_groups"], optimizer.param_groups, strict=True):
        groups.append(
            {k: tuple(v) if isinstance(current.get(k), tuple) and isinstance(v, list) else v for k, v in saved.items()}
        )
    return {"state": state, "param_groups": groups}
