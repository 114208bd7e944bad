"""Ordinary posts for the risk models drawn from those the model's own scope stage lets through."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_dataset
from scope_support import ORDINARY_POSTS, tiny_scope_settings
from sosrisk.models import ModelError
from sosrisk.scope.training import (
    ScopeSettings,
    at_risk_mask,
    fit_scope,
    gate_negatives,
    mined_risk_negatives,
    risk_negative_weight,
    risk_negatives,
)
from sosrisk.training import fit_with_scope, make_model

# ordinary sentences we wrote that share words with the tiny in-scope posts, so that some pass the gate
NEAR_MISSES = ["想死你们了，下周回来请吃饭", "这部电影里主角最后跳楼了", "热死了，空调又坏了", "好想吃火锅"]


def fitted_stage(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    settings = tiny_scope_settings(tmp_path, risk_negatives_from="gate", **overrides)
    texts, labels = tiny_dataset("level")
    stage = fit_scope(texts, at_risk_mask("level", np.asarray(labels)), settings, gate_negatives(settings))
    return settings, stage


def test_mined_posts_are_the_pool_posts_the_gate_lets_through(tmp_path: Path) -> None:
    settings, stage = fitted_stage(tmp_path, risk_negatives=1000)
    pool = ORDINARY_POSTS + NEAR_MISSES
    picked, counts = mined_risk_negatives(settings, stage, pool)
    decision = stage.decide(pool)
    expected = {
        t for t, ok, hits in zip(pool, decision.gate_in_scope, decision.rule_hits, strict=True) if ok and not hits
    }
    assert expected, "the fixture should let at least one near miss through"
    assert set(picked) == expected and len(picked) == len(expected)
    assert counts == {"pool": len(pool), "prefilter_passed": counts["prefilter_passed"], "gate_passed": len(expected)}
    assert counts["prefilter_passed"] >= len(expected)
    # fewer asked for than pass: a fixed sample of them
    fewer = replace(settings, risk_negatives=1)
    one, _ = mined_risk_negatives(fewer, stage, pool)
    assert len(one) == 1 and one[0] in expected and mined_risk_negatives(fewer, stage, pool)[0] == one


def test_training_with_mined_posts_records_them(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    model = make_model("char-linear", "level")
    settings = tiny_scope_settings(tmp_path, risk_negatives_from="gate")
    fit_with_scope(model, texts, labels, settings, pool=ORDINARY_POSTS + NEAR_MISSES)  # type: ignore[arg-type]
    record = model.training_["scope"]
    assert record["risk_negatives_mined"]["pool"] == len(ORDINARY_POSTS) + len(NEAR_MISSES)
    assert record["risk_negatives"] == min(settings.risk_negatives, record["risk_negatives_mined"]["gate_passed"])
    assert 0 < record["risk_negatives"] < len(ORDINARY_POSTS) + len(NEAR_MISSES)
    assert model.scope_ is not None and model.scope_.training["settings"]["risk_negatives_from"] == "gate"


def test_an_unknown_origin_is_refused() -> None:
    with pytest.raises(ModelError, match="'risk_negatives_from' must be one of sample, gate"):
        ScopeSettings(risk_negatives_from="random")


def test_a_second_gate_round_learns_the_posts_the_first_let_through(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    at_risk = at_risk_mask("level", np.asarray(labels))
    pool = ORDINARY_POSTS + NEAR_MISSES
    settings = tiny_scope_settings(tmp_path)
    first = fit_scope(texts, at_risk, settings, gate_negatives(settings))
    let_through, _ = mined_risk_negatives(replace(settings, risk_negatives=1000), first, pool)
    assert let_through
    twice = replace(settings, mine_gate_negatives=True)
    second = fit_scope(texts, at_risk, twice, gate_negatives(twice), pool=pool)
    record = second.training["mined_gate_negatives"]
    # the pool's posts already among the gate's negatives (ORDINARY_POSTS) are not mined again
    assert record["pool"] == len(NEAR_MISSES) and record["gate_passed"] == len(let_through)
    assert second.gate.report_["out_of_scope_posts"]["mined"] == len(let_through)
    assert second.training["settings"]["mine_gate_negatives"] is True
    still = second.decide(let_through).gate_in_scope
    assert still.sum() < len(let_through)


def test_settings_left_unset_take_the_model_kinds_measured_choice(tmp_path: Path) -> None:
    unset = ScopeSettings()
    assert unset.risk_negatives_from is None and unset.mine_gate_negatives is None
    assert unset.for_model(make_model("char-linear", "level").scope_defaults).risk_negatives_from == "gate"
    best = unset.for_model(make_model("best", "binary").scope_defaults)
    assert (best.risk_negatives_from, best.mine_gate_negatives) == ("sample", True)
    # a kind that chose nothing gets the general defaults; an explicit choice always wins over the kind's
    other = unset.for_model({})
    assert (other.risk_negatives_from, other.mine_gate_negatives) == ("sample", False)
    assert replace(unset, risk_negatives_from="sample").for_model(
        {"risk_negatives_from": "gate"}
    ).risk_negatives_from == ("sample")
    with pytest.raises(ModelError, match="may choose only"):
        unset.for_model({"per_source": 10})
    with pytest.raises(ModelError, match="'mine_gate_negatives' must be True, False or None"):
        ScopeSettings(mine_gate_negatives="yes")  # type: ignore[arg-type]


def test_char_linear_trained_with_unset_settings_mines_its_ordinary_posts(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("binary")
    settings = replace(tiny_scope_settings(tmp_path), risk_negatives_from=None)
    model = make_model("char-linear", "binary")
    fit_with_scope(model, texts, labels, settings, pool=ORDINARY_POSTS + NEAR_MISSES)  # type: ignore[arg-type]
    assert "risk_negatives_mined" in model.training_["scope"]
    assert model.scope_ is not None and model.scope_.training["settings"]["risk_negatives_from"] == "gate"


def test_an_ensemble_member_may_skip_the_ordinary_posts_while_the_others_learn_them(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    members = [{"kind": "char-linear", "params": {}, "ordinary_posts": "skip"}, "char-linear"]
    model = make_model("ensemble", "level", {"members": members})
    fit_with_scope(model, texts, labels, tiny_scope_settings(tmp_path), pool=ORDINARY_POSTS + NEAR_MISSES)  # type: ignore[arg-type]
    skipping, learning = model.members_  # type: ignore[attr-defined]
    added = model.training_["n_posts"] - len(texts)
    assert added > 0
    assert skipping.training_["n_posts"] == len(texts)  # the SOS-1K posts only
    assert learning.training_["n_posts"] == len(texts) + added
    # the choice is saved with the members, and only where it is not the default
    assert model.config_params()["members"][0]["ordinary_posts"] == "skip"
    assert "ordinary_posts" not in model.config_params()["members"][1]
    assert model.members_skipping_ordinary_posts() == ["char-linear"]  # type: ignore[attr-defined]
    encoder_skips = [{"kind": "encoder", "params": {"ordinary_posts": "skip"}}, "char-linear"]
    assert make_model("ensemble", "level", {"members": encoder_skips}).members_skipping_ordinary_posts() == [  # type: ignore[attr-defined]
        "encoder"
    ]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ({"kind": "char-linear", "ordinary_posts": "sometimes"}, "must be one of \\['train', 'skip'\\]"),
        ({"kind": "encoder", "ordinary_posts": "skip"}, "is an encoder: give it params"),
    ],
)
def test_a_members_ordinary_posts_setting_is_checked(member: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        make_model("ensemble", "level", {"members": [member, "char-linear"]})._validate_params()


def test_another_draw_takes_another_sample_of_the_same_posts(tmp_path: Path) -> None:
    settings, stage = fitted_stage(tmp_path, risk_negatives=1000)
    pool = ORDINARY_POSTS + NEAR_MISSES
    passing, _ = mined_risk_negatives(settings, stage, pool)
    assert len(passing) >= 2, "the fixture should let several posts through"
    draws = {
        draw: tuple(mined_risk_negatives(replace(settings, risk_negatives=1, risk_negatives_draw=draw), stage, pool)[0])
        for draw in range(8)
    }
    assert all(len(d) == 1 and set(d) <= set(passing) for d in draws.values())
    assert len(set(draws.values())) > 1  # eight draws of 1 from 2+ posts: not all the same
    assert mined_risk_negatives(replace(settings, risk_negatives=1), stage, pool)[0] == list(draws[0])
    # the equal share of every source is drawn again the same way
    negatives = gate_negatives(settings)
    samples = {
        tuple(risk_negatives(replace(settings, risk_negatives=3, risk_negatives_draw=d), negatives)) for d in range(6)
    }
    assert len(samples) > 1


@pytest.mark.parametrize("draw", [-1, 1.5, True, "1"])
def test_a_bad_draw_is_refused(draw: object) -> None:
    with pytest.raises(ModelError, match="'risk_negatives_draw' must be an int >= 0"):
        ScopeSettings(risk_negatives_draw=draw)  # type: ignore[arg-type]


def test_all_passing_posts_are_learnt_weighted_to_the_size_of_a_draw(tmp_path: Path) -> None:
    settings, stage = fitted_stage(tmp_path, risk_negatives=1)
    pool = ORDINARY_POSTS + NEAR_MISSES
    passing, _ = mined_risk_negatives(replace(settings, risk_negatives=1000), stage, pool)
    assert len(passing) >= 2, "the fixture should let several posts through"
    every = replace(settings, risk_negatives_all=True)
    assert mined_risk_negatives(every, stage, pool)[0] == passing
    assert risk_negative_weight(every, len(passing)) == pytest.approx(1 / len(passing))
    assert risk_negative_weight(settings, len(passing)) == 1.0  # a draw: every drawn post weighs 1
    assert risk_negative_weight(replace(every, risk_negatives=1000), len(passing)) == 1.0  # fewer than asked

    texts, labels = tiny_dataset("level")
    model = make_model("char-linear", "level")
    fit_with_scope(model, texts, labels, every, pool=pool)  # type: ignore[arg-type]
    record = model.training_["scope"]
    assert record["risk_negatives"] == record["risk_negatives_mined"]["gate_passed"] >= 2
    assert record["risk_negative_weight"] == pytest.approx(1 / record["risk_negatives"], abs=1e-6)
    assert model.training_["n_posts"] == len(texts) + record["risk_negatives"]
    drawn = make_model("char-linear", "level")
    fit_with_scope(drawn, texts, labels, replace(settings, risk_negatives_all=False), pool=pool)  # type: ignore[arg-type]
    assert drawn.training_["scope"]["risk_negatives"] == 1 and "risk_negative_weight" not in drawn.training_["scope"]


def test_learning_every_passing_post_is_refused_where_it_cannot_work(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    with pytest.raises(ModelError, match="takes no 'risk_negatives_draw'"):
        ScopeSettings(risk_negatives_all=True, risk_negatives_draw=1)
    with pytest.raises(ModelError, match="'risk_negatives_all' must be True, False or None"):
        ScopeSettings(risk_negatives_all="yes")  # type: ignore[arg-type]
    sampled = replace(tiny_scope_settings(tmp_path), risk_negatives_from="sample", risk_negatives_all=True)
    with pytest.raises(ModelError, match="needs risk_negatives_from='gate'"):
        fit_with_scope(make_model("char-linear", "level"), texts, labels, sampled)  # type: ignore[arg-type]
    mined = replace(sampled, risk_negatives_from="gate")
    with pytest.raises(ModelError, match="'embedding-linear' model cannot learn from weighted posts"):
        fit_with_scope(make_model("embedding-linear", "level"), texts, labels, mined)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="'embedding-linear' model cannot learn from weighted posts"):
        make_model("embedding-linear", "level").fit(texts, labels, sample_weight=np.ones(len(texts)))
    # unset, it is the kind's choice: char-linear's (measured in benchmarks/draw_noise.py), False for the others
    assert ScopeSettings().for_model(make_model("char-linear", "level").scope_defaults).risk_negatives_all is True
    assert ScopeSettings().for_model(make_model("best", "level").scope_defaults).risk_negatives_all is False
