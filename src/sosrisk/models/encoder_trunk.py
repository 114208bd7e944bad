"""One pretrained backbone per process, shared by every model that builds on it, and the layers they share.

``--model best`` holds three users of e5-small per task: the frozen ``embedding-linear`` member and the
``encoder`` member, whose ``fast`` recipe trains only the upper six layers and leaves the word embeddings
and the lower six layers exactly as pretrained. Before this module each of them loaded its own copy of the
backbone (470 MB each, several seconds each) and ran all twelve layers on every post. Now

- an encoder directory saved on top of ``e5-small`` stores only the parts training changed (a
  *delta*: :func:`split_delta`), and names its base (:data:`BASE_FILE`); loading it grafts those parts
  onto the process's one copy of the backbone (:func:`graft_encoder`), so the unchanged parts are the same
  tensors in memory;
- the hidden states after the unchanged lower layers (the *trunk*) are computed once per post and kept
  in a bounded memo (:class:`SharedBackbone`), so the level and binary encoders and the frozen embedder
  each run only their own upper layers.

Answers stay the same: the grafted weights are bit for bit those the model was trained with, and a model
uses the trunk only after the trunk path has reproduced its whole network on probe posts
(:func:`trunk_difference`; a difference beyond :data:`~sosrisk.models.encoder_network.CACHE_TOLERANCE`
keeps the whole-network path and logs a warning).
"""

from __future__ import annotations

import collections
import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..threads import encoder_autocast, encoder_precision
from .encoder_network import (
    CACHE_TOLERANCE,
    INFERENCE_BATCH,
    backbone_marker,
    load_pretrained_encoder,
    pad_ids,
    pad_token_id,
    require_torch,
    run_layers,
    token_batches,
)
from .errors import ModelError

logger = logging.getLogger(__name__)

BASE_FILE = "base.json"
BASE_FORMAT = 1
TRUNK_MEMO_BYTES = 256 * 2**20  # hidden states kept per backbone (about 4,000 posts of 40 tokens)
PROBE_TEXTS = ("今天下雨了", "我不想活了，药已经准备好", "明天见")
_GROUP = re.compile(r"^(embeddings)\.|^encoder\.layer\.(\d+)\.")
_LOCK = threading.Lock()
_BACKBONES: dict[str, SharedBackbone] = {}
_TOKENIZERS: dict[tuple[str, int, int], Any] = {}


def tensor_group(name: str) -> str | None:
    """The part of an encoder a tensor belongs to: ``embeddings``, ``layer.<i>``, or ``None`` (anything else)."""
    match = _GROUP.match(name)
    if match is None:
        return None
    return "embeddings" if match.group(1) else f"layer.{int(match.group(2))}"


class SharedBackbone:
    """A pretrained encoder loaded once per process (eval mode, no gradients) and its trunk memo."""

    def __init__(self, folder: Path) -> None:
        torch, _ = require_torch()
        self.folder = folder
        self.encoder = load_pretrained_encoder(folder, source=f"the backbone in {folder}")
        self.encoder.eval()
        self.encoder.requires_grad_(False)
        self.pad_id = pad_token_id(self.encoder)
        self.depths: set[int] = set()  # trunk depths that loaded models use (the embedder joins the deepest)
        self._torch = torch
        self._memo: collections.OrderedDict[tuple[int, str, bytes], Any] = collections.OrderedDict()
        self._memo_bytes = 0
        self._lock = threading.Lock()

    def register(self, depth: int) -> None:
        """A loaded model runs on the trunk of ``depth`` layers: the frozen embedder shares it."""
        if depth > 0:
            with self._lock:
                self.depths.add(depth)

    @property
    def shared_depth(self) -> int:
        """The trunk depth the frozen embedder uses (0: no model shares a trunk; run the whole backbone)."""
        return max(self.depths, default=0)

    def trunk(self, rows: list[list[int]], depth: int) -> list[Any]:
        """Hidden states after the embeddings and the first ``depth`` layers, one ``(tokens, hidden)`` per row."""
        torch = self._torch
        precision = encoder_precision()  # part of the key: a memo never mixes arithmetic
        keys = [(depth, precision, np.asarray(r, dtype=np.int64).tobytes()) for r in rows]
        out: list[Any] = [None] * len(rows)
        missing: dict[tuple[int, str, bytes], int] = {}
        with self._lock:
            for i, key in enumerate(keys):
                cached = self._memo.get(key)
                if cached is not None:
                    out[i] = cached
                elif key not in missing:
                    missing[key] = i
        if missing:
            index_of = list(missing.values())
            fresh: list[Any] = [None] * len(index_of)
            with torch.inference_mode(), encoder_autocast(torch):
                for batch in token_batches([len(rows[i]) for i in index_of], max_posts=INFERENCE_BATCH):
                    ids, mask = pad_ids([rows[index_of[j]] for j in batch], self.pad_id, torch)
                    hidden = run_layers(self.encoder, self.encoder.embeddings(input_ids=ids), mask, 0, depth)
                    for j, b in enumerate(batch):
                        fresh[b] = hidden[j, : len(rows[index_of[b]])].float().clone()
            with self._lock:
                for key, state in zip(missing, fresh, strict=True):
                    self._remember(key, state)
            by_key = dict(zip(missing, fresh, strict=True))
            for i, key in enumerate(keys):
                if out[i] is None:
                    out[i] = by_key[key]
        return out

    def _remember(self, key: tuple[int, str, bytes], state: Any) -> None:
        size = state.numel() * state.element_size()
        if size > TRUNK_MEMO_BYTES:
            return
        self._memo[key] = state
        self._memo_bytes += size
        while self._memo_bytes > TRUNK_MEMO_BYTES:
            _, dropped = self._memo.popitem(last=False)
            self._memo_bytes -= dropped.numel() * dropped.element_size()

    def clear(self) -> None:
        """Forget the memo (tests; a long-lived process never needs to: it is bounded)."""
        with self._lock:
            self._memo.clear()
            self._memo_bytes = 0


def shared_backbone(folder: Path) -> SharedBackbone:
    """The process's one :class:`SharedBackbone` for ``folder`` (loaded on first use)."""
    key = str(folder.resolve())
    with _LOCK:
        if key not in _BACKBONES:
            _BACKBONES[key] = SharedBackbone(folder)
        return _BACKBONES[key]


def built_backbone_sha256(folder: Path) -> str | None:
    """The source sha256 in the marker of a backbone sosrisk built (``e5-small``), or ``None``."""
    source = (backbone_marker(folder) or {}).get("source")
    sha = source.get("sha256") if isinstance(source, dict) else None
    return sha if isinstance(sha, str) and sha else None


def shared_tokenizer(path: Path, max_length: int) -> TruncatingTokenizer:
    """The tokenizer file ``path``, read once per process, encoding with truncation at ``max_length``.

    Reading e5-small's tokenizer takes about a second; before 2026-12-08 it was read once per truncation length (the
    encoder members' 256 tokens, the fine-tuned raiser's 128). Models only encode with it (no padding), which is safe
    from any thread.
    """
    import tokenizers

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key not in _TOKENIZERS:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            _TOKENIZERS[key] = tokenizer
        return TruncatingTokenizer(_TOKENIZERS[key], max_length)


class TruncatingTokenizer:
    """A shared fast tokenizer that truncates as ``enable_truncation(max_length)`` would, without changing it.

    The tokenizers library truncates a single text's tokens to ``max_length`` less the special tokens its
    post-processor adds, then adds them; this does the same steps (the same ids on all 14,771 texts checked,
    SOS-1K and ordinary, at 128, 256 and 512 tokens, with and without e5's ``query:`` prefix; tests check it too).
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        processor = tokenizer.post_processor
        self._specials = 0 if processor is None else int(processor.num_special_tokens_to_add(False))
        if self.max_length <= self._specials:
            raise ModelError(f"A truncation length of {max_length} leaves no room for the text's tokens.")

    def encode_batch(self, texts: list[str]) -> list[Any]:
        """One encoding (``.ids``) per text, special tokens added, at most ``max_length`` ids each."""
        processor = self.tokenizer.post_processor
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        room = self.max_length - self._specials
        out = []
        for encoding in encodings:
            if len(encoding.ids) > room:
                encoding.truncate(room)
            out.append(encoding if processor is None else processor.process(encoding))
        return out

    def save(self, path: str) -> None:
        """Write the tokenizer file with this truncation length set (a copy: the shared one is left as it is)."""
        import tokenizers

        copy = tokenizers.Tokenizer.from_str(self.tokenizer.to_str())
        copy.enable_truncation(self.max_length)
        copy.save(path)


def split_delta(encoder: Any, base_tensors: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """The tensors of ``encoder`` in the groups training changed, and the groups it left as in ``base_tensors``.

    ``None`` when the encoder does not fit the scheme (a tensor outside the embeddings and layers, or
    names and shapes that differ from the base): then the whole checkpoint is saved.
    """
    state = {k: v.detach() for k, v in encoder.state_dict().items()}
    if set(state) != set(base_tensors):
        return None
    groups: dict[str, list[str]] = {}
    for name in state:
        group = tensor_group(name)
        if group is None:
            return None
        groups.setdefault(group, []).append(name)
    changed: dict[str, Any] = {}
    unchanged: list[str] = []
    for group, names in groups.items():
        same = True
        for name in names:
            base = base_tensors[name]
            if tuple(base.shape) != tuple(state[name].shape) or base.dtype != state[name].dtype:
                return None
            same = same and bool((base == state[name]).all())
        if same:
            unchanged.append(group)
        else:
            changed.update({name: state[name].contiguous() for name in names})
    return changed, sorted(unchanged, key=_group_order)


def _group_order(group: str) -> tuple[int, int]:
    return (0, 0) if group == "embeddings" else (1, int(group.split(".")[1]))


def graft_encoder(base: Any, delta: dict[str, Any], shared: list[str], *, source: str) -> tuple[Any, int]:
    """An encoder whose ``shared`` groups are ``base``'s own modules and whose other groups come from ``delta``.

    Returns the encoder and its trunk depth: how many leading layers (after the shared embeddings) it
    shares with ``base`` (0 when the embeddings were trained).
    """
    import copy

    torch, _ = require_torch()
    blocks = base.encoder.layer
    expected = {"embeddings", *(f"layer.{i}" for i in range(len(blocks)))}
    if set(shared) - expected:
        raise ModelError(f"{source}: shared parts {sorted(set(shared) - expected)} are not in the backbone.")
    by_group: dict[str, dict[str, Any]] = {}
    for name, tensor in delta.items():
        group = tensor_group(name)
        if group is None or group not in expected or group in shared:
            raise ModelError(f"{source}: unexpected tensor {name!r} in the fine-tuned weights.")
        prefix = "embeddings." if group == "embeddings" else f"encoder.layer.{group.split('.')[1]}."
        by_group.setdefault(group, {})[name[len(prefix) :]] = tensor
    missing = expected - set(shared) - set(by_group)
    if missing:
        raise ModelError(f"{source}: the fine-tuned weights lack {sorted(missing, key=_group_order)}.")

    def own(module: Any, group: str) -> Any:
        if group in shared:
            return module
        mine = copy.deepcopy(module)
        try:
            mine.load_state_dict(by_group[group], strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{source}: the fine-tuned weights of {group} do not fit the backbone ({exc}).") from None
        return mine

    encoder = copy.copy(base)  # a new module object over base's config: its parts are set below
    for attribute in ("_modules", "_parameters", "_buffers"):
        setattr(encoder, attribute, collections.OrderedDict(getattr(base, attribute)))
    inner = copy.copy(base.encoder)
    for attribute in ("_modules", "_parameters", "_buffers"):
        setattr(inner, attribute, collections.OrderedDict(getattr(base.encoder, attribute)))
    inner.layer = torch.nn.ModuleList([own(block, f"layer.{i}") for i, block in enumerate(blocks)])
    encoder.encoder = inner
    encoder.embeddings = own(base.embeddings, "embeddings")
    depth = 0
    if "embeddings" in shared:
        while depth < len(blocks) and f"layer.{depth}" in shared:
            depth += 1
    return encoder, depth


def trunk_difference(network: Any, backbone: SharedBackbone, rows: list[list[int]], depth: int) -> float:
    """Largest |logit difference| between the whole network and the trunk path on token-id ``rows``."""
    torch, _ = require_torch()
    with torch.inference_mode():  # float32, whatever the process's precision: this checks the path, not arithmetic
        ids, mask = pad_ids(rows, backbone.pad_id, torch)
        whole = network(ids, mask)
        lower = run_layers(backbone.encoder, backbone.encoder.embeddings(input_ids=ids), mask, 0, depth)
        via_trunk = network.forward_from(lower, mask, depth)
    return float((whole - via_trunk).abs().max())


def trunk_usable(network: Any, backbone: SharedBackbone, rows: list[list[int]], depth: int, *, source: str) -> bool:
    """Whether a grafted network may run on the shared trunk: :func:`trunk_difference` on probe ``rows``.

    ``rows`` are :data:`PROBE_TEXTS` as the model tokenises them.
    """
    if depth <= 0:
        return False
    difference = trunk_difference(network, backbone, rows, depth)
    if difference <= CACHE_TOLERANCE:
        return True
    logger.warning(
        "%s: the shared-trunk path differs from the whole network by %.3g (more than %g); using the whole "
        "network for every post (slower, same answers)",
        source,
        difference,
        CACHE_TOLERANCE,
    )
    return False
