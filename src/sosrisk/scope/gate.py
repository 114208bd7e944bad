"""The scope gate: is a post about the writer's own suicidal thoughts, plans, self-harm or crisis at all?

A logistic regression on two views of a post: its Universal Sentence Encoder embedding (what it is about,
robust to wording) and its character 1-2-gram TF-IDF (the words a tree-hole post uses, first-person
markers among them). In scope: the posts a model is trained on (SOS-1K: every post was written in a suicide
"tree hole"). Out of scope: real ordinary text from outside the project and the team's hard negatives
(:mod:`sosrisk.scope.hard_negatives`), every source weighted equally so that no single register (reviews,
say) defines "ordinary".

The threshold is chosen for recall, not accuracy: a cross-validation over the in-scope posts (negatives
always in training) gives each of them an out-of-fold probability, and the threshold keeps ``retention``
(default 99%) of the at-risk ones (level 6+ or labelled high risk). Why these choices and what else was
tried is measured in ``benchmarks/bench_scope.py``.

Weights are saved as ``gate.npz`` (n-grams, idf, coefficients): no pickle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from ..models.char_linear import CharNgramFeaturizer, fit_char_featurizer
from .encoder import DIMENSION, SentenceEncoder, cached_embeddings

logger = logging.getLogger(__name__)

GATE_FILE = "gate.npz"
# what a logistic regression on [sentence embedding, char n-gram TF-IDF] saves (the gate, the farewell net), and the
# kinds of dtype each array may have
JOINT_KINDS = {"ngrams": "U", "idf": "f", "embedding_coef": "f", "char_coef": "f", "intercept": "f"}


def joint_arrays(
    featurizer: CharNgramFeaturizer, embedding_coef: np.ndarray, char_coef: np.ndarray, intercept: float
) -> dict[str, Any]:
    """The arrays :data:`JOINT_KINDS` names, ready for ``np.savez_compressed``."""
    return {
        "ngrams": featurizer.ngrams,
        "idf": featurizer.idf,
        "embedding_coef": embedding_coef,
        "char_coef": char_coef,
        "intercept": np.array([intercept]),
    }


def joint_shapes(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The shapes the :data:`JOINT_KINDS` arrays must have, given the shapes read (the n-gram count from ``ngrams``)."""
    n = shapes["ngrams"][0] if len(shapes["ngrams"]) == 1 else -1
    return {"ngrams": (n,), "idf": (n,), "embedding_coef": (DIMENSION,), "char_coef": (n,), "intercept": (1,)}


class ScopeGate:
    """Logistic regression on [sentence embedding, weighted char n-gram TF-IDF]; learned state ends in ``_``.

    Parameters
    ----------
    C:
        Inverse regularisation strength.
    char_weight:
        Scale of the char n-gram block against the (unit-norm) embedding.
    embedding_weight:
        Scale of the embedding block (0 leaves the gate to the char n-grams alone; for comparisons).
    ngram_range, min_df:
        Of the char n-grams.
    retention:
        Share of the at-risk in-scope posts the threshold keeps, out of fold.
    cv_folds, seed:
        The cross-validation over in-scope posts that sets the threshold.
    """

    def __init__(
        self,
        *,
        C: float = 10.0,
        char_weight: float = 0.7,
        embedding_weight: float = 1.0,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
        retention: float = 0.99,
        cv_folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.char_weight = char_weight
        self.embedding_weight = embedding_weight
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.min_df = min_df
        self.retention = retention
        self.cv_folds = cv_folds
        self.seed = seed
        self.featurizer_: CharNgramFeaturizer | None = None
        self.embedding_coef_: np.ndarray | None = None
        self.char_coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.threshold_: float = 0.5
        self.report_: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        """The settings, JSON-ready."""
        return {
            "C": self.C,
            "char_weight": self.char_weight,
            "embedding_weight": self.embedding_weight,
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "retention": self.retention,
            "cv_folds": self.cv_folds,
            "seed": self.seed,
        }

    def _check_params(self) -> None:
        if not self.C > 0:
            raise ModelError(f"The 'C' parameter of the scope gate must be > 0. Got {self.C!r} instead.")
        for name in ("char_weight", "embedding_weight"):
            if not getattr(self, name) >= 0:
                raise ModelError(f"The '{name}' of the scope gate must be >= 0. Got {getattr(self, name)!r} instead.")
        if not 0 < self.retention <= 1:
            raise ModelError(
                f"The 'retention' of the scope gate must be within (0, 1]. Got {self.retention!r} instead."
            )
        if not isinstance(self.cv_folds, int) or self.cv_folds < 2:
            raise ModelError(f"The 'cv_folds' of the scope gate must be an int >= 2. Got {self.cv_folds!r} instead.")

    @property
    def char_only(self) -> bool:
        """A gate on char n-grams alone (``embedding_weight`` 0): it never runs the sentence encoder."""
        return self.embedding_weight == 0

    # ------------------------------------------------------------------ training
    def fit(
        self,
        in_scope: Sequence[str],
        at_risk: np.ndarray,
        negatives: Mapping[str, Sequence[str]],
        *,
        extra_positives: Sequence[str] = (),
        show_progress: bool = False,
    ) -> ScopeGate:
        """Train on ``in_scope`` posts against ``negatives`` (source name -> texts); set the threshold.

        ``at_risk`` marks the in-scope posts whose retention the threshold guarantees out of fold.
        ``extra_positives`` are more in-scope examples (sentences the team wrote): always in the training data,
        never held out, never part of the threshold's basis.
        """
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        self._check_params()
        positives = list(in_scope)
        at_risk = np.asarray(at_risk, dtype=bool)
        if len(at_risk) != len(positives):
            raise ModelError(f"Expected one at-risk flag per in-scope post; got {len(at_risk)} for {len(positives)}.")
        sources = {name: list(texts) for name, texts in negatives.items() if len(texts)}
        if len(positives) < 2 or not sources:
            raise ModelError("The scope gate needs in-scope posts and at least one non-empty out-of-scope source.")
        negative_texts = [t for texts in sources.values() for t in texts]
        extra = list(extra_positives)
        texts = positives + extra + negative_texts
        featurizer, char_matrix = fit_char_featurizer(
            texts, ngram_range=self.ngram_range, min_df=min(self.min_df, len(texts)), sublinear_tf=True
        )
        if self.char_only:  # nothing for the sentence encoder to do
            embeddings = np.zeros((len(texts), DIMENSION))
        else:
            embeddings = np.vstack(
                [
                    SentenceEncoder.shared().encode(positives),
                    cached_embeddings(extra) if extra else np.zeros((0, DIMENSION), dtype=np.float32),
                    cached_embeddings(
                        negative_texts, show_progress=show_progress, description="encoding ordinary text"
                    ),
                ]
            )
        features = sp.hstack(
            [sp.csr_matrix(embeddings.astype(np.float64) * self.embedding_weight), char_matrix * self.char_weight]
        ).tocsr()
        n_pos, n_in = len(positives), len(positives) + len(extra)
        y = np.r_[np.ones(n_in), np.zeros(len(negative_texts))]
        # half the weight on the in-scope posts, half on the out-of-scope sources, shared equally between sources
        weights = [np.full(n_in, 0.5 / n_in)]
        weights += [np.full(len(t), 0.5 / (len(sources) * len(t))) for t in sources.values()]
        w = np.concatenate(weights) * len(y)

        def train(rows: np.ndarray) -> Any:
            model = LogisticRegression(C=self.C, max_iter=3000, tol=1e-4)
            return model.fit(features[rows], y[rows], sample_weight=w[rows])

        # out-of-fold probabilities of the in-scope posts (negatives and extra positives always in training) set
        # the threshold; retention 1 keeps everything (threshold 0) and needs no cross-validation
        all_rows = np.arange(len(y))
        oof = np.ones(n_pos)
        self.threshold_ = 0.0
        if self.retention < 1:
            folds = min(self.cv_folds, n_pos)
            order = np.random.RandomState(self.seed).permutation(n_pos)
            for k in range(folds):
                held = order[k::folds]
                keep = np.ones(len(y), dtype=bool)
                keep[held] = False
                oof[held] = train(all_rows[keep]).predict_proba(features[held])[:, 1]
            basis = oof[at_risk] if at_risk.sum() >= 10 else oof
            self.threshold_ = float(np.quantile(basis, 1 - self.retention, method="lower"))
        model = train(all_rows)
        coef = model.coef_[0]
        self.featurizer_ = featurizer
        self.embedding_coef_ = (coef[:DIMENSION] * self.embedding_weight).astype(np.float64)
        self.char_coef_ = (coef[DIMENSION:] * self.char_weight).astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        kept = oof >= self.threshold_
        self.report_ = {
            "in_scope_posts": n_pos,
            **({"extra_in_scope_posts": len(extra)} if extra else {}),
            "out_of_scope_posts": {name: len(t) for name, t in sources.items()},
            "threshold": self.threshold_,
            "oof_kept_in_scope": round(float(kept.mean()), 4),
            "oof_kept_at_risk": round(float(kept[at_risk].mean()), 4) if at_risk.any() else None,
            "threshold_basis": "at-risk posts" if at_risk.sum() >= 10 else "all in-scope posts (fewer than 10 at risk)",
        }
        logger.info(
            "scope gate: threshold %.4f keeps %.1f%% of in-scope posts out of fold",
            self.threshold_,
            100 * kept.mean(),
        )
        return self

    # ------------------------------------------------------------------ prediction
    def probability(self, texts: Sequence[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """The gate's probability that each text is in scope."""
        if self.featurizer_ is None or self.embedding_coef_ is None or self.char_coef_ is None:
            raise ModelError("This scope gate is not fitted; train a model with the scope stage or load one.")
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        score = self.featurizer_.transform_csc(texts).tocsr() @ self.char_coef_
        if not self.char_only:
            if embeddings is None:
                embeddings = SentenceEncoder.shared().encode(texts)
            score += embeddings.astype(np.float64) @ self.embedding_coef_
        score += self.intercept_
        return 1.0 / (1.0 + np.exp(-score))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path, name: str = GATE_FILE) -> str:
        """Write ``name`` (``gate.npz``) into ``directory``; returns the file name."""
        from ..atomic import atomic_write

        assert self.featurizer_ is not None and self.embedding_coef_ is not None and self.char_coef_ is not None
        with atomic_write(directory / name, "wb") as handle:
            np.savez_compressed(
                handle, **joint_arrays(self.featurizer_, self.embedding_coef_, self.char_coef_, self.intercept_)
            )
        return name

    @classmethod
    def load(cls, directory: Path, params: Mapping[str, Any], threshold: float, name: str = GATE_FILE) -> ScopeGate:
        """Read ``name`` written by :meth:`save`, with the settings and threshold from ``scope.json``."""
        allowed = {"C", "char_weight", "embedding_weight", "ngram_range", "min_df", "retention", "cv_folds", "seed"}
        unknown = set(params) - allowed
        if unknown:
            raise ModelError(f"{directory}: unknown scope gate params {sorted(unknown)} in scope.json.")
        try:
            values: dict[str, Any] = {k: (tuple(v) if k == "ngram_range" else v) for k, v in params.items()}
            gate = cls(**values)
            gate._check_params()
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{directory}: bad scope gate params in scope.json ({exc}). Retrain the model.") from None
        from ..models.base import read_npz
        from ..models.directory import shapes_differ

        arrays = read_npz(directory / name, JOINT_KINDS, lambda shapes: shapes_differ(shapes, joint_shapes(shapes)))
        ngrams, idf = arrays["ngrams"], arrays["idf"]
        embedding_coef, char_coef, intercept = arrays["embedding_coef"], arrays["char_coef"], arrays["intercept"]
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ModelError(f"{directory}: the scope threshold must be a number in [0, 1]. Got {threshold!r}.")
        gate.featurizer_ = CharNgramFeaturizer(ngrams, idf, ngram_range=gate.ngram_range, sublinear_tf=True)
        gate.embedding_coef_ = embedding_coef.astype(np.float64)
        gate.char_coef_ = char_coef.astype(np.float64)
        gate.intercept_ = float(intercept[0])
        gate.threshold_ = float(threshold)
        return gate
