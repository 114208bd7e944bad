"""The farewell net and its templates: what it learns, raises, saves and refuses; the templates it learns from."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from scope_support import ORDINARY_POSTS, clusters, damaged_scope_errors, tiny_scoped_model
from sosrisk.assess import assess
from sosrisk.data.leakage import normalize_for_matching
from sosrisk.models import ModelError, load_model
from sosrisk.scope.danger import FAMILY, FAREWELL_RULE, FLOOR, RULE_DESCRIPTIONS, DangerNet
from sosrisk.scope.farewell import REACH_QUANTILE, FarewellNet
from sosrisk.scope.goodbyes import FAMILIES as GOODBYE_FAMILIES
from sosrisk.scope.goodbyes import VERSION as GOODBYES_VERSION
from sosrisk.scope.goodbyes import goodbyes
from sosrisk.scope.hard_positives import hard_positives
from sosrisk.scope.quiet_farewells import FAMILIES as FAREWELL_FAMILIES
from sosrisk.scope.quiet_farewells import LEVEL, quiet_farewells
from sosrisk.scope.quiet_farewells import VERSION as FAREWELLS_VERSION
from sosrisk.scope.raiser import PROBES
from sosrisk.scope.stage import SCOPE_DIR
from sosrisk.scope.training import ScopeSettings

REPO = Path(__file__).resolve().parents[1]
# a quiet farewell and an everyday goodbye written for these tests (in no suite, probe or template)
QUIET = "钱包和钥匙都放在桌上了，欠小周的钱也还了，我真的走不下去了，谢谢你们"
EVERYDAY = "下周搬去青岛上班了，沙发留给了室友，以后周末不能一起打球了，常联系"


def _everything_we_wrote_elsewhere() -> set[str]:
    texts = []
    for path in (REPO / "src" / "sosrisk" / "behaviour").glob("*.tsv"):
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                texts += [row["text"], row["variant"] or ""]
    for path in PROBES.glob("*.txt"):
        texts += path.read_text(encoding="utf-8").splitlines()
    return {normalize_for_matching(t) for t in texts if t}


def test_the_templates_are_fixed_distinct_and_apart_from_suites_probes_and_each_other() -> None:
    farewells, everyday = quiet_farewells(), goodbyes()
    assert farewells == quiet_farewells() and farewells != quiet_farewells(seed=1)
    assert everyday == goodbyes() and everyday != goodbyes(seed=1)
    farewell_texts = [s for _, s, _ in farewells]
    everyday_texts = [s for _, s in everyday]
    assert len(farewell_texts) == len(set(farewell_texts)) == sum(n for _, n in FAREWELL_FAMILIES.values())
    assert len(everyday_texts) == len(set(everyday_texts)) == sum(n for _, n in GOODBYE_FAMILIES.values())
    assert {level for _, _, level in farewells} == {LEVEL} == {9}
    assert (FAREWELLS_VERSION, GOODBYES_VERSION) == ("quiet-farewells-1", "goodbyes-1")
    ours = {normalize_for_matching(t) for t in farewell_texts + everyday_texts}
    assert not ours & _everything_we_wrote_elsewhere()
    assert not {normalize_for_matching(t) for t in farewell_texts} & {normalize_for_matching(t) for t in everyday_texts}
    assert not ours & {normalize_for_matching(s) for _, s, _ in hard_positives()}


def test_look_alikes_train_the_net_and_never_set_its_bar() -> None:
    danger, ordinary, calm = clusters(40, 0, 1), clusters(3000, 1, 2), clusters(60, 2, 3)
    # look-alikes: like the danger posts, and something else as well
    alike = clusters(80, 0, 4, also=3)
    plain = DangerNet(inside_quantile=None).fit(danger, ordinary, calm)
    taught = DangerNet(inside_quantile=None).fit(danger, ordinary, calm, lookalikes=alike, lookalike_share=0.1)
    assert taught.probability(alike).mean() < plain.probability(alike).mean()
    assert taught.report_["training_lookalikes_posts_above"] < plain.fires(alike).sum()
    assert "training_lookalikes_posts_above" not in plain.report_
    # the bar is still the quantile of the ordinary sentences alone: 1 of 3,000 strictly above it
    assert taught.fires(ordinary).sum() == 1
    for share in (0.0, 0.25, -0.1):
        with pytest.raises(ModelError, match="look-alikes' share"):
            DangerNet().fit(danger, ordinary, calm, lookalikes=alike, lookalike_share=share)


@pytest.fixture
def farewell_model(tmp_path: Path):  # type: ignore[no-untyped-def]
    return tiny_scoped_model("level", tmp_path, farewell_net=True)


def test_the_farewell_net_raises_what_it_fires_on_as_its_own_rule(farewell_model) -> None:  # type: ignore[no-untyped-def]
    stage = farewell_model.scope_
    assert stage is not None and stage.farewell is not None and stage.danger is None
    assert stage.training["farewell_net_templates"] == {
        "quiet_farewells": FAREWELLS_VERSION,
        "goodbyes": GOODBYES_VERSION,
    }
    report = stage.farewell.report_
    assert report["danger_posts"] == len(quiet_farewells()) and report["training_danger_posts_above"] > 0
    # reported, not asserted low: 30 tiny ordinary posts set a low bar (bench_probes.py measures the real one)
    assert 0 <= report["training_lookalikes_posts_above"] <= len(goodbyes())
    texts = [QUIET, EVERYDAY, *ORDINARY_POSTS[:6]]
    decision = stage.decide(texts)
    fired = [any(h.rule == FAREWELL_RULE for h in hits) for hits in decision.rule_hits]
    assert fired[0], "the net should fire on a quiet farewell written plainly"
    assert not any(fired[2:]), "nor on the ordinary posts it learned from"
    answers = assess(texts, level_model=farewell_model)
    for answer, hit in zip(answers, fired, strict=True):
        if hit:  # raised like the plain-danger net's main bar: in scope, level 6+, with the hit reported
            assert answer.in_scope and answer.risk_level >= FLOOR
            assert {"family": FAMILY, "rule": FAREWELL_RULE} in [
                {"family": h["family"], "rule": h["rule"]} for h in answer.rule_hits
            ]
    assert "quiet farewell" in RULE_DESCRIPTIONS[FAREWELL_RULE]


def test_the_farewell_net_is_saved_loaded_and_refused_when_damaged(farewell_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    farewell_model.save(tmp_path / "m")
    folder = tmp_path / "m" / SCOPE_DIR
    assert (folder / "farewell.npz").is_file() and not (folder / "danger.npz").exists()
    texts = [QUIET, EVERYDAY, *ORDINARY_POSTS[:4]]
    loaded = load_model(tmp_path / "m")
    before = [[h.to_dict() for h in hits] for hits in farewell_model.scope_.decide(texts).rule_hits]
    assert [[h.to_dict() for h in hits] for hits in loaded.scope_.decide(texts).rule_hits] == before
    assert loaded.scope_.describe()["farewell_net"]["threshold"] == round(farewell_model.scope_.farewell.threshold_, 6)
    config = json.loads((folder / "scope.json").read_text("utf-8"))
    cases = (
        ({"file": "danger.npz"}, "the 'farewell' entry must name farewell.npz."),
        ({"params": {"quantile": 0.999, "inside_quantile": 0.99}}, "one bar and no veto"),
        ({"threshold": -1}, "the farewell net's threshold must be a number in [0, 1]. Got -1."),
        ({"reach_threshold": "high"}, "the farewell net's reach threshold must be a number in [0, 1]. Got 'high'."),
        ({"params": {"view": "use+char", "quantile": 0.99, "reach_quantile": 0.999}}, "must be at most its quantile"),
        ({"params": {"view": "use", "C": 1.0}}, "bad farewell net params"),
    )
    errors = damaged_scope_errors(tmp_path / "m", "farewell", [change for change, _ in cases])
    for (_, message), error in zip(cases, errors, strict=True):
        assert message in error and "scope" in error
    # a directory written before the farewell net has no 'farewell' key: it loads without one
    del config["farewell"]
    (folder / "scope.json").write_text(json.dumps(config), "utf-8")
    (folder / "farewell.npz").unlink()
    assert load_model(tmp_path / "m").scope_.farewell is None
    # saving a stage without the net removes an earlier stage's file
    farewell_model.save(tmp_path / "m")
    assert (folder / "farewell.npz").is_file()
    farewell_model.scope_.farewell = None
    farewell_model.save(tmp_path / "m")
    assert not (folder / "farewell.npz").exists()


def test_the_farewell_net_is_on_by_default_with_a_checked_bar() -> None:
    settings = ScopeSettings()
    assert settings.farewell_net and settings.farewell_quantile == 0.999
    for bad in (1.0, 0.2, "high", True):
        with pytest.raises(ModelError, match="'farewell_quantile' must be within"):
            ScopeSettings(farewell_quantile=bad)  # type: ignore[arg-type]


def test_the_risk_models_learn_the_same_ordinary_posts_with_and_without_it(farewell_model) -> None:  # type: ignore[no-untyped-def]
    from sosrisk.scope.training import passing_posts

    stage = farewell_model.scope_
    pool = [QUIET, EVERYDAY, *ORDINARY_POSTS]
    with_net = passing_posts(stage, pool)
    assert stage.decide([QUIET]).rule_hits[0], "the net fires on the quiet farewell: the check below means something"
    stage.farewell = None
    assert passing_posts(stage, pool) == with_net


def _farewell_groups(seed: int = 0) -> dict[str, tuple[list[str], object]]:
    """Made-up texts and embeddings for the four groups: the farewells share words and a direction, the goodbyes
    share the farewells' words but name a destination."""
    import random

    rng = random.Random(seed)
    common = "今天明天我你他的了是在有和也都很"

    def texts(n: int, words: str, stem: str) -> list[str]:
        return [stem + "".join(rng.choice(common + words) for _ in range(12)) + str(i) for i in range(n)]

    return {
        "farewells": (texts(60, "托付谢谢对不起永远", "托付"), clusters(60, 0, 1)),
        "ordinary": (texts(2000, "电影咖啡超市地铁", "今天"), clusters(2000, 1, 2)),
        "calm": (texts(40, "难过累睡不着", "好累"), clusters(40, 2, 3)),
        "lookalikes": (texts(50, "托付谢谢搬家北京", "搬家"), clusters(50, 0, 4, also=3)),
    }


def test_the_second_farewell_net_reads_words_and_meaning_with_two_bars_on_ordinary_text() -> None:
    groups = _farewell_groups()
    net = FarewellNet().fit(groups, lookalike_share=0.05)  # type: ignore[arg-type]
    ordinary_texts, ordinary_embeddings = groups["ordinary"]
    # both bars are quantiles of the ordinary sentences, in sample, strictly above: 1 and 9 of 2,000
    assert net.fires(ordinary_texts, ordinary_embeddings).sum() == 1  # type: ignore[arg-type]
    assert net.reaches(ordinary_texts).sum() == 9
    assert net.quantile == 0.999 and net.reach_quantile == REACH_QUANTILE == 0.995
    farewell_texts, farewell_embeddings = groups["farewells"]
    assert net.fires(farewell_texts, farewell_embeddings).mean() > 0.9  # type: ignore[arg-type]
    assert net.reaches(farewell_texts).mean() > 0.9
    report = net.report_
    assert report["danger_posts"] == 60 and report["ordinary_sentences"] == 2000 and report["lookalikes"] == 50
    assert report["threshold"] == net.threshold_ and report["reach_threshold"] == net.reach_threshold_
    # the words count: the same embedding with the farewells' words scores higher than with ordinary words
    same = ordinary_embeddings[:20]  # type: ignore[index]
    assert (net.probability(farewell_texts[:20], same) > net.probability(ordinary_texts[:20], same)).all()
    with pytest.raises(ModelError, match="2 texts but 1 embeddings"):
        net.probability(farewell_texts[:2], same[:1])


def test_the_second_farewell_net_refuses_bad_settings_and_groups() -> None:
    for kwargs, message in (
        ({"C": 0}, "'C' of the farewell net"),
        ({"char_weight": True}, "'char_weight' of the farewell net"),
        ({"quantile": 1.0}, "'quantile' of the farewell net"),
        ({"reach_quantile": 0.9995}, "must be at most its quantile"),
        ({"ngram_range": (2, 1)}, "'ngram_range' must be two ints"),
        ({"min_df": 0}, "'min_df' must be an int"),
    ):
        with pytest.raises(ModelError, match=message):
            FarewellNet(**kwargs)  # type: ignore[arg-type]
    groups = _farewell_groups()
    with pytest.raises(ModelError, match="learns from the groups"):
        FarewellNet().fit({k: v for k, v in groups.items() if k != "calm"}, lookalike_share=0.05)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="look-alikes' share"):
        FarewellNet().fit(groups, lookalike_share=0.3)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="not fitted"):
        FarewellNet().reaches(["再见"])
    for bad in ({"farewell_chars": "yes"}, {"farewell_reach_quantile": 0.9999}, {"farewell_reach_quantile": 0.2}):
        with pytest.raises(ModelError, match=r"'farewell_(chars|reach_quantile)'"):
            ScopeSettings(**bad)  # type: ignore[arg-type]


def test_the_reach_lets_a_farewell_the_prefilter_turned_away_go_on_to_the_net(farewell_model) -> None:  # type: ignore[no-untyped-def]
    stage = farewell_model.scope_
    assert isinstance(stage.farewell, FarewellNet) and stage.prefilter is not None
    texts = [QUIET, *ORDINARY_POSTS[:6]]
    assert any(h.rule == FAREWELL_RULE for h in stage.decide(texts).rule_hits[0])
    stage.prefilter.threshold_ = 1.1  # the prefilter now turns every post away
    reached = stage.farewell.reaches(texts)
    assert reached[0] and not reached[1:].any(), "the reach lets the farewell on and none of the ordinary posts"
    decision = stage.decide(texts)
    assert any(h.rule == FAREWELL_RULE for h in decision.rule_hits[0]) and decision.in_scope[0]
    assert not any(decision.in_scope[1:]) and not any(decision.rule_hits[1:])
    stage.farewell.reach_threshold_ = 1.0  # and without the reach nothing gets past
    assert not stage.decide(texts).rule_hits[0]


def test_the_first_farewell_net_is_still_trained_on_request_and_loaded(tmp_path: Path) -> None:
    model = tiny_scoped_model("level", tmp_path, farewell_net=True, farewell_chars=False)
    stage = model.scope_
    assert stage is not None and isinstance(stage.farewell, DangerNet)
    assert "character" not in stage.describe()["farewell_net"]["net"]
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m").scope_
    assert isinstance(loaded.farewell, DangerNet) and loaded.farewell.threshold_ == stage.farewell.threshold_
    texts = [QUIET, EVERYDAY, *ORDINARY_POSTS[:4]]
    assert [[h.to_dict() for h in hits] for hits in loaded.decide(texts).rule_hits] == [
        [h.to_dict() for h in hits] for hits in stage.decide(texts).rule_hits
    ]
