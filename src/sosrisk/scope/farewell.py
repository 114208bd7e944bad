"""The farewell net, second version (2026-12-07): quiet farewells read by their words as well as their meaning.

The first farewell net (a :class:`sosrisk.scope.danger.DangerNet` on the Universal Sentence Encoder embedding
alone) missed about half of the quiet farewells that helpers wrote for the probes (``src/sosrisk/scope/probes/``).
Two things were in the way:

- **the character prefilter** turned away almost half of the missed ones (44 of 92 on the read probes), so no
  net ever read them: it learned SOS-1K's posts and the team's plainly worded plans and attempts, which name
  death, and a farewell that hands on a cat and thanks a friend does not;
- **the embedding** puts a quiet farewell and an everyday goodbye close together. Their words differ more:
  trained on the team's templates, a logistic regression on character 1-2-grams told the read probes' farewells
  from their goodbyes with a ROC AUC of 0.92, on the embedding 0.87 (multilingual e5-small, frozen: 0.88).

So this net has two parts, both logistic regressions trained on the same posts as the first version (the team's
quiet farewells against the gate's ordinary sentences, the model's calm in-scope posts and, with
``FAREWELL_GOODBYE_SHARE`` of the weight, the team's everyday goodbyes):

- **the reach**, on the character n-grams alone (no encoder, thousands of posts/s): a post the prefilter turned
  away goes on to the encoder, the gate and the nets when the reach's probability is above the
  ``reach_quantile`` (99.5%) quantile of its ordinary training sentences. It raises nothing by itself, and the
  risk models' ordinary training posts do not depend on it;
- **the net**, on the embedding and the character n-grams side by side (like the gate): above the ``quantile``
  (99.9%) quantile of its ordinary training sentences it raises the post like a rule (rule
  ``semantic/plain_farewell``: in scope, level 6 or more, high risk), unless the plain-danger net's recovery veto
  withdraws it.

Both bars are quantiles of the probabilities on the ordinary sentences the net learned from (in sample, as the
plain-danger net's); on the held-out parts of the same sources the net fired on 10 of 13,766 sentences, the
rate its bar names. Weights are saved as ``farewell.npz`` (n-grams, idf, coefficients): no pickle. Directories
written with the first version keep its embedding-only net and no reach.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from ..models.char_linear import CharNgramFeaturizer, fit_char_featurizer
from .danger import FAREWELL_FILE, FAREWELL_QUANTILE, valid_quantile
from .encoder import DIMENSION
from .gate import JOINT_KINDS, joint_arrays, joint_shapes

logger = logging.getLogger(__name__)

# where a post the prefilter turned away goes on to the encoder: this quantile of the reach's probabilities on its
# ordinary training sentences (0.99 reached further on the read probes for 5 more everyday goodbyes raised of 360)
REACH_QUANTILE = 0.995
VIEW = "use+char"


class FarewellNet:
    """Quiet farewells against ordinary text: a char-only reach past the prefilter and a USE + char net that
    raises. Learned state ends in ``_``."""

    def __init__(
        self,
        *,
        C: float = 1.0,
        char_weight: float = 1.0,
        quantile: float = FAREWELL_QUANTILE,
        reach_quantile: float = REACH_QUANTILE,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 2,
    ) -> None:
        for name, value in (("C", C), ("char_weight", char_weight)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ModelError(f"The '{name}' of the farewell net must be a number > 0. Got {value!r} instead.")
        for name, value in (("quantile", quantile), ("reach_quantile", reach_quantile)):
            if not valid_quantile(value):
                raise ModelError(f"The '{name}' of the farewell net must be in [0.5, 1). Got {value!r} instead.")
        if reach_quantile > quantile:
            raise ModelError(
                f"The farewell net's reach_quantile ({reach_quantile!r}) must be at most its quantile ({quantile!r}): "
                "the reach lets posts on to the net, it must not be stricter than the net."
            )
        ngram_range = tuple(ngram_range)  # type: ignore[assignment]
        if (
            len(ngram_range) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in ngram_range)
            or not 1 <= ngram_range[0] <= ngram_range[1]
        ):
            raise ModelError(f"The farewell net's 'ngram_range' must be two ints 1 <= a <= b. Got {ngram_range!r}.")
        if isinstance(min_df, bool) or not isinstance(min_df, int) or min_df < 1:
            raise ModelError(f"The farewell net's 'min_df' must be an int >= 1. Got {min_df!r} instead.")
        self.C = float(C)
        self.char_weight = float(char_weight)
        self.quantile = float(quantile)
        self.reach_quantile = float(reach_quantile)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.min_df = int(min_df)
        self.featurizer_: CharNgramFeaturizer | None = None
        self.embedding_coef_: np.ndarray | None = None
        self.char_coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.reach_coef_: np.ndarray | None = None
        self.reach_intercept_ = 0.0
        self.threshold_ = 1.0
        self.reach_threshold_ = 1.0
        self.report_: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        """The settings saved in ``scope.json`` (``view`` tells this net from the first version's)."""
        return {
            "view": VIEW,
            "C": self.C,
            "char_weight": self.char_weight,
            "quantile": self.quantile,
            "reach_quantile": self.reach_quantile,
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
        }

    # ------------------------------------------------------------------ training
    def fit(
        self,
        groups: Mapping[str, tuple[Sequence[str], np.ndarray]],
        *,
        lookalike_share: float,
    ) -> FarewellNet:
        """Train on ``groups``: name -> (texts, their embeddings) for ``"farewells"`` (in scope, at risk),
        ``"ordinary"`` (real ordinary sentences: they set both bars), ``"calm"`` (in-scope posts not at risk) and
        ``"lookalikes"`` (everyday goodbyes). Half the weight goes to the farewells; of the other half the calm
        posts take a quarter (the ordinary sentences all of it when there are none), the look-alikes
        ``lookalike_share`` and the ordinary sentences the rest."""
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        names = ("farewells", "ordinary", "calm", "lookalikes")
        if set(groups) != set(names):
            raise ModelError(f"The farewell net learns from the groups {list(names)}; got {sorted(groups)}.")
        texts = {name: list(groups[name][0]) for name in names}
        embeddings = {name: np.asarray(groups[name][1], dtype=np.float64).reshape(-1, DIMENSION) for name in names}
        for name in names:
            if len(texts[name]) != len(embeddings[name]):
                raise ModelError(
                    f"The farewell net's {name}: {len(texts[name])} texts but {len(embeddings[name])} embeddings."
                )
        if len(texts["farewells"]) < 2 or len(texts["ordinary"]) < 2:
            raise ModelError("The farewell net needs at least two farewells and two ordinary sentences.")
        calm_share = 0.25 if texts["calm"] else 0.0
        ordinary_share = 0.5 - calm_share
        alike_share = float(lookalike_share) if texts["lookalikes"] else 0.0
        if texts["lookalikes"] and not 0 < alike_share < ordinary_share:
            raise ModelError(
                f"The look-alikes' share of the farewell net's weight must be in (0, {ordinary_share}). "
                f"Got {lookalike_share!r} instead."
            )
        shares = {"farewells": 0.5, "ordinary": ordinary_share - alike_share, "calm": calm_share}
        shares["lookalikes"] = alike_share
        kept = [name for name in names if texts[name]]
        all_texts = [t for name in kept for t in texts[name]]
        featurizer, char_matrix = fit_char_featurizer(
            all_texts, ngram_range=self.ngram_range, min_df=min(self.min_df, len(all_texts)), sublinear_tf=True
        )
        char_matrix = char_matrix.tocsr()
        joint = sp.hstack(
            [sp.csr_matrix(np.vstack([embeddings[name] for name in kept])), char_matrix * self.char_weight]
        ).tocsr()
        y = np.concatenate([np.full(len(texts[name]), float(name == "farewells")) for name in kept])
        w = np.concatenate([np.full(len(texts[name]), shares[name] / len(texts[name])) for name in kept]) * len(y)

        def train(x: Any) -> Any:
            return LogisticRegression(C=self.C, max_iter=5000, tol=1e-4).fit(x, y, sample_weight=w)

        net, reach = train(joint), train(char_matrix)
        self.featurizer_ = featurizer
        coef = net.coef_[0].astype(np.float64)
        self.embedding_coef_ = coef[:DIMENSION].copy()
        self.char_coef_ = coef[DIMENSION:] * self.char_weight
        self.intercept_ = float(net.intercept_[0])
        self.reach_coef_ = reach.coef_[0].astype(np.float64)
        self.reach_intercept_ = float(reach.intercept_[0])
        starts = np.cumsum([0] + [len(texts[name]) for name in kept])
        rows = {name: slice(starts[i], starts[i + 1]) for i, name in enumerate(kept)}
        # through the same arithmetic as prediction, so the bar's own sentence never fires by a rounding difference
        net_p = self.probability(all_texts, np.vstack([embeddings[name] for name in kept]))
        reach_p = self.reach_probability(all_texts)
        ordinary = rows["ordinary"]
        # strictly above the threshold fires, so the quantile's own sentence does not
        self.threshold_ = float(np.quantile(net_p[ordinary], self.quantile, method="higher"))
        self.reach_threshold_ = float(np.quantile(reach_p[ordinary], self.reach_quantile, method="higher"))
        self.report_ = {"danger_posts": len(texts["farewells"]), "ordinary_sentences": len(texts["ordinary"])}
        self.report_["calm_in_scope_posts"] = len(texts["calm"])
        self.report_["lookalikes"] = len(texts["lookalikes"])
        self.report_["threshold"] = self.threshold_
        self.report_["reach_threshold"] = self.reach_threshold_
        for name, label in (("farewells", "danger"), ("calm", "calm"), ("lookalikes", "lookalikes")):
            if name in rows:
                self.report_[f"training_{label}_posts_above"] = int(np.sum(net_p[rows[name]] > self.threshold_))
                self.report_[f"training_{label}_posts_reached"] = int(
                    np.sum(reach_p[rows[name]] > self.reach_threshold_)
                )
        logger.info("farewell net: threshold %.4f, reach %.4f", self.threshold_, self.reach_threshold_)
        return self

    # ------------------------------------------------------------------ prediction
    def _chars(self, texts: Sequence[str]) -> Any:
        if self.featurizer_ is None or self.char_coef_ is None or self.reach_coef_ is None:
            raise ModelError("This farewell net is not fitted; train a model with the scope stage or load one.")
        return self.featurizer_.transform_csc(list(texts)).tocsr()

    def reach_probability(self, texts: Sequence[str]) -> np.ndarray:
        """The reach's probability for each text (character n-grams only: no encoder)."""
        chars = self._chars(texts)
        assert self.reach_coef_ is not None
        return _logistic(np.asarray(chars @ self.reach_coef_).ravel(), self.reach_intercept_)

    def reaches(self, texts: Sequence[str]) -> np.ndarray:
        """Where a post the prefilter turned away goes on to the encoder, the gate and the nets."""
        return self.reach_probability(texts) > self.reach_threshold_

    def probability(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """The net's probability of a quiet farewell for each text, given its sentence embedding."""
        chars = self._chars(texts)
        assert self.embedding_coef_ is not None and self.char_coef_ is not None
        embeddings = np.asarray(embeddings, dtype=np.float64).reshape(-1, DIMENSION)
        if len(embeddings) != chars.shape[0]:
            raise ModelError(f"The farewell net got {chars.shape[0]} texts but {len(embeddings)} embeddings.")
        score = embeddings @ self.embedding_coef_ + np.asarray(chars @ self.char_coef_).ravel()
        return _logistic(score, self.intercept_)

    def fires(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """Where the net raises a post: its probability strictly above the threshold (the stage applies the
        plain-danger net's recovery veto)."""
        return self.probability(texts, embeddings) > self.threshold_

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path, file: str = FAREWELL_FILE) -> str:
        """Write ``farewell.npz`` into ``directory``; returns the file name."""
        from ..atomic import atomic_write

        assert self.featurizer_ is not None and self.embedding_coef_ is not None and self.char_coef_ is not None
        assert self.reach_coef_ is not None
        with atomic_write(directory / file, "wb") as handle:
            np.savez_compressed(
                handle,
                **joint_arrays(self.featurizer_, self.embedding_coef_, self.char_coef_, self.intercept_),
                reach_coef=self.reach_coef_,
                reach_intercept=np.array([self.reach_intercept_]),
            )
        return file

    @classmethod
    def load(
        cls, directory: Path, params: Any, threshold: Any, reach_threshold: Any, file: str = FAREWELL_FILE
    ) -> FarewellNet:
        """Read ``farewell.npz`` written by :meth:`save`, with the settings and bars from ``scope.json``."""
        from ..models.base import read_npz
        from ..models.directory import shapes_differ

        known = {"view", "C", "char_weight", "quantile", "reach_quantile", "ngram_range", "min_df"}
        if not isinstance(params, dict) or params.get("view") != VIEW or set(params) - known:
            raise ModelError(f"{directory}: bad farewell net params {params!r} in scope.json. Retrain the model.")
        for name, value in (("threshold", threshold), ("reach threshold", reach_threshold)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ModelError(f"{directory}: the farewell net's {name} must be a number in [0, 1]. Got {value!r}.")
        try:
            values: dict[str, Any] = {k: (tuple(v) if k == "ngram_range" else v) for k, v in params.items()}
            del values["view"]
            net = cls(**values)
        except (ModelError, TypeError) as exc:
            raise ModelError(f"{directory}: {exc} Retrain the model.") from None

        def check(shapes: dict[str, tuple[int, ...]]) -> str | None:
            wanted = joint_shapes(shapes)  # and the reach: a coefficient per n-gram and an intercept
            return shapes_differ(shapes, {**wanted, "reach_coef": wanted["ngrams"], "reach_intercept": (1,)})

        arrays = read_npz(directory / file, {**JOINT_KINDS, "reach_coef": "f", "reach_intercept": "f"}, check)
        net.featurizer_ = CharNgramFeaturizer(
            arrays["ngrams"], arrays["idf"], ngram_range=net.ngram_range, sublinear_tf=True
        )
        net.embedding_coef_ = arrays["embedding_coef"].astype(np.float64)
        net.char_coef_ = arrays["char_coef"].astype(np.float64)
        net.intercept_ = float(arrays["intercept"][0])
        net.reach_coef_ = arrays["reach_coef"].astype(np.float64)
        net.reach_intercept_ = float(arrays["reach_intercept"][0])
        net.threshold_ = float(threshold)
        net.reach_threshold_ = float(reach_threshold)
        return net


def _logistic(score: np.ndarray, intercept: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(score, dtype=np.float64) + intercept)))
