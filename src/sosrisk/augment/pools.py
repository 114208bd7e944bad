"""The authors' published augmentation pools as a source, used only where they cannot leak.

Each pool round (``roundK-train``) was made from some of the development folds. :func:`trace_pools`
finds which by near-duplicate matching: every synonym or back-translated pool post is matched to its
most similar development post (cosine of character bigrams >= 0.5 counts as "made from it"), and a
round's sources are the folds that hold at least ``min_share`` of its matched posts.

Each pool post's own source is its most similar development post *of the same level* at cosine
>= 0.3 (:data:`~sosrisk.augment.neardup.SOURCE_SIMILARITY`); its binary label is that post's. A round may be
used when validating fold F only when F is not among its sources. Generated (LLM) posts copy no
development post, so matching cannot name their sources; for them the round's name is used (round K
made from the training folds of split K, i.e. every fold but K), which is the convention the
synonym and back-translation rounds follow.

On top of the round rule, every pool post whose closest development post (any level) is in the
held-out fold at similarity >= 0.3 is left out, and pool posts that copy a development post exactly are dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import PostSet, load_development, normalize_for_matching, pool_files, read_pool, resolve_root
from ..data.errors import Problem
from ..data.sos1k import N_FOLDS, POOL_METHODS
from .neardup import SOURCE_SIMILARITY, TRACE_SIMILARITY, Matches, best_matches
from .posts import AugmentedPost

logger = logging.getLogger(__name__)

POOL_METHOD_NAMES = tuple(POOL_METHODS)  # synonym, back-translation, llm
MIN_SOURCE_SHARE = 0.05


class PoolError(ValueError):
    """A pool cannot be used as asked."""


@dataclass(frozen=True)
class RoundTrace:
    """What matching found for one pool round of one method."""

    method: str
    round: int
    posts: int
    matched: int
    by_fold: dict[int, int]
    sources: tuple[int, ...]
    basis: str  # "matching" or "round name"
    median_similarity: float

    @property
    def safe_folds(self) -> tuple[int, ...]:
        """Folds this round may be used to validate (it was not made from them)."""
        return tuple(k for k in range(1, N_FOLDS + 1) if k not in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "round": self.round,
            "posts": self.posts,
            "matched": self.matched,
            "matched_by_fold": {str(k): v for k, v in sorted(self.by_fold.items())},
            "sources": list(self.sources),
            "basis": self.basis,
            "safe_for_folds": list(self.safe_folds),
            "median_similarity": round(self.median_similarity, 3),
        }


@dataclass
class PoolTrace:
    """The traced rounds of every pool method, and the problems met reading the pool files."""

    rounds: list[RoundTrace]
    problems: list[Problem] = field(default_factory=list)
    similarity: float = TRACE_SIMILARITY

    def safe_rounds(self, method: str, fold: int | None) -> list[int]:
        """Rounds of ``method`` that cannot leak fold ``fold`` (every round when ``fold`` is ``None``)."""
        return [r.round for r in self.rounds if r.method == method and (fold is None or fold in r.safe_folds)]

    def render(self) -> str:
        """A table: method, round, posts, matched posts per fold, sources, safe folds."""
        lines = [
            f"pool rounds traced to development folds (best match, character-bigram cosine >= {self.similarity})",
            f"{'method':<17}{'round':>5}{'posts':>7}{'matched':>8}  {'matched per fold 1-5':<26}{'made from':<14}"
            f"{'safe for':<10}basis",
        ]
        for r in self.rounds:
            per_fold = " ".join(f"{r.by_fold.get(k, 0):>4}" for k in range(1, N_FOLDS + 1))
            sources = ",".join(map(str, r.sources)) or "-"
            safe = ",".join(map(str, r.safe_folds)) or "none"
            lines.append(
                f"{r.method:<17}{r.round:>5}{r.posts:>7}{r.matched:>8}  {per_fold:<26}{sources:<14}{safe:<10}{r.basis}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": self.similarity,
            "rounds": [r.to_dict() for r in self.rounds],
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class _Development:
    texts: list[str]
    folds: np.ndarray
    levels: np.ndarray
    high: np.ndarray | None
    where: list[str]


_DEVELOPMENT_CACHE: dict[str, _Development] = {}
_TRACE_CACHE: dict[tuple[str, tuple[str, ...], float, float], PoolTrace] = {}
_POOL_CACHE: dict[str, list[tuple[Any, PostSet, Matches]]] = {}


def _development(root: Path) -> _Development:
    key = str(root)
    if key not in _DEVELOPMENT_CACHE:
        level = load_development("level", root)
        binary = load_development("binary", root)
        high = binary.labels("binary") if binary.texts == level.texts else None
        _DEVELOPMENT_CACHE[key] = _Development(
            texts=level.texts,
            folds=level.frame["fold"].to_numpy(dtype=np.int64),
            levels=level.labels("level"),
            high=high,
            where=[f"{s}:{n}" for s, n in zip(level.frame["source"], level.frame["line"], strict=True)],
        )
    return _DEVELOPMENT_CACHE[key]


def _matched_pools(root: Path, method: str) -> list[tuple[Any, PostSet, Matches]]:
    """Every pool file of ``method`` with its posts and, per post, the best development match overall and
    of its level."""
    key = f"{root}|{method}"
    if key not in _POOL_CACHE:
        development = _development(root)
        files = pool_files(root, method)
        sets = [read_pool(pool) for pool in files]
        texts = [t for posts in sets for t in posts.texts]
        levels = [int(v) for posts in sets for v in posts.labels("level")] if texts else []
        matches = best_matches(
            texts, development.texts, query_groups=levels, reference_groups=development.levels.tolist()
        )
        out, start = [], 0
        for pool, posts in zip(files, sets, strict=True):
            end = start + len(posts)
            part = Matches(
                matches.best[start:end],
                matches.similarity[start:end],
                matches.best_same[start:end],
                matches.similarity_same[start:end],
            )
            out.append((pool, posts, part))
            start = end
        _POOL_CACHE[key] = out
    return _POOL_CACHE[key]


def trace_pools(
    root: str | Path | None = None,
    *,
    methods: Sequence[str] = POOL_METHOD_NAMES,
    similarity: float = TRACE_SIMILARITY,
    min_share: float = MIN_SOURCE_SHARE,
) -> PoolTrace:
    """Find which development folds every pool round of ``methods`` was made from (see the module's
    description)."""
    base = resolve_root(root)
    unknown = sorted(set(methods) - set(POOL_METHOD_NAMES))
    if unknown:
        raise PoolError(f"pool method: expected some of {', '.join(POOL_METHOD_NAMES)}, got {unknown}")
    cache_key = (str(base), tuple(methods), similarity, min_share)
    if cache_key in _TRACE_CACHE:
        return _TRACE_CACHE[cache_key]
    development = _development(base)
    grouped: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    problems: list[Problem] = []
    for pool, posts, matches in (row for method in methods for row in _matched_pools(base, method)):
        problems.extend(posts.problems)
        grouped.setdefault((pool.method, pool.round), []).append((matches.best, matches.similarity))
    rounds = []
    for (method, number), parts in sorted(
        grouped.items(), key=lambda item: (POOL_METHOD_NAMES.index(item[0][0]), item[0][1])
    ):
        best = np.concatenate([b for b, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
        sims = np.concatenate([s for _, s in parts]) if parts else np.zeros(0)
        hit = sims >= similarity
        by_fold = Counter(development.folds[best[hit]].tolist())
        matched = int(hit.sum())
        sources = tuple(sorted(k for k, n in by_fold.items() if matched and n / matched >= min_share))
        # a round whose posts copy nothing (generated text) cannot be traced; fall back on its name
        traced = matched >= max(10, 0.1 * len(sims))
        if not traced:
            sources = tuple(k for k in range(1, N_FOLDS + 1) if k != number)
        rounds.append(
            RoundTrace(
                method=method,
                round=number,
                posts=len(sims),
                matched=matched,
                by_fold=dict(by_fold),
                sources=sources,
                basis="matching" if traced else "round name",
                median_similarity=float(np.median(sims)) if len(sims) else 0.0,
            )
        )
    trace = PoolTrace(rounds=rounds, problems=problems, similarity=similarity)
    _TRACE_CACHE[cache_key] = trace
    return trace


@dataclass
class PoolCandidates:
    """Pool posts usable for one training set, per label, and what was left out and why."""

    by_label: dict[int, list[AugmentedPost]]
    rounds: list[int]
    left_out: Counter[str]


def pool_candidates(
    method: str,
    task: str,
    *,
    root: str | Path | None = None,
    holdout_fold: int | None = None,
    similarity: float = SOURCE_SIMILARITY,
) -> PoolCandidates:
    """Pool posts of ``method`` (``synonym``, ``back-translation`` or ``llm``) that may be added to a
    training set whose evaluation fold is ``holdout_fold`` (``None``: nothing is evaluated, every round).

    For the binary task a pool post needs a traced source post: it takes that post's ``high_risk``
    (the binary label is its own annotation and is never derived from the level), so generated
    (``llm``) pool posts cannot be used for it.
    """
    if method not in POOL_METHODS:
        raise PoolError(f"pool method: expected one of {', '.join(POOL_METHODS)}, got {method!r}")
    if holdout_fold is not None and not 1 <= holdout_fold <= N_FOLDS:
        raise PoolError(f"holdout fold: expected 1 to {N_FOLDS}, got {holdout_fold!r}")
    base = resolve_root(root)
    if task == "binary" and method == "llm":
        raise PoolError(
            "the LLM pool cannot augment the binary task: its posts carry only the level they were generated "
            "for, and sosrisk never derives the binary label from the level; use pool-synonym or "
            "pool-back-translation (their posts take the binary label of the post they were made from)"
        )
    trace = trace_pools(base, methods=(method,))
    allowed = set(trace.safe_rounds(method, holdout_fold))
    if not allowed:
        raise PoolError(f"no round of the {method} pool can be used with fold {holdout_fold} held out")
    development = _development(base)
    dev_keys = {normalize_for_matching(t) for t in development.texts}
    seen: set[str] = set()
    left_out: Counter[str] = Counter()
    by_label: dict[int, list[AugmentedPost]] = {}
    for pool, posts, matches in _matched_pools(base, method):
        if pool.round not in allowed:
            continue
        rows = zip(
            posts.texts, posts.labels("level"), matches.best, matches.similarity, matches.best_same,
            matches.similarity_same, strict=True,
        )  # fmt: skip
        for text, level, closest, closest_sim, source, source_sim in rows:
            key = normalize_for_matching(text)
            if key in dev_keys:
                left_out["copies a development post"] += 1
                continue
            if key in seen:
                left_out["duplicate in the pool"] += 1
                continue
            if holdout_fold is not None and closest_sim >= similarity and development.folds[closest] == holdout_fold:
                left_out["closest to a post of the held-out fold"] += 1
                continue
            sourced = source >= 0 and source_sim >= similarity
            if holdout_fold is not None and sourced and development.folds[source] == holdout_fold:
                left_out["closest to a post of the held-out fold"] += 1
                continue
            high = int(development.high[source]) if sourced and development.high is not None else None
            if task == "binary":
                if high is None:
                    left_out["no traced source post for its binary label"] += 1
                    continue
                label = high
            else:
                label = int(level)
            seen.add(key)
            by_label.setdefault(label, []).append(
                AugmentedPost(
                    text=text,
                    risk_level=int(level),
                    high_risk=high,
                    origin=f"pool-{method}:round{pool.round}",
                    derived_from=development.where[source] if sourced else None,
                )
            )
    return PoolCandidates(by_label=by_label, rounds=sorted(allowed), left_out=left_out)


def clear_caches() -> None:
    """Forget cached development posts and pool matches (tests, or after the data changed)."""
    _DEVELOPMENT_CACHE.clear()
    _TRACE_CACHE.clear()
    _POOL_CACHE.clear()
