"""Assessments (sosrisk.assess): what one post gets from a level model, a binary model or both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_dataset
from scope_support import tiny_scoped_model
from sosrisk import ModelError, assess
from sosrisk.assess import Assessment, format_rule_hits
from sosrisk.models.char_linear import CharLinearModel
from sosrisk.scale import level

POSTS = ["今天加班好累", "我已经吃了一整瓶药了，再见"]


@pytest.fixture(scope="module")
def models() -> dict[str, CharLinearModel]:
    fitted = {}
    for task in ("level", "binary"):
        texts, labels = tiny_dataset(task)
        fitted[task] = CharLinearModel(task=task, cv_folds=3).fit(texts, labels)
    return fitted


def test_both_models_give_the_level_its_meaning_and_the_flag(models: dict[str, CharLinearModel]) -> None:
    answers = assess(POSTS, level_model=models["level"], binary_model=models["binary"])
    proba = models["level"].predict_proba(POSTS)
    high = models["binary"].predict_proba(POSTS)[:, 1]
    for answer, row, p_high, value in zip(answers, proba, high, models["level"].predict(POSTS), strict=True):
        entry = level(int(value))
        assert answer.risk_level == value and answer.level_name == entry.name
        assert (answer.definition_en, answer.definition_zh) == (entry.definition_en, entry.definition_zh)
        assert answer.level_probabilities == [round(float(p), 6) for p in row]
        assert answer.expected_level == round(float(row @ np.arange(11)), 4)
        assert answer.high_risk_probability == round(float(p_high), 6)
        assert answer.in_scope is None and answer.rule_hits is None  # these models have no scope stage
    assert answers[1].tier == "imminent" and answers[1].high_risk is True


def test_one_model_leaves_the_other_tasks_fields_empty(models: dict[str, CharLinearModel]) -> None:
    (only_level,) = assess(POSTS[:1], level_model=models["level"])
    assert only_level.risk_level is not None and only_level.high_risk is None
    (only_binary,) = assess(POSTS[:1], binary_model=models["binary"])
    assert only_binary.risk_level is None and only_binary.high_risk is not None
    assert assess([], level_model=models["level"]) == []


def test_models_of_the_wrong_task_or_none_are_refused(models: dict[str, CharLinearModel]) -> None:
    with pytest.raises(ModelError) as neither:
        assess(POSTS)
    assert str(neither.value) == "Expected a level model, a binary model or both; got neither."
    with pytest.raises(ModelError) as swapped:
        assess(POSTS, level_model=models["binary"])
    assert str(swapped.value) == "The level model must be trained for the 'level' task, got a 'binary' model."
    with pytest.raises(ModelError) as other:
        assess(POSTS, binary_model=models["level"])
    assert str(other.value) == "The binary model must be trained for the 'binary' task, got a 'level' model."


def test_a_flat_row_spreads_the_probabilities_and_joins_the_rule_hits() -> None:
    answer = Assessment(risk_level=2, level_probabilities=[0.5, 0.25, 0.25], rule_hits=[{"family": "f", "rule": "r"}])
    row = answer.flat()
    assert row["p_level_0"] == 0.5 and row["p_level_2"] == 0.25 and "level_probabilities" not in row
    assert row["rule_hits"] == "f/r"
    assert format_rule_hits([{"family": "plan", "rule": "pills"}, {"family": "method", "rule": "roof"}]) == (
        "plan/pills;method/roof"
    )
    assert answer.to_dict()["level_probabilities"] == [0.5, 0.25, 0.25]


def test_the_scope_is_decided_once_and_out_of_scope_posts_get_level_0(tmp_path: Path) -> None:
    scoped = tiny_scoped_model("level", tmp_path)
    ordinary = "这家餐厅的牛肉面很好吃，推荐"
    answers = assess([ordinary, "我已经吃了一整瓶药了，再见", "   "], level_model=scoped)
    assert [a.scope_reason for a in answers] == ["out_of_scope", "in_scope", "blank"]
    assert answers[0].in_scope is False and answers[0].risk_level == 0
    assert answers[0].level_probabilities == [1.0] + [0.0] * 10
    assert answers[1].in_scope is True and answers[1].risk_level >= 8
    assert all(0 <= a.scope_probability <= 1 for a in answers)


class _Fixed(CharLinearModel):
    """A trained model whose answers are fixed per post (to test how the two answers meet)."""

    def __init__(self, trained: CharLinearModel, answers: list[int]) -> None:
        self.__dict__.update(trained.__dict__)
        self._answers = answers

    def predict_details(self, texts, *, batch_size=256, scope=None):  # type: ignore[no-untyped-def]
        details = super().predict_details(texts, batch_size=batch_size, scope=scope)
        details.labels = np.array(self._answers[: len(texts)])
        return details


def test_level_six_or_above_raises_the_flag_and_never_lowers_it(models: dict[str, CharLinearModel]) -> None:
    posts = ["帖子一", "帖子二", "帖子三", "帖子四"]
    level_model = _Fixed(models["level"], [5, 6, 10, 0])
    binary_model = _Fixed(models["binary"], [0, 0, 0, 1])
    raised = assess(posts, level_model=level_model, binary_model=binary_model)
    assert [a.high_risk for a in raised] == [False, True, True, True]
    alone = assess(posts, level_model=level_model, binary_model=binary_model, level_raises_high_risk=False)
    assert [a.high_risk for a in alone] == [False, False, False, True]
    # the probability stays the binary model's own
    assert [a.high_risk_probability for a in raised] == [a.high_risk_probability for a in alone]
