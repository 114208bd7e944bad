"""Offline synonym replacement: jieba words swapped for neighbours in a word table distilled from e5-small.

The ``synonyms`` package the paper used downloads its vectors at import, so it cannot work offline.
Instead :func:`build_synonym_table` distils a static word table from the offline multilingual-e5-small
checkpoint (:mod:`sosrisk.backbones.e5`) for the content words of jieba's dictionary: for each word a
*static* vector (the mean of its XLM-R input embeddings) and a *contextual* vector (the encoder's
mean-pooled output for ``"query: <word>"``). Neighbours must be close in both (z-scores summed), share
the word's part of speech, and neither contain the other (工作 -> 工作日 is not a synonym). The table is
built on demand into the data home (``augment/``), never shipped.

Words holding a guard character (:mod:`sosrisk.augment.guards`: negations, risk and method words,
times, numbers, intent, person, degree) are neither in the table nor replaced, so a variant keeps every
guard character in order: 不想死 never becomes 想死, 明天 never becomes 去年.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..home import data_home
from .guards import guard_sequence, is_guarded, is_replaceable, jieba_dictionary, segment

logger = logging.getLogger(__name__)

TABLE_FORMAT_VERSION = 1
DEFAULT_MIN_FREQUENCY = 20
INSTALL_HINT = 'pip install "sosrisk[transformers]"'


class SynonymTableError(ValueError):
    """The synonym table is missing, damaged or of another format."""


def default_table_path(backbone: str = "e5-small") -> Path:
    """Where the table distilled from ``backbone`` lives in the data home."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(str(backbone)).name)
    return data_home() / "augment" / f"synonyms-{safe}-v{TABLE_FORMAT_VERSION}.npz"


def _coarse_tags(tag: str) -> frozenset[str]:
    """Parts of speech a word may be swapped across: nouns with nouns, verbs with verbs, vn with both."""
    groups = {
        "n": {"n", "nz", "vn", "an"},
        "nz": {"n", "nz"},
        "v": {"v", "vn"},
        "vn": {"v", "vn", "n"},
        "a": {"a", "an", "ad"},
        "an": {"a", "an", "n"},
        "ad": {"a", "ad"},
    }
    return frozenset(groups.get(tag, {tag}))


@dataclass
class SynonymTable:
    """Words with unit-length static and contextual vectors, and their neighbour search."""

    words: list[str]
    tags: list[str]
    static: np.ndarray
    context: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.words)
        if len(self.tags) != n or self.static.shape[0] != n or self.context.shape[0] != n:
            raise SynonymTableError(
                f"expected one tag and one vector of each kind per word ({n} words), got {len(self.tags)} tags, "
                f"{self.static.shape[0]} static and {self.context.shape[0]} contextual vectors"
            )
        self._index = {word: i for i, word in enumerate(self.words)}
        self._static = np.asarray(self.static, dtype=np.float32)
        self._context = np.asarray(self.context, dtype=np.float32)
        self._cache: dict[tuple[str, int, float, float], list[tuple[str, float]]] = {}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def neighbours(
        self, word: str, *, top_k: int = 5, min_static: float = 0.3, min_context: float = 0.9
    ) -> list[tuple[str, float]]:
        """Up to ``top_k`` replacement words for ``word`` with their combined score, best first.

        A neighbour shares the word's part of speech, neither contains the other, and has a static
        cosine of at least ``min_static`` and a contextual cosine of at least ``min_context``.
        """
        key = (word, top_k, min_static, min_context)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        index = self._index.get(word)
        if index is None:
            return []
        static = self._static @ self._static[index]
        context = self._context @ self._context[index]
        score = _zscore(static) + _zscore(context)
        score[index] = -np.inf
        allowed = _coarse_tags(self.tags[index])
        found: list[tuple[str, float]] = []
        for candidate in np.argsort(-score, kind="stable")[: 50 * top_k]:
            other = self.words[candidate]
            if static[candidate] < min_static or context[candidate] < min_context:
                continue
            if self.tags[candidate] not in allowed or other in word or word in other or is_guarded(other):
                continue
            found.append((other, float(score[candidate])))
            if len(found) >= top_k:
                break
        self._cache[key] = found
        return found

    def save(self, path: str | Path) -> Path:
        """Write the table as ``.npz`` (unicode and float16 arrays, no pickle) atomically."""
        from ..atomic import atomic_write

        target = Path(path)
        with atomic_write(target, "wb") as handle:
            np.savez_compressed(
                handle,
                words=np.array(self.words, dtype="<U4"),
                tags=np.array(self.tags, dtype="<U4"),
                static=self._static.astype(np.float16),
                context=self._context.astype(np.float16),
                meta=np.array(json.dumps({**self.meta, "format_version": TABLE_FORMAT_VERSION})),
            )
        return target

    @classmethod
    def load(cls, path: str | Path) -> SynonymTable:
        """Read a table written by :meth:`save`."""
        source = Path(path)
        if not source.is_file():
            raise SynonymTableError(
                f"{source}: no synonym table here; build it with 'sosrisk augment vectors' (needs {INSTALL_HINT})"
            )
        try:
            with np.load(source, allow_pickle=False) as data:
                expected = {"words", "tags", "static", "context", "meta"}
                if set(data.files) != expected:
                    raise SynonymTableError(
                        f"{source}: expected arrays {sorted(expected)}, found {sorted(data.files)}; rebuild it with "
                        "'sosrisk augment vectors --rebuild'"
                    )
                meta = json.loads(str(data["meta"]))
                if meta.get("format_version") != TABLE_FORMAT_VERSION:
                    raise SynonymTableError(
                        f"{source}: expected table format {TABLE_FORMAT_VERSION}, got {meta.get('format_version')}; "
                        "rebuild it with 'sosrisk augment vectors --rebuild'"
                    )
                return cls(
                    words=data["words"].tolist(),
                    tags=data["tags"].tolist(),
                    static=data["static"].astype(np.float32),
                    context=data["context"].astype(np.float32),
                    meta=meta,
                )
        except (OSError, ValueError) as exc:
            if isinstance(exc, SynonymTableError):
                raise
            raise SynonymTableError(
                f"{source}: not a readable synonym table ({exc}); rebuild it with 'sosrisk augment vectors --rebuild'"
            ) from None


def _zscore(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    return (values - float(values.mean())) / (std if std > 0 else 1.0)


def table_vocabulary(min_frequency: int = DEFAULT_MIN_FREQUENCY) -> tuple[list[str], list[str]]:
    """The words (and tags) the table holds: replaceable content words of jieba's dictionary."""
    words, tags = [], []
    for word, frequency, tag in jieba_dictionary():
        if frequency >= min_frequency and is_replaceable(word, tag):
            words.append(word)
            tags.append(tag)
    return words, tags


def build_synonym_table(
    backbone: str = "e5-small",
    *,
    dest: str | Path | None = None,
    min_frequency: int = DEFAULT_MIN_FREQUENCY,
    words: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    batch_size: int = 128,
    chunk_size: int = 4096,
    show_progress: bool = True,
) -> Path:
    """Distil the word table from an e5-style checkpoint (``"e5-small"`` or a folder) and save it.

    ``words``/``tags`` replace jieba's dictionary (tests use a handful of words and a tiny model).
    """
    try:
        from safetensors import safe_open
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(f"Building the synonym table needs torch and transformers: {INSTALL_HINT}") from exc
    from ..backbones.e5 import QUERY_PREFIX, encode_mean_pooled, resolve_backbone
    from ..progress import progress_bar

    folder = resolve_backbone(backbone)
    if words is None:
        vocabulary, vocabulary_tags = table_vocabulary(min_frequency)
    else:
        vocabulary = list(words)
        vocabulary_tags = list(tags) if tags is not None else ["n"] * len(vocabulary)
    if not vocabulary:
        raise SynonymTableError("expected at least one word for the synonym table, got none")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    with safe_open(str(Path(folder) / "model.safetensors"), "np") as weights:
        names = [k for k in weights.keys() if k.endswith("word_embeddings.weight")]  # noqa: SIM118
        if len(names) != 1:
            raise SynonymTableError(
                f"{folder}: expected one '*word_embeddings.weight' tensor in model.safetensors, found {names}"
            )
        embeddings = weights.get_tensor(names[0])
    space_id = tokenizer.convert_tokens_to_ids("\u2581")
    pieces = tokenizer(vocabulary, add_special_tokens=False)["input_ids"]
    static = np.stack([embeddings[[i for i in ids if i != space_id] or ids].mean(axis=0) for ids in pieces])
    del embeddings
    context_parts = []
    with progress_bar(len(vocabulary), "distilling the synonym table", enabled=show_progress) as advance:
        for start in range(0, len(vocabulary), chunk_size):
            chunk = vocabulary[start : start + chunk_size]
            context_parts.append(encode_mean_pooled(folder, chunk, prefix=QUERY_PREFIX, batch_size=batch_size))
            advance(len(chunk))
    context = np.concatenate(context_parts)
    table = SynonymTable(
        words=vocabulary,
        tags=vocabulary_tags,
        static=_unit(static),
        context=_unit(context),
        meta={"backbone": str(backbone), "checkpoint": str(folder), "min_frequency": min_frequency},
    )
    target = Path(dest) if dest is not None else default_table_path(backbone)
    table.save(target)
    logger.info("built the synonym table (%d words) at %s", len(vocabulary), target)
    return target


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


def load_synonym_table(
    path: str | Path | None = None, *, backbone: str = "e5-small", build: bool = True, show_progress: bool = True
) -> SynonymTable:
    """The table at ``path`` (default: the data home's), built first when missing and ``build`` is set."""
    target = Path(path) if path is not None else default_table_path(backbone)
    if not target.is_file() and build:
        build_synonym_table(backbone, dest=target, show_progress=show_progress)
    return SynonymTable.load(target)


@dataclass(frozen=True)
class Replacement:
    """One word swapped in a variant."""

    position: int
    before: str
    after: str


class SynonymReplacer:
    """Makes variants of a post by swapping a share of its replaceable words for table neighbours.

    Parameters
    ----------
    table:
        The word table.
    rate:
        Share of the replaceable words swapped in each variant (at least one).
    top_k, min_static, min_context:
        Neighbour search settings (see :meth:`SynonymTable.neighbours`).
    """

    def __init__(
        self,
        table: SynonymTable,
        *,
        rate: float = 0.3,
        top_k: int = 5,
        min_static: float = 0.3,
        min_context: float = 0.9,
    ) -> None:
        if not 0 < rate <= 1:
            raise ValueError(f"The 'rate' parameter must be within (0, 1]. Got {rate!r} instead.")
        self.table = table
        self.rate = rate
        self.top_k = top_k
        self.min_static = min_static
        self.min_context = min_context
        self._segments: dict[str, list[tuple[str, str]]] = {}

    def candidates(self, text: str) -> list[tuple[int, str, list[tuple[str, float]]]]:
        """``(token position, word, neighbours)`` for every word of ``text`` that can be swapped."""
        tokens = self._segment(text)
        found = []
        for position, (word, tag) in enumerate(tokens):
            if not is_replaceable(word, tag) or word not in self.table:
                continue
            options = self.table.neighbours(
                word, top_k=self.top_k, min_static=self.min_static, min_context=self.min_context
            )
            if options:
                found.append((position, word, options))
        return found

    def _segment(self, text: str) -> list[tuple[str, str]]:
        tokens = self._segments.get(text)
        if tokens is None:
            tokens = segment(text)
            if len(self._segments) < 100_000:
                self._segments[text] = tokens
        return tokens

    def variant(self, text: str, rng: random.Random) -> tuple[str, list[Replacement]] | None:
        """One variant of ``text`` and the swaps made, or ``None`` when no word can be swapped."""
        options = self.candidates(text)
        if not options:
            return None
        tokens = [word for word, _ in self._segment(text)]
        count = max(1, round(self.rate * len(options)))
        chosen = sorted(rng.sample(range(len(options)), min(count, len(options))))
        swaps = []
        for choice in chosen:
            position, word, neighbours = options[choice]
            replacement = neighbours[rng.randrange(len(neighbours))][0]
            tokens[position] = replacement
            swaps.append(Replacement(position, word, replacement))
        result = "".join(tokens)
        if guard_sequence(result) != guard_sequence(text):  # cannot happen: table words hold no guard character
            raise AssertionError("a synonym swap changed a guard character")
        return result, swaps
