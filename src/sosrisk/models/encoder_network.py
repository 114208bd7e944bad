"""The torch side of the encoder kinds: loading checkpoints safely, the classifier network, batching, inference.

Shared by ``encoder`` (fine-tuned) and ``embedding-linear`` (frozen). torch and transformers are imported
inside the functions that need them, through :func:`require_torch`, which also applies the process's torch
thread count (:mod:`sosrisk.threads`: the CLI commands and the service choose it once): model code never
changes the thread count per call, so threads of a service cannot change it under each other.

Two places use transformers below its public API, and both are guarded: the frozen-layer cache runs the
encoder's layers one by one (:meth:`EncoderClassifier.forward_from`), checked against the whole network
on real posts before training relies on it (:func:`check_frozen_layer_cache`); and the pooler is left out
by looking the architecture up in transformers' model table (:func:`pooler_kwargs`), which falls back to
building the unused pooler when that table moves. ``pyproject.toml`` pins ``transformers<6``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..threads import apply_torch_threads, encoder_autocast
from .encoder_backbone import check_model_type
from .errors import ModelError

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "sosrisk[transformers]"'
TOKENIZER_FILE = "tokenizer.json"
INFERENCE_BATCH = 64
INFERENCE_TOKENS = 512
CACHE_TOLERANCE = 1e-4  # the largest |logit difference| allowed between the cached and the whole network


def require_torch() -> tuple[Any, Any]:
    """``(torch, transformers)``, or an ImportError naming the pip command; applies the thread setting."""
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(
            f"the encoder model kinds need torch and transformers, which are not installed; "
            f"install them with {INSTALL_HINT}"
        ) from error
    apply_torch_threads(torch)
    return torch, transformers


def quiet_call(function: Any, *args: Any, **kwargs: Any) -> Any:
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


def pooler_kwargs(transformers: Any, config: Any) -> dict[str, Any]:
    """``add_pooling_layer=False`` where the architecture accepts it: the pooler is never used here.

    Reads transformers' table of architectures (not public API): if it moves, the unused pooler is built
    (a little memory, the same answers).
    """
    try:
        from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES
    except ImportError:
        return {}
    class_name = MODEL_MAPPING_NAMES.get(config.model_type)
    model_class = getattr(transformers, class_name, None) if isinstance(class_name, str) else None
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


def load_pretrained_encoder(folder: Path, *, source: str) -> Any:
    """The transformer encoder of a checkpoint folder: safetensors only, no remote code, no pooler."""
    _, transformers = require_torch()
    config = transformers.AutoConfig.from_pretrained(os.fspath(folder), local_files_only=True, trust_remote_code=False)
    check_model_type(config.model_type, source=source)
    return quiet_call(
        transformers.AutoModel.from_pretrained,
        os.fspath(folder),
        config=config,
        local_files_only=True,
        trust_remote_code=False,
        use_safetensors=True,
        **pooler_kwargs(transformers, config),
    )


def pad_token_id(encoder: Any) -> int:
    """The padding token id of ``encoder`` (0 when its config names none)."""
    pad = encoder.config.pad_token_id
    return int(pad) if pad is not None else 0


def load_backbone_tokenizer(folder: Path) -> Any:
    """The backbone's fast tokenizer as a plain ``tokenizers.Tokenizer`` (no padding, no code run)."""
    import tokenizers

    _, transformers = require_torch()
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


def backbone_marker(folder: Path) -> dict[str, Any] | None:
    """The marker sosrisk writes into a backbone it built (pooling, query prefix, source), or ``None``."""
    from ..backbones.e5 import MARKER_FILE

    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


@functools.cache
def classifier_class() -> Any:
    """The torch module (defined on first use, so that importing this module does not import torch)."""
    torch, _ = require_torch()

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
            """Logits from the hidden states after ``layer`` layers: runs only the layers above it.

            Builds the attention mask and calls the layers as the encoder itself does (transformers 5:
            ``create_bidirectional_mask``; 4: ``get_extended_attention_mask``); guarded by
            :func:`check_frozen_layer_cache`.
            """
            return self.classify(run_layers(self.encoder, hidden, attention_mask, layer), attention_mask)

    return EncoderClassifier


def run_layers(encoder: Any, hidden: Any, attention_mask: Any, start: int, stop: int | None = None) -> Any:
    """Run ``encoder``'s transformer layers ``start:stop`` over ``hidden`` (padded) as the encoder itself does.

    Builds the attention mask as transformers does (5: ``create_bidirectional_mask``; 4:
    ``get_extended_attention_mask``). Below transformers' public API: the frozen-layer cache checks it
    against the whole network before training relies on it, and a loaded model before sharing a trunk.
    """
    try:
        from transformers.masking_utils import create_bidirectional_mask

        mask = create_bidirectional_mask(config=encoder.config, inputs_embeds=hidden, attention_mask=attention_mask)
    except ImportError:  # transformers 4
        mask = encoder.get_extended_attention_mask(attention_mask, attention_mask.shape)
    for block in encoder.encoder.layer[start:stop]:
        out = block(hidden, attention_mask=mask)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def check_frozen_layer_cache(network: Any, rows: list[list[int]], pad_id: int, layer: int) -> None:
    """Refuse to train on cached frozen layers unless running the layers above them gives the whole network's logits.

    Compares both paths on up to eight of the training posts (eval mode, no dropout). A difference means the
    installed transformers runs its layers differently from :meth:`EncoderClassifier.forward_from`.
    """
    import transformers

    torch, _ = require_torch()
    sample = rows[:8]
    was_training = network.training
    network.eval()
    try:
        with torch.inference_mode():
            input_ids, mask = pad_ids(sample, pad_id, torch)
            whole = network(input_ids, mask)
            cached = network.forward_from(network.hidden_after(input_ids, mask, layer), mask, layer)
            difference = float((whole - cached).abs().max())
    finally:
        network.train(was_training)
    if not difference <= CACHE_TOLERANCE:
        raise ModelError(
            f"The frozen-layer cache does not reproduce the whole network with transformers "
            f"{transformers.__version__} (largest logit difference {difference:.3g}, expected <= {CACHE_TOLERANCE:g}). "
            f'Fix: train with freeze_layers=0 (--set freeze_layers=0; slower), or pip install "transformers<6" at a '
            "version sosrisk was tested with (see pyproject.toml)."
        )


def freeze(network: Any, *, embeddings: bool, layers: int) -> None:
    """Stop gradients into the word embeddings (``embeddings``) and into the lowest ``layers`` layers."""
    encoder = network.encoder
    embedding_module = getattr(encoder, "embeddings", None)
    if embeddings and embedding_module is not None:
        word = getattr(embedding_module, "word_embeddings", None)
        if word is not None:
            word.weight.requires_grad_(False)
    if layers:
        blocks = getattr(getattr(encoder, "encoder", None), "layer", None)
        if blocks is None:
            raise ModelError("freeze_layers needs an encoder with encoder.layer; this backbone has none.")
        if embedding_module is not None:
            for parameter in embedding_module.parameters():
                parameter.requires_grad_(False)
        for block in blocks[:layers]:
            for parameter in block.parameters():
                parameter.requires_grad_(False)


def layer_count(encoder: Any) -> int:
    """Transformer layers of ``encoder`` (0 when it has no ``encoder.layer`` list: nothing can be frozen)."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    return len(layers) if layers is not None else 0


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


def pad_ids(rows: list[list[int]], pad_id: int, torch: Any) -> tuple[Any, Any]:
    """Token-id rows padded to the longest, and their attention mask, as tensors."""
    width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


def pad_hidden(rows: list[Any], torch: Any) -> tuple[Any, Any]:
    """Pad ``(tokens, hidden)`` tensors into ``(batch, longest, hidden)`` and the attention mask."""
    width = max(len(r) for r in rows)
    hidden = torch.zeros((len(rows), width, rows[0].shape[-1]), dtype=rows[0].dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        hidden[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return hidden, mask


def network_logits(
    network: Any, rows: list[list[int]], *, pad_id: int, n_classes: int, batch_size: int = INFERENCE_BATCH
) -> np.ndarray:
    """Logits of token-id rows: length-sorted batches, dynamic padding, inference mode."""
    torch, _ = require_torch()
    out = np.zeros((len(rows), n_classes), dtype=np.float64)
    if not rows:
        return out
    was_training = network.training
    network.eval()
    with torch.inference_mode(), encoder_autocast(torch):
        for index in token_batches([len(r) for r in rows], max_posts=batch_size):
            input_ids, mask = pad_ids([rows[i] for i in index], pad_id, torch)
            out[index] = network(input_ids, mask).double().numpy()
    network.train(was_training)
    return out


def frozen_outputs(network: Any, rows: list[list[int]], *, pad_id: int, layer: int) -> list[Any]:
    """Hidden states after the frozen ``layer`` layers, one ``(tokens, hidden)`` tensor per post."""
    torch, _ = require_torch()
    out: list[Any] = [None] * len(rows)
    network.eval()
    with torch.no_grad():  # not inference_mode: these tensors feed layers that are trained
        for index in token_batches([len(r) for r in rows], max_posts=INFERENCE_BATCH):
            input_ids, mask = pad_ids([rows[i] for i in index], pad_id, torch)
            hidden = network.hidden_after(input_ids, mask, layer)
            for j, i in enumerate(index):
                out[i] = hidden[j, : len(rows[i])].clone()
    return out


def cached_logits(network: Any, hidden_rows: list[Any], *, layer: int, n_classes: int) -> np.ndarray:
    """Logits from cached hidden states after ``layer`` layers (see :func:`frozen_outputs`)."""
    torch, _ = require_torch()
    out = np.zeros((len(hidden_rows), n_classes))
    was_training = network.training
    network.eval()
    with torch.inference_mode(), encoder_autocast(torch):
        for index in token_batches([len(h) for h in hidden_rows], max_posts=INFERENCE_BATCH):
            hidden, mask = pad_hidden([hidden_rows[i] for i in index], torch)
            out[index] = network.forward_from(hidden, mask, layer).double().numpy()
    network.train(was_training)
    return out
