"""The plain-danger net: a safety-net family that learns plainly worded plans, attempts and farewells.

The regex rules (:mod:`sosrisk.scope.rules`) catch the phrasings they were written for and not new ones, and
the risk models learned danger from SOS-1K, whose posts name death outright. This net is a logistic
regression on a post's Universal Sentence Encoder embedding (what the post is about, robust to wording). It
tells the team's plainly worded plans, attempts and farewells (:mod:`sosrisk.scope.hard_positives`) apart
from ordinary text (the gate's out-of-scope sources and the hard negatives) and from the model's in-scope
training posts that are not at risk (wishes, pain, recovery: in scope, but no plan).

Its threshold is the 99.95% quantile of its probabilities on those ordinary training sentences: at most one
ordinary sentence in 2,000 (until 2026-12-06 one in 10,000, the bar of the regex rule families; see
``ScopeSettings.danger_quantile``). Like a rule it can only raise a post (in
scope, level at least :data:`FLOOR`, high risk), and a hit is reported as rule ``semantic/plain_danger``.

Since 2026-12-06 (later) it has a second, lower bar for posts the gate already put in scope: the 99%
quantile of the same ordinary sentences (``INSIDE_QUANTILE``). Inside scope the ordinary text it has to
stay quiet on is the 2-3% the gate lets through, so the lower bar costs few ordinary sentences (7 of 13,766
held out) while it raises plainly worded danger the level model put low; a hit at that bar is reported as
rule ``semantic/plain_danger_in_scope``. Directories written before have no inside bar and behave as they did.
Since rules-22 (2026-12-07) the stage applies the inside bar, like the own-voice bar, only to posts without a
context cue (:func:`sosrisk.scope.rules.has_context_cue`): inside scope it had raised crises told as over.

Since 2026-12-06 (later still) a hit can be withdrawn by the net's **recovery veto**: a second logistic
regression on the same embedding that tells the team's recovery, denial and past-crisis posts
(:mod:`sosrisk.scope.recovery_posts`) from the danger posts (the hard positives and the model's at-risk
training posts). The net does not fire where the veto's probability is above the highest it gives any of
those danger posts, so no danger post the net learned from would be withdrawn. The net raised most posts that
look back on a crisis (曾经在桥上站了很久，最后还是走回了家); training it against those posts
(``danger_recovery``) cost farewells, while the veto leaves its bars where they were. Directories written
before have no veto.

Since 2026-12-06 (a new session) it has a third bar, the **own-voice bar**: the 99% quantile of the same
ordinary sentences (``GUARDED_QUANTILE``; 99.8% at first), for posts the gate left out of scope that carry
none of the rules' cues that a post is not the writer's own present act
(:func:`sosrisk.scope.rules.has_context_cue`: reported text, the past or a rescue, someone else opening the
post, everyday hyperbole, recovery words). Lowering the main bar alone raised plainly worded attempts and
farewells the gate had sent away, but also recovery posts, news of someone else and hyperbole; the cues keep
those out. A hit at that bar is reported as rule ``semantic/plain_danger_own_voice``. Directories written
before have no own-voice bar and behave as they did.

Since 2026-12-07 the stage may hold a second net of the same class, the **farewell net** (rule
``semantic/plain_farewell``; ``ScopeSettings.farewell_net``): trained on the team's quiet farewells
(:mod:`sosrisk.scope.quiet_farewells`) against the same ordinary sentences and calm posts and, with
``FAREWELL_GOODBYE_SHARE`` of the weight, the team's everyday goodbyes (:mod:`sosrisk.scope.goodbyes`), which
never set its bar. It has one bar, ``FAREWELL_QUANTILE`` of its ordinary training sentences, no inside or
own-voice bar and no veto of its own; the main net's recovery veto withdraws its hits. Teaching the main net the
same templates (as hard positives, with the goodbyes as look-alikes) cost the read suites 37-65 plans and
attempts, because its bar rose with them; a second net leaves the main one as it was. Directories written before
have no farewell net. Since 2026-12-07 (later) ``sosrisk train`` writes its second version,
:class:`sosrisk.scope.farewell.FarewellNet` (the embedding and character n-grams, and a reach past the
prefilter); this class still reads and runs the first version in directories written before it.

It runs on the posts the prefilter lets through, whose embeddings the gate computes anyway, so a stream pays
almost nothing for it. Weights are saved as ``danger.npz`` (coefficients, intercept, and the veto's where it
has one): no pickle.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from .encoder import DIMENSION
from .rules import RuleHit

logger = logging.getLogger(__name__)

FAMILY = "semantic"
RULE = "plain_danger"
INSIDE_RULE = "plain_danger_in_scope"
GUARDED_RULE = "plain_danger_own_voice"
FLOOR = 6  # the lowest level that means a plan or worse: the post goes to a reviewer
# the threshold: at most one ordinary training sentence in 2,000 above it (since 2026-12-06; one in 10,000
# before, the bar of the regex rule families, at which the net missed most plainly worded plans)
ORDINARY_QUANTILE = 0.9995
# the bar the scope stage predicts with since 2026-12-06 (later): one ordinary training sentence in 1,000. The
# risk models' ordinary training posts are still chosen at ORDINARY_QUANTILE (ScopeSettings.danger_mining_quantile):
# choosing them at the lower bar too cost 0.6 points of high-risk recall in CV; at prediction only it changed no
# CV number, raised 7 more danger posts of the suites read and 3 calm ones, and no held-out ordinary sentence
PREDICTION_QUANTILE = 0.999
# the own-voice bar (2026-12-06, a new session): one ordinary training sentence in 100 (the inside bar's), for
# posts out of scope without a context cue (sosrisk.scope.rules.has_context_cue). First 0.998 with rules-12's
# cues (12 more danger checks and 1 calm one on the suites read, where the main bar at 0.998 without cues
# raised 12 and 6); then 0.99 with rules-13's (15 more danger checks and 2 calm ones than 0.998; docs/scope.md)
GUARDED_QUANTILE = 0.99
# the lower bar for posts the gate already put in scope: at most one ordinary training sentence in 100 above it
INSIDE_QUANTILE = 0.99
# the recovery veto's regularisation where the scope stage gives the net one (ScopeSettings.danger_veto)
VETO_C = 1.0
DANGER_FILE = "danger.npz"
# the farewell net (2026-12-07): a second net of the same kind, learned from the team's quiet farewells
# (sosrisk.scope.quiet_farewells) against the same ordinary text and the team's everyday goodbyes
# (sosrisk.scope.goodbyes); one bar, a quantile of the ordinary training sentences like the main bar
FAREWELL_RULE = "plain_farewell"
FAREWELL_FILE = "farewell.npz"
FAREWELL_QUANTILE = 0.999
# the everyday goodbyes' share of its weight, taken from the ordinary sentences' quarter
FAREWELL_GOODBYE_SHARE = 0.05
DESCRIPTION = (
    "a plainly worded plan, attempt or farewell, recognised by its meaning (the plain-danger net on the "
    "sentence embedding, learned from sentences the sosrisk team wrote), not by a written pattern"
)
INSIDE_DESCRIPTION = (
    "a plainly worded plan, attempt or farewell, recognised by its meaning at the plain-danger net's lower bar "
    "for posts the scope gate already put in scope that carry no cue of news, the past, someone else, everyday "
    "hyperbole or recovery"
)
GUARDED_DESCRIPTION = (
    "a plainly worded plan, attempt or farewell, recognised by its meaning at the plain-danger net's own-voice bar "
    "(lower than its main bar) for a post written in the writer's own voice: no cue of news, the past, someone "
    "else, everyday hyperbole or recovery"
)
FAREWELL_DESCRIPTION = (
    "a quiet farewell (things handed on, debts settled, thanks or an apology, with an end rather than a destination), "
    "recognised by its meaning (the farewell net on the sentence embedding, learned from sentences the sosrisk "
    "team wrote, against everyday goodbyes), not by a written pattern"
)
# the fine-tuned raiser (sosrisk.scope.raiser, 2026-12-07, a new session): one more rule of the family
RAISER_RULE = "fine_tuned_danger"
RAISER_DESCRIPTION = (
    "a plainly written plan, attempt or quiet farewell, recognised by a small encoder fine-tuned on sentences the "
    "sosrisk team and its helpers wrote, against everyday text and goodbyes; it reads only posts the plain-danger or "
    "farewell net already found uneasy"
)
# the nets' rule names (family FAMILY) and what each says, for the API, the triage page and the model card
RULE_DESCRIPTIONS = {
    RULE: DESCRIPTION,
    INSIDE_RULE: INSIDE_DESCRIPTION,
    GUARDED_RULE: GUARDED_DESCRIPTION,
    FAREWELL_RULE: FAREWELL_DESCRIPTION,
    RAISER_RULE: RAISER_DESCRIPTION,
}


def _logistic(embeddings: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """A logistic regression's probability for each embedding row (the net's and its veto's)."""
    embeddings = np.asarray(embeddings, dtype=np.float64).reshape(-1, DIMENSION)
    return 1.0 / (1.0 + np.exp(-(embeddings @ coef + intercept)))


def valid_quantile(value: Any) -> bool:
    """Whether ``value`` can be the net's threshold quantile: a number in [0.5, 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.5 <= value < 1


def own_voice_quantile_fits(quantile: Any, main: float, inside: float | None) -> bool:
    """Whether ``quantile`` can be the own-voice bar: None, or in [0.5, 1), at most the main bar's ``main`` and at
    least ``inside`` (the net's and the scope settings' one check)."""
    return quantile is None or (
        valid_quantile(quantile) and quantile <= main and (inside is None or quantile >= inside)
    )


def _check_own_voice_quantile(quantile: Any, main: float, inside: float | None) -> None:
    """Refuse an own-voice quantile that does not fit (:func:`own_voice_quantile_fits`)."""
    if not own_voice_quantile_fits(quantile, main, inside):
        raise ModelError(
            "The own-voice quantile of the plain-danger net must be in [0.5, 1), at most its quantile "
            f"({main!r}) and at least its inside quantile ({inside!r}), or None. Got {quantile!r} instead."
        )


class DangerNet:
    """Logistic regression on sentence embeddings: plainly worded danger against everything else."""

    def __init__(
        self,
        C: float = 1.0,
        quantile: float = ORDINARY_QUANTILE,
        inside_quantile: float | None = INSIDE_QUANTILE,
        veto_C: float | None = None,
        guarded_quantile: float | None = None,
    ) -> None:
        if not isinstance(C, int | float) or isinstance(C, bool) or C <= 0:
            raise ModelError(f"The 'C' of the plain-danger net must be a number > 0. Got {C!r} instead.")
        if not valid_quantile(quantile):
            raise ModelError(f"The quantile of the plain-danger net must be in [0.5, 1). Got {quantile!r} instead.")
        if inside_quantile is not None and (not valid_quantile(inside_quantile) or inside_quantile > quantile):
            raise ModelError(
                "The inside quantile of the plain-danger net must be in [0.5, 1) and at most its quantile "
                f"({quantile!r}), or None. Got {inside_quantile!r} instead."
            )
        _check_own_voice_quantile(guarded_quantile, quantile, inside_quantile)
        if veto_C is not None and (not isinstance(veto_C, int | float) or isinstance(veto_C, bool) or veto_C <= 0):
            raise ModelError(f"The 'veto_C' of the plain-danger net must be a number > 0 or None. Got {veto_C!r}.")
        self.C = float(C)
        self.veto_C = None if veto_C is None else float(veto_C)
        self.quantile = float(quantile)
        self.inside_quantile = None if inside_quantile is None else float(inside_quantile)
        self.guarded_quantile = None if guarded_quantile is None else float(guarded_quantile)
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.threshold_ = 1.0
        # the lower bar for posts the gate put in scope (None: no lower bar, as in directories written before)
        self.inside_threshold_: float | None = None
        # the own-voice bar for posts out of scope without a context cue (None: none, as in directories before)
        self.guarded_threshold_: float | None = None
        # the recovery veto (None: none): its coefficients, intercept, and the probability above which it withdraws
        self.veto_coef_: np.ndarray | None = None
        self.veto_intercept_ = 0.0
        self.veto_threshold_: float | None = None
        self.report_: dict[str, Any] = {}
        # the training groups' probabilities, kept from fit() for requantile(); never saved, None once loaded
        self._fit_probability: dict[str, np.ndarray] | None = None

    def params(self) -> dict[str, Any]:
        """The settings saved in ``scope.json``."""
        params: dict[str, Any] = {"C": self.C, "quantile": self.quantile, "inside_quantile": self.inside_quantile}
        params["veto_C"] = self.veto_C
        if self.guarded_quantile is not None:  # absent, not null, so directories before it read the same
            params["guarded_quantile"] = self.guarded_quantile
        return params

    def fit(
        self,
        danger: np.ndarray,
        ordinary: np.ndarray,
        calm: np.ndarray,
        recovery: np.ndarray | None = None,
        *,
        lookalikes: np.ndarray | None = None,
        lookalike_share: float = 0.0,
        veto_recovery: np.ndarray | None = None,
        veto_danger: np.ndarray | None = None,
    ) -> DangerNet:
        """Train on embeddings of danger posts against ordinary sentences and calm in-scope posts.

        ``calm`` are the model's in-scope training posts that are not at risk; ``recovery`` the team's
        recovery, denial and past-crisis posts (:mod:`sosrisk.scope.recovery_posts`), in scope and not at risk
        either. Half the weight goes to the danger posts, a quarter to the ordinary sentences and a quarter is
        shared equally by the calm groups that are not empty (all of the other half to the ordinary
        sentences when both are). The threshold is the ``quantile`` quantile of the ordinary sentences'
        probabilities.

        ``lookalikes`` (the team's everyday goodbyes, :mod:`sosrisk.scope.goodbyes`) are out of scope too: they take
        ``lookalike_share`` of the weight from the ordinary sentences' quarter, and never set a bar (the bars
        stay quantiles of the ordinary sentences, real text).

        With ``veto_C`` set, ``veto_recovery`` (the team's recovery posts) trains the recovery veto against
        ``danger`` and ``veto_danger`` (the model's at-risk training posts), half the weight each side; its
        threshold is the highest veto probability of those danger posts (see :meth:`firings`).
        """
        from sklearn.linear_model import LogisticRegression

        groups = [
            np.asarray(g, dtype=np.float64).reshape(-1, DIMENSION)
            for g in (danger, ordinary, calm, np.zeros((0, DIMENSION)) if recovery is None else recovery)
        ]
        danger, ordinary, calm, recovery = groups
        if len(danger) < 2 or len(ordinary) < 2:
            raise ModelError("The plain-danger net needs at least two danger posts and two ordinary sentences.")
        quiet = [g for g in (calm, recovery) if len(g)]
        shares = [0.5, 0.25 if quiet else 0.5] + [0.25 / len(quiet) if len(g) else 0.0 for g in (calm, recovery)]
        alike = np.zeros((0, DIMENSION)) if lookalikes is None else np.asarray(lookalikes, dtype=np.float64)
        alike = alike.reshape(-1, DIMENSION)
        if len(alike):
            if not 0 < lookalike_share < shares[1]:
                raise ModelError(
                    f"The look-alikes' share of the plain-danger net's weight must be in (0, {shares[1]}). "
                    f"Got {lookalike_share!r} instead."
                )
            # the look-alikes take their share from the ordinary sentences' (both are out of scope)
            shares[1] -= lookalike_share
            groups.append(alike)
            shares.append(lookalike_share)
        weights = [np.full(len(g), share / len(g)) for g, share in zip(groups, shares, strict=True) if len(g)]
        x = np.vstack(groups)
        y = np.r_[np.ones(len(danger)), np.zeros(len(ordinary) + len(calm) + len(recovery) + len(alike))]
        model = LogisticRegression(C=self.C, max_iter=3000, tol=1e-4)
        model.fit(x, y, sample_weight=np.concatenate(weights) * len(y))
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        self._fit_probability = {
            name: self.probability(g) if len(g) else np.zeros(0)
            for name, g in (
                ("ordinary", ordinary),
                ("danger", danger),
                ("calm", calm),
                ("recovery", recovery),
                ("lookalikes", alike),
            )
        }
        ordinary_probability = self._fit_probability["ordinary"]
        # strictly above the threshold fires, so the quantile's own sentence does not
        self.inside_threshold_ = (
            None
            if self.inside_quantile is None
            else float(np.quantile(ordinary_probability, self.inside_quantile, method="higher"))
        )
        veto = None if self.veto_C is None else self._fit_veto(danger, veto_recovery, veto_danger, ordinary, calm)
        self.report_ = {
            "danger_posts": len(danger),
            "ordinary_sentences": len(ordinary),
            "calm_in_scope_posts": len(calm),
            "inside_threshold": self.inside_threshold_,
            "recovery_posts": len(recovery),
        }
        self.set_own_voice_bar(self.guarded_quantile)
        self._set_bar(self.quantile)
        if veto is not None:
            self.report_["veto"] = veto
        logger.info("plain-danger net: threshold %.4f", self.threshold_)
        return self

    def requantile(self, quantile: float) -> None:
        """Move the main bar to another ``quantile`` of the ordinary training sentences' probabilities.

        Only right after :meth:`fit` (a loaded net does not keep those probabilities); the weights, the inside
        bar and the veto stay as they are. Used when the bar that chose the risk models' ordinary training
        posts differs from the bar used at prediction (``ScopeSettings.danger_mining_quantile``).
        """
        if self._fit_probability is None:
            raise ModelError("The plain-danger net's bar can only be moved right after it was trained.")
        lowest = max((q for q in (self.inside_quantile, self.guarded_quantile) if q is not None), default=0.5)
        if not valid_quantile(quantile) or quantile < lowest:
            raise ModelError(
                f"The quantile of the plain-danger net must be in [0.5, 1) and at least its inside and own-voice "
                f"quantiles ({self.inside_quantile!r}, {self.guarded_quantile!r}). Got {quantile!r} instead."
            )
        self._set_bar(quantile)

    def set_own_voice_bar(self, quantile: float | None) -> None:
        """Give the net its own-voice bar at ``quantile`` of the ordinary training sentences' probabilities, or
        none (``None``). Only right after :meth:`fit`, like :meth:`requantile`: training sets it after the stage
        has chosen the risk models' ordinary posts, so that choice is the same with and without the bar."""
        if self._fit_probability is None:
            raise ModelError("The plain-danger net's own-voice bar can only be set right after it was trained.")
        _check_own_voice_quantile(quantile, self.quantile, self.inside_quantile)
        self.guarded_quantile = None if quantile is None else float(quantile)
        self.guarded_threshold_ = (
            None
            if quantile is None
            else float(np.quantile(self._fit_probability["ordinary"], quantile, method="higher"))
        )
        self.report_.pop("own_voice_threshold", None)
        if self.guarded_threshold_ is not None:
            self.report_["own_voice_threshold"] = self.guarded_threshold_

    def _set_bar(self, quantile: float) -> None:
        """The main bar at ``quantile`` of the ordinary training probabilities, and the report's counts of the
        training posts above it (so they always describe the bar the net predicts with)."""
        assert self._fit_probability is not None
        self.quantile = float(quantile)
        self.threshold_ = float(np.quantile(self._fit_probability["ordinary"], self.quantile, method="higher"))
        self.report_["threshold"] = self.threshold_
        assert self._fit_probability is not None
        groups = ("danger", "calm", "recovery") + (("lookalikes",) if len(self._fit_probability["lookalikes"]) else ())
        for name in groups:
            self.report_[f"training_{name}_posts_above"] = int(np.sum(self._fit_probability[name] > self.threshold_))

    def _fit_veto(
        self,
        danger: np.ndarray,
        recovery: np.ndarray | None,
        more_danger: np.ndarray | None,
        ordinary: np.ndarray,
        calm: np.ndarray,
    ) -> dict[str, Any]:
        """Fit the recovery veto and set its threshold; returns its report."""
        from sklearn.linear_model import LogisticRegression

        if recovery is None or len(recovery) < 2:
            raise ModelError("The plain-danger net's recovery veto needs at least two recovery posts (or veto_C=None).")
        recovery = np.asarray(recovery, dtype=np.float64).reshape(-1, DIMENSION)
        sides = [danger] + ([] if more_danger is None else [np.asarray(more_danger, dtype=np.float64)])
        at_risk = np.vstack([side.reshape(-1, DIMENSION) for side in sides])
        x = np.vstack([recovery, at_risk])
        y = np.r_[np.ones(len(recovery)), np.zeros(len(at_risk))]
        weights = np.r_[np.full(len(recovery), 0.5 / len(recovery)), np.full(len(at_risk), 0.5 / len(at_risk))]
        model = LogisticRegression(C=self.veto_C, max_iter=3000, tol=1e-4)
        model.fit(x, y, sample_weight=weights * len(y))
        self.veto_coef_ = model.coef_[0].astype(np.float64)
        self.veto_intercept_ = float(model.intercept_[0])
        # withdraw only above every danger post it learned from: none of them would be withdrawn
        self.veto_threshold_ = float(np.max(self.veto_probability(at_risk)))
        return {
            "threshold": self.veto_threshold_,
            "recovery_posts": len(recovery),
            "danger_posts": len(at_risk),
            "training_recovery_posts_above": int(np.sum(self.vetoed(recovery))),
            "training_calm_posts_above": int(np.sum(self.vetoed(calm))) if len(calm) else 0,
            "ordinary_sentences_above": int(np.sum(self.vetoed(ordinary))),
        }

    def veto_probability(self, embeddings: np.ndarray) -> np.ndarray:
        """The recovery veto's probability that each embedding row looks back on a crisis rather than at one."""
        if self.veto_coef_ is None:
            raise ModelError("This plain-danger net has no recovery veto.")
        return _logistic(embeddings, self.veto_coef_, self.veto_intercept_)

    def vetoed(self, embeddings: np.ndarray) -> np.ndarray:
        """Where the recovery veto withdraws a hit (all false for a net without one)."""
        if self.veto_threshold_ is None:
            return np.zeros(len(np.asarray(embeddings).reshape(-1, DIMENSION)), dtype=bool)
        return self.veto_probability(embeddings) > self.veto_threshold_

    def probability(self, embeddings: np.ndarray) -> np.ndarray:
        """The net's probability of plainly worded danger for each embedding row."""
        if self.coef_ is None:
            raise ModelError("This plain-danger net is not fitted; train a model with the scope stage or load one.")
        return _logistic(embeddings, self.coef_, self.intercept_)

    def fires(self, embeddings: np.ndarray) -> np.ndarray:
        """Where the net raises a post anywhere: its probability strictly above the threshold, not vetoed."""
        return self.firings(embeddings)[0]

    def firings(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three bars from one pass: where the net fires anywhere (above the threshold), where it fires on a
        post the gate already put in scope (above the lower inside bar) and where it fires at the own-voice bar
        (all false for a bar the net does not have). Where the recovery veto withdraws a post, none fires."""
        probability = self.probability(embeddings)
        kept = ~self.vetoed(embeddings)

        def above(bar: float | None) -> np.ndarray:
            return np.zeros(len(probability), dtype=bool) if bar is None else (probability > bar) & kept

        return (probability > self.threshold_) & kept, above(self.inside_threshold_), above(self.guarded_threshold_)

    def fires_own_voice(self, embeddings: np.ndarray) -> np.ndarray:
        """Where it fires at the own-voice bar (see :meth:`firings`). The scope stage applies it only to posts
        out of scope with no context cue (:func:`sosrisk.scope.rules.has_context_cue`)."""
        return self.firings(embeddings)[2]

    def fires_inside(self, embeddings: np.ndarray) -> np.ndarray:
        """Where it raises a post the gate already put in scope (see :meth:`firings`)."""
        return self.firings(embeddings)[1]

    @staticmethod
    def farewell_hit(text: str) -> RuleHit:
        """The rule hit a firing of the farewell net records (the whole post)."""
        return RuleHit(FAMILY, FAREWELL_RULE, FLOOR, 0, len(text))

    @staticmethod
    def hit(text: str, *, inside: bool = False, own_voice: bool = False) -> RuleHit:
        """The rule hit a firing records (the whole post: the net reads all of it); ``inside``: at the lower bar
        inside scope; ``own_voice``: at the own-voice bar."""
        return RuleHit(FAMILY, INSIDE_RULE if inside else GUARDED_RULE if own_voice else RULE, FLOOR, 0, len(text))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path, file: str = DANGER_FILE) -> str:
        """Write ``danger.npz`` (or ``file``: the farewell net's) into ``directory``; returns the file name."""
        from ..atomic import atomic_write

        assert self.coef_ is not None
        intercept = np.array([self.intercept_])
        with atomic_write(directory / file, "wb") as handle:
            if self.veto_coef_ is None:
                np.savez_compressed(handle, coef=self.coef_, intercept=intercept)
            else:
                veto_intercept = np.array([self.veto_intercept_])
                np.savez_compressed(
                    handle,
                    coef=self.coef_,
                    intercept=intercept,
                    veto_coef=self.veto_coef_,
                    veto_intercept=veto_intercept,
                )
        return file

    @classmethod
    def load(
        cls,
        directory: Path,
        params: Any,
        threshold: Any,
        inside_threshold: Any = None,
        veto_threshold: Any = None,
        guarded_threshold: Any = None,
        file: str = DANGER_FILE,
    ) -> DangerNet:
        """Read ``danger.npz`` (or ``file``: the farewell net's) with the settings and thresholds from ``scope.json``
        (a directory written before the inside bar has neither ``inside_quantile`` nor ``inside_threshold``: it gets
        no inside bar; one written before the recovery veto has neither ``veto_C`` nor ``veto_threshold``: it gets
        no veto; one written before the own-voice bar has neither ``guarded_quantile`` nor ``guarded_threshold``)."""
        from ..models.base import read_npz
        from ..models.directory import shapes_differ

        known = {"C", "quantile", "inside_quantile", "veto_C", "guarded_quantile"}
        if not isinstance(params, dict) or set(params) - known:
            raise ModelError(f"{directory}: bad plain-danger net params {params!r} in scope.json. Retrain the model.")
        for name, value in (
            ("threshold", threshold),
            ("inside threshold", inside_threshold),
            ("veto threshold", veto_threshold),
            ("own-voice threshold", guarded_threshold),
        ):
            if value is None and name != "threshold":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ModelError(f"{directory}: the plain-danger {name} must be a number in [0, 1]. Got {value!r}.")
        try:
            net = cls(**{"inside_quantile": None, "veto_C": None, "guarded_quantile": None, **params})
        except ModelError as exc:
            raise ModelError(f"{directory}: {exc} Retrain the model.") from None
        if (net.inside_quantile is None) != (inside_threshold is None):
            raise ModelError(
                f"{directory}: the plain-danger net has an inside quantile without an inside threshold, or the "
                "reverse, in scope.json. Retrain the model."
            )
        if (net.guarded_quantile is None) != (guarded_threshold is None):
            raise ModelError(
                f"{directory}: the plain-danger net has an own-voice quantile without an own-voice threshold, or "
                "the reverse, in scope.json. Retrain the model."
            )
        if (net.veto_C is None) != (veto_threshold is None):
            raise ModelError(
                f"{directory}: the plain-danger net has a veto_C without a veto threshold, or the reverse, in "
                "scope.json. Retrain the model."
            )
        vetoed = net.veto_C is not None

        def check(shapes: dict[str, tuple[int, ...]]) -> str | None:
            wanted = {"coef": (DIMENSION,), "intercept": (1,)}
            if vetoed:
                wanted |= {"veto_coef": (DIMENSION,), "veto_intercept": (1,)}
            return shapes_differ(shapes, wanted)

        names = ["coef", "intercept", *(["veto_coef", "veto_intercept"] if vetoed else [])]
        arrays = read_npz(directory / file, dict.fromkeys(names, "f"), check)
        net.coef_ = arrays["coef"].astype(np.float64)
        net.intercept_ = float(arrays["intercept"][0])
        net.threshold_ = float(threshold)
        net.inside_threshold_ = None if inside_threshold is None else float(inside_threshold)
        net.guarded_threshold_ = None if guarded_threshold is None else float(guarded_threshold)
        if vetoed:
            net.veto_coef_ = arrays["veto_coef"].astype(np.float64)
            net.veto_intercept_ = float(arrays["veto_intercept"][0])
            net.veto_threshold_ = float(veto_threshold)
        return net
