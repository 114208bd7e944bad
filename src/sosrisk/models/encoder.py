"""``encoder``: a fine-tuned BERT-family transformer encoder with a linear head.

The backbone is ``"e5-small"`` (the offline multilingual-e5-small), one of the SOS-1K paper's seven
presets, a hub id (needs internet) or a local checkpoint folder; see
:mod:`sosrisk.models.encoder_backbone`. Training follows a named :class:`Recipe`:

- ``fast`` (default): our CPU recipe, chosen by five-fold cross-validation over the official folds
  (``benchmarks/cv_encoders.py``): AdamW with linear warm-up and linear decay over a few epochs, frozen
  word embeddings (96M of e5-small's 118M parameters), a faster-learning head, square-root class
  weights, dynamic padding and length-bucketed batches.
- ``sos1k-paper``: the authors' settings (AdamW lr 5e-6, batch 16, max length 150, early stopping on the
  validation loss with patience 15, up to 300 epochs), for reproduction.

A stratified validation split of the training posts (``validation_fraction``) is held out. For an
encoder, out-of-fold logits over the whole training set would cost one fine-tuning per inner fold, so
the validation split's logits are what :func:`~sosrisk.models.calibration.finalize_from_oof` receives:
they fit the temperature and choose the decision rule, and their metrics are recorded as the model's
held-out metrics. With ``checkpoint_dir`` set, training writes a checkpoint after every epoch and
``resume=True`` continues an interrupted run exactly where it stopped.

The model directory holds ``config.json``, ``encoder/`` (a standard checkpoint folder:
``config.json``, ``model.safetensors``, ``tokenizer.json``), ``head.safetensors`` and a ``README.md``
model card. Loading reads JSON and safetensors only; ``trust_remote_code`` is never on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..progress import progress_bar
from .base import ModelError, RiskModel, data_fingerprint
from .calibration import DECISIONS, finalize_from_oof
from .encoder_backbone import E5_SMALL, check_model_type, resolve_encoder_backbone
from .model_card import write_model_card
from .registry import register_model

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "sosrisk[transformers]"'
ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
TOKENIZER_FILE = "tokenizer.json"
CACHE_ENV = "SOSRISK_ENCODER_CACHE"
POOLINGS = ("auto", "mean", "cls")
CLASS_WEIGHTS = ("none", "sqrt", "balanced")
SCHEDULES = ("constant", "linear")
SELECTIONS = ("best_val_loss", "last")
INFERENCE_BATCH = 64
INFERENCE_TOKENS = 512


@dataclass(frozen=True)
class Recipe:
    """How an encoder is fine-tuned. Every field can be overridden by the parameter of the same name.

    ``patience``: stop after this many epochs without a lower validation loss (``None``: run all
    ``epochs``). ``select``: keep the weights of the epoch with the lowest validation loss, or the last.
    ``head_lr_multiplier``: the freshly initialised head learns this many times faster than the encoder.
    ``freeze_layers``: the lowest transformer layers kept frozen (0: none). ``class_weight``: weights of
    the cross-entropy per class (``sqrt``: square root of the inverse frequency).
    """

    learning_rate: float
    batch_size: int
    gradient_accumulation: int
    max_length: int
    epochs: int
    patience: int | None
    select: str
    schedule: str
    warmup_ratio: float
    weight_decay: float
    head_lr_multiplier: float
    freeze_embeddings: bool
    freeze_layers: int
    class_weight: str
    dropout: float
    validation_fraction: float

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("learning_rate", self.learning_rate > 0, "> 0"),
            ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1, "an int >= 1"),
            (
                "gradient_accumulation",
                _is_int(self.gradient_accumulation) and self.gradient_accumulation >= 1,
                "an int >= 1",
            ),
            ("max_length", _is_int(self.max_length) and 8 <= self.max_length <= 512, "an int in [8, 512]"),
            ("epochs", _is_int(self.epochs) and self.epochs >= 1, "an int >= 1"),
            (
                "patience",
                self.patience is None or (_is_int(self.patience) and self.patience >= 1),
                "None or an int >= 1",
            ),
            ("select", self.select in SELECTIONS, f"one of {SELECTIONS}"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "within [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("head_lr_multiplier", self.head_lr_multiplier > 0, "> 0"),
            ("freeze_embeddings", isinstance(self.freeze_embeddings, bool), "true or false"),
            ("freeze_layers", _is_int(self.freeze_layers) and self.freeze_layers >= 0, "an int >= 0"),
            ("class_weight", self.class_weight in CLASS_WEIGHTS, f"one of {CLASS_WEIGHTS}"),
            ("dropout", 0 <= self.dropout < 1, "within [0, 1)"),
            ("validation_fraction", 0 <= self.validation_fraction < 0.5, "within [0, 0.5)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ModelError(
                    f"The {name!r} setting of the encoder must be {expected}. Got {getattr(self, name)!r} instead."
                )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (written to ``config.json['params']['settings']``)."""
        return dataclasses.asdict(self)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


RECIPES: dict[str, Recipe] = {
    # Our CPU recipe (see the module docstring and docs/encoders.md for the cross-validation behind it).
    "fast": Recipe(
        learning_rate=1e-4,
        batch_size=16,
        gradient_accumulation=1,
        max_length=256,
        epochs=4,
        patience=None,
        select="last",
        schedule="linear",
        warmup_ratio=0.1,
        weight_decay=0.01,
        head_lr_multiplier=20.0,
        freeze_embeddings=True,
        freeze_layers=6,
        class_weight="sqrt",
        dropout=0.1,
        validation_fraction=0.15,
    ),
    # The SOS-1K authors' settings; their validation set was one fold of five (20%).
    "sos1k-paper": Recipe(
        learning_rate=5e-6,
        batch_size=16,
        gradient_accumulation=1,
        max_length=150,
        epochs=300,
        patience=15,
        select="best_val_loss",
        schedule="constant",
        warmup_ratio=0.0,
        weight_decay=0.01,
        head_lr_multiplier=1.0,
        freeze_embeddings=False,
        freeze_layers=0,
        class_weight="none",
        dropout=0.1,
        validation_fraction=0.2,
    ),
}
# Task-specific values of a recipe, chosen by five-fold CV (docs/encoders.md). On levels the encoder alone
# improves up to 12 epochs (weighted F1 / QWK: 4 epochs 0.388 / 0.390, 8 epochs 0.392 / 0.447, 12 epochs
# 0.404 / 0.497); inside the best ensemble 8 epochs did better (--model best sets its members' epochs itself).
# On binary 3 and 4 epochs tie (0.814 / 0.813).
TASK_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"fast": {"level": {"epochs": 12}}}
DEFAULT_RECIPE = "fast"
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Recipe))


def _require_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(
            f"the encoder model kind needs torch and transformers, which are not installed; "
            f"install them with {INSTALL_HINT}"
        ) from error
    return torch, transformers


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


@functools.cache
def _classifier_class() -> Any:
    """The torch module (defined on first use, so that importing this module does not import torch)."""
    torch, _ = _require_torch()

    class EncoderClassifier(torch.nn.Module):  # type: ignore[name-defined]
        """A transformer encoder, pooling over the attention mask, dropout and a linear head."""

        def __init__(self, encoder: Any, n_classes: int, pooling: str, dropout: float) -> None:
            super().__init__()
            self.encoder = encoder
            self.pooling = pooling
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(int(encoder.config.hidden_size), n_classes)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.classify(hidden, attention_mask)

        def classify(self, hidden: Any, attention_mask: Any) -> Any:
            """Pooling, dropout and head over the last hidden states."""
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

        def hidden_after(self, input_ids: Any, attention_mask: Any, layer: int) -> Any:
            """The hidden states after the first ``layer`` transformer layers (0: the embeddings)."""
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.hidden_states[layer]

        def forward_from(self, hidden: Any, attention_mask: Any, layer: int) -> Any:
            """Logits from the hidden states after ``layer`` layers: runs only the layers above it."""
            try:
                from transformers.masking_utils import create_bidirectional_mask

                mask = create_bidirectional_mask(
                    config=self.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask
                )
            except ImportError:  # transformers 4
                mask = self.encoder.get_extended_attention_mask(attention_mask, attention_mask.shape)
            for block in self.encoder.encoder.layer[layer:]:
                out = block(hidden, mask)
                hidden = out[0] if isinstance(out, tuple) else out
            return self.classify(hidden, attention_mask)

    return EncoderClassifier


@register_model("encoder")
class EncoderModel(RiskModel):
    """A fine-tuned transformer encoder (BERT family) with a linear head, calibrated, with a decision rule.

    Parameters
    ----------
    task:
        ``level`` (11 ordinal classes) or ``binary`` (high vs low risk).
    backbone:
        ``"e5-small"`` (offline), a preset of the SOS-1K paper (see
        :data:`sosrisk.models.encoder_backbone.PRESETS`), a hub id, or a local checkpoint folder.
    recipe:
        ``fast`` (default) or ``sos1k-paper``; see :data:`RECIPES`.
    pooling:
        ``mean`` over the attention mask, ``cls`` (the first token), or ``auto``: mean for e5-small
        (which has no pooler and was trained with mean pooling), cls otherwise.
    prefix:
        Text put before every post; ``auto``: ``"query: "`` for e5-small, nothing otherwise.
    decision, target_recall:
        As for ``char-linear``: the decision rule is chosen on the validation split's calibrated
        probabilities (binary: the threshold reaching ``target_recall`` of high-risk posts there).
    seed:
        Seed of the validation split, and of the head's initialisation, shuffling and dropout unless
        ``training_seed`` is given.
    training_seed:
        Seed of the head's initialisation, shuffling and dropout only (``None``: ``seed``). Encoders that
        differ only here hold out the same validation split: an ensemble of them averages seeds.
    checkpoint_dir:
        Write a checkpoint here after every epoch (not a model setting: not saved in config.json).
    resume:
        Continue from the checkpoint in ``checkpoint_dir`` (same data and settings) instead of starting.
    learning_rate, batch_size, ... validation_fraction:
        Override the recipe's value of the same name (see :class:`Recipe`).
    """

    supports_checkpoints = True  # accepts checkpoint_dir / resume (the CLI passes OUT/checkpoints)

    def __init__(
        self,
        *,
        task: str = "level",
        backbone: str = E5_SMALL,
        recipe: str = DEFAULT_RECIPE,
        pooling: str = "auto",
        prefix: str = "auto",
        decision: str = "auto",
        target_recall: float = 0.8,
        seed: int = 0,
        training_seed: int | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        gradient_accumulation: int | None = None,
        max_length: int | None = None,
        epochs: int | None = None,
        patience: int | None = None,
        select: str | None = None,
        schedule: str | None = None,
        warmup_ratio: float | None = None,
        weight_decay: float | None = None,
        head_lr_multiplier: float | None = None,
        freeze_embeddings: bool | None = None,
        freeze_layers: int | None = None,
        class_weight: str | None = None,
        dropout: float | None = None,
        validation_fraction: float | None = None,
    ) -> None:
        super().__init__(task=task)  # type: ignore[arg-type]
        self.backbone = backbone
        self.recipe = recipe
        self.pooling = pooling
        self.prefix = prefix
        self.decision = decision
        self.target_recall = target_recall
        self.seed = seed
        self.training_seed = training_seed
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.gradient_accumulation = gradient_accumulation
        self.max_length = max_length
        self.epochs = epochs
        self.patience = patience
        self.select = select
        self.schedule = schedule
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.head_lr_multiplier = head_lr_multiplier
        self.freeze_embeddings = freeze_embeddings
        self.freeze_layers = freeze_layers
        self.class_weight = class_weight
        self.dropout = dropout
        self.validation_fraction = validation_fraction
        # learned state
        self.network_: Any = None
        self.tokenizer_: Any = None
        self.pad_id_: int = 0
        self.resolved_pooling_: str | None = None
        self.resolved_prefix_: str | None = None
        self.validation_: dict[str, np.ndarray] = {}
        self.history_: dict[str, Any] = {}

    # ------------------------------------------------------------------ settings
    def settings(self) -> Recipe:
        """The recipe with this model's overrides applied (validated)."""
        if self.recipe not in RECIPES:
            raise ModelError(
                f"The 'recipe' parameter of the encoder must be a str among {sorted(RECIPES)}. "
                f"Got {self.recipe!r} instead."
            )
        overrides = {name: getattr(self, name) for name in SETTING_NAMES if getattr(self, name) is not None}
        task_defaults = TASK_SETTINGS.get(self.recipe, {}).get(self.task, {})
        return dataclasses.replace(RECIPES[self.recipe], **{**task_defaults, **overrides})

    def _validate_params(self) -> Recipe:
        if self.pooling not in POOLINGS:
            raise ModelError(
                f"The 'pooling' parameter of the encoder must be a str among {POOLINGS}. Got {self.pooling!r} instead."
            )
        if not isinstance(self.prefix, str):
            raise ModelError(f"The 'prefix' parameter must be a str. Got {self.prefix!r} instead.")
        if self.decision not in DECISIONS:
            raise ModelError(
                f"The 'decision' parameter of the encoder must be a str among {set(DECISIONS)}. "
                f"Got {self.decision!r} instead."
            )
        if not 0 < self.target_recall <= 1:
            raise ModelError(
                f"The 'target_recall' parameter must be within (0, 1]. Got {self.target_recall!r} instead."
            )
        if not _is_int(self.seed):
            raise ModelError(f"The 'seed' parameter must be an int. Got {self.seed!r} instead.")
        if self.training_seed is not None and not _is_int(self.training_seed):
            raise ModelError(
                f"The 'training_seed' parameter must be an int or None. Got {self.training_seed!r} instead."
            )
        if self.resume and self.checkpoint_dir is None:
            raise ModelError(
                "resume=True needs checkpoint_dir: expected the folder of the interrupted run's checkpoint, "
                "got none. Pass checkpoint_dir (the CLI uses OUT/checkpoints)."
            )
        return self.settings()

    def _params(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "recipe": self.recipe,
            "pooling": self.resolved_pooling_ or self.pooling,
            "prefix": self.resolved_prefix_ if self.resolved_prefix_ is not None else self.prefix,
            "decision": self.decision,
            "target_recall": self.target_recall,
            **self._seeds(),
            "settings": self.settings().to_dict(),
        }

    def _seeds(self) -> dict[str, int]:
        """``seed``, and ``training_seed`` only when set: configs and run keys saved before it existed stay exact."""
        seeds = {"seed": self.seed}
        if self.training_seed is not None:
            seeds["training_seed"] = self.training_seed
        return seeds

    @property
    def init_seed(self) -> int:
        """The seed of the head's initialisation, shuffling and dropout."""
        return self.seed if self.training_seed is None else int(self.training_seed)

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Self:
        params = dict(config["params"])
        allowed = {
            *("backbone", "recipe", "pooling", "prefix", "decision", "target_recall"),
            *("seed", "training_seed", "settings"),
        }
        unknown = set(params) - allowed
        if unknown:
            raise ModelError(f"Unknown encoder params {sorted(unknown)} in config.json.")
        settings = dict(params.pop("settings", {}) or {})
        unknown = set(settings) - set(SETTING_NAMES)
        if unknown:
            raise ModelError(f"Unknown encoder settings {sorted(unknown)} in config.json.")
        model = cls(task=config["task"], **params, **settings)
        model.resolved_pooling_ = params.get("pooling")
        model.resolved_prefix_ = params.get("prefix")
        return model

    # ------------------------------------------------------------------ training
    def fit(
        self, texts: Any, labels: Any, *, show_progress: bool = False, calibrate_on: np.ndarray | None = None
    ) -> Self:
        """Fine-tune on ``texts`` with integer ``labels``; returns ``self`` (see :meth:`RiskModel.fit`)."""
        super().fit(texts, labels, show_progress=show_progress, calibrate_on=calibrate_on)
        self.training_.update(self.history_)
        return self

    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        recipe = self._validate_params()
        cache = _TrainingCache.from_env()
        key = self._run_key(texts, labels, recipe)
        if cache is not None and cache.restore(self, key):
            logger.info("encoder restored from the training cache (%s)", key[:12])
            return
        self._train(texts, labels, recipe, key, show_progress=show_progress)
        if cache is not None:
            cache.store(self, key)

    def _run_key(self, texts: list[str], labels: np.ndarray, recipe: Recipe) -> str:
        """Identifies a training run: same data, task, backbone and settings give the same key."""
        payload = {
            "fingerprint": data_fingerprint(texts, labels.tolist()),
            "order": hashlib.sha256("\n".join(texts).encode()).hexdigest(),
            "task": self.task,
            "backbone": self.backbone,
            "pooling": self.pooling,
            "prefix": self.prefix,
            "decision": self.decision,
            "target_recall": self.target_recall,
            **self._seeds(),
            "settings": recipe.to_dict(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _load_backbone(self, show_progress: bool) -> tuple[Any, Any, Path]:
        _, transformers = _require_torch()
        folder = resolve_encoder_backbone(self.backbone, show_progress=show_progress)
        config = transformers.AutoConfig.from_pretrained(
            os.fspath(folder), local_files_only=True, trust_remote_code=False
        )
        check_model_type(config.model_type, source=f"the backbone {self.backbone!r} ({folder})")
        encoder = _quiet_call(
            transformers.AutoModel.from_pretrained,
            os.fspath(folder),
            config=config,
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
            **_pooler_kwargs(transformers, config),
        )
        tokenizer = _load_backbone_tokenizer(transformers, folder)
        marker = _backbone_marker(folder)
        self.resolved_pooling_ = (
            self.pooling if self.pooling != "auto" else str(marker.get("pooling", "cls")) if marker else "cls"
        )
        self.resolved_prefix_ = (
            self.prefix if self.prefix != "auto" else str(marker.get("query_prefix", "")) if marker else ""
        )
        pad = config.pad_token_id
        self.pad_id_ = int(pad) if pad is not None else 0
        return encoder, tokenizer, folder

    def _train(self, texts: list[str], labels: np.ndarray, recipe: Recipe, key: str, *, show_progress: bool) -> None:
        torch, _ = _require_torch()
        started, cpu_started = time.perf_counter(), time.process_time()
        encoder, tokenizer, folder = self._load_backbone(show_progress)
        assert self.classes_ is not None
        n_classes = len(self.classes_)
        tokenizer.enable_truncation(recipe.max_length)
        self.tokenizer_ = tokenizer
        ids = self._encode(texts)
        y_index = np.searchsorted(self.classes_, labels)
        train_idx, val_idx = validation_split(y_index, recipe.validation_fraction, self.seed)

        torch.manual_seed(self.init_seed)
        network = _classifier_class()(encoder, n_classes, self.resolved_pooling_, recipe.dropout)
        n_layers = _layer_count(network.encoder)
        if recipe.freeze_layers and recipe.freeze_layers >= n_layers:
            logger.warning(
                "the backbone has %d layers: freezing %d instead of %d so that one layer is fine-tuned",
                n_layers,
                n_layers - 1,
                recipe.freeze_layers,
            )
            recipe = dataclasses.replace(recipe, freeze_layers=n_layers - 1)
        _freeze(network, recipe)
        self.network_ = network
        # Frozen lower layers: their output is computed once per post (no dropout) and cached, so each
        # epoch runs only the layers above them.
        cached = self._frozen_outputs(ids, recipe.freeze_layers) if recipe.freeze_layers else None
        encoder_params = [p for p in network.encoder.parameters() if p.requires_grad]
        head_params = list(network.head.parameters())
        trainable = encoder_params + head_params
        names = [n for n, p in network.named_parameters() if p.requires_grad]
        base_lrs = [recipe.learning_rate, recipe.learning_rate * recipe.head_lr_multiplier]
        optimizer = torch.optim.AdamW(
            [{"params": encoder_params, "lr": base_lrs[0]}, {"params": head_params, "lr": base_lrs[1]}],
            weight_decay=recipe.weight_decay,
        )
        weight = _class_weights(torch, y_index[train_idx], n_classes, recipe.class_weight)
        steps_per_epoch = math.ceil(math.ceil(len(train_idx) / recipe.batch_size) / recipe.gradient_accumulation)
        total_steps = steps_per_epoch * recipe.epochs
        warmup = int(recipe.warmup_ratio * total_steps)

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if recipe.schedule == "constant":
                return 1.0
            return max(0.0, (total_steps - step) / max(total_steps - warmup, 1))

        checkpoint = _Checkpoint(Path(self.checkpoint_dir), key) if self.checkpoint_dir else None
        state: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "best_loss": math.inf,
            "best_epoch": 0,
            "stale": 0,
            "history": [],
        }
        if checkpoint is not None:
            if self.resume:
                state = checkpoint.load(network, optimizer, names)
                logger.info("resuming encoder training after epoch %d", state["epoch"])
            else:
                checkpoint.start()
        best_state: dict[str, Any] | None = checkpoint.best(names) if checkpoint and self.resume else None
        lengths = np.array([len(v) for v in ids])
        batches_per_epoch = math.ceil(len(train_idx) / recipe.batch_size)
        remaining = (recipe.epochs - state["epoch"]) * batches_per_epoch
        with progress_bar(remaining, f"fine-tuning encoder ({self.task})", enabled=show_progress) as advance:
            for epoch in range(state["epoch"], recipe.epochs):
                if recipe.patience is not None and state["stale"] >= recipe.patience:
                    break
                network.train()
                torch.manual_seed(self.init_seed * 100_003 + epoch)
                rng = np.random.default_rng([self.init_seed, epoch])
                train_loss, n_seen = 0.0, 0
                batches = list(_bucketed_batches(train_idx, lengths, recipe.batch_size, rng))
                for position, batch in enumerate(batches):
                    if cached is not None:
                        hidden, mask = _pad_hidden([cached[i] for i in batch], torch)
                        logits = network.forward_from(hidden, mask, recipe.freeze_layers)
                    else:
                        input_ids, mask = self._pad([ids[i] for i in batch], torch)
                        logits = network(input_ids, mask)
                    target = torch.as_tensor(y_index[batch], dtype=torch.long)
                    loss = torch.nn.functional.cross_entropy(logits, target, weight=weight)
                    (loss / recipe.gradient_accumulation).backward()
                    train_loss += float(loss.detach()) * len(batch)
                    n_seen += len(batch)
                    last = position == len(batches) - 1
                    if (position + 1) % recipe.gradient_accumulation == 0 or last:
                        for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                            group["lr"] = base * lr_factor(state["step"])
                        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                        state["step"] += 1
                    advance()
                record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": round(train_loss / max(n_seen, 1), 5)}
                if len(val_idx):
                    val_logits = (
                        self._cached_logits([cached[i] for i in val_idx], recipe.freeze_layers)
                        if cached is not None
                        else self._network_logits([ids[i] for i in val_idx])
                    )
                    val_loss = _nll(val_logits, y_index[val_idx])
                    record["val_loss"] = round(val_loss, 5)
                    if val_loss < state["best_loss"] - 1e-6:
                        state.update(best_loss=val_loss, best_epoch=epoch + 1, stale=0)
                        if recipe.select == "best_val_loss":
                            best_state = _trainable_state(network, names)
                    else:
                        state["stale"] += 1
                state["epoch"] = epoch + 1
                state["history"].append(record)
                logger.info("epoch %s", json.dumps(record))
                if checkpoint is not None:
                    checkpoint.save(network, optimizer, names, state, best_state)
                self._after_epoch(epoch + 1)
        if recipe.select == "best_val_loss" and best_state is not None:
            network.load_state_dict(best_state, strict=False)
        network.eval()
        self.history_ = {
            "backbone_folder": str(folder),
            "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"],
            "history": state["history"],
            "validation_posts": len(val_idx),
            "frozen_layers": recipe.freeze_layers,
            "fine_tuning_seconds": round(time.perf_counter() - started, 1),
            "fine_tuning_cpu_seconds": round(time.process_time() - cpu_started, 1),
            "torch_threads": torch.get_num_threads(),
        }
        if len(val_idx):
            val_logits = self._network_logits([ids[i] for i in val_idx])
            self.validation_ = {"indices": val_idx, "logits": val_logits}
            finalize_from_oof(
                self,
                val_logits,
                labels[val_idx],
                decision=self.decision,
                target_recall=self.target_recall,
                rows=val_idx,
            )
            self.cv_metrics_["protocol"] = (
                f"predictions on a held-out validation split of the training data "
                f"({len(val_idx)} posts, {recipe.validation_fraction:.0%}, stratified, seed {self.seed}) that "
                "the final weights never trained on; the temperature and decision rule were chosen on these "
                "same predictions"
                + (" (and the epoch, by validation loss)" if recipe.select == "best_val_loss" else "")
                + ", so they are slightly optimistic"
            )
        else:
            self.validation_ = {}
            logger.warning("no validation split: no calibration, plain decision rule, no held-out metrics")
        if checkpoint is not None:
            checkpoint.finish()

    def _frozen_outputs(self, rows: list[list[int]], layer: int) -> list[Any]:
        """Hidden states after the frozen ``layer`` layers, one ``(tokens, hidden)`` tensor per post."""
        torch, _ = _require_torch()
        out: list[Any] = [None] * len(rows)
        self.network_.eval()
        with torch.no_grad():  # not inference_mode: these tensors feed layers that are trained
            for index in token_batches([len(r) for r in rows], max_posts=INFERENCE_BATCH):
                input_ids, mask = self._pad([rows[i] for i in index], torch)
                hidden = self.network_.hidden_after(input_ids, mask, layer)
                for j, i in enumerate(index):
                    out[i] = hidden[j, : len(rows[i])].clone()
        return out

    def _cached_logits(self, hidden_rows: list[Any], layer: int) -> np.ndarray:
        torch, _ = _require_torch()
        assert self.classes_ is not None
        out = np.zeros((len(hidden_rows), len(self.classes_)))
        was_training = self.network_.training
        self.network_.eval()
        with torch.inference_mode():
            for index in token_batches([len(h) for h in hidden_rows], max_posts=INFERENCE_BATCH):
                hidden, mask = _pad_hidden([hidden_rows[i] for i in index], torch)
                out[index] = self.network_.forward_from(hidden, mask, layer).double().numpy()
        self.network_.train(was_training)
        return out

    def _after_epoch(self, epoch: int) -> None:
        """Hook called after each epoch's checkpoint (tests interrupt training here)."""

    # ------------------------------------------------------------------ prediction
    def _encode(self, texts: list[str]) -> list[list[int]]:
        prefix = self.resolved_prefix_ or ""
        encodings = self.tokenizer_.encode_batch([prefix + t for t in texts])
        return [e.ids for e in encodings]

    def _pad(self, rows: list[list[int]], torch: Any) -> tuple[Any, Any]:
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), self.pad_id_, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return torch.from_numpy(input_ids), torch.from_numpy(mask)

    def _network_logits(self, rows: list[list[int]], batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        """Logits of token-id rows: length-sorted batches, dynamic padding, inference mode."""
        torch, _ = _require_torch()
        assert self.classes_ is not None
        out = np.zeros((len(rows), len(self.classes_)), dtype=np.float64)
        if not rows:
            return out
        was_training = self.network_.training
        self.network_.eval()
        with torch.inference_mode(), inference_threads(torch, len(rows)):
            for index in token_batches([len(r) for r in rows], max_posts=batch_size):
                input_ids, mask = self._pad([rows[i] for i in index], torch)
                out[index] = self.network_(input_ids, mask).double().numpy()
        self.network_.train(was_training)
        return out

    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        if self.network_ is None or self.tokenizer_ is None:
            raise ModelError("This encoder has no weights: fit it or load a model directory.")
        return self._network_logits(self._encode(texts), batch_size=max(1, min(batch_size, INFERENCE_BATCH)))

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, directory: Path) -> dict[str, str]:
        from safetensors.torch import save as save_tensors

        if self.network_ is None or self.tokenizer_ is None:
            raise ModelError("This encoder has no weights to save: fit it first.")
        encoder_dir = directory / ENCODER_DIR
        if encoder_dir.exists():
            shutil.rmtree(encoder_dir)
        _quiet_call(self.network_.encoder.save_pretrained, os.fspath(encoder_dir), safe_serialization=True)
        self.tokenizer_.save(os.fspath(encoder_dir / TOKENIZER_FILE))
        head = {k: v.detach().contiguous() for k, v in self.network_.head.state_dict().items()}
        atomic_write_bytes(directory / HEAD_FILE, save_tensors(head))
        recipe = self.settings()
        n_classes = len(self.classes_) if self.classes_ is not None else 0
        card = write_model_card(
            self,
            directory,
            description=[
                f"A fine-tuned `{self.backbone}` encoder ({self.resolved_pooling_} pooling, prefix "
                f"{self.resolved_prefix_!r}) with a linear head over {n_classes} classes, "
                f"trained with the `{self.recipe}` recipe (lr {recipe.learning_rate:g}, "
                f"{recipe.epochs} epochs max, batch {recipe.batch_size}, max length {recipe.max_length}, "
                f"frozen word embeddings: {recipe.freeze_embeddings}). Weights: `encoder/` (a standard "
                f"checkpoint folder) and `{HEAD_FILE}`.",
            ],
        )
        return {
            "encoder": f"{ENCODER_DIR}/model.safetensors",
            "encoder_config": f"{ENCODER_DIR}/config.json",
            "tokenizer": f"{ENCODER_DIR}/{TOKENIZER_FILE}",
            "head": HEAD_FILE,
            "model_card": card,
        }

    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        torch, transformers = _require_torch()
        from safetensors.torch import load_file

        expected = {"encoder", "encoder_config", "tokenizer", "head"}
        missing = expected - set(files)
        if missing:
            raise ModelError(f"{directory}: config.json 'files' lacks {sorted(missing)}; expected {sorted(expected)}.")
        for role in expected:
            path = directory / files[role]
            if not path.resolve().is_relative_to(directory.resolve()) or not path.is_file():
                raise ModelError(f"{path} is missing or outside {directory}: the model directory is incomplete.")
        encoder_dir = directory / ENCODER_DIR
        config_data = json.loads((encoder_dir / "config.json").read_text(encoding="utf-8"))
        model_type = config_data.get("model_type")
        if not isinstance(model_type, str):
            raise ModelError(f"{encoder_dir / 'config.json'}: expected a 'model_type' string, got {model_type!r}.")
        check_model_type(model_type, source=f"the encoder in {directory}")
        config = transformers.AutoConfig.from_pretrained(
            os.fspath(encoder_dir), local_files_only=True, trust_remote_code=False
        )
        encoder = _quiet_call(
            transformers.AutoModel.from_pretrained,
            os.fspath(encoder_dir),
            config=config,
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
            **_pooler_kwargs(transformers, config),
        )
        import tokenizers

        self.tokenizer_ = tokenizers.Tokenizer.from_file(os.fspath(directory / files["tokenizer"]))
        self.tokenizer_.no_padding()
        recipe = self.settings()
        self.tokenizer_.enable_truncation(recipe.max_length)
        pad = config.pad_token_id
        self.pad_id_ = int(pad) if pad is not None else 0
        if self.resolved_pooling_ not in {"mean", "cls"}:
            raise ModelError(
                f"{directory}: expected params.pooling 'mean' or 'cls' in a saved encoder, "
                f"got {self.resolved_pooling_!r}."
            )
        assert self.classes_ is not None
        network = _classifier_class()(encoder, len(self.classes_), self.resolved_pooling_, recipe.dropout)
        head = load_file(os.fspath(directory / files["head"]))
        try:
            network.head.load_state_dict(head, strict=True)
        except RuntimeError as exc:
            raise ModelError(
                f"{directory / files['head']}: does not match the labels in config.json ({exc})."
            ) from None
        network.eval()
        self.network_ = network
        del torch


# ---------------------------------------------------------------------- helpers


SMALL_BATCH = 8


@contextlib.contextmanager
def inference_threads(torch: Any, n_posts: int) -> Iterator[int]:
    """Run inference with a sensible torch thread count, restored afterwards; yields the count used.

    ``$SOSRISK_TORCH_THREADS`` decides when set. Otherwise one thread for a few posts (the matrices of one
    short post are too small to share, and waiting for a second thread costs more than it saves) or when
    the machine is already busy (1-minute load average at least the number of cores: threads would wait
    for each other's time slices); torch's default otherwise. On a shared 2-core machine one thread was
    2x faster for batches and 16x faster for single posts than two.
    """
    before = torch.get_num_threads()
    configured = os.environ.get("SOSRISK_TORCH_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        wanted = int(configured)
    elif n_posts <= SMALL_BATCH or _machine_busy():
        wanted = 1
    else:
        wanted = before
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        if wanted != before:
            torch.set_num_threads(before)


def _machine_busy() -> bool:
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # not available on this platform
        return False


def _quiet_call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a transformers loader without its progress bars and load reports on stderr."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        return function(*args, **kwargs)
    finally:
        hf_logging.set_verbosity(level)
        if was_enabled:
            hf_logging.enable_progress_bar()


def _pooler_kwargs(transformers: Any, config: Any) -> dict[str, Any]:
    """``add_pooling_layer=False`` where the architecture accepts it: the pooler is never used here."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    class_name = MODEL_MAPPING_NAMES.get(config.model_type)
    model_class = getattr(transformers, class_name, None) if isinstance(class_name, str) else None
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


def _load_backbone_tokenizer(transformers: Any, folder: Path) -> Any:
    """The backbone's fast tokenizer as a plain ``tokenizers.Tokenizer`` (no padding, no code run)."""
    import tokenizers

    if (folder / TOKENIZER_FILE).is_file():
        tokenizer = tokenizers.Tokenizer.from_file(os.fspath(folder / TOKENIZER_FILE))
    else:
        loaded = transformers.AutoTokenizer.from_pretrained(
            os.fspath(folder), local_files_only=True, trust_remote_code=False, use_fast=True
        )
        if not getattr(loaded, "is_fast", False):
            raise ModelError(
                f"{folder}: expected a tokenizer.json or a tokenizer transformers can convert to a fast one; "
                "got a slow-only tokenizer. Fix: save the tokenizer with a fast tokenizer class."
            )
        tokenizer = loaded.backend_tokenizer
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _backbone_marker(folder: Path) -> dict[str, Any] | None:
    from ..backbones.e5 import MARKER_FILE

    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _freeze(network: Any, recipe: Recipe) -> None:
    encoder = network.encoder
    embeddings = getattr(encoder, "embeddings", None)
    if recipe.freeze_embeddings and embeddings is not None:
        word = getattr(embeddings, "word_embeddings", None)
        if word is not None:
            word.weight.requires_grad_(False)
    if recipe.freeze_layers:
        layers = getattr(getattr(encoder, "encoder", None), "layer", None)
        if layers is None:
            raise ModelError("freeze_layers needs an encoder with encoder.layer; this backbone has none.")
        if embeddings is not None:
            for parameter in embeddings.parameters():
                parameter.requires_grad_(False)
        for layer in layers[: recipe.freeze_layers]:
            for parameter in layer.parameters():
                parameter.requires_grad_(False)


def _layer_count(encoder: Any) -> int:
    """Transformer layers of ``encoder`` (0 when it has no ``encoder.layer`` list: nothing can be frozen)."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return len(layers) if layers is not None else 0


def _class_weights(torch: Any, y_index: np.ndarray, n_classes: int, mode: str) -> Any:
    if mode == "none":
        return None
    counts = np.bincount(y_index, minlength=n_classes).astype(float)
    weights = len(y_index) / (n_classes * np.maximum(counts, 1.0))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return torch.as_tensor(weights, dtype=torch.float32)


def _bucketed_batches(
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


def token_batches(lengths: list[int], *, max_posts: int, max_tokens: int = INFERENCE_TOKENS) -> Iterator[np.ndarray]:
    """Indices of length-sorted batches whose padded size (posts x longest) stays within ``max_tokens``.

    Small batches keep a layer's activations in the CPU cache: on this 2-core machine batches of about 500
    tokens ran 1.6x faster per post than batches of 64 posts.
    """
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < max_posts and (end - start + 1) * lengths[order[end]] <= max_tokens:
            end += 1
        yield order[start:end]
        start = end


def _pad_hidden(rows: list[Any], torch: Any) -> tuple[Any, Any]:
    """Pad ``(tokens, hidden)`` tensors into ``(batch, longest, hidden)`` and the attention mask."""
    width = max(len(r) for r in rows)
    hidden = torch.zeros((len(rows), width, rows[0].shape[-1]), dtype=rows[0].dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        hidden[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return hidden, mask


def _nll(logits: np.ndarray, y_index: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_norm - shifted[np.arange(len(y_index)), y_index]))


def _trainable_state(network: Any, names: list[str]) -> dict[str, Any]:
    params = dict(network.named_parameters())
    return {name: params[name].detach().clone() for name in names}


class _Checkpoint:
    """Per-epoch checkpoint of a fine-tuning run: trainable weights, optimizer state, progress.

    Frozen weights are not written (they come from the backbone again). ``state.json`` is written last
    and atomically, so an interrupted write leaves the previous epoch's checkpoint usable.
    """

    STATE = "state.json"
    WEIGHTS = "trainable.safetensors"
    OPTIMIZER = "optimizer.safetensors"
    BEST = "best.safetensors"

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self.key = key

    def start(self) -> None:
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

    def load(self, network: Any, optimizer: Any, names: list[str]) -> dict[str, Any]:
        import torch
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
        weights = load_file(os.fspath(self.folder / self.WEIGHTS))
        if set(weights) != set(names):
            raise ModelError(f"{self.folder / self.WEIGHTS}: expected the run's trainable weights, got others.")
        network.load_state_dict(weights, strict=False)
        params = dict(network.named_parameters())
        moments = load_file(os.fspath(self.folder / self.OPTIMIZER))
        for i, name in enumerate(names):
            if f"{i}.exp_avg" in moments:
                optimizer.state[params[name]] = {
                    "step": moments[f"{i}.step"].clone(),
                    "exp_avg": moments[f"{i}.exp_avg"].clone(),
                    "exp_avg_sq": moments[f"{i}.exp_avg_sq"].clone(),
                }
        del torch
        state.pop("key")
        state.pop("finished", None)
        state["best_loss"] = math.inf if state.get("best_loss") is None else float(state["best_loss"])
        return state

    def best(self, names: list[str]) -> dict[str, Any] | None:
        from safetensors.torch import load_file

        path = self.folder / self.BEST
        return dict(load_file(os.fspath(path))) if path.is_file() else None

    def save(
        self,
        network: Any,
        optimizer: Any,
        names: list[str],
        state: dict[str, Any],
        best_state: dict[str, Any] | None,
    ) -> None:
        from safetensors.torch import save as save_tensors

        params = dict(network.named_parameters())
        atomic_write_bytes(
            self.folder / self.WEIGHTS,
            save_tensors({n: params[n].detach().contiguous() for n in names}),
        )
        moments: dict[str, Any] = {}
        for i, name in enumerate(names):
            entry = optimizer.state.get(params[name])
            if entry:
                moments[f"{i}.step"] = entry["step"].detach().reshape(-1).clone()
                moments[f"{i}.exp_avg"] = entry["exp_avg"].detach().contiguous()
                moments[f"{i}.exp_avg_sq"] = entry["exp_avg_sq"].detach().contiguous()
        atomic_write_bytes(self.folder / self.OPTIMIZER, save_tensors(moments))
        if best_state is not None and state["best_epoch"] == state["epoch"]:
            atomic_write_bytes(
                self.folder / self.BEST, save_tensors({k: v.contiguous() for k, v in best_state.items()})
            )
        payload = {
            **state,
            "key": self.key,
            "best_loss": state["best_loss"] if math.isfinite(state["best_loss"]) else None,
        }
        atomic_write_text(self.folder / self.STATE, json.dumps(payload, indent=2) + "\n")

    def finish(self) -> None:
        """Mark the run finished: resuming it again only reloads the final weights (ensembles rely on it)."""
        state = self._read_state()
        if state is not None:
            state["finished"] = True
            atomic_write_text(self.folder / self.STATE, json.dumps(state, indent=2) + "\n")


class _TrainingCache:
    """Reuse of finished training runs across processes, for benchmarks (``$SOSRISK_ENCODER_CACHE``).

    A run is keyed by its data, task, backbone and every setting (:meth:`EncoderModel._run_key`), so a
    hit gives the model that run would train. Stores the model directory and the validation logits.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_env(cls) -> _TrainingCache | None:
        value = os.environ.get(CACHE_ENV)
        return cls(Path(value)) if value else None

    def restore(self, model: EncoderModel, key: str) -> bool:
        from safetensors.numpy import load_file

        entry = self.folder / key
        if not (entry / "config.json").is_file() or not (entry / "validation.safetensors").is_file():
            return False
        loaded = RiskModel.load(entry)
        assert isinstance(loaded, EncoderModel)
        for name in ("temperature_", "decision_", "cv_metrics_", "network_", "tokenizer_", "pad_id_"):
            setattr(model, name, getattr(loaded, name))
        model.resolved_pooling_ = loaded.resolved_pooling_
        model.resolved_prefix_ = loaded.resolved_prefix_
        validation = load_file(os.fspath(entry / "validation.safetensors"))
        model.validation_ = {"indices": validation["indices"], "logits": validation["logits"]}
        history = {k: v for k, v in loaded.training_.items() if k in _HISTORY_KEYS}
        model.history_ = {**history, "restored_from_cache": True}
        return True

    def store(self, model: EncoderModel, key: str) -> None:
        from safetensors.numpy import save as save_arrays

        entry = self.folder / key
        model.training_ = dict(model.history_)
        model.save(entry)
        if model.validation_:
            arrays = {k: np.ascontiguousarray(v) for k, v in model.validation_.items()}
            atomic_write_bytes(entry / "validation.safetensors", save_arrays(arrays))


_HISTORY_KEYS = (
    "backbone_folder",
    "epochs_run",
    "best_epoch",
    "history",
    "validation_posts",
    "frozen_layers",
    "fine_tuning_seconds",
    "fine_tuning_cpu_seconds",
    "torch_threads",
)
