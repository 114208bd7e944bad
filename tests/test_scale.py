"""The scale: 11 levels with definitions, the tiers and the task names."""

from __future__ import annotations

import pytest

from sosrisk import scale


def test_eleven_levels_with_both_languages() -> None:
    assert [entry.value for entry in scale.SCALE] == list(range(11))
    for entry in scale.SCALE:
        assert entry.definition_en and entry.definition_zh and entry.name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.definition_zh)


def test_tiers_cover_every_level_once_in_order() -> None:
    covered = [level for tier in scale.TIERS for level in range(tier.low, tier.high + 1)]
    assert covered == list(range(11))
    assert [tier.rank for tier in scale.TIERS] == [0, 1, 2, 3]
    assert [scale.tier_of(v).key for v in (0, 3, 4, 5, 6, 7, 8, 10)] == [
        "distress",
        "distress",
        "wish",
        "wish",
        "plan",
        "plan",
        "imminent",
        "imminent",
    ]
    assert scale.level(9).tier.key == "imminent"
    assert scale.tier_by_key("plan").low == 6


@pytest.mark.parametrize("bad", [-1, 11, 3.0, "3", True, None])
def test_bad_level(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        scale.check_level(bad)
    assert str(info.value) == f"A risk level must be an integer from 0 to 10. Got {bad!r} instead."


def test_tasks_and_labels() -> None:
    assert scale.labels_for("level") == tuple(range(11))
    assert scale.labels_for("binary") == (0, 1)
    assert scale.label_name("binary", 1) == "high risk"
    assert scale.label_name("binary", 0, "zh") == "低风险"
    with pytest.raises(ValueError) as info:
        scale.check_task("levels")
    assert str(info.value) == "The task must be one of {'level', 'binary'}. Got 'levels' instead."
    with pytest.raises(ValueError) as info:
        scale.tier_by_key("urgent")
    assert str(info.value) == "Unknown tier 'urgent'; expected one of: distress, wish, plan, imminent."
