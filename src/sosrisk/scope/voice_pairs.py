"""In-scope counterparts of the hard negatives, in the writer's own voice: the same acts and states, now the writer's.

The gate learns the team's hard negatives (:mod:`sosrisk.scope.hard_negatives`) as out of scope: news of someone's
suicide, a film's plot, a friend who "说想死". Those sentences carry the danger words of a real plan, told calmly
about someone else, and nothing in the gate's training shows the same words told calmly about the writer. So the
gate also learns "a danger word in a calm sentence: out", and it sent out calm first-person plans (a decided
suicide in an anecdote, a poison ordered "to drink the day it arrives"; docs/scope.md). These sentences are the other
half of each pair, in the spirit of counterfactually augmented data (Kaushik et al., ICLR 2020): the news event, the
character's act and the friend's state of the hard negatives, said by the writer about the writer, now or soon, so
that what separates in scope from out is whose act it is.

They are written by us, so they are used **for training only** (``ScopeSettings(voice_pairs=True)``: extra in-scope
examples of the gate and the prefilter, which never set a threshold) and never count as evidence. The sentences are
built from slots with a fixed seed, so the same version gives the same sentences on every machine; change
:data:`VERSION` whenever a template or a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_negatives import draw_distinct

VERSION = "voice-pairs-1"

# the news events of the hard negatives (从高处坠落, 跳河轻生, 疑似服药轻生 ...), as the writer's own act, now or soon
_NEWS_ACTS = [
    "想从天桥上跳下去",
    "打算去跳河",
    "把攒的药都吃了",
    "在家里把炭点上了",
    "准备从楼顶跳下去",
    "站到桥边上了",
    "割腕了",
    "想去河里结束自己",
    "把绳子挂好了",
    "一个人坐在楼道里不想动了",
]
# the characters' acts of the fiction templates (最后跳崖了, 服毒自尽, 投河而死 ...)
_FICTION_ACTS = [
    "想找个悬崖跳下去",
    "买好了农药",
    "想走进河里再也不上来",
    "想结束自己",
    "写好了遗书",
    "想在今晚结束自己的生命",
    "吞下了整瓶安眠药",
    "想从阳台跳下去",
    "不打算再活下去了",
    "觉得自己快撑不到明天了",
]
# the states of the friends and family in the help-for-others templates (最近总说活着没意思, 说想死 ...)
_OWN_STATES = [
    "最近总觉得活着没意思",
    "想死",
    "手臂上又多了很多划痕",
    "天天一个人在宿舍里哭",
    "把自己关在房间里不想出去",
    "压力大到想跳楼",
    "被诊断出了抑郁症，越来越不想活了",
    "如果分手了就不活了",
    "好几天没吃饭了，也不想说话",
    "在朋友圈发了告别的话",
]
_OPENINGS = ["我", "我现在", "我今晚", "我刚刚", "我已经", "说实话我", "我真的", "这几天我"]
_TAILS = [
    "",
    "，对不起",
    "，不想再拖累谁了",
    "，就这样吧",
    "，没人知道",
    "，我该怎么办",
    "，谁能拉我一把",
    "，很平静",
    "，别找我",
    "，已经决定了",
]


def _pair(acts: list[str]) -> Callable[[random.Random], str]:
    def build(rng: random.Random) -> str:
        return f"{rng.choice(_OPENINGS)}{rng.choice(acts)}{rng.choice(_TAILS)}"

    return build


# family -> (builder, how many distinct sentences to draw): one family per hard-negative family it answers
FAMILIES: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "news_as_mine": (_pair(_NEWS_ACTS), 100),
    "fiction_as_mine": (_pair(_FICTION_ACTS), 100),
    "others_as_mine": (_pair(_OWN_STATES), 100),
}


def voice_pairs(seed: int = 0) -> list[tuple[str, str]]:
    """``(family, sentence)`` pairs, distinct, in a fixed order for a given ``seed``."""
    return draw_distinct(FAMILIES, random.Random(f"{VERSION}:{seed}"), lambda sentence: sentence)
