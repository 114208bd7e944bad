"""The plain-danger net and the gate's extra in-scope posts: what they learn, raise, save and refuse."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scope_support import ORDINARY_POSTS, clusters, damaged_scope_errors, tiny_scope_settings, tiny_scoped_model
from sosrisk.assess import assess
from sosrisk.data.leakage import normalize_for_matching
from sosrisk.models import ModelError, load_model
from sosrisk.scope.danger import (
    FAMILY,
    FLOOR,
    GUARDED_QUANTILE,
    GUARDED_RULE,
    INSIDE_QUANTILE,
    INSIDE_RULE,
    ORDINARY_QUANTILE,
    PREDICTION_QUANTILE,
    RULE,
    VETO_C,
    DangerNet,
)
from sosrisk.scope.encoder import DIMENSION, SentenceEncoder
from sosrisk.scope.gate import ScopeGate
from sosrisk.scope.hard_positives import hard_positives
from sosrisk.scope.recovery_posts import FAMILIES as RECOVERY_FAMILIES
from sosrisk.scope.recovery_posts import VERSION as RECOVERY_VERSION
from sosrisk.scope.recovery_posts import recovery_posts
from sosrisk.scope.rules import has_context_cue
from sosrisk.scope.stage import SCOPE_DIR
from sosrisk.scope.training import ScopeSettings

BEHAVIOUR = Path(__file__).resolve().parents[1] / "src" / "sosrisk" / "behaviour"
# plainly worded danger, written for these tests (not in the behavioural suites, not among the hard positives)
PLAIN = ["药已经全部吞下去了，头越来越沉，谢谢你们一直陪着我", "今晚就去江边，这次不会再回头了，大家保重"]


def test_the_net_fires_on_what_it_learned_and_on_almost_no_ordinary_sentence() -> None:
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    net = DangerNet().fit(danger, ordinary, calm)
    assert net.fires(clusters(20, 0, 4)).all()  # new posts like the danger posts
    assert not net.fires(clusters(20, 2, 5)).any()  # in scope, not at risk
    # the threshold is the 99.95% quantile of the ordinary sentences: strictly above it, 1 of 3,000 fires
    assert net.fires(ordinary).sum() == 1
    assert DangerNet(quantile=0.9999).fit(danger, ordinary, calm).fires(ordinary).sum() == 0
    assert net.report_["ordinary_sentences"] == 3000 and net.report_["calm_in_scope_posts"] == 60
    # without calm posts the ordinary ones take all of the other half of the weight
    assert DangerNet().fit(danger, ordinary, np.zeros((0, DIMENSION))).report_["calm_in_scope_posts"] == 0
    with pytest.raises(ModelError, match="at least two danger posts"):
        DangerNet().fit(danger[:1], ordinary, calm)
    with pytest.raises(ModelError, match="The 'C' of the plain-danger net must be a number > 0"):
        DangerNet(C=0)
    with pytest.raises(ModelError, match=r"The quantile of the plain-danger net must be in \[0.5, 1\)"):
        DangerNet(quantile=1.0)
    # a lower quantile: a lower threshold, and still above almost every ordinary sentence
    lower = DangerNet(quantile=0.99).fit(danger, ordinary, calm)
    assert lower.threshold_ < net.threshold_ and 0 < lower.fires(ordinary).sum() <= 30
    with pytest.raises(ModelError, match="not fitted"):
        DangerNet().probability(danger)


def test_the_inside_bar_is_lower_and_fires_only_where_asked() -> None:
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    net = DangerNet().fit(danger, ordinary, calm)
    assert net.inside_quantile == INSIDE_QUANTILE == 0.99
    assert net.inside_threshold_ is not None and net.inside_threshold_ < net.threshold_
    assert net.report_["inside_threshold"] == net.inside_threshold_
    # strictly above the 99% quantile of the ordinary sentences: at most 30 of 3,000, more than the main bar
    assert net.fires(ordinary).sum() < net.fires_inside(ordinary).sum() <= 30
    assert net.fires_inside(clusters(20, 0, 4)).all()
    none = DangerNet(inside_quantile=None).fit(danger, ordinary, calm)
    assert none.inside_threshold_ is None and not none.fires_inside(danger).any()
    with pytest.raises(ModelError, match="The inside quantile of the plain-danger net must be in"):
        DangerNet(quantile=0.99, inside_quantile=0.995)
    with pytest.raises(ModelError, match="'danger_inside_quantile' must be within"):
        ScopeSettings(danger_inside_quantile=0.9999)


def test_the_recovery_veto_withdraws_what_looks_back_and_keeps_every_danger_post_it_learned() -> None:
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    # the team's recovery posts: like the danger posts (they name the means) and like something else as well
    recovery, at_risk = clusters(50, 0, 6, also=3), clusters(30, 0, 7)
    plain = DangerNet().fit(danger, ordinary, calm)
    net = DangerNet(veto_C=VETO_C).fit(danger, ordinary, calm, veto_recovery=recovery, veto_danger=at_risk)
    assert plain.veto_threshold_ is None and "veto" not in plain.report_
    # the same bars: the veto does not move them
    assert (net.threshold_, net.inside_threshold_) == (plain.threshold_, plain.inside_threshold_)
    looking_back = clusters(20, 0, 8, also=3)
    assert plain.fires(looking_back).all() and plain.fires_inside(looking_back).all()
    anywhere, inside, _ = net.firings(looking_back)
    assert not anywhere.any() and not inside.any() and net.vetoed(looking_back).all()
    # its threshold is the highest veto probability of the danger posts it learned: none of them is withdrawn
    learned = np.vstack([danger, at_risk])
    assert net.veto_threshold_ == pytest.approx(net.veto_probability(learned).max())
    assert not net.vetoed(learned).any()
    # new danger posts sit on the same side; one may land just above the highest learned one, so: nearly all
    assert net.fires(clusters(20, 0, 4)).sum() >= 18
    assert net.report_["veto"]["danger_posts"] == 70 and net.report_["veto"]["recovery_posts"] == 50
    with pytest.raises(ModelError, match="needs at least two recovery posts"):
        DangerNet(veto_C=1.0).fit(danger, ordinary, calm)
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ModelError, match="The 'veto_C' of the plain-danger net must be a number > 0 or None"):
            DangerNet(veto_C=bad)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="no recovery veto"):
        plain.veto_probability(danger)


def test_the_inside_bar_raises_only_posts_the_gate_put_in_scope_without_a_context_cue(danger_model) -> None:  # type: ignore[no-untyped-def]
    stage = danger_model.scope_
    assert stage is not None and stage.danger is not None and stage.danger.inside_threshold_ is not None
    cued = ["以前好想死，每天都好累", "三年前好想死，每天都好累"]  # rules-22: the past, counted too
    texts = [*PLAIN, *ORDINARY_POSTS[:8], "好想死，每天都好累", *cued, "今天天气不错"]
    saved = stage.danger.inside_threshold_
    try:
        stage.danger.inside_threshold_ = 0.0  # every post above it: the gate alone decides where it applies
        decision = stage.decide(texts)
    finally:
        stage.danger.inside_threshold_ = saved
    inside = [any(h.rule == INSIDE_RULE for h in hits) for hits in decision.rule_hits]
    anywhere = [any(h.rule == RULE for h in hits) for hits in decision.rule_hits]
    expected = [
        bool(g) and not a and not has_context_cue(t)
        for t, g, a in zip(texts, decision.gate_in_scope, anywhere, strict=True)
    ]
    assert inside == expected and any(inside)
    assert not decision.gate_in_scope.all(), "the test needs a post the gate leaves out"
    kept_with_cue = [
        bool(g) and not a for t, g, a in zip(texts, decision.gate_in_scope, anywhere, strict=True) if t in cued
    ]
    assert any(kept_with_cue), "the test needs a post with a cue that the gate keeps"
    assert (decision.floors[np.array(inside)] >= FLOOR).all()


def test_the_own_voice_bar_raises_only_left_out_posts_without_a_context_cue(danger_model) -> None:  # type: ignore[no-untyped-def]
    stage = danger_model.scope_
    assert stage is not None and stage.danger is not None and stage.danger.guarded_threshold_ is not None
    net = stage.danger
    assert net.inside_threshold_ is not None
    assert net.inside_threshold_ <= net.guarded_threshold_ <= net.threshold_
    assert net.report_["own_voice_threshold"] == net.guarded_threshold_
    # the same posts without a cue and with one (past, someone else, hyperbole, recovery, reported)
    plain = ["一个人坐在这里，什么都不想说了", "明天就不用再早起了"]
    cued = ["那时候一个人坐在这里，什么都不想说了", "听说同学明天就不用再早起了", "热死了，明天就不用再早起了"]
    texts = [*plain, *cued, *ORDINARY_POSTS[:6]]
    gate, prefilter = stage.gate, stage.prefilter
    assert prefilter is not None
    saved = (net.guarded_threshold_, net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_)
    try:
        # every post through the prefilter and above the own-voice bar, none in the gate's scope or above the
        # main bar, no veto: the rules and the cues alone decide
        net.guarded_threshold_, net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = (
            0.0,
            1.0,
            None,
            1.0,
            0.0,
        )
        decision = stage.decide(texts)
        net.guarded_threshold_ = None  # a directory written before the bar: nothing raised by it
        before = stage.decide(texts)
    finally:
        net.guarded_threshold_, net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = saved
    own = [any(h.rule == GUARDED_RULE for h in hits) for hits in decision.rule_hits]
    others = [any(h.rule != GUARDED_RULE for h in hits) for hits in decision.rule_hits]
    assert own == [not other and not has_context_cue(t) for t, other in zip(texts, others, strict=True)]
    assert own[: len(plain)] == [True, True] and not any(own[len(plain) : len(plain) + len(cued)])
    assert not any(h.rule == GUARDED_RULE for hits in before.rule_hits for h in hits)
    assert before.in_scope.tolist() == others
    assert (decision.floors[np.array(own)] >= FLOOR).all() and decision.in_scope[np.array(own)].all()


def test_the_own_voice_bar_is_set_after_the_ordinary_posts_are_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar never changes what the risk model learns: the stage chooses without it, then gets it."""
    import sosrisk.scope.training as scope_training

    bars_while_choosing = []
    choose = scope_training.mined_risk_negatives

    def spy(settings: Any, stage: Any, *args: Any, **kwargs: Any) -> Any:
        bars_while_choosing.append(stage.danger.guarded_threshold_)
        return choose(settings, stage, *args, **kwargs)

    monkeypatch.setattr(scope_training, "mined_risk_negatives", spy)
    texts = [*PLAIN, *ORDINARY_POSTS[:8]]
    on = tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True, risk_negatives_from="gate")
    off = tiny_scoped_model(
        "level",
        tmp_path,
        danger_net=True,
        prefilter_positives=True,
        risk_negatives_from="gate",
        danger_guarded_quantile=None,
    )
    assert on.scope_ is not None and off.scope_ is not None and off.scope_.danger is not None
    assert off.scope_.danger.guarded_threshold_ is None and "own_voice_threshold" not in off.scope_.danger.report_
    assert bars_while_choosing == [None, None] and on.scope_.danger is not None
    assert on.scope_.danger.guarded_threshold_ is not None
    assert on.training_["scope"] == off.training_["scope"]
    assert np.array_equal(
        on.predict_details(texts, apply_scope=False).proba,
        off.predict_details(texts, apply_scope=False).proba,
    )
    assert on.scope_.training["settings"]["danger_guarded_quantile"] == GUARDED_QUANTILE
    with pytest.raises(ModelError, match="'danger_guarded_quantile' must be within"):
        ScopeSettings(danger_guarded_quantile=0.9995)  # above danger_quantile
    with pytest.raises(ModelError, match="'danger_guarded_quantile' must be within"):
        ScopeSettings(danger_guarded_quantile=0.9)  # below danger_inside_quantile
    net = DangerNet().fit(clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3))
    net.set_own_voice_bar(0.998)
    assert net.threshold_ >= net.guarded_threshold_ >= net.inside_threshold_  # type: ignore[operator]
    with pytest.raises(ModelError, match="The own-voice quantile"):
        net.set_own_voice_bar(0.99999)
    net.set_own_voice_bar(None)
    assert net.guarded_threshold_ is None and "own_voice_threshold" not in net.report_


def test_recovery_posts_teach_the_net_what_looks_like_danger_and_is_not() -> None:
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    recovery = clusters(60, 0, 6, also=3)  # a past crisis looked back on: the danger direction and more
    unseen = clusters(20, 0, 7, also=3)
    without = DangerNet(quantile=0.9999).fit(danger, ordinary, calm)
    taught = DangerNet(quantile=0.9999).fit(danger, ordinary, calm, recovery)
    assert without.fires(unseen).all()
    assert not taught.fires(unseen).any()
    assert taught.fires(clusters(20, 0, 4)).all()  # danger still fires
    assert taught.fires(ordinary).sum() == 0
    assert taught.report_["recovery_posts"] == 60 and taught.report_["training_recovery_posts_above"] == 0
    assert without.report_["recovery_posts"] == 0


def test_the_recovery_posts_are_fixed_distinct_and_apart_from_the_behavioural_cases() -> None:
    posts = recovery_posts()
    assert posts == recovery_posts() and posts != recovery_posts(seed=1)
    sentences = [s for _, s in posts]
    assert len(sentences) == len(set(sentences)) == 408  # the slot space caps some families below their wish
    assert {family for family, _ in posts} == set(RECOVERY_FAMILIES) and RECOVERY_VERSION == "recovery-1"
    with open(BEHAVIOUR / "cases.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    cases = [row["text"] for row in rows] + [row["variant"] for row in rows if row["variant"]]
    assert len(cases) > 150
    normalised = {normalize_for_matching(s) for s in sentences}
    assert not [c for c in cases if normalize_for_matching(c) in normalised]
    # and nothing the team wrote as danger is also written as recovery
    assert not normalised & {normalize_for_matching(s) for _, s, _ in hard_positives()}


def test_extra_positives_train_the_gate_but_never_set_its_threshold(tmp_path: Path) -> None:
    posts = ["好想死", "不想活了", "活着好累", "想结束这一切", "我撑不下去了", "每天都想消失"] * 3
    negatives = {"ordinary": ORDINARY_POSTS}
    extra = ["药已经全部吞下去了", "这是我最后一条微博", "明晚就从桥上下去"]
    plain = ScopeGate(cv_folds=3, min_df=1).fit(posts, np.ones(len(posts), dtype=bool), negatives)
    taught = ScopeGate(cv_folds=3, min_df=1).fit(
        posts, np.ones(len(posts), dtype=bool), negatives, extra_positives=extra
    )
    assert taught.report_["in_scope_posts"] == len(posts) and taught.report_["extra_in_scope_posts"] == 3
    assert "extra_in_scope_posts" not in plain.report_
    assert taught.probability(extra).mean() > plain.probability(extra).mean()


@pytest.fixture
def danger_model(tmp_path: Path):  # type: ignore[no-untyped-def]
    return tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True)


def test_a_firing_is_a_rule_hit_that_raises_the_post(danger_model) -> None:  # type: ignore[no-untyped-def]
    stage = danger_model.scope_
    assert stage is not None and stage.danger is not None
    # the hard positives train the prefilter (so plain danger reaches the net), not the gate
    assert stage.training["hard_positives_in"]["gate"] == 0 and stage.training["hard_positives_in"]["prefilter"] > 300
    # the recovery posts are not among its calm posts by default (measured, not adopted); they train its veto
    assert stage.danger.report_["recovery_posts"] == 0
    assert stage.training["recovery_posts_version"] == RECOVERY_VERSION
    veto = stage.danger.report_["veto"]
    assert veto["recovery_posts"] == len(recovery_posts()) and veto["training_recovery_posts_above"] > 0
    assert veto["danger_posts"] > len(hard_positives())  # and the tiny training posts at level 6+
    texts = [*PLAIN, *ORDINARY_POSTS[:8], "好想死"]
    passes = stage.prefilter.probability(texts) >= stage.prefilter.threshold_
    embeddings = SentenceEncoder.shared().encode([t for t, ok in zip(texts, passes, strict=True) if ok])
    fired = np.zeros(len(texts), dtype=bool)
    fired[passes] = stage.danger.fires(embeddings)
    assert fired.any(), "the net should fire on at least one plainly worded post"
    decision = stage.decide(texts)
    semantic = [any(h.family == FAMILY and h.rule == RULE for h in hits) for hits in decision.rule_hits]
    assert semantic == fired.tolist()  # only on the posts the prefilter lets through
    assert (decision.floors[fired] >= FLOOR).all() and decision.in_scope[fired].all()
    details = danger_model.predict_details(texts)
    assert (np.asarray(details.labels)[fired] >= FLOOR).all()


def test_the_net_is_saved_loaded_and_refused_when_damaged(danger_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    danger_model.save(tmp_path / "m")
    folder = tmp_path / "m" / SCOPE_DIR
    assert (folder / "danger.npz").is_file()
    texts = [*PLAIN, *ORDINARY_POSTS[:5]]
    loaded = load_model(tmp_path / "m")
    assert loaded.predict_details(texts).labels.tolist() == danger_model.predict_details(texts).labels.tolist()
    before = [[h.to_dict() for h in hits] for hits in danger_model.scope_.decide(texts).rule_hits]
    assert [[h.to_dict() for h in hits] for hits in loaded.scope_.decide(texts).rule_hits] == before
    assert loaded.scope_.describe()["plain_danger_net"]["threshold"] == round(danger_model.scope_.danger.threshold_, 6)
    config = json.loads((folder / "scope.json").read_text("utf-8"))
    cases = (
        ({"file": "gate.npz"}, "the 'danger' entry must name danger.npz."),
        ({"threshold": 2}, "the plain-danger threshold must be a number in [0, 1]. Got 2."),
        ({"params": {"C": 1.0, "colour": 1}}, "bad plain-danger net params"),
        ({"params": {"C": 1.0, "quantile": 1.5}}, "The quantile of the plain-danger net must be in [0.5, 1)"),
    )
    errors = damaged_scope_errors(tmp_path / "m", "danger", [change for change, _ in cases])
    for (_, message), error in zip(cases, errors, strict=True):
        assert message in error
    assert config["danger"]["params"] == {
        "C": 1.0,
        "quantile": PREDICTION_QUANTILE,
        "inside_quantile": INSIDE_QUANTILE,
        "veto_C": VETO_C,
        "guarded_quantile": GUARDED_QUANTILE,
    }
    assert loaded.scope_.danger.veto_threshold_ == danger_model.scope_.danger.veto_threshold_ is not None
    assert loaded.scope_.describe()["plain_danger_net"]["recovery_veto_threshold"] == round(
        danger_model.scope_.danger.veto_threshold_, 6
    )

    def refused(edit: Callable[[dict[str, Any]], object], match: str) -> None:
        """scope.json with its 'danger' entry edited by ``edit`` is refused with ``match``."""
        edited = json.loads(json.dumps(config))
        edit(edited["danger"])
        (folder / "scope.json").write_text(json.dumps(edited), "utf-8")
        with pytest.raises(ModelError, match=match):
            load_model(tmp_path / "m")

    refused(lambda danger: danger.pop("veto_threshold"), "a veto_C without a veto threshold")
    # a scope.json without the veto over a danger.npz with one: the arrays do not match what it names
    refused(
        lambda danger: (danger.pop("veto_threshold"), danger["params"].update(veto_C=None)),
        r"expected the arrays \['coef', 'intercept'\]",
    )
    assert loaded.scope_.danger.inside_threshold_ == danger_model.scope_.danger.inside_threshold_
    refused(lambda danger: danger.pop("inside_threshold"), "an inside quantile without an inside threshold")
    assert loaded.scope_.danger.guarded_threshold_ == danger_model.scope_.danger.guarded_threshold_ is not None
    refused(lambda danger: danger.pop("guarded_threshold"), "an own-voice quantile without an own-voice threshold")
    refused(lambda danger: danger["params"].update(guarded_quantile=0.9999), "The own-voice quantile")
    # a directory written before the quantile was a setting (params: C alone, no inside bar) loads with its
    # saved threshold and no inside bar
    older = json.loads(json.dumps(config))
    older["danger"]["params"] = {"C": 1.0}
    del older["danger"]["inside_threshold"], older["danger"]["veto_threshold"], older["recovery_cap"]
    (folder / "scope.json").write_text(json.dumps(older), "utf-8")
    np.savez_compressed(folder / "danger.npz", coef=danger_model.scope_.danger.coef_, intercept=np.array([0.5]))
    del older["danger"]["guarded_threshold"]
    (folder / "scope.json").write_text(json.dumps(older), "utf-8")
    old = load_model(tmp_path / "m").scope_.danger
    assert old.threshold_ == danger_model.scope_.danger.threshold_ and old.inside_threshold_ is None
    assert old.guarded_threshold_ is None and old.guarded_quantile is None
    assert old.veto_threshold_ is None and not old.vetoed(np.ones((3, DIMENSION))).any()
    (folder / "scope.json").write_text(json.dumps(config), "utf-8")
    (folder / "danger.npz").write_bytes((folder / "danger.npz").read_bytes()[:50])
    with pytest.raises(ModelError, match=r"not a readable \.npz archive"):
        load_model(tmp_path / "m")
    # a stage without the net saved over it removes the stale file
    tiny_scoped_model("level", tmp_path, danger_net=False).save(tmp_path / "m")
    assert not (folder / "danger.npz").exists()
    assert json.loads((folder / "scope.json").read_text("utf-8"))["danger"] is None


def test_settings_spell_out_both_switches(tmp_path: Path) -> None:
    recorded = tiny_scope_settings(tmp_path, danger_net=True, prefilter_positives=True).to_dict()
    assert (recorded["danger_net"], recorded["prefilter_positives"], recorded["gate_positives"]) == (True, True, False)
    defaults = ScopeSettings()
    assert (defaults.danger_net, defaults.prefilter_positives, defaults.gate_positives) == (True, True, False)
    assert not defaults.danger_recovery and recorded["danger_recovery"] is False
    assert defaults.danger_veto and recorded["danger_veto"] is True
    off = tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True, danger_veto=False)
    assert off.scope_ is not None and off.scope_.danger is not None and off.scope_.danger.veto_threshold_ is None
    assert off.scope_.training["recovery_posts_version"] is None
    # the recovery cap needs the veto: on by default, off without the veto, refused when not a bool
    assert defaults.recovery_cap and recorded["recovery_cap"] is True and not off.scope_.recovery_cap
    for bad in ("yes", 1, None):
        with pytest.raises(ModelError, match="'recovery_cap' must be True or False"):
            ScopeSettings(recovery_cap=bad)  # type: ignore[arg-type]
    assert defaults.danger_quantile == PREDICTION_QUANTILE == 0.999
    assert defaults.danger_mining_quantile == ORDINARY_QUANTILE == 0.9995
    for bad in (1.0, 0.2, True, "0.99"):
        with pytest.raises(ModelError, match="'danger_quantile' must be within"):
            ScopeSettings(danger_quantile=bad)
    on = tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True, danger_recovery=True)
    assert on.scope_ is not None and on.scope_.danger is not None
    assert on.scope_.training["recovery_posts_version"] == RECOVERY_VERSION
    assert on.scope_.danger.report_["recovery_posts"] == len(recovery_posts())


def test_the_page_and_the_api_describe_a_net_hit_as_the_net() -> None:
    from sosrisk.scope import danger
    from sosrisk.serve.explain import describe_rule_hit
    from sosrisk.serve.pages import RULE_FAMILY_NAMES

    text = PLAIN[0]
    described = describe_rule_hit(DangerNet.hit(text).to_dict(), text)
    assert described["description"] == danger.DESCRIPTION and described["text"] == text
    assert (described["family"], described["rule"], described["floor"]) == (FAMILY, RULE, FLOOR)
    own_voice = describe_rule_hit(DangerNet.hit(text, own_voice=True).to_dict(), text)
    assert (own_voice["rule"], own_voice["description"]) == (GUARDED_RULE, danger.GUARDED_DESCRIPTION)
    assert FAMILY in RULE_FAMILY_NAMES


def test_the_bar_can_move_right_after_training_and_not_after_loading(danger_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    net = DangerNet().fit(danger, ordinary, calm)
    inside = net.inside_threshold_
    net.requantile(0.999)
    fresh = DangerNet(quantile=0.999).fit(danger, ordinary, calm)
    assert net.quantile == 0.999 and net.threshold_ == fresh.threshold_
    assert net.inside_threshold_ == inside and net.report_["threshold"] == net.threshold_
    # the report's counts describe the bar the net now predicts with, not the one it was trained at: with the
    # ordinary sentences also as the calm group, more of them are above the lower bar
    both = DangerNet().fit(danger, ordinary, ordinary)
    at_first = both.report_["training_calm_posts_above"]
    both.requantile(0.999)
    assert both.report_ == DangerNet(quantile=0.999).fit(danger, ordinary, ordinary).report_
    assert both.report_["training_calm_posts_above"] > at_first
    assert 1 < net.fires(ordinary).sum() <= 3  # strictly above the 99.9% quantile of 3,000
    with pytest.raises(ModelError, match="at least its inside and own-voice quantiles"):
        net.requantile(0.98)
    danger_model.save(tmp_path / "saved")
    loaded = load_model(tmp_path / "saved")
    assert loaded.scope_ is not None and loaded.scope_.danger is not None
    with pytest.raises(ModelError, match="only be moved right after it was trained"):
        loaded.scope_.danger.requantile(0.999)
    with pytest.raises(ModelError, match="own-voice bar can only be set right after it was trained"):
        loaded.scope_.danger.set_own_voice_bar(0.998)


def test_the_ordinary_posts_may_be_chosen_at_another_bar_than_the_one_that_predicts(tmp_path: Path) -> None:
    for bad in (1.0, 0.2, 0.98):
        with pytest.raises(ModelError, match="'danger_mining_quantile' must be within"):
            ScopeSettings(danger_mining_quantile=bad)
    at_mining_bar = tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True)
    moved = tiny_scoped_model(
        "level",
        tmp_path,
        danger_net=True,
        prefilter_positives=True,
        danger_quantile=0.999,
        danger_mining_quantile=0.9995,
    )
    lower = tiny_scoped_model("level", tmp_path, danger_net=True, prefilter_positives=True, danger_quantile=0.999)
    assert moved.scope_ is not None and at_mining_bar.scope_ is not None and lower.scope_ is not None
    # the net is the same; it predicts at the lower bar and recorded both settings
    assert np.allclose(moved.scope_.danger.coef_, at_mining_bar.scope_.danger.coef_)  # type: ignore[union-attr]
    assert moved.scope_.danger.threshold_ == lower.scope_.danger.threshold_  # type: ignore[union-attr]
    assert moved.scope_.danger.quantile == 0.999  # type: ignore[union-attr]
    assert moved.scope_.training["settings"]["danger_mining_quantile"] == 0.9995
    # and the model learned the ordinary posts chosen at the mining bar
    assert moved.training_["scope"] == at_mining_bar.training_["scope"]


def test_help_asked_for_someone_else_withdraws_the_nets_hit(danger_model) -> None:  # type: ignore[no-untyped-def]
    """rules-27: the net reads what a post is about, not whose danger it is; where a post asks how to help someone
    else, the net's hit is withdrawn and the post goes out of scope, while a regex rule still raises it."""
    stage = danger_model.scope_
    assert stage is not None and stage.danger is not None and stage.prefilter is not None
    net, gate, prefilter = stage.danger, stage.gate, stage.prefilter
    helper = "我开出租的，有个乘客一路都在哭，下车前把手机和钱包都塞给我了，我该联系谁"
    own = "我撑不住了，手机和钱包都留给我妈了，我该联系谁"  # a word of giving up: it may be the writer's own
    ruled = "朋友说他想跳楼，可我已经吞了一整瓶安眠药，我该怎么办"  # a rule fires on the writer's act: it stays
    texts = [helper, own, ruled]
    saved = (net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_)
    try:
        # every post through the prefilter, out of the gate's scope and above the net's main bar, no veto
        net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = 0.0, None, 1.0, 0.0
        decision = stage.decide(texts)
        answers = assess(texts, level_model=danger_model)
    finally:
        net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = saved
    assert decision.someone_else is not None
    assert decision.someone_else.tolist() == [True, False, False]
    assert decision.rule_hits[0] == [] and not decision.in_scope[0]
    assert [h.rule for h in decision.rule_hits[1]] == [RULE] and decision.in_scope[1]
    assert "overdose_taken" in [h.rule for h in decision.rule_hits[2]] and decision.in_scope[2]
    assert (answers[0].in_scope, answers[0].scope_reason, answers[0].risk_level) == (False, "someone_else", 0)
    assert answers[1].risk_level is not None and answers[1].risk_level >= FLOOR


def test_the_recovery_cap_keeps_a_crisis_told_as_over_below_the_plan_tier(danger_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """2026-12-07: where the veto reads a post in scope as looking back on a crisis and the post carries a context
    cue, the level stays at 5 or below and the post is low risk; never where a rule of the plan tier fired, nor
    without a cue, nor in a directory written before the cap."""
    stage = danger_model.scope_
    assert stage is not None and stage.danger is not None and stage.prefilter is not None
    assert stage.recovery_cap and stage.describe()["recovery_cap"] is True
    net, gate, prefilter = stage.danger, stage.gate, stage.prefilter
    told_as_over = "两年前我在江边站了很久，现在每周去复查，日子好起来了"  # the past and recovery: a cue
    no_cue = "每周都去医院，日子一天天过"  # no cue: never capped
    ruled = "刚刚吞了一整瓶安眠药，头好晕"  # an attempt rule (floor 10): never capped
    texts = [told_as_over, no_cue, ruled]
    assert has_context_cue(told_as_over) and not has_context_cue(no_cue)
    saved = (net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_)
    nine = np.zeros((len(texts), 11))
    nine[:, 9] = 1.0
    try:
        # every post through the prefilter and in the gate's scope, every post above the veto's threshold (so the
        # net fires on none), and the risk model putting every post at level 9
        net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = 0.0, -1.0, 0.0, 0.0
        danger_model._calibrated = lambda batch, batch_size: nine[: len(batch)]
        decision = stage.decide(texts)
        answers = assess(texts, level_model=danger_model)
        stage.recovery_cap = False  # a directory written before the cap
        before = assess(texts, level_model=danger_model)
    finally:
        net.threshold_, net.veto_threshold_, gate.threshold_, prefilter.threshold_ = saved
        stage.recovery_cap = True
        del danger_model._calibrated
    assert decision.recovered is not None and decision.recovered.tolist() == [True, False, False]
    assert [a.risk_level for a in answers] == [5, 9, 10]
    # the binary task: low risk where capped, whatever the model said
    binary = tiny_scoped_model("binary", tmp_path, danger_net=True, prefilter_positives=True)
    high = np.zeros((len(texts), 2))
    high[:, 1] = 1.0
    binary._calibrated = lambda batch, batch_size: high[: len(batch)]
    assert binary.predict_details(texts, scope=decision).labels.tolist() == [0, 1, 1]
    assert [a.scope_reason for a in answers] == ["recovered", "in_scope", "in_scope"]
    assert [a.risk_level for a in before] == [9, 9, 10] and before[0].scope_reason == "in_scope"
    # the switch is written into the directory; a directory without it (written before) has no cap
    danger_model.save(tmp_path / "capped")
    scope_json = tmp_path / "capped" / SCOPE_DIR / "scope.json"
    config = json.loads(scope_json.read_text(encoding="utf-8"))
    assert config["recovery_cap"] is True and load_model(tmp_path / "capped").scope_.recovery_cap
    del config["recovery_cap"]
    scope_json.write_text(json.dumps(config), encoding="utf-8")
    assert load_model(tmp_path / "capped").scope_.recovery_cap is False
    config["recovery_cap"] = "yes"
    scope_json.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelError, match="'recovery_cap' must be true or false"):
        load_model(tmp_path / "capped")
