"""The SOS-1K suicide-risk scale: 11 ordinal levels, triage tiers and the binary task.

The wording below is ours, written from the dataset authors' annotation guideline (Qi et al., 2024).
The binary high/low-risk label is its own annotation in SOS-1K, not a cut of the level; nothing here
derives one from the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["level", "binary"]
TASKS: tuple[Task, ...] = ("level", "binary")

N_LEVELS = 11
LEVELS: tuple[int, ...] = tuple(range(N_LEVELS))
BINARY_LABELS: tuple[int, ...] = (0, 1)
BINARY_NAMES: dict[int, str] = {0: "low risk", 1: "high risk"}
BINARY_NAMES_ZH: dict[int, str] = {0: "低风险", 1: "高风险"}


@dataclass(frozen=True)
class Level:
    """One level of the scale with its definitions in English and Chinese."""

    value: int
    name: str
    definition_en: str
    definition_zh: str

    @property
    def tier(self) -> Tier:
        """The triage tier this level belongs to."""
        return tier_of(self.value)


@dataclass(frozen=True)
class Tier:
    """A triage tier: a contiguous range of levels that calls for the same kind of response."""

    key: str
    rank: int
    low: int
    high: int
    name_en: str
    name_zh: str
    response_en: str

    def __contains__(self, level: object) -> bool:
        return isinstance(level, int) and self.low <= level <= self.high


SCALE: tuple[Level, ...] = (
    Level(
        0,
        "everyday negative emotion",
        "Ordinary negative feelings (sadness, anger, tiredness) with no sign of existential pain or suicidal thinking.",
        "只有日常的负面情绪（难过、生气、疲惫等），没有生存痛苦，也没有自杀念头。",
    ),
    Level(
        1,
        "some existential pain",
        "Some doubt about the worth of living or mild pain about existing, without any wish to die.",
        "对活着的意义有些怀疑，有轻度的生存痛苦，但没有想死的愿望。",
    ),
    Level(
        2,
        "clear existential pain",
        "Clear and repeated pain about living (life feels meaningless or a burden), still without a wish to die.",
        "明显而反复的生存痛苦（觉得活着没有意义或是负担），仍然没有想死的愿望。",
    ),
    Level(
        3,
        "strong existential pain",
        "Intense pain about living, possibly talk of death in general, but no expressed wish to end one's own life.",
        "强烈的生存痛苦，可能泛泛谈到死亡，但没有表达结束自己生命的愿望。",
    ),
    Level(
        4,
        "suicidal wish",
        "A wish to die or to end one's life is expressed, with no method or plan mentioned.",
        "表达了想死或想结束生命的愿望，但没有提到方法或计划。",
    ),
    Level(
        5,
        "strong suicidal wish",
        "A strong or persistent wish to die; the method is unclear or only vaguely considered.",
        "强烈或持续的想死愿望；方法不明确或只是模糊地考虑过。",
    ),
    Level(
        6,
        "suicide being planned",
        "Suicide is being considered or prepared as a plan, but no date is given.",
        "正在考虑或筹划自杀，但没有确定日期。",
    ),
    Level(
        7,
        "method decided",
        "A specific method has been chosen (for example pills, jumping, cutting); the date is unclear.",
        "已经确定了具体方法（如服药、跳楼、割腕等），但时间不明确。",
    ),
    Level(
        8,
        "planned, date roughly set",
        "A suicide plan with a rough time frame (for example 'after the exam', 'this month').",
        "有自杀计划，并且大致定下了时间（如“考完试以后”“这个月”）。",
    ),
    Level(
        9,
        "imminent",
        "The method is decided and the attempt is likely within days; farewells or last arrangements.",
        "方法已经确定，很可能在几天之内实施；可能在告别或交代后事。",
    ),
    Level(
        10,
        "possibly in progress",
        "An attempt may be happening now or has just happened (for example pills already taken, "
        "standing on a roof, a suicide note just posted).",
        "自杀可能正在进行或刚刚发生（如已经服药、正站在楼顶、刚刚发出遗书）。",
    ),
)

TIERS: tuple[Tier, ...] = (
    Tier(
        "distress",
        0,
        0,
        3,
        "distress without suicidal wish",
        "痛苦，无自杀意愿",
        "Monitor; offer support resources when the context allows.",
    ),
    Tier(
        "wish",
        1,
        4,
        5,
        "suicidal wish",
        "有自杀意愿",
        "Review soon; reach out with support and crisis-line information.",
    ),
    Tier(
        "plan",
        2,
        6,
        7,
        "plan or method",
        "有计划或方法",
        "Review with priority; trained volunteers reach out the same day.",
    ),
    Tier(
        "imminent",
        3,
        8,
        10,
        "imminent or in progress",
        "紧迫或正在进行",
        "Review immediately; follow the team's emergency protocol (which may involve emergency services).",
    ),
)

_TIER_BY_KEY = {tier.key: tier for tier in TIERS}
# The lowest level of the "plan" tier (6): from here up a level model's answer, or a safety-net rule's floor,
# also flags the post high risk (sosrisk.assess, sosrisk.scope.rules).
RAISING_LEVEL = _TIER_BY_KEY["plan"].low
# The highest level a post keeps where the scope stage's recovery cap reads it as looking back on a crisis that is
# over (sosrisk.scope.stage): the level just below the plan tier, never high risk.
RECOVERED_LEVEL = RAISING_LEVEL - 1


def level(value: int) -> Level:
    """Return the scale entry of a level, with a clear error for a value outside 0-10."""
    check_level(value)
    return SCALE[value]


def check_level(value: object) -> int:
    """Validate a risk level and return it as an int."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < N_LEVELS:
        raise ValueError(f"A risk level must be an integer from 0 to 10. Got {value!r} instead.")
    return value


def tier_of(value: int) -> Tier:
    """Return the triage tier of a level."""
    check_level(value)
    for tier in TIERS:
        if value in tier:
            return tier
    raise AssertionError(f"level {value} is in no tier")  # unreachable: the tiers cover 0-10


def tier_by_key(key: str) -> Tier:
    """Return a tier by its key (``distress``, ``wish``, ``plan``, ``imminent``)."""
    try:
        return _TIER_BY_KEY[key]
    except KeyError:
        allowed = ", ".join(_TIER_BY_KEY)
        raise ValueError(f"Unknown tier {key!r}; expected one of: {allowed}.") from None


def labels_for(task: str) -> tuple[int, ...]:
    """The class labels of a task: 0-10 for ``level``, 0/1 for ``binary``."""
    check_task(task)
    return LEVELS if task == "level" else BINARY_LABELS


def check_task(task: object) -> Task:
    """Validate a task name."""
    if task not in TASKS:
        raise ValueError(f"The task must be one of {{'level', 'binary'}}. Got {task!r} instead.")
    return task


def label_name(task: str, label: int, language: str = "en") -> str:
    """A short human name for a class label of a task."""
    check_task(task)
    if task == "binary":
        names = BINARY_NAMES_ZH if language == "zh" else BINARY_NAMES
        if label not in names:
            raise ValueError(f"A binary label must be 0 or 1. Got {label!r} instead.")
        return names[label]
    entry = level(label)
    return entry.definition_zh if language == "zh" else entry.name
