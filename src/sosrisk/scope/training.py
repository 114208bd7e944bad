"""Training the scope stage, and the out-of-scope posts the risk models also learn from.

:func:`fit_scope` trains the gate of :mod:`sosrisk.scope.gate` on a model's in-scope training posts against
the training parts of the ordinary-text sources (:mod:`sosrisk.scope.corpora`; never their held-out parts,
never the People's Daily corpus) and the team's hard negatives. :func:`risk_negatives` gives the ordinary
posts that the risk models themselves see as level 0 / low risk: the gate keeps 99% of the at-risk posts in
scope, so some ordinary posts pass it, and a model that has seen ordinary text does not read "烦死了" as an
attempt. Both are deterministic for given settings.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from .danger import (
    FAREWELL_GOODBYE_SHARE,
    FAREWELL_QUANTILE,
    GUARDED_QUANTILE,
    INSIDE_QUANTILE,
    ORDINARY_QUANTILE,
    PREDICTION_QUANTILE,
    VETO_C,
    DangerNet,
    own_voice_quantile_fits,
    valid_quantile,
)
from .farewell import REACH_QUANTILE, FarewellNet
from .gate import ScopeGate
from .goodbyes import VERSION as GOODBYES_VERSION
from .goodbyes import goodbyes
from .hard_negatives import VERSION as HARD_NEGATIVES_VERSION
from .hard_negatives import hard_negatives
from .hard_positives import VERSION as HARD_POSITIVES_VERSION
from .hard_positives import hard_positives
from .quiet_farewells import VERSION as QUIET_FAREWELLS_VERSION
from .quiet_farewells import quiet_farewells
from .raiser import BAND_QUANTILE as RAISER_BAND_QUANTILE
from .raiser import ORDINARY_POSTS as RAISER_ORDINARY
from .raiser import QUANTILE as RAISER_QUANTILE
from .recovery_posts import VERSION as RECOVERY_VERSION
from .recovery_posts import recovery_posts
from .stage import ScopeStage
from .voice_pairs import VERSION as VOICE_PAIRS_VERSION
from .voice_pairs import voice_pairs

logger = logging.getLogger(__name__)

DEFAULT_SOURCES: tuple[str, ...] = ("reviews", "tatoeba", "news-headlines", "fun-content", "taobao-dialogue")
HARD_NEGATIVES = "hard-negatives"
RISK_NEGATIVE_ORIGINS: tuple[str, ...] = ("sample", "gate")
MINED = "mined"
# settings a model kind may choose (RiskModel.scope_defaults) where ScopeSettings leaves them None, and the
# value for every other kind
KIND_CHOSEN: dict[str, Any] = {
    "risk_negatives_from": "sample",
    "mine_gate_negatives": False,
    "risk_negatives_all": False,
    "raiser": False,
}


@dataclass(frozen=True)
class ScopeSettings:
    """How the scope stage and the extra out-of-scope training posts are made (chosen in benchmarks/bench_scope.py).

    Parameters
    ----------
    enabled:
        ``False`` trains a model without a scope stage and without extra posts (research on SOS-1K alone).
    sources:
        Ordinary-text sources whose training parts are out-of-scope examples for the gate.
    per_source:
        At most this many sentences of each source (a fixed, text-hashed sample).
    hard_negatives:
        Also train the gate on the team's template sentences (:mod:`sosrisk.scope.hard_negatives`).
    risk_negatives:
        Ordinary posts added to the risk model's training data as level 0 / low risk.
    risk_negatives_from:
        Where those posts come from. ``"sample"``: an equal share of the gate's out-of-scope posts from every
        source. ``"gate"``: only posts that this model's own scope stage lets through, drawn from the whole
        training part of every source (:func:`mined_risk_negatives`); the risk model only ever sees posts the
        stage lets through, so these are the ordinary posts it must learn to keep low. ``None`` (the default):
        the model kind's measured choice (``RiskModel.scope_defaults``; ``"gate"`` for ``char-linear``), else
        ``"sample"``.
    risk_negatives_draw:
        Which fixed, text-hashed sample of those posts the risk models learn: ``0`` (the default) is the draw
        every model has learned since the ordinary posts were added; another number draws a different sample
        of the same posts. Only for measuring how much the draw alone moves a model
        (``benchmarks/draw_noise.py``).
    risk_negatives_all:
        Learn every post the draw would be taken from (with ``risk_negatives_from="gate"``: every ordinary
        training post the stage lets through, about 2,900), each weighted so that together they weigh as much
        as ``risk_negatives`` posts, instead of a draw of ``risk_negatives`` of them: the same lesson without
        the noise of which posts were drawn. Needs ``risk_negatives_from="gate"`` and a model kind that learns
        weighted posts (``char-linear``). ``None`` (the default): the model kind's measured choice, else
        ``False``.
    mine_gate_negatives:
        Train the gate twice: the second time also against the ordinary training posts (outside the
        ``per_source`` sample) that the first gate let through (see :func:`fit_scope`). ``None`` (the
        default): the model kind's measured choice (``True`` for ``best``), else ``False``.
    hard_positives:
        Add the team's template sentences of plainly worded plans, attempts and farewells
        (:mod:`sosrisk.scope.hard_positives`) to the risk model's training data, at their levels / high risk.
        Like the ordinary posts, they never count for calibration or the recorded metrics.
    gate_positives:
        Also train the gate and the prefilter on those template sentences as in-scope examples. They are
        always in the training data and never set a threshold (that is still the out-of-fold retention of
        SOS-1K's at-risk posts). Off: in the gate they cost SOS-1K's at-risk posts in scope (99.6% to 98.9%
        out of fold, below the 99% the stage must keep).
    voice_pairs:
        Also train the gate and the prefilter on the team's in-scope counterparts of the hard negatives
        (:mod:`sosrisk.scope.voice_pairs`: the news events, the characters' acts and the friends' states of the hard
        negatives, said by the writer about the writer) as in-scope examples, which never set a threshold. Off:
        measured, not adopted (docs/scope.md, 2026-12-07).
    prefilter_positives:
        The same, for the prefilter alone (on by default since 2026-12-06): plainly worded danger that the
        char n-grams of SOS-1K would turn away reaches the sentence encoder, where the plain-danger net can
        fire on it; the gate, and so which posts the risk models see, is unchanged.
    danger_net:
        Train the plain-danger net (:mod:`sosrisk.scope.danger`; on by default since 2026-12-06): a
        safety-net family on sentence embeddings that learns the team's hard positives against the ordinary
        sources, the hard negatives and the in-scope training posts not at risk, and raises the posts it
        fires on to level 6+ and high risk.
    farewell_net:
        Train the farewell net (default since 2026-12-07): a second net of the plain-danger net's kind, learned
        from the team's quiet farewells (:mod:`sosrisk.scope.quiet_farewells`: things handed on, debts settled,
        thanks, with an end rather than a destination) against the same ordinary text, the in-scope posts not at
        risk and, with a share of the weight, the team's everyday goodbyes (:mod:`sosrisk.scope.goodbyes`: the same
        gestures with somewhere to go). It raises like the main bar (level 6+, high risk; rule
        ``semantic/plain_farewell``) above ``farewell_quantile`` of its ordinary training sentences, unless the
        plain-danger net's recovery veto withdraws the post. A separate net because training the plain-danger net
        itself on those templates cost the read suites' plans and attempts (docs/scope.md).
    farewell_quantile:
        The farewell net's bar: this quantile of its probabilities on the ordinary training sentences.
    farewell_chars:
        The farewell net's second version (default since 2026-12-07, later; :mod:`sosrisk.scope.farewell`): it
        reads the post's character 1-2-grams beside its embedding, and a character-only part of it (the reach)
        lets a post the prefilter turned away go on to the encoder, the gate and the nets. Off: the first
        version, on the embedding alone, behind the prefilter like every other part.
    farewell_reach_quantile:
        The reach's bar: this quantile of the reach's probabilities on the ordinary training sentences (at most
        ``farewell_quantile``).
    danger_recovery:
        Also train the plain-danger net against the team's recovery, denial and past-crisis posts
        (:mod:`sosrisk.scope.recovery_posts`). Off: on the held-out behavioural suite it spared two
        negation-and-recovery posts a reviewer and missed two farewells, for ``char-linear`` and ``best``
        alike (``benchmarks/bench_danger_net.py``); a missed farewell can be a death.
    danger_veto:
        Give the plain-danger net its recovery veto (:mod:`sosrisk.scope.danger`; default since 2026-12-06,
        later): a second regression that withdraws a hit where the post looks more like the team's recovery,
        denial and past-crisis posts than any danger post the net learned from (the hard positives and the
        at-risk training posts).
    danger_quantile:
        The plain-danger net's threshold at prediction: this quantile of its probabilities on the ordinary
        training sentences (0.999: at most one in 1,000 above it; the default since 2026-12-06, later; 0.9995
        before, and 0.9999 before that).
    danger_mining_quantile:
        The net's main bar while the stage chooses the ordinary posts the risk models learn (``char-linear``'s
        posts the stage lets through), when it should differ from ``danger_quantile``, the bar at prediction;
        ``None``: the same bar. The net is trained once; only its bar moves after the choice. Default 0.9995
        (the bar before 2026-12-06, later): choosing them at 0.999 as well cost 0.6 points of high-risk recall.
    danger_inside_quantile:
        The net's lower bar for posts the gate already put in scope, the same kind of quantile (0.99: one
        ordinary training sentence in 100 above it; default since 2026-12-06, later that day), or None for no
        lower bar (the net fires at ``danger_quantile`` alone, as before).
    danger_guarded_quantile:
        The net's own-voice bar (default since 2026-12-06, a new session: 0.99, one ordinary training sentence
        in 100 above it; 0.998 at first) for posts the gate and the rules left out of scope that carry no context cue
        (:func:`sosrisk.scope.rules.has_context_cue`), or None for none. Set after the stage has chosen the
        risk models' ordinary posts, so it never changes what they learn; between ``danger_inside_quantile``
        and ``danger_quantile``.
    recovery_cap:
        The recovery cap (default since 2026-12-07), where the net has its recovery veto: a post in scope that the
        veto reads as looking back on a crisis (above the highest veto probability of any danger post the net
        learned from) and that carries a context cue (:func:`sosrisk.scope.rules.has_context_cue`: the past, a
        rescue, recovery words ...), which no rule of the plan tier or above and no net hit raised, keeps a level
        of at most 5 and is low risk. The risk models, which learned from the tree hole alone, put posts that tell
        a past attempt and how life is now at level 6-9.
    raiser:
        Train the fine-tuned raiser (:mod:`sosrisk.scope.raiser`, 2026-12-07, a new session): e5-small fine-tuned on
        plainly written danger against everyday text and goodbyes, which reads the posts either net finds uneasy
        (above ``raiser_band_quantile`` of its ordinary training sentences) that nothing else raised, and raises
        those above ``raiser_quantile`` of its own probabilities on ordinary training sentences it did not learn.
        Needs torch and transformers, the plain-danger and the farewell net. ``None`` (the default): the model
        kind's measured choice (on for ``best``'s level model; off for its binary model since 2026-12-08, judged
        blind), else off; it adds about 12-15 minutes of training on two cores and 41 MB to the directory.
    raiser_quantile, raiser_band_quantile:
        The raiser's bar and band (see ``raiser``).
    raiser_ordinary:
        How many ordinary training sentences (a fixed sample) the raiser learns from; the rest set its bar.
    raiser_model:
        Settings of the raiser's :class:`~sosrisk.models.encoder.EncoderModel` over its defaults (3 epochs, 128
        tokens): for tests (a tiny backbone) and research.
    retention:
        Share of at-risk in-scope posts the gate's threshold keeps, out of fold.
    prefilter_retention:
        A char n-gram gate in front of the gate, whose threshold keeps this share of the at-risk posts out of
        fold: only the posts it lets through reach the sentence encoder and the gate (``None``: no
        prefilter; every post is encoded).
    rules:
        Apply the safety-net rules (:mod:`sosrisk.scope.rules`); ``False`` only for measuring what they add.
    out_of_scope_files:
        Post files of the user's own out-of-scope posts (any format ``read_posts`` reads; labels ignored),
        each one more source for the gate (and for the risk models' extra posts).
    gate:
        Settings of :class:`~sosrisk.scope.gate.ScopeGate` (``C``, ``char_weight`` ...).
    """

    enabled: bool = True
    sources: tuple[str, ...] = DEFAULT_SOURCES
    out_of_scope_files: tuple[str, ...] = ()
    per_source: int = 5000
    hard_negatives: bool = True
    risk_negatives: int = 1000
    risk_negatives_from: str | None = None
    risk_negatives_draw: int = 0
    risk_negatives_all: bool | None = None
    mine_gate_negatives: bool | None = None
    hard_positives: bool = False
    gate_positives: bool = False
    voice_pairs: bool = False
    prefilter_positives: bool = True
    danger_net: bool = True
    farewell_net: bool = True
    farewell_quantile: float = FAREWELL_QUANTILE
    farewell_chars: bool = True
    farewell_reach_quantile: float = REACH_QUANTILE
    danger_recovery: bool = False
    danger_veto: bool = True
    danger_quantile: float = PREDICTION_QUANTILE
    danger_mining_quantile: float | None = ORDINARY_QUANTILE
    danger_inside_quantile: float | None = INSIDE_QUANTILE
    danger_guarded_quantile: float | None = GUARDED_QUANTILE
    recovery_cap: bool = True
    raiser: bool | None = None
    raiser_quantile: float = RAISER_QUANTILE
    raiser_band_quantile: float = RAISER_BAND_QUANTILE
    raiser_ordinary: int = RAISER_ORDINARY
    raiser_model: dict[str, Any] = field(default_factory=dict)
    retention: float = 0.99
    prefilter_retention: float | None = 0.999
    rules: bool = True
    gate: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sources:
            from .corpora import SOURCES

            unknown = [s for s in self.sources if s not in SOURCES]
            if unknown:
                raise ModelError(f"Unknown ordinary-text sources {unknown}; known: {', '.join(SOURCES)}.")
        if self.enabled and not self.sources and not self.hard_negatives and not self.out_of_scope_files:
            raise ModelError("The scope stage needs at least one out-of-scope source or the hard negatives.")
        if not isinstance(self.per_source, int) or self.per_source < 1:
            raise ModelError(f"'per_source' must be an int >= 1. Got {self.per_source!r} instead.")
        if not isinstance(self.risk_negatives, int) or self.risk_negatives < 0:
            raise ModelError(f"'risk_negatives' must be an int >= 0. Got {self.risk_negatives!r} instead.")
        if (
            isinstance(self.risk_negatives_draw, bool)
            or not isinstance(self.risk_negatives_draw, int)
            or (self.risk_negatives_draw < 0)
        ):
            raise ModelError(f"'risk_negatives_draw' must be an int >= 0. Got {self.risk_negatives_draw!r} instead.")
        if self.risk_negatives_from is not None and self.risk_negatives_from not in RISK_NEGATIVE_ORIGINS:
            raise ModelError(
                f"'risk_negatives_from' must be one of {', '.join(RISK_NEGATIVE_ORIGINS)} (or None: the model's"
                f" choice). Got {self.risk_negatives_from!r} instead."
            )
        if self.risk_negatives_all is not None and not isinstance(self.risk_negatives_all, bool):
            raise ModelError(
                f"'risk_negatives_all' must be True, False or None (the model's choice)."
                f" Got {self.risk_negatives_all!r} instead."
            )
        if self.risk_negatives_all and self.risk_negatives_draw:
            raise ModelError("'risk_negatives_all' learns every post, so it takes no 'risk_negatives_draw'.")
        if self.mine_gate_negatives is not None and not isinstance(self.mine_gate_negatives, bool):
            raise ModelError(
                f"'mine_gate_negatives' must be True, False or None (the model's choice)."
                f" Got {self.mine_gate_negatives!r} instead."
            )
        if not valid_quantile(self.danger_quantile):
            raise ModelError(f"'danger_quantile' must be within [0.5, 1). Got {self.danger_quantile!r} instead.")
        if self.danger_inside_quantile is not None and (
            not valid_quantile(self.danger_inside_quantile) or self.danger_inside_quantile > self.danger_quantile
        ):
            raise ModelError(
                "'danger_inside_quantile' must be within [0.5, 1) and at most 'danger_quantile', or None. "
                f"Got {self.danger_inside_quantile!r} instead."
            )
        if not own_voice_quantile_fits(self.danger_guarded_quantile, self.danger_quantile, self.danger_inside_quantile):
            raise ModelError(
                "'danger_guarded_quantile' must be within [0.5, 1), at most 'danger_quantile' and at least "
                f"'danger_inside_quantile', or None. Got {self.danger_guarded_quantile!r} instead."
            )
        if self.danger_mining_quantile is not None and (
            not valid_quantile(self.danger_mining_quantile)
            or (self.danger_inside_quantile is not None and self.danger_mining_quantile < self.danger_inside_quantile)
        ):
            raise ModelError(
                "'danger_mining_quantile' must be within [0.5, 1) and at least 'danger_inside_quantile', or None. "
                f"Got {self.danger_mining_quantile!r} instead."
            )
        if not valid_quantile(self.farewell_quantile):
            raise ModelError(f"'farewell_quantile' must be within [0.5, 1). Got {self.farewell_quantile!r} instead.")
        if not isinstance(self.farewell_chars, bool):
            raise ModelError(f"'farewell_chars' must be True or False. Got {self.farewell_chars!r} instead.")
        if not valid_quantile(self.farewell_reach_quantile) or self.farewell_reach_quantile > self.farewell_quantile:
            raise ModelError(
                "'farewell_reach_quantile' must be within [0.5, 1) and at most 'farewell_quantile'. "
                f"Got {self.farewell_reach_quantile!r} instead."
            )
        if not isinstance(self.recovery_cap, bool):
            raise ModelError(f"'recovery_cap' must be True or False. Got {self.recovery_cap!r} instead.")
        if self.raiser is not None and not isinstance(self.raiser, bool):
            raise ModelError(f"'raiser' must be True, False or None (the model's choice). Got {self.raiser!r} instead.")
        if self.raiser and not (self.danger_net and self.farewell_net):
            raise ModelError("'raiser' reads the posts the plain-danger and farewell nets find uneasy: it needs both.")
        for name in ("raiser_quantile", "raiser_band_quantile"):
            if not valid_quantile(getattr(self, name)):
                raise ModelError(f"'{name}' must be within [0.5, 1). Got {getattr(self, name)!r} instead.")
        ordinary = self.raiser_ordinary
        if isinstance(ordinary, bool) or not isinstance(ordinary, int) or ordinary < 0:
            raise ModelError(f"'raiser_ordinary' must be an int >= 0. Got {self.raiser_ordinary!r} instead.")
        if not isinstance(self.raiser_model, dict):
            raise ModelError(f"'raiser_model' must be a dict of EncoderModel settings. Got {self.raiser_model!r}.")
        if not 0 < self.retention <= 1:
            raise ModelError(f"'retention' must be within (0, 1]. Got {self.retention!r} instead.")
        if self.prefilter_retention is not None and (
            isinstance(self.prefilter_retention, bool)
            or not isinstance(self.prefilter_retention, int | float)
            or not 0 < self.prefilter_retention <= 1
        ):
            raise ModelError(
                f"'prefilter_retention' must be None or within (0, 1]. Got {self.prefilter_retention!r} instead."
            )

    def for_model(self, kind_defaults: Mapping[str, Any]) -> ScopeSettings:
        """These settings with each field left ``None`` set to the model kind's choice, else the general default.

        ``kind_defaults`` is the model class's ``scope_defaults``: what cross-validation chose for that kind.
        """
        unknown = sorted(set(kind_defaults) - set(KIND_CHOSEN))
        if unknown:
            raise ModelError(
                f"A model kind may choose only {sorted(KIND_CHOSEN)} of its scope settings, not {unknown}."
            )
        values = {
            name: kind_defaults.get(name, general)
            for name, general in KIND_CHOSEN.items()
            if getattr(self, name) is None
        }
        if values.get("raiser") and not (self.danger_net and self.farewell_net):
            values["raiser"] = False  # the kind's raiser reads the nets: without them, none (asked for, an error)
        return replace(self, **values) if values else self

    @property
    def mines(self) -> bool:
        """Training reads :func:`risk_negative_pool` (a mined gate round or mined risk-model posts)."""
        return self.enabled and (
            self.mine_gate_negatives or (self.risk_negatives_from == "gate" and self.risk_negatives > 0)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = asdict(self)
        out["sources"] = list(self.sources)
        out["out_of_scope_files"] = [Path(f).name for f in self.out_of_scope_files]
        return out

    @classmethod
    def from_value(cls, value: bool | ScopeSettings | dict[str, Any] | None) -> ScopeSettings:
        """Settings from ``True``/``None`` (defaults), ``False`` (off), a dict or settings."""
        if isinstance(value, ScopeSettings):
            return value
        if value is None or value is True:
            return cls()
        if value is False:
            return cls(enabled=False)
        if isinstance(value, dict):
            data = dict(value)
            for key in ("sources", "out_of_scope_files"):
                if key in data:
                    data[key] = tuple(str(v) for v in data[key])
            try:
                return cls(**data)
            except TypeError as exc:
                raise ModelError(f"Bad scope settings: {exc}.") from None
        raise ModelError(f"Scope settings must be a bool, a dict or ScopeSettings. Got {value!r} instead.")


def _stable_sample(texts: Sequence[str], n: int, salt: str) -> list[str]:
    """At most ``n`` of ``texts``, chosen by a hash of each text (the same sample on every machine)."""
    if len(texts) <= n:
        return list(texts)
    keyed = sorted(texts, key=lambda t: hashlib.sha256(f"{salt}\0{t}".encode()).digest())
    return keyed[:n]


def gate_negatives(settings: ScopeSettings, root: Path | None = None) -> dict[str, list[str]]:
    """Out-of-scope training posts for the gate, by source (training parts only, sampled, deduplicated)."""
    from .corpora import read_source

    out: dict[str, list[str]] = {}
    for name in settings.sources:
        out[name] = _stable_sample(read_source(name, part="train", root=root), settings.per_source, name)
    for file in settings.out_of_scope_files:
        from ..data import read_posts

        posts = read_posts(file)
        out[f"file:{Path(file).name}"] = _stable_sample(list(dict.fromkeys(posts.texts)), settings.per_source, file)
    if settings.hard_negatives:
        out[HARD_NEGATIVES] = [sentence for _, sentence in hard_negatives()]
    return out


def risk_negatives(settings: ScopeSettings, negatives: dict[str, list[str]]) -> list[str]:
    """``settings.risk_negatives`` out-of-scope posts, an equal share from every source, for the risk models."""
    n = settings.risk_negatives
    if n == 0 or not negatives:
        return []
    share = int(np.ceil(n / len(negatives)))
    picked: list[str] = []
    for name, texts in negatives.items():
        picked.extend(_stable_sample(texts, share, _draw_salt(f"risk:{name}", settings)))
    return _stable_sample(picked, n, _draw_salt("risk", settings))


def _draw_salt(salt: str, settings: ScopeSettings) -> str:
    """The hash salt of a risk-model sample: unchanged for draw 0 (so every model trained before keeps its
    posts), suffixed by the draw otherwise."""
    return salt if settings.risk_negatives_draw == 0 else f"{salt}#{settings.risk_negatives_draw}"


def risk_negative_pool(settings: ScopeSettings, root: Path | None = None) -> list[str]:
    """Every out-of-scope training post that :func:`mined_risk_negatives` may draw from, deduplicated.

    The whole training part of every source (not only the gate's sample; never a held-out part), the user's
    own files and the team's hard negatives.
    """
    from .corpora import read_source

    pool: list[str] = []
    for name in settings.sources:
        pool.extend(read_source(name, part="train", root=root))
    for file in settings.out_of_scope_files:
        from ..data import read_posts

        pool.extend(read_posts(file).texts)
    if settings.hard_negatives:
        pool.extend(sentence for _, sentence in hard_negatives())
    return list(dict.fromkeys(t for t in pool if t.strip()))


def passing_posts(
    stage: ScopeStage, pool: Sequence[str], *, show_progress: bool = False
) -> tuple[list[str], dict[str, int]]:
    """The posts of ``pool`` that ``stage``'s gate puts in scope and no safety net fires on, in pool order.

    The farewell net is not asked: the risk models learn the same ordinary posts with and without it (it was
    added on 2026-12-07 as one more way to raise a post, leaving the risk models as they were).

    Also returns counts (pool size, how many the prefilter and the gate let through) for the training record.
    """
    from .encoder import cached_embeddings

    pool = list(pool)
    passed = np.ones(len(pool), dtype=bool)
    if stage.prefilter is not None and pool:
        passed = stage.prefilter.probability(pool) >= stage.prefilter.threshold_
    candidates = [pool[i] for i in np.flatnonzero(passed)]
    in_scope: list[str] = []
    if candidates:
        embeddings = cached_embeddings(
            candidates, show_progress=show_progress, description="finding hard ordinary posts"
        )
        keep = stage.gate.probability(candidates, embeddings=embeddings) >= stage.gate.threshold_
        if stage.danger is not None:
            keep &= ~stage.danger.fires(embeddings)
        in_scope = [t for t, k in zip(candidates, keep, strict=True) if k]
    if stage.rules:
        from .rules import match_rules

        in_scope = [t for t in in_scope if not match_rules(t)]
    return in_scope, {"pool": len(pool), "prefilter_passed": len(candidates), "gate_passed": len(in_scope)}


def mined_risk_negatives(
    settings: ScopeSettings, stage: ScopeStage, pool: Sequence[str], *, show_progress: bool = False
) -> tuple[list[str], dict[str, int]]:
    """``settings.risk_negatives`` posts of ``pool`` that ``stage`` lets through (:func:`passing_posts`).

    A fixed, text-hashed sample of them when more pass; all of them when fewer do, or with
    ``settings.risk_negatives_all`` (weigh them with :func:`risk_negative_weight`).
    """
    in_scope, counts = passing_posts(stage, pool, show_progress=show_progress)
    if settings.risk_negatives_all:
        picked = in_scope
    else:
        picked = _stable_sample(in_scope, settings.risk_negatives, _draw_salt("risk:gate", settings))
    logger.info("hard ordinary posts: %d of %d pass the scope stage; %d used", len(in_scope), len(pool), len(picked))
    return picked, counts


def risk_negative_weight(settings: ScopeSettings, n_posts: int) -> float:
    """The weight of each of ``n_posts`` ordinary posts learnt by a risk model: 1, or with
    ``risk_negatives_all`` and more posts than ``risk_negatives``, the share that makes them weigh
    ``risk_negatives`` posts together."""
    if not settings.risk_negatives_all or n_posts <= settings.risk_negatives:
        return 1.0
    return settings.risk_negatives / n_posts


def at_risk_mask(task: str, labels: np.ndarray) -> np.ndarray:
    """The posts whose retention the gate guarantees: level 6+ (a plan or worse) or labelled high risk."""
    labels = np.asarray(labels)
    return labels >= 6 if task == "level" else labels == 1


def fit_scope(
    in_scope: Sequence[str],
    at_risk: np.ndarray,
    settings: ScopeSettings,
    negatives: dict[str, list[str]],
    *,
    pool: Sequence[str] | None = None,
    show_progress: bool = False,
) -> ScopeStage:
    """Train the gate on ``in_scope`` posts against ``negatives``; returns the stage (gate + rules).

    With ``settings.mine_gate_negatives``, a second round: the posts of ``pool`` (default
    :func:`risk_negative_pool`) that are not among ``negatives`` and that the first stage lets through become
    one more out-of-scope source, and the stage is trained again (its threshold set again, out of fold).
    """
    if settings.mine_gate_negatives:
        first = fit_scope(
            in_scope,
            at_risk,
            # the first round only mines
            replace(settings, mine_gate_negatives=False, danger_net=False, farewell_net=False, raiser=False),
            negatives,
            show_progress=show_progress,
        )
        seen = {t for texts in negatives.values() for t in texts}
        candidates = [t for t in (pool if pool is not None else risk_negative_pool(settings)) if t not in seen]
        mined, counts = passing_posts(first, candidates, show_progress=show_progress)
        logger.info("scope gate, second round: %d ordinary posts the first round let through", len(mined))
        stage = fit_scope(
            in_scope,
            at_risk,
            replace(settings, mine_gate_negatives=False),
            {**negatives, MINED: mined},
            show_progress=show_progress,
        )
        stage.training["settings"] = settings.to_dict()
        stage.training["mined_gate_negatives"] = counts
        return stage
    extra = [sentence for _, sentence, _ in hard_positives()]
    gate = ScopeGate(retention=settings.retention, **settings.gate)
    pairs = [sentence for _, sentence in voice_pairs()] if settings.voice_pairs else []
    gate_extra = (extra if settings.gate_positives else []) + pairs
    gate.fit(in_scope, at_risk, negatives, extra_positives=gate_extra, show_progress=show_progress)
    prefilter = None
    prefilter_extra = (extra if settings.gate_positives or settings.prefilter_positives else []) + pairs
    if settings.prefilter_retention is not None:
        prefilter = ScopeGate(retention=settings.prefilter_retention, **{**settings.gate, "embedding_weight": 0.0})
        prefilter.fit(in_scope, at_risk, negatives, extra_positives=prefilter_extra, show_progress=show_progress)
    # both nets learn against the same posts: encoded once
    against = net_negatives(in_scope, at_risk, negatives) if settings.danger_net or settings.farewell_net else None
    danger = (
        fit_danger_net(
            in_scope,
            at_risk,
            negatives,
            recovery=settings.danger_recovery,
            veto=settings.danger_veto,
            quantile=settings.danger_quantile,
            inside_quantile=settings.danger_inside_quantile,
            guarded_quantile=settings.danger_guarded_quantile,
            against=against,
        )
        if settings.danger_net
        else None
    )
    farewell = (
        fit_farewell_net(
            in_scope,
            at_risk,
            negatives,
            quantile=settings.farewell_quantile,
            against=against,
            chars=settings.farewell_chars,
            reach_quantile=settings.farewell_reach_quantile,
        )
        if settings.farewell_net
        else None
    )
    training = {
        "settings": settings.to_dict(),
        "hard_negatives_version": HARD_NEGATIVES_VERSION if settings.hard_negatives else None,
        "hard_positives_in": {
            "gate": len(gate_extra) - len(pairs),
            "prefilter": len(prefilter_extra) - len(pairs) if prefilter is not None else 0,
            "version": HARD_POSITIVES_VERSION,
        },
        **(
            {
                "voice_pairs": {
                    "gate": len(pairs),
                    "prefilter": len(pairs) if prefilter is not None else 0,
                    "version": VOICE_PAIRS_VERSION,
                }
            }
            if pairs
            else {}
        ),
        "recovery_posts_version": RECOVERY_VERSION
        if danger is not None and (settings.danger_recovery or settings.danger_veto)
        else None,
        "farewell_net_templates": {"quiet_farewells": QUIET_FAREWELLS_VERSION, "goodbyes": GOODBYES_VERSION}
        if farewell is not None
        else None,
        "out_of_scope_posts": {name: len(texts) for name, texts in negatives.items()},
        "out_of_scope_fingerprint": _fingerprint(negatives),
    }
    return ScopeStage(
        gate,
        prefilter=prefilter,
        danger=danger,
        farewell=farewell,
        rules=settings.rules,
        training=training,
        recovery_cap=settings.recovery_cap and danger is not None and danger.veto_coef_ is not None,
    )


def net_negatives(
    in_scope: Sequence[str], at_risk: np.ndarray, negatives: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """What the plain-danger and farewell nets learn against: the embeddings of the in-scope posts not at risk
    and of the ordinary sentences of ``negatives`` (read from the embedding cache)."""
    from .encoder import DIMENSION, SentenceEncoder, cached_embeddings

    calm, ordinary = _net_texts(in_scope, at_risk, negatives)
    return (
        SentenceEncoder.shared().encode(calm) if calm else np.zeros((0, DIMENSION)),
        cached_embeddings(ordinary, description="encoding ordinary text"),
    )


def _net_texts(
    in_scope: Sequence[str], at_risk: np.ndarray, negatives: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """The texts behind :func:`net_negatives`, in its order: the in-scope posts not at risk, the ordinary sentences."""
    calm = [t for t, r in zip(in_scope, np.asarray(at_risk, dtype=bool), strict=True) if not r]
    return calm, [t for texts in negatives.values() for t in texts]


def fit_danger_net(
    in_scope: Sequence[str],
    at_risk: np.ndarray,
    negatives: dict[str, list[str]],
    *,
    recovery: bool = False,
    veto: bool = True,
    quantile: float = ORDINARY_QUANTILE,
    inside_quantile: float | None = INSIDE_QUANTILE,
    guarded_quantile: float | None = None,
    against: tuple[np.ndarray, np.ndarray] | None = None,
) -> DangerNet:
    """The plain-danger net: the team's hard positives against ``negatives`` and the in-scope posts not at risk.

    With ``recovery`` also against the team's recovery, denial and past-crisis posts
    (:mod:`sosrisk.scope.recovery_posts`); with ``veto`` those posts train its recovery veto instead, against
    the hard positives and the in-scope posts at risk. ``against``: :func:`net_negatives` of the same posts,
    when the caller has it already.
    """
    from .encoder import SentenceEncoder, cached_embeddings

    calm_embeddings, ordinary_embeddings = against or net_negatives(in_scope, at_risk, negatives)
    danger_posts = [t for t, r in zip(in_scope, np.asarray(at_risk, dtype=bool), strict=True) if r]
    quiet = [sentence for _, sentence in recovery_posts()] if recovery or veto else []
    quiet_embeddings = cached_embeddings(quiet, description="encoding recovery posts") if quiet else None
    net = DangerNet(
        quantile=quantile,
        inside_quantile=inside_quantile,
        veto_C=VETO_C if veto else None,
        guarded_quantile=guarded_quantile,
    )
    return net.fit(
        cached_embeddings([sentence for _, sentence, _ in hard_positives()], description="encoding hard positives"),
        ordinary_embeddings,
        calm_embeddings,
        quiet_embeddings if recovery else None,
        veto_recovery=quiet_embeddings if veto else None,
        veto_danger=SentenceEncoder.shared().encode(danger_posts) if veto and danger_posts else None,
    )


def fit_farewell_net(
    in_scope: Sequence[str],
    at_risk: np.ndarray,
    negatives: dict[str, list[str]],
    *,
    quantile: float = FAREWELL_QUANTILE,
    against: tuple[np.ndarray, np.ndarray] | None = None,
    chars: bool = True,
    reach_quantile: float = REACH_QUANTILE,
) -> DangerNet | FarewellNet:
    """The farewell net: the team's quiet farewells against ``negatives``, the in-scope posts not at risk and the
    team's everyday goodbyes (``FAREWELL_GOODBYE_SHARE`` of the weight); one bar, no veto of its own.
    With ``chars`` the second version (:class:`sosrisk.scope.farewell.FarewellNet`: embedding and character
    n-grams, and a reach past the prefilter at ``reach_quantile``); without, the first (a :class:`DangerNet` on
    the embedding alone). ``against``: :func:`net_negatives` of the same posts, when the caller has it already."""
    from .encoder import cached_embeddings

    calm_embeddings, ordinary_embeddings = against or net_negatives(in_scope, at_risk, negatives)
    farewells = [sentence for _, sentence, _ in quiet_farewells()]
    everyday = [sentence for _, sentence in goodbyes()]
    farewell_embeddings = cached_embeddings(farewells, description="encoding quiet farewells")
    goodbye_embeddings = cached_embeddings(everyday, description="encoding everyday goodbyes")
    if chars:
        calm, ordinary = _net_texts(in_scope, at_risk, negatives)
        return FarewellNet(quantile=quantile, reach_quantile=reach_quantile).fit(
            {
                "farewells": (farewells, farewell_embeddings),
                "ordinary": (ordinary, ordinary_embeddings),
                "calm": (calm, calm_embeddings),
                "lookalikes": (everyday, goodbye_embeddings),
            },
            lookalike_share=FAREWELL_GOODBYE_SHARE,
        )
    net = DangerNet(quantile=quantile, inside_quantile=None, veto_C=None)
    return net.fit(
        farewell_embeddings,
        ordinary_embeddings,
        calm_embeddings,
        lookalikes=goodbye_embeddings,
        lookalike_share=FAREWELL_GOODBYE_SHARE,
    )


def _fingerprint(negatives: dict[str, list[str]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(negatives):
        digest.update(name.encode() + b"\n")
        for text in negatives[name]:
            digest.update(text.encode() + b"\0")
    return "sha256:" + digest.hexdigest()
