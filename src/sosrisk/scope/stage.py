"""The scope stage of a model: the gate and the safety-net rules, decided once per post before any model runs.

``ScopeStage.decide(texts)`` answers, for every post:

- ``scope_probability``: the gate's probability that the post is about the writer's own suicidal thoughts,
  plans, self-harm or crisis (for a post the prefilter turned away, the prefilter's);
- ``in_scope``: the gate's probability reaches its threshold, **or** a safety-net rule fired (rules can only
  raise a post to human review, never lower it);
- ``rule_hits`` and ``floors``: the rules that fired and the level each raises the post to (from level 6
  up a rule also flags the post high risk: ``rule_flags_high_risk``); the
  plain-danger net (:mod:`sosrisk.scope.danger`), where the stage has one, is one more rule
  (``semantic/plain_danger``) on the posts the prefilter lets through, and so is the fine-tuned raiser
  (:mod:`sosrisk.scope.raiser`, ``semantic/fine_tuned_danger``) where the stage has one.

With a prefilter (the default since #13's cascade: a gate on char n-grams alone, thousands of posts/s,
its threshold set to keep 99.9% of the at-risk posts out of fold), only the posts it lets through reach the
sentence encoder and the gate; a post must pass both.

A post out of scope gets level 0 and low risk, and is never queued; the model itself never runs on it, which
is what makes an expensive model usable on a stream of mostly ordinary posts. A blank post is out of scope.

The stage is saved in a model directory's ``scope/`` folder (``scope.json`` + ``gate.npz``, and
``prefilter.npz``, ``danger.npz``, ``farewell.npz`` and the fine-tuned raiser's ``raiser/`` where it has
them), so ``predict``, ``evaluate``, ``score`` and ``serve`` use it without any flag.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ModelError
from ..scale import RAISING_LEVEL
from .danger import DANGER_FILE, FAREWELL_FILE, DangerNet
from .encoder import SentenceEncoder, check_identity
from .farewell import FarewellNet
from .gate import ScopeGate
from .raiser import RAISER_DIR, Raiser, farewell_probability
from .rules import (
    RULE_SET,
    RULES_VERSION,
    Rule,
    RuleHit,
    asks_help_for_someone_else,
    has_context_cue,
    match_rules,
    rule_floors,
)

logger = logging.getLogger(__name__)

SCOPE_DIR = "scope"
SCOPE_CONFIG = "scope.json"
SCOPE_FORMAT_VERSION = 1
_CONFIG_FIELDS = frozenset(
    {
        "format_version",
        "gate",
        "prefilter",
        "danger",
        "farewell",
        "encoder",
        "rules_version",
        "training",
        "recovery_cap",
        "raiser",
    }
)
PREFILTER_FILE = "prefilter.npz"


@dataclass
class ScopeDecision:
    """What the scope stage decided for a batch of posts (arrays in the order of the posts)."""

    scope_probability: np.ndarray
    gate_in_scope: np.ndarray
    in_scope: np.ndarray
    floors: np.ndarray
    rule_hits: list[list[RuleHit]] = field(default_factory=list)
    # posts the gate or the plain-danger net kept that ask how to help someone else in danger and that no regex rule
    # raised: taken out of scope (:func:`~sosrisk.scope.rules.asks_help_for_someone_else`; rules-27: the net's hit
    # is withdrawn); ``None``: no post was
    someone_else: np.ndarray | None = None
    # posts in scope read as looking back on a crisis that is over (the stage's recovery cap): their level is at
    # most sosrisk.scale.RECOVERED_LEVEL and they are not high risk; ``None``: the stage has no cap
    recovered: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> ScopeDecision:
        """The decision for a subset of the posts."""
        return ScopeDecision(
            self.scope_probability[rows],
            self.gate_in_scope[rows],
            self.in_scope[rows],
            self.floors[rows],
            [self.rule_hits[i] for i in rows],
            None if self.someone_else is None else self.someone_else[rows],
            None if self.recovered is None else self.recovered[rows],
        )

    @property
    def rule_flags_high_risk(self) -> np.ndarray:
        """Posts a rule flags high risk: its floor is in the plan tier or above (a wish rule's is not)."""
        return self.floors >= RAISING_LEVEL

    @property
    def by_rule_only(self) -> np.ndarray:
        """Posts in scope only because a rule fired (the gate alone would have left them out)."""
        return self.in_scope & ~self.gate_in_scope


class ScopeStage:
    """The gate (with its threshold) and the rule set; see the module docstring."""

    def __init__(
        self,
        gate: ScopeGate,
        *,
        prefilter: ScopeGate | None = None,
        danger: DangerNet | None = None,
        farewell: DangerNet | FarewellNet | None = None,
        rules: bool = True,
        training: dict[str, Any] | None = None,
        recovery_cap: bool = False,
        raiser: Raiser | None = None,
    ) -> None:
        if prefilter is not None and not prefilter.char_only:
            raise ModelError("The scope prefilter must be a char n-gram gate (embedding_weight 0).")
        self.gate = gate
        self.prefilter = prefilter
        self.danger = danger
        # the farewell net (2026-12-07; None in directories written before): raises like the main bar
        self.farewell = farewell
        self.rules = rules
        # the rules it runs when ``rules`` is on: all of them; a benchmark may leave some out to measure them
        self.rule_set: tuple[Rule, ...] = RULE_SET
        self.training = dict(training or {})
        self.rules_version = RULES_VERSION if rules else None
        if not isinstance(recovery_cap, bool):
            raise ModelError(f"'recovery_cap' must be True or False. Got {recovery_cap!r} instead.")
        if recovery_cap and (danger is None or danger.veto_coef_ is None):
            raise ModelError("The recovery cap needs the plain-danger net's recovery veto (danger_veto=True).")
        self.recovery_cap = recovery_cap
        if raiser is not None and (danger is None or farewell is None):
            raise ModelError(
                "The fine-tuned raiser reads the posts the plain-danger and farewell nets find uneasy: it needs both."
            )
        # the fine-tuned raiser (2026-12-07, a new session; None unless trained with it): see sosrisk.scope.raiser
        self.raiser = raiser

    @property
    def threshold(self) -> float:
        """The gate's threshold."""
        return self.gate.threshold_

    def decide(self, texts: Sequence[str]) -> ScopeDecision:
        """Gate and rules for every text (blank texts are out of scope and skip the encoder)."""
        texts = list(texts)
        n = len(texts)
        probability = np.zeros(n)
        filled = np.fromiter((bool(t.strip()) for t in texts), dtype=bool, count=n)
        passed = filled.copy()
        if self.prefilter is not None and filled.any():
            rows = np.flatnonzero(filled)
            probability[rows] = self.prefilter.probability([texts[i] for i in rows])
            passed[rows] = probability[rows] >= self.prefilter.threshold_
            turned = rows[~passed[rows]]
            if isinstance(self.farewell, FarewellNet) and len(turned):
                # the farewell net's reach: a post the prefilter turned away that reads like a quiet farewell goes on
                passed[turned] = self.farewell.reaches([texts[i] for i in turned])
        rows = np.flatnonzero(passed)
        fired = np.zeros(n, dtype=bool)
        fired_inside = np.zeros(n, dtype=bool)
        fired_own_voice = np.zeros(n, dtype=bool)
        fired_farewell = np.zeros(n, dtype=bool)
        looks_back = np.zeros(n, dtype=bool)
        uneasy = np.zeros(n, dtype=bool)  # in the raiser's band
        if len(rows):
            sub = [texts[i] for i in rows]
            embeddings = None
            if not self.gate.char_only or self.danger is not None or self.farewell is not None:
                embeddings = SentenceEncoder.shared().encode(sub)
            probability[rows] = self.gate.probability(sub, embeddings=embeddings)
            vetoed = np.zeros(len(rows), dtype=bool)
            if self.danger is not None and embeddings is not None:
                anywhere, inside, own_voice = self.danger.firings(embeddings)
                fired[rows] = anywhere
                # the lower bar, on the posts the gate put in scope
                fired_inside[rows] = inside & (probability[rows] >= self.gate.threshold_)
                fired_own_voice[rows] = own_voice
                if self.recovery_cap or self.farewell is not None:
                    vetoed = self.danger.vetoed(embeddings)
                if self.recovery_cap:
                    looks_back[rows] = vetoed
            if self.farewell is not None and embeddings is not None:
                # the farewell net has one bar and no veto of its own; the plain-danger net's recovery veto, where
                # there is one, withdraws its hits too
                farewell_p = farewell_probability(self.farewell, sub, embeddings)
                fired_farewell[rows] = (farewell_p > self.farewell.threshold_) & ~vetoed
                if self.raiser is not None and self.danger is not None:
                    uneasy[rows] = self.raiser.in_band(self.danger.probability(embeddings), farewell_p)
        hits = [match_rules(t, self.rule_set) if ok and self.rules else [] for t, ok in zip(texts, filled, strict=True)]
        # the own-voice bar, on the posts nothing else put in scope that carry no cue of news, the past, someone
        # else, hyperbole or recovery
        for i in np.flatnonzero(fired_own_voice):
            fired_own_voice[i] = (
                probability[i] < self.gate.threshold_ and not fired[i] and not hits[i] and not has_context_cue(texts[i])
            )
        # the inside bar too (rules-22): inside scope a crisis told as past, recovered or someone else's is what the
        # lower bar raised most often; the main bar still fires whatever the cues
        for i in np.flatnonzero(fired_inside & ~fired):
            fired_inside[i] = not has_context_cue(texts[i])
        danger_netted = fired | fired_inside | fired_own_voice
        netted = danger_netted | fired_farewell
        gate_in = passed & (probability >= self.gate.threshold_)
        # help asked for someone else in danger, which no regex rule raised: out of scope (rules-27: also where the
        # net raised it, for the net reads what a post is about, not whose danger it is; rules-31: also where only
        # the wish rule fired, whose "想一了百了" may be the words of the person the writer asks about)
        someone_else = np.zeros(n, dtype=bool)
        if self.rules:
            ruled = np.fromiter((bool(h) for h in hits), dtype=bool, count=n)
            for i in np.flatnonzero((gate_in | netted | ruled) & filled):
                if all(hit.family == "wish" for hit in hits[i]):  # no regex rule fired, or only the wish rule
                    someone_else[i] = asks_help_for_someone_else(texts[i])
                    if someone_else[i]:
                        hits[i] = []
        for i in np.flatnonzero(netted & ~someone_else):
            if not danger_netted[i]:  # the farewell net alone
                hits[i] = [*hits[i], DangerNet.farewell_hit(texts[i])]
                continue
            at_inside_bar = bool(fired_inside[i] and not fired[i])
            hits[i] = [*hits[i], DangerNet.hit(texts[i], inside=at_inside_bar, own_voice=bool(fired_own_voice[i]))]
        floors = rule_floors(hits)
        if self.raiser is not None:
            # the raiser reads the posts in its band that nothing raised to a plan or worse and that do not ask help
            # for someone else; it only raises
            reads = np.flatnonzero(uneasy & ~someone_else & (floors < RAISING_LEVEL))
            if len(reads):
                for i in reads[self.raiser.fires([texts[i] for i in reads])]:
                    hits[i] = [*hits[i], Raiser.hit(texts[i])]
                floors = rule_floors(hits)
        in_scope = (gate_in & ~someone_else) | (filled & (floors >= 0))
        recovered = None
        if self.recovery_cap:
            # the recovery cap (2026-12-07): a post in scope that the net's recovery veto reads as looking back on a
            # crisis (above the highest veto probability of any danger post the net learned from) and that carries
            # a context cue (the past, a rescue, recovery words ...), where no rule of the plan tier or above and
            # no net hit raised it; the risk models had put such posts at level 6-9
            recovered = np.zeros(n, dtype=bool)
            for i in np.flatnonzero(looks_back & in_scope & (floors < RAISING_LEVEL)):
                recovered[i] = has_context_cue(texts[i])
        return ScopeDecision(probability, gate_in, in_scope, floors, hits, someone_else, recovered)

    def describe(self) -> dict[str, Any]:
        """What a model card and ``GET /v1/model`` say about the stage."""
        return {
            "gate": "logistic regression on USE multilingual v3 embeddings + char 1-2-gram TF-IDF",
            "threshold": round(self.gate.threshold_, 6),
            "retention_target": self.gate.retention,
            "prefilter": None
            if self.prefilter is None
            else {
                "gate": "logistic regression on char 1-2-gram TF-IDF (before the sentence encoder)",
                "threshold": round(self.prefilter.threshold_, 6),
                "retention_target": self.prefilter.retention,
                "report": self.prefilter.report_,
            },
            "plain_danger_net": None
            if self.danger is None
            else {
                "net": "logistic regression on USE multilingual v3 embeddings (raises to level 6+ and high risk)",
                "threshold": round(self.danger.threshold_, 6),
                "inside_threshold": None
                if self.danger.inside_threshold_ is None
                else round(self.danger.inside_threshold_, 6),
                "own_voice_threshold": None
                if self.danger.guarded_threshold_ is None
                else round(self.danger.guarded_threshold_, 6),
                "recovery_veto_threshold": None
                if self.danger.veto_threshold_ is None
                else round(self.danger.veto_threshold_, 6),
                "report": self.danger.report_,
            },
            "farewell_net": None
            if self.farewell is None
            else {
                "net": (
                    "logistic regression on USE multilingual v3 embeddings and character 1-2-grams: quiet farewells "
                    "against ordinary text and everyday goodbyes (raises to level 6+ and high risk); its "
                    "character-only reach lets posts the prefilter turned away go on"
                    if isinstance(self.farewell, FarewellNet)
                    else "logistic regression on USE multilingual v3 embeddings: quiet farewells against ordinary "
                    "text and everyday goodbyes (raises to level 6+ and high risk)"
                ),
                "threshold": round(self.farewell.threshold_, 6),
                **(
                    {"reach_threshold": round(self.farewell.reach_threshold_, 6)}
                    if isinstance(self.farewell, FarewellNet)
                    else {}
                ),
                "report": self.farewell.report_,
            },
            "fine_tuned_raiser": None
            if self.raiser is None
            else {
                "model": "e5-small fine-tuned on plainly written danger against everyday text and goodbyes (raises "
                "to level 6+ and high risk the posts in either net's band that nothing else raised)",
                "threshold": round(self.raiser.threshold_, 6),
                "danger_band": round(self.raiser.danger_band_, 6),
                "farewell_band": round(self.raiser.farewell_band_, 6),
                "report": self.raiser.report_,
            },
            "rules_version": self.rules_version,
            "recovery_cap": self.recovery_cap,
            "training": self.training,
            "gate_report": self.gate.report_,
        }

    # ------------------------------------------------------------------ persistence
    def save(self, model_dir: Path) -> str:
        """Write ``scope/`` (``scope.json`` last) into a model directory; returns the folder name."""
        from ..atomic import atomic_write_text

        folder = model_dir / SCOPE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        gate_file = self.gate.save(folder)
        for name, part in (
            (PREFILTER_FILE, self.prefilter),
            (DANGER_FILE, self.danger),
            (FAREWELL_FILE, self.farewell),
        ):
            if part is None and (folder / name).exists():  # an earlier stage's, not this one's
                (folder / name).unlink()
        if self.raiser is None and (folder / RAISER_DIR).exists():
            shutil.rmtree(folder / RAISER_DIR)
        config = {
            "format_version": SCOPE_FORMAT_VERSION,
            "gate": _entry(gate_file, self.gate),
            "prefilter": None
            if self.prefilter is None
            else _entry(self.prefilter.save(folder, PREFILTER_FILE), self.prefilter),
            "danger": None if self.danger is None else _entry(self.danger.save(folder), self.danger),
            "farewell": None
            if self.farewell is None
            else _entry(self.farewell.save(folder, FAREWELL_FILE), self.farewell),
            "encoder": SentenceEncoder.shared().identity.to_dict(),
            "raiser": None if self.raiser is None else {**self.raiser.entry(), "folder": self.raiser.save(folder)},
            "rules_version": self.rules_version,
            "recovery_cap": self.recovery_cap,
            "training": self.training,
        }
        atomic_write_text(folder / SCOPE_CONFIG, json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        return SCOPE_DIR

    @classmethod
    def load(cls, model_dir: Path, folder_name: str) -> ScopeStage:
        """Read the ``scope/`` folder of a model directory."""
        if folder_name != SCOPE_DIR:
            raise ModelError(f"{model_dir}: expected files.scope = {SCOPE_DIR!r} in config.json, got {folder_name!r}.")
        folder = model_dir / SCOPE_DIR
        path = folder / SCOPE_CONFIG
        if not path.is_file():
            raise ModelError(f"{path} is missing: the model directory's scope stage is incomplete. Retrain the model.")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: not valid UTF-8 JSON ({exc}). Retrain the model.") from None
        if not isinstance(config, dict) or set(config) - _CONFIG_FIELDS:
            raise ModelError(f"{path}: unexpected content; this file was not written by sosrisk.")
        if config.get("format_version") != SCOPE_FORMAT_VERSION:
            raise ModelError(
                f"{path}: scope format_version {config.get('format_version')!r} is not supported "
                f"(expected {SCOPE_FORMAT_VERSION}). Retrain the model."
            )
        gate_config = config.get("gate")
        if not isinstance(gate_config, dict) or gate_config.get("file") != "gate.npz":
            raise ModelError(f"{path}: the 'gate' entry must name gate.npz.")
        if not isinstance(config.get("encoder"), dict):
            raise ModelError(f"{path}: the 'encoder' entry is missing.")
        check_identity(config["encoder"], str(path))
        params = gate_config.get("params")
        if not isinstance(params, dict):
            raise ModelError(f"{path}: the gate's 'params' must be an object.")
        gate = ScopeGate.load(folder, params, gate_config.get("threshold"))  # type: ignore[arg-type]
        gate.report_ = dict(gate_config.get("report") or {})
        prefilter = None
        prefilter_config = config.get("prefilter")
        if prefilter_config is not None:
            if not isinstance(prefilter_config, dict) or prefilter_config.get("file") != PREFILTER_FILE:
                raise ModelError(f"{path}: the 'prefilter' entry must name {PREFILTER_FILE}.")
            pre_params = prefilter_config.get("params")
            if not isinstance(pre_params, dict) or pre_params.get("embedding_weight") != 0:
                raise ModelError(f"{path}: the prefilter's 'params' must be an object with embedding_weight 0.")
            prefilter = ScopeGate.load(folder, pre_params, prefilter_config.get("threshold"), PREFILTER_FILE)  # type: ignore[arg-type]
            prefilter.report_ = dict(prefilter_config.get("report") or {})
        danger = None
        danger_config = config.get("danger")
        if danger_config is not None:
            if not isinstance(danger_config, dict) or danger_config.get("file") != DANGER_FILE:
                raise ModelError(f"{path}: the 'danger' entry must name {DANGER_FILE}.")
            danger = DangerNet.load(
                folder,
                danger_config.get("params"),
                danger_config.get("threshold"),
                danger_config.get("inside_threshold"),
                danger_config.get("veto_threshold"),
                danger_config.get("guarded_threshold"),
            )
            danger.report_ = dict(danger_config.get("report") or {})
        farewell: DangerNet | FarewellNet | None = None
        farewell_config = config.get("farewell")  # absent in directories written before 2026-12-07
        if farewell_config is not None:
            if not isinstance(farewell_config, dict) or farewell_config.get("file") != FAREWELL_FILE:
                raise ModelError(f"{path}: the 'farewell' entry must name {FAREWELL_FILE}.")
            params = farewell_config.get("params")
            if isinstance(params, dict) and "view" in params:  # the second version (2026-12-07, later)
                farewell = FarewellNet.load(
                    folder, params, farewell_config.get("threshold"), farewell_config.get("reach_threshold")
                )
            else:
                if not isinstance(params, dict) or params.get("inside_quantile") is not None or params.get("veto_C"):
                    raise ModelError(f"{path}: the farewell net's 'params' must be an object with one bar and no veto.")
                farewell = DangerNet.load(folder, params, farewell_config.get("threshold"), file=FAREWELL_FILE)
            farewell.report_ = dict(farewell_config.get("report") or {})
        raiser = None
        if config.get("raiser") is not None:  # absent before 2026-12-07 (a new session)
            raiser = Raiser.load(folder, config["raiser"], str(path))
        rules_version = config.get("rules_version")
        recovery_cap = config.get("recovery_cap", False)  # directories written before 2026-12-07 have no cap
        if not isinstance(recovery_cap, bool):
            raise ModelError(f"{path}: 'recovery_cap' must be true or false, got {recovery_cap!r}.")
        try:  # the stage's own checks (a recovery cap without a veto, say), named after the file they read
            stage = cls(
                gate,
                prefilter=prefilter,
                danger=danger,
                farewell=farewell,
                rules=rules_version is not None,
                training=config.get("training"),
                recovery_cap=recovery_cap,
                raiser=raiser,
            )
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
        if rules_version is not None and rules_version != RULES_VERSION:
            logger.warning(
                "%s was saved with safety-net rules %s; this sosrisk applies rules %s",
                model_dir,
                config.get("rules_version"),
                RULES_VERSION,
            )
        return stage


def _entry(file: str, part: ScopeGate | DangerNet | FarewellNet) -> dict[str, Any]:
    """What ``scope.json`` records of a saved part of the stage: its file, settings, threshold and report."""
    entry = {"file": file, "params": part.params(), "threshold": part.threshold_, "report": part.report_}
    if isinstance(part, FarewellNet):
        entry["reach_threshold"] = part.reach_threshold_
    if isinstance(part, DangerNet) and part.inside_threshold_ is not None:
        entry["inside_threshold"] = part.inside_threshold_
    if isinstance(part, DangerNet) and part.guarded_threshold_ is not None:
        entry["guarded_threshold"] = part.guarded_threshold_
    if isinstance(part, DangerNet) and part.veto_threshold_ is not None:
        entry["veto_threshold"] = part.veto_threshold_
    return entry
