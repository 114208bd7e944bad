"""Quiet farewells written by the sosrisk team from templates: hard positives that name no method.

A writer who has decided often says goodbye the way one leaves a job or a city: things handed on, a debt repaid,
a password written down, thanks, an apology, who should look after the cat. What makes it a farewell is that the
writer has nowhere to go: no destination, no new job, no "see you", only an end (我撑不下去了, 以后的路不陪你们走了,
不用叫醒我). The hard positives of :mod:`sosrisk.scope.hard_positives` hold two narrow families of them (a last
post, arrangements with a time); these templates give the plain-danger net many more, each with the gesture of an
everyday goodbye and an ending instead of a destination, so that beside the everyday goodbyes of
:mod:`sosrisk.scope.goodbyes` (the same gestures with somewhere to go) the net learns the difference rather than
the gesture.

They are written by us, so they are used **for training only** and never count as evidence; the posts that judge
them are written by someone else. Every sentence is level 9 (a farewell or last arrangements) and high risk. The
sentences are built from slots with a fixed seed; change :data:`VERSION` whenever a template or a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_positives import draw_levelled

VERSION = "quiet-farewells-1"
LEVEL = 9

_PEOPLE = ["妈", "爸", "姐", "哥", "老婆", "小雨", "阿强", "室友", "表妹", "奶奶", "师父", "闺蜜"]
_THINGS = [
    "我的吉他",
    "那台相机",
    "书架上的书",
    "我的电脑",
    "衣柜里的新衣服",
    "攒的那些邮票",
    "我的摩托车",
    "抽屉里的手表",
    "那双没穿过的球鞋",
]
_PETS = ["我的猫", "团子", "阳台上的花", "那只老狗", "鱼缸里的鱼", "两只仓鼠"]
_HANDED_ON = [
    "{thing}留给{person}了",
    "{thing}都给{person}吧",
    "{pet}拜托{person}照顾了",
    "{pet}以后就交给{person}了",
    "{pet}记得帮我喂，它胆子小",
    "{thing}送人吧，我用不上了",
]
_SETTLED = [
    "欠{person}的钱今天都转过去了",
    "花呗和信用卡都还清了",
    "银行卡密码写在日记本最后一页",
    "手机解锁密码是{person}的生日",
    "保险的受益人写的是{person}",
    "房租交到了月底，押金留给{person}",
    "工资卡放在床头柜里，{person}知道密码",
    "借{person}的那本书放在门口了",
]
_WORDS = [
    "对不起{person}，是我不好",
    "谢谢{person}这些年对我好",
    "{person}，别为我哭",
    "{person}别难过，不是你们的错",
    "别怪任何人",
    "这些年辛苦{person}了",
    "下辈子再报答{person}",
    "替我跟{person}说声对不起",
]
# the ending: no destination, no "see you", the writer gone
_ENDINGS = [
    "我撑不下去了",
    "我真的太累了，不想再醒来了",
    "以后的路我就不陪你们走了",
    "天亮之前我就不在了",
    "这辈子就这样吧",
    "我先走了，不用找我",
    "今晚以后就不会再有消息了",
    "我想好好睡一觉，不用叫醒我",
    "这是最后一次跟你们说话了",
    "活着太累了，我放弃了",
    "这个世界没有什么值得我留下了",
    "以后不用再为我操心了",
    "我不会再回来了",
    "明天的太阳我就不看了",
]
_TAILS = ["", "", "。", "……", "。再见", "。保重", "，永别了"]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(person=rng.choice(_PEOPLE), thing=rng.choice(_THINGS), pet=rng.choice(_PETS))


def _handed_on(rng: random.Random) -> tuple[str, int]:
    return f"{_fill(rng.choice(_HANDED_ON), rng)}，{rng.choice(_ENDINGS)}{rng.choice(_TAILS)}", LEVEL


def _settled(rng: random.Random) -> tuple[str, int]:
    return f"{_fill(rng.choice(_SETTLED), rng)}，{rng.choice(_ENDINGS)}{rng.choice(_TAILS)}", LEVEL


def _last_words(rng: random.Random) -> tuple[str, int]:
    return f"{_fill(rng.choice(_WORDS), rng)}，{rng.choice(_ENDINGS)}{rng.choice(_TAILS)}", LEVEL


def _ending_first(rng: random.Random) -> tuple[str, int]:
    gesture = _fill(rng.choice(_HANDED_ON + _SETTLED + _WORDS), rng)
    return f"{rng.choice(_ENDINGS)}。{gesture}{rng.choice(_TAILS)}", LEVEL


def _two_gestures(rng: random.Random) -> tuple[str, int]:
    first = _fill(rng.choice(_HANDED_ON + _SETTLED), rng)
    second = _fill(rng.choice(_WORDS), rng)
    return f"{first}，{second}，{rng.choice(_ENDINGS)}", LEVEL


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], tuple[str, int]], int]] = {
    "handed_on": (_handed_on, 60),
    "settled": (_settled, 60),
    "last_words": (_last_words, 50),
    "ending_first": (_ending_first, 50),
    "two_gestures": (_two_gestures, 60),
}


def quiet_farewells(seed: int = 0) -> list[tuple[str, str, int]]:
    """``(family, sentence, level)`` triples, distinct, in a fixed order for a given ``seed``; all high risk."""
    return draw_levelled(FAMILIES, f"{VERSION}:{seed}")
