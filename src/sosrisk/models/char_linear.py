"""``char-linear``: character n-gram TF-IDF with a logistic-regression classifier.

The fast offline default. Training fits scikit-learn's ``TfidfVectorizer`` and ``LogisticRegression``;
prediction uses :class:`CharNgramFeaturizer`, a vectorised re-implementation of the vectorizer's
``transform`` for a fixed vocabulary that gives the same matrix several times faster. The model
directory holds ``config.json`` and ``weights.npz`` (n-grams as a fixed-width unicode array, idf,
coefficients, intercepts): no pickle.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..progress import progress_bar
from .base import ModelError, RiskModel, read_npz
from .calibration import LOGISTIC_HEAD_CONSTRAINTS, finalize_from_oof
from .params import Boolean, Constraint, Interval, Satisfies, is_int, none_or
from .registry import register_model

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
# Defaults chosen by five-fold cross-validation over the official SOS-1K folds
# (benchmarks/tune_char_linear.py; results in benchmarks/results/tune_char_linear.md). Levels: the best
# mean of weighted F1 and QWK. Binary: C=3 and C=10 tie on weighted F1 (0.7997); C=10 keeps the higher
# recall of high-risk posts (0.814 vs 0.810).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "level": {"ngram_range": (1, 2), "C": 1.0},
    "binary": {"ngram_range": (1, 2), "C": 10.0},
}
NGRAM_RANGE = Satisfies(
    "two ints 1 <= min <= max <= 4",
    lambda value: (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(is_int(v) for v in value)
        and 1 <= value[0] <= value[1] <= 4
    ),
)
# scikit-learn's char analyzer replaces runs of two or more whitespace characters by one space.
_WHITE_SPACES = re.compile(r"\s\s+")
_MAX_CHAR_IDS = 1 << 16  # char ids must fit 16 bits so that 4-grams fit one uint64 code


class _CodeTable:
    """An open-addressing hash table from n-gram codes to feature indices, looked up with numpy.

    Load factor at most 1/4, linear probing; a lookup resolves most codes in the first probe, far
    fewer memory accesses than a binary search over the sorted vocabulary.
    """

    _EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing

    def __init__(self, codes: np.ndarray, features: np.ndarray) -> None:
        codes = np.asarray(codes, dtype=np.uint64)
        features = np.asarray(features, dtype=np.int64)
        bits = max(4, int(np.ceil(np.log2(max(len(codes), 1) * 4))))
        self._shift = np.uint64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        self._keys = np.full(1 << bits, self._EMPTY, dtype=np.uint64)
        self._values = np.full(1 << bits, -1, dtype=np.int64)
        self._max_probes = 1
        unique = np.unique(codes, return_counts=True)
        if len(unique[0]) < len(codes):
            code = int(unique[0][np.argmax(unique[1] > 1)])
            raise ModelError(f"Two n-grams share the code {code}; the vocabulary is corrupt.")
        # Linear probing, all codes at once: in each round every code not yet placed tries its current slot;
        # of the codes that find the same empty slot the first (in vocabulary order) takes it, the others and
        # those that find it taken move one slot on. A slot never empties again, so every code is reached
        # from its home slot without crossing an empty one, as one-by-one insertion guarantees.
        pending = np.arange(len(codes))
        slots = self._slots(codes)
        probes = 1
        while len(pending):
            free = self._keys[slots] == self._EMPTY
            _, first = np.unique(slots[free], return_index=True)
            taken = np.flatnonzero(free)[first]
            self._keys[slots[taken]] = codes[pending[taken]]
            self._values[slots[taken]] = features[pending[taken]]
            self._max_probes = probes
            left = np.ones(len(pending), dtype=bool)
            left[taken] = False
            pending, slots = pending[left], (slots[left] + 1) & self._mask
            probes += 1

    def _slots(self, codes: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((codes * self._MULTIPLIER) >> self._shift).view(np.int64)  # < 2**bits: the view is exact

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Feature index of every code, or -1 for codes outside the vocabulary."""
        slots = self._slots(codes)
        keys = self._keys[slots]
        found = keys == codes
        result = np.where(found, self._values[slots], -1)
        # the few codes whose first slot held another code probe on
        pending = np.flatnonzero(~found & (keys != self._EMPTY))
        slots = slots[pending]
        for _ in range(self._max_probes - 1):
            if not len(pending):
                break
            slots = (slots + 1) & self._mask
            keys = self._keys[slots]
            found = keys == codes[pending]
            result[pending[found]] = self._values[slots[found]]
            unresolved = ~found & (keys != self._EMPTY)
            pending = pending[unresolved]
            slots = slots[unresolved]
        return result


class CharNgramFeaturizer:
    """TF-IDF features of character n-grams for a fixed vocabulary, computed with numpy.

    Reproduces ``TfidfVectorizer(analyzer="char", lowercase=True, norm="l2", use_idf=True)`` with the
    given ``ngram_range`` and ``sublinear_tf`` for a fitted vocabulary (same preprocessing, same
    n-grams, same weights). Texts are turned into arrays of character ids, n-grams into integer codes,
    and codes are looked up in an open-addressing hash table of the vocabulary, a whole batch at once.
    """

    def __init__(
        self, ngrams: np.ndarray, idf: np.ndarray, *, ngram_range: tuple[int, int], sublinear_tf: bool
    ) -> None:
        min_n, max_n = ngram_range
        if not 1 <= min_n <= max_n <= 4:
            raise ModelError(f"ngram_range must satisfy 1 <= min <= max <= 4. Got {ngram_range!r} instead.")
        self.ngrams = np.asarray(ngrams)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram_range = (int(min_n), int(max_n))
        self.sublinear_tf = bool(sublinear_tf)
        # every n-gram as a row of up to four code points (numpy pads short strings with zeros)
        grams = self.ngrams.astype(str)
        lengths = np.char.str_len(grams).astype(np.int64)
        if (lengths > 4).any():
            raise ModelError("The vocabulary holds n-grams longer than 4 characters; it is corrupt.")
        points = grams.astype("<U4").view(np.uint32).reshape(len(grams), 4)
        inside = np.arange(4)[None, :] < lengths[:, None]
        chars = np.unique(points[inside])  # sorted by code point, as sorted() sorts characters
        if len(chars) >= _MAX_CHAR_IDS - 1:
            raise ModelError(f"The vocabulary uses {len(chars)} distinct characters; at most 65534 are supported.")
        self._base = np.uint64(len(chars) + 1)  # id 0 = a character outside the vocabulary
        top = int(chars[-1]) if len(chars) else 0
        self._char_ids = np.zeros(top + 2, dtype=np.uint64)
        self._char_ids[chars] = np.arange(1, len(chars) + 1, dtype=np.uint64)
        ids = self._char_ids[points]
        ids[~inside] = 0
        # unigrams are looked up directly by character id; longer n-grams through the hash table
        self._unigram_features = np.full(int(self._base), -1, dtype=np.int64)
        single = np.flatnonzero(lengths == 1)
        self._unigram_features[ids[single, 0].astype(np.int64)] = single
        longer = np.flatnonzero(lengths > 1)
        codes = np.zeros(len(longer), dtype=np.uint64)
        for k in range(4):  # the same arithmetic as transform_csc: char ids in base ``_base``, then the length
            within = inside[longer, k]
            codes[within] = codes[within] * self._base + ids[longer[within], k]
        codes = codes * np.uint64(4) + (lengths[longer] - 1).astype(np.uint64)
        self._table = _CodeTable(codes, longer)
        self._gram_index_cache: dict[str, int] | None = None

    def _gram_index(self) -> dict[str, int]:
        """n-gram -> feature index, built on first use and kept (explanations call it per post)."""
        if self._gram_index_cache is None:
            self._gram_index_cache = {gram: index for index, gram in enumerate(self.ngrams.tolist())}
        return self._gram_index_cache

    @staticmethod
    def preprocess(text: str) -> str:
        """Lowercase and fold whitespace runs, exactly as scikit-learn's char analyzer does."""
        return _WHITE_SPACES.sub(" ", text.lower())

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """The L2-normalised TF-IDF matrix ``(len(texts), n_features)``."""
        return self.transform_csc(texts).tocsr()

    def transform_csc(self, texts: list[str]) -> sp.csc_matrix:
        """The same matrix as :meth:`transform`, column-major: the fastest to build, and as fast to multiply.

        Entries arrive grouped by n-gram length, each group in text order, and every feature has one
        length; so grouping them by feature (a stable counting sort) leaves each column's rows in order,
        and repeated n-grams of a post end up side by side and are summed without sorting. Row-major,
        every row's columns had to be sorted first: a quarter of the time of ``predict``.
        """
        n_docs = len(texts)
        n_features = len(self.ngrams)
        points, separators = self._joined_points(texts)
        if len(points) == len(separators):  # no text has a character
            return sp.csc_matrix((n_docs, n_features), dtype=np.float64)
        # Separators (and code points beyond the table) get id 0 = unknown: no n-gram spans two posts.
        ids = self._char_ids[np.minimum(points, len(self._char_ids) - 1)]
        ids[separators] = 0
        doc_of = np.zeros(len(ids), dtype=np.int64)  # the post of every position (a separator: the next one)
        doc_of[separators] = 1
        np.cumsum(doc_of, out=doc_of)
        rows_parts, cols_parts = [], []
        min_n, max_n = self.ngram_range
        code = ids
        known = ids != 0
        for n in range(1, max_n + 1):
            valid_len = len(ids) - n + 1
            if valid_len <= 0:
                break
            if n > 1:
                code = code[:valid_len] * self._base + ids[n - 1 :]
                known = known[:valid_len] & (ids[n - 1 :] != 0)
            if n < min_n:
                continue
            where = np.flatnonzero(known)
            if n == 1:
                features = self._unigram_features[code[where].astype(np.int64)]
            else:
                features = self._table.lookup(code[where] * np.uint64(4) + np.uint64(n - 1))
            hit = features >= 0
            rows_parts.append(doc_of[where[hit]])
            cols_parts.append(features[hit])
        rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(cols_parts) if cols_parts else np.zeros(0, dtype=np.int64)
        # scipy sums repeated entries here; it sorts only columns whose rows are out of order (none are)
        counts = sp.csc_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_docs, n_features))
        data = counts.data
        if self.sublinear_tf:
            np.log(data, data)
            data += 1.0
        data *= np.repeat(self.idf, np.diff(counts.indptr))  # each column's idf, once per entry
        # per row, entries are added in column order, as in the row-major matrix: the same sums to the bit
        norms = np.sqrt(np.bincount(counts.indices, weights=data * data, minlength=n_docs))
        norms[norms == 0] = 1.0
        data /= norms[counts.indices]
        return counts

    def _joined_points(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Code points of the preprocessed texts joined by one separator each, and the separators' positions.

        One regex pass over the joined batch, unless a text holds the separator (NUL) itself.
        """
        separator = "\x00"
        joined = separator.join(texts)
        if joined.count(separator) == len(texts) - 1:
            # NUL is not whitespace and no character lowercases to it: only the separators are NULs
            points = np.frombuffer(self.preprocess(joined).encode("utf-32-le"), dtype=np.uint32)
            return points, np.flatnonzero(points == 0)
        docs = [self.preprocess(t) for t in texts]
        points = np.frombuffer(separator.join(docs).encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        return points, np.cumsum(lengths[:-1] + 1) - 1

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """``(feature, start, end)`` of every in-vocabulary n-gram of ``text``, offsets into ``text``.

        Offsets refer to the original text even where whitespace runs were folded.
        """
        lowered = text.lower()
        # map each position of the folded text back to the original text
        mapping: list[int] = []
        folded_chars: list[str] = []
        last = 0
        for match in _WHITE_SPACES.finditer(lowered):
            for i in range(last, match.start()):
                mapping.append(i)
                folded_chars.append(lowered[i])
            mapping.append(match.start())
            folded_chars.append(" ")
            last = match.end()
        for i in range(last, len(lowered)):
            mapping.append(i)
            folded_chars.append(lowered[i])
        ends = [*mapping[1:], len(text)]
        # map the folded position after the last char of an n-gram to the original end offset
        folded = "".join(folded_chars)
        lookup = self._gram_index()
        found = []
        min_n, max_n = self.ngram_range
        for n in range(min_n, max_n + 1):
            for i in range(len(folded) - n + 1):
                feature = lookup.get(folded[i : i + n])
                if feature is not None:
                    end = ends[i + n - 1] if folded[i + n - 1] != " " else mapping[i + n - 1] + 1
                    found.append((feature, mapping[i], end))
        return found


def _balanced_class_weight(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per post, scikit-learn's "balanced" class weight computed on weighted class totals.

    ``total / (classes * class_total)``: with every weight 1 it is scikit-learn's own, so a class's posts weigh
    the same in all however many of them there are and whatever their weights.
    """
    classes, index = np.unique(y, return_inverse=True)
    totals = np.bincount(index, weights=weight)
    return (weight.sum() / (len(classes) * totals))[index]


def fit_char_featurizer(
    texts: list[str], *, ngram_range: tuple[int, int], min_df: int = 1, sublinear_tf: bool = True
) -> tuple[CharNgramFeaturizer, sp.csr_matrix]:
    """Fit scikit-learn's ``TfidfVectorizer`` on ``texts``; return its fast featurizer and the training matrix."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=ngram_range,
        min_df=min_df,
        sublinear_tf=sublinear_tf,
        lowercase=True,
        dtype=np.float64,
    )
    matrix = vectorizer.fit_transform(texts)
    vocabulary = vectorizer.vocabulary_
    ngrams = np.empty(len(vocabulary), dtype=f"<U{ngram_range[1]}")
    for gram, index in vocabulary.items():
        ngrams[index] = gram
    featurizer = CharNgramFeaturizer(ngrams, vectorizer.idf_, ngram_range=ngram_range, sublinear_tf=sublinear_tf)
    return featurizer, matrix


@dataclass(frozen=True)
class Contribution:
    """One n-gram's exact share of a post's score: where it is in the text and how much it added."""

    ngram: str
    start: int
    end: int
    weight: float


@register_model("char-linear")
class CharLinearModel(RiskModel):
    """Character n-gram TF-IDF + logistic regression, calibrated, with an ordinal-aware decision rule.

    Parameters
    ----------
    task:
        ``level`` (11 ordinal classes) or ``binary`` (high vs low risk).
    ngram_range:
        Smallest and largest character n-gram (at most 4). ``None``: the task default.
    min_df:
        Minimum number of training posts an n-gram must appear in.
    sublinear_tf:
        Use ``1 + log(tf)`` instead of raw counts.
    C:
        Inverse regularisation strength of the logistic regression. ``None``: the task default.
    class_weight:
        ``balanced`` weighs classes inversely to their frequency (rare levels matter); ``none`` does not.
    decision:
        ``auto`` chooses the decision rule by cross-validation inside the training data (argmax or
        expected distance-weighted cost for levels; a recall-targeted threshold for binary); see
        :func:`sosrisk.models.calibration.finalize_from_oof`.
    target_recall:
        Binary only: the recall of high-risk posts the threshold is chosen for; on the out-of-fold predictions
        it aims a little higher (:func:`~sosrisk.models.decision.recall_to_aim_for`), so that new posts reach
        the target with about 80% confidence.
    cv_folds:
        Folds of the cross-validation inside the training data (calibration and decision rule).
    seed:
        Seed of that cross-validation's shuffling.
    tol:
        Stopping tolerance of the logistic regression's solver.
    """

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **RiskModel._parameter_constraints,
        "ngram_range": none_or(NGRAM_RANGE),
        "min_df": Interval(1, None, integer=True),
        "sublinear_tf": Boolean(),
        **LOGISTIC_HEAD_CONSTRAINTS,
        "tol": Interval(0, None, closed="neither"),
    }
    _task_defaults: ClassVar[dict[str, dict[str, Any]]] = TASK_DEFAULTS
    # five-fold CV (row char-linear+scope-mined) and held-out ordinary text: better on both kinds of error
    # than an equal sample of every source (docs/scope.md); every passing post, weighted, rather than a draw
    # of 1,000 of them: no draw noise, and within or above the draws' spread on every measure
    # (benchmarks/results/draw_noise.md, 2026-12-06)
    scope_defaults: ClassVar[dict[str, Any]] = {"risk_negatives_from": "gate", "risk_negatives_all": True}
    supports_sample_weight: ClassVar[bool] = True

    def __init__(
        self,
        *,
        task: str = "level",
        ngram_range: tuple[int, int] | list[int] | None = None,
        min_df: int = 1,
        sublinear_tf: bool = True,
        C: float | None = None,
        class_weight: str = "balanced",
        decision: str = "auto",
        target_recall: float = 0.8,
        cv_folds: int = 5,
        seed: int = 0,
        tol: float = 1e-3,
    ) -> None:
        super().__init__(task=task)  # type: ignore[arg-type]
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.decision = decision
        self.target_recall = target_recall
        self.cv_folds = cv_folds
        self.seed = seed
        self.tol = tol
        self.featurizer_: CharNgramFeaturizer | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: np.ndarray | None = None

    def _ngram_range(self) -> tuple[int, int]:
        low, high = self.resolved("ngram_range")
        return int(low), int(high)

    # ------------------------------------------------------------------ training
    def _fit_once(
        self, texts: list[str], y: np.ndarray, weight: np.ndarray | None = None
    ) -> tuple[CharNgramFeaturizer, np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        featurizer, matrix = fit_char_featurizer(
            texts, ngram_range=self._ngram_range(), min_df=self.min_df, sublinear_tf=self.sublinear_tf
        )
        classes = np.unique(y)
        balanced = self.class_weight == "balanced"
        clf = LogisticRegression(
            C=self.resolved("C"),
            class_weight="balanced" if balanced and weight is None else None,
            max_iter=5000,
            tol=self.tol,
        )
        if weight is None:
            clf.fit(matrix, y)
        else:
            clf.fit(matrix, y, sample_weight=weight * _balanced_class_weight(y, weight) if balanced else weight)
        coef, intercept = self._full_coef(clf.coef_, clf.intercept_, classes)
        return featurizer, coef, intercept

    def _full_coef(self, coef: np.ndarray, intercept: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients for every class of the task; a class absent from training gets -inf-like scores."""
        assert self.classes_ is not None
        n_classes = len(self.classes_)
        if len(seen) == 2 and coef.shape[0] == 1:
            # binary logistic regression: logit(second) - logit(first) = w.x + b
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            intercept = np.array([0.0, intercept[0]])
        full_coef = np.zeros((n_classes, coef.shape[1]))
        full_intercept = np.full(n_classes, -30.0)  # unseen classes: probability ~ e^-30
        index = np.searchsorted(self.classes_, seen)
        full_coef[index] = coef
        full_intercept[index] = intercept
        return full_coef, full_intercept

    def _fit(self, texts: list[str], labels: np.ndarray, *, show_progress: bool) -> None:
        if len(np.unique(labels)) < 2:
            raise ModelError("Training needs posts of at least two different labels.")
        counts = np.bincount(labels)
        folds = min(self.cv_folds, int(counts[counts > 0].min()))
        steps = (folds if folds >= 2 else 0) + 1
        with progress_bar(steps, f"training char-linear ({self.task})", enabled=show_progress) as advance:
            self._fit_with_progress(texts, labels, folds, advance)

    def _fit_with_progress(self, texts: list[str], labels: np.ndarray, folds: int, advance: Any) -> None:
        from sklearn.model_selection import StratifiedKFold

        weight = self.sample_weight_
        if folds >= 2:
            oof = np.zeros((len(texts), len(self.classes_)))  # type: ignore[arg-type]
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
            for train_idx, test_idx in splitter.split(np.zeros(len(labels)), labels):
                featurizer, coef, intercept = self._fit_once(
                    [texts[i] for i in train_idx], labels[train_idx], None if weight is None else weight[train_idx]
                )
                features = featurizer.transform([texts[i] for i in test_idx])
                oof[test_idx] = features @ coef.T + intercept
                advance()
            finalize_from_oof(self, oof, labels, decision=self.decision, target_recall=self.target_recall)
        else:
            logger.warning(
                "too few posts per label for a %d-fold cross-validation inside the training data: "
                "no calibration, plain decision rule",
                self.cv_folds,
            )
        self.featurizer_, self.coef_, self.intercept_ = self._fit_once(texts, labels, weight)
        advance()

    # ------------------------------------------------------------------ prediction
    def _logits(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        assert self.featurizer_ is not None and self.coef_ is not None and self.intercept_ is not None
        out = np.empty((len(texts), len(self.intercept_)))
        # vectorised featurisation pays off on large chunks; memory stays small (sparse rows)
        step = max(int(batch_size), 4096)
        coef_t = np.ascontiguousarray(self.coef_.T)
        for start in range(0, len(texts), step):
            features = self.featurizer_.transform_csc(texts[start : start + step])
            out[start : start + step] = features @ coef_t + self.intercept_
        return out

    def explain(self, text: str, *, label: int | None = None, top_k: int = 10) -> list[Contribution]:
        """The n-grams that raised the score of ``label`` (default: the predicted one) the most.

        Exact for this linear model: each n-gram's weight is its TF-IDF value times its coefficient
        for ``label`` minus the mean coefficient over all labels (for binary: its contribution to the
        log-odds of high risk). Occurrences of the same n-gram share its weight equally.
        """
        self._check_fitted()
        assert self.featurizer_ is not None and self.coef_ is not None and self.classes_ is not None
        if label is None:
            label = self.predict_one(text)
        index = int(np.searchsorted(self.classes_, label))
        if index >= len(self.classes_) or self.classes_[index] != label:
            raise ModelError(f"Label {label!r} is not a label of this model; expected one of {self.classes_.tolist()}.")
        if self.task == "binary":
            direction = self.coef_[1] - self.coef_[0]
            direction = direction if label == 1 else -direction
        else:
            direction = self.coef_[index] - self.coef_.mean(axis=0)
        row = self.featurizer_.transform([text])
        value = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        spans = self.featurizer_.spans(text)
        occurrences: dict[int, int] = {}
        for feature, _, _ in spans:
            occurrences[feature] = occurrences.get(feature, 0) + 1
        contributions = [
            Contribution(
                ngram=str(self.featurizer_.ngrams[feature]),
                start=start,
                end=end,
                weight=float(value[feature] * direction[feature] / occurrences[feature]),
            )
            for feature, start, end in spans
        ]
        contributions.sort(key=lambda c: -c.weight)
        return [c for c in contributions if c.weight > 0][:top_k]

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, directory: Path) -> dict[str, str]:
        assert self.featurizer_ is not None and self.coef_ is not None and self.intercept_ is not None
        from ..atomic import atomic_write

        with atomic_write(directory / WEIGHTS_FILE, "wb") as handle:
            np.savez_compressed(
                handle,
                ngrams=self.featurizer_.ngrams,
                idf=self.featurizer_.idf,
                coef=self.coef_,
                intercept=self.intercept_,
            )
        return {"weights": WEIGHTS_FILE}

    def _load_weights(self, directory: Path, files: dict[str, str]) -> None:
        name = files.get("weights")
        if name != WEIGHTS_FILE:
            raise ModelError(f"{directory}: expected files.weights = {WEIGHTS_FILE!r} in config.json, got {name!r}.")
        assert self.classes_ is not None
        n_classes = len(self.classes_)

        def check_shapes(shapes: dict[str, tuple[int, ...]]) -> str | None:
            n = shapes["ngrams"][0] if len(shapes["ngrams"]) == 1 else -1
            fits = shapes["idf"] == (n,) and shapes["coef"] == (n_classes, n) and shapes["intercept"] == (n_classes,)
            if n < 0 or not fits:
                return (
                    f"array shapes {shapes} do not match the {n_classes} labels in config.json and a vocabulary of "
                    "n n-grams (ngrams (n,), idf (n,), coef (labels, n), intercept (labels,))"
                )
            return None

        arrays = read_npz(
            directory / name, {"ngrams": "U", "idf": "f", "coef": "f", "intercept": "f"}, check_shapes=check_shapes
        )
        ngrams, idf, coef, intercept = arrays["ngrams"], arrays["idf"], arrays["coef"], arrays["intercept"]
        self.featurizer_ = CharNgramFeaturizer(
            ngrams,
            idf,
            ngram_range=self._ngram_range(),
            sublinear_tf=self.sublinear_tf,
        )
        self.coef_, self.intercept_ = coef, intercept

    def _card_description(self) -> list[str]:
        low, high = self._ngram_range()
        return [
            f"Character {low}-{high}-gram TF-IDF (sublinear tf: {self.sublinear_tf}, min_df {self.min_df}) and a "
            f"logistic regression (C {self.resolved('C'):g}, class weights {self.class_weight!r}), calibrated by a "
            f"{self.cv_folds}-fold cross-validation inside the training data. Weights: `{WEIGHTS_FILE}`.",
        ]

    def _card_privacy(self) -> list[str]:
        return [
            f"- `{WEIGHTS_FILE}`: the vocabulary lists every character n-gram (up to {self._ngram_range()[1]} "
            f"characters) found in at least {self.min_df} training post(s), with its weight: short fragments of the "
            "training posts can be read from it, though not whole posts.",
        ]
