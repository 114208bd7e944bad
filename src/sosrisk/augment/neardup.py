"""Near-duplicate matching of short Chinese texts: cosine of character-bigram TF-IDF vectors.

Used to find which development post a pool post was made from (synonym and back-translated variants
keep most of their source's bigrams), to keep generated posts that copy a source or each other out,
and to keep augmented posts that look like an evaluation post out of training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..data.leakage import normalize_for_matching

# A pool round is traced to the folds its posts match at this similarity (nearly no chance matches).
TRACE_SIMILARITY = 0.5
# A variant is taken to be made from its closest post of the same level at this similarity: on the
# authors' pools 99% (synonym) and 95% (back-translation) of such matches agree on the level, and
# fewer than 2% point into the fold the round was not made from.
SOURCE_SIMILARITY = 0.3
# Two generated posts this close are the same post for deduplication.
DUPLICATE_SIMILARITY = 0.8


def _vectorize(groups: Sequence[Sequence[str]]) -> list[sp.csr_matrix]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    everything = [normalize_for_matching(t) or " " for group in groups for t in group]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True, dtype=np.float32)
    matrix = vectorizer.fit_transform(everything).tocsr()
    parts, start = [], 0
    for group in groups:
        parts.append(matrix[start : start + len(group)])
        start += len(group)
    return parts


@dataclass(frozen=True)
class Matches:
    """For each query text: the most similar reference text (index) and the cosine similarity, and the
    same among references of the query's own group (``-1`` and 0.0 when groups were not given)."""

    best: np.ndarray
    similarity: np.ndarray
    best_same: np.ndarray
    similarity_same: np.ndarray


def best_matches(
    queries: Sequence[str],
    references: Sequence[str],
    *,
    query_groups: Sequence[int] | None = None,
    reference_groups: Sequence[int] | None = None,
    chunk: int = 2048,
) -> Matches:
    """The most similar reference for every query (index ``-1`` and 0.0 when there are no references);
    with groups (for example levels), also the most similar reference of the query's own group."""
    n = len(queries)
    best = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float32)
    best_same = np.full(n, -1, dtype=np.int64)
    similarity_same = np.zeros(n, dtype=np.float32)
    if not references or not queries:
        return Matches(best, similarity, best_same, similarity_same)
    query_matrix, reference_matrix = _vectorize([queries, references])
    reference_t = reference_matrix.T.tocsc()
    grouped = query_groups is not None and reference_groups is not None
    if grouped:
        q_groups = np.asarray(query_groups)
        r_groups = np.asarray(reference_groups)
    for start in range(0, n, chunk):
        scores = (query_matrix[start : start + chunk] @ reference_t).toarray()
        best[start : start + chunk] = scores.argmax(axis=1)
        similarity[start : start + chunk] = scores.max(axis=1)
        if grouped:
            same = q_groups[start : start + chunk, None] == r_groups[None, :]
            masked = np.where(same, scores, -1.0)
            index = masked.argmax(axis=1)
            value = masked[np.arange(len(index)), index]
            best_same[start : start + chunk] = np.where(value >= 0, index, -1)
            similarity_same[start : start + chunk] = np.maximum(value, 0.0)
    return Matches(best, similarity, best_same, similarity_same)


class NearestIndex:
    """Reference texts indexed once; :meth:`nearest` finds the closest reference of new texts."""

    def __init__(self, references: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.size = len(references)
        self._vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True, dtype=np.float32)
        texts = [normalize_for_matching(t) or " " for t in references] or [" "]
        self._matrix_t = self._vectorizer.fit_transform(texts).T.tocsc()

    def nearest(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(index, similarity)`` of the closest reference of each query (``-1``, 0.0 without references)."""
        if not self.size or not queries:
            return np.full(len(queries), -1, dtype=np.int64), np.zeros(len(queries), dtype=np.float32)
        vectors = self._vectorizer.transform([normalize_for_matching(t) or " " for t in queries])
        scores = (vectors @ self._matrix_t).toarray()
        return scores.argmax(axis=1), scores.max(axis=1)


def distinct(
    texts: Sequence[str], *, against: Sequence[str] = (), threshold: float = DUPLICATE_SIMILARITY
) -> list[int]:
    """Indices of ``texts`` to keep: each kept text is below ``threshold`` to every earlier kept text and
    to every text of ``against`` (exact copies after normalisation always count as duplicates)."""
    if not texts:
        return []
    seen = {normalize_for_matching(t) for t in against}
    candidates, keys = [], []
    for index, text in enumerate(texts):
        key = normalize_for_matching(text)
        if key and key not in seen:
            seen.add(key)
            candidates.append(index)
            keys.append(text)
    if not candidates:
        return []
    own, others = _vectorize([keys, list(against)])
    if others.shape[0]:
        close_to_others = np.asarray((own @ others.T).max(axis=1).toarray()).ravel() >= threshold
    else:
        close_to_others = np.zeros(len(keys), dtype=bool)
    among = (own @ own.T).tocsr()
    kept: list[int] = []
    kept_rows: set[int] = set()
    for row in range(len(keys)):
        if close_to_others[row]:
            continue
        start, end = among.indptr[row], among.indptr[row + 1]
        neighbours = among.indices[start:end]
        values = among.data[start:end]
        if any(col in kept_rows and value >= threshold for col, value in zip(neighbours, values, strict=True)):
            continue
        kept_rows.add(row)
        kept.append(candidates[row])
    return kept
