"""In-scope training sentences written by the sosrisk team from templates: plainly worded plans, attempts, farewells.

SOS-1K's high levels are mostly written in the tree hole's own idiom; an attempt or a farewell written plainly
("I took a whole bottle of pills, I'm dizzy, sorry everyone") is rare there, and the risk models gave such
posts low levels. These templates show the risk models the plain wording, each with the level the SOS-1K
scale gives it (:mod:`sosrisk.scale`): a method decided (7), a plan with a rough time (8), a farewell or last
arrangements (9), an attempt in progress (10); all of them high risk.

They are written by us, so they are used **for training only** (with ``ScopeSettings.hard_positives``) and
never count as evidence: they never count for calibration or the recorded metrics, the behavioural cases
(``behaviour/cases.tsv``, which the same team wrote in the same spirit) are checked to share no sentence with
them, and ``behaviour/holdout.tsv`` was never read while writing them. The sentences are built from slots
with a fixed seed, so the same version gives the same sentences on every machine; change :data:`VERSION`
whenever a template or a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_negatives import draw_distinct

VERSION = "hard-positives-1"

_PILLS = ["安眠药", "整整一瓶安眠药", "三十多片药", "攒了半年的药", "一瓶布洛芬", "两板抗抑郁药", "一整盒止痛片"]
_TAKEN = ["刚刚吃了", "已经吞了", "就着酒吃了", "一口气吃完了", "半小时前吃了"]
_BODY_NOW = [
    "现在头好晕",
    "眼睛快睁不开了",
    "手一直在抖",
    "胃里烧得难受",
    "意识越来越模糊",
    "心跳得好快",
    "站都站不稳了",
]
_SORRY = [
    "对不起大家",
    "别救我了",
    "不想再拖累任何人",
    "就这样吧",
    "终于可以睡个好觉了",
    "妈妈对不起",
    "这次不会再醒了",
]
_PLACES = ["天台", "楼顶", "江边的桥上", "十八楼的窗台", "河堤上", "海边的礁石上", "大桥的栏杆外面"]
_PLACE_NOW = [
    "风好大",
    "下面的车好小",
    "腿在发抖",
    "只要往前一步就好了",
    "水看起来很冷",
    "手机快没电了",
    "周围一个人都没有",
]
_OTHER_MEANS = [
    "炭盆点着了，窗缝都用胶带贴上了",
    "刀片划下去了，血一直在流",
    "绳子已经挂好了",
    "把煤气阀拧开了",
    "手腕划了好几道，血止不住",
]
_FINAL_POST = [
    "这是这个号的最后一条了",
    "最后发一条动态",
    "以后这个号不会再更新了",
    "这是我在这里说的最后一句话",
    "发完这条我就走了",
]
_THANKS = [
    "谢谢一直陪着我的你们",
    "谢谢这些年照顾过我的人",
    "谢谢你们听我说了这么多",
    "谢谢每一个给我留过言的陌生人",
]
_PARTING = ["下辈子再见", "别难过，忘了我吧", "不要来找我", "大家保重", "再见了这个世界"]
_ARRANGEMENT = [
    "银行卡的密码写在抽屉里的纸上",
    "遗书放在枕头底下了",
    "存款都转给妈妈了",
    "家里的钥匙放在门口的鞋柜上",
    "东西都整理好分给朋友了",
    "我的猫拜托室友照顾",
]
_SOON = ["今晚", "明天一早", "等天黑", "这两天", "等大家都睡了"]
_GO = ["就走了", "就结束这一切", "就去找外婆了", "就不在了"]
_WHEN = ["等考完试", "过完这个月", "等妈妈生日过了", "下周五", "等发了工资还完钱", "年底之前", "等毕业答辩结束"]
# (method, the means already at hand for it)
_METHOD_MEANS = [
    ("吃药", ["药已经攒够了", "安眠药藏在衣柜里", "已经囤了三瓶药"]),
    ("烧炭", ["炭和胶带已经买好了", "炭盆就放在床底下"]),
    ("去跳江", ["已经去看好了那座桥", "那段江堤晚上没有人"]),
    ("从公司楼顶跳下去", ["天台的门一直没锁", "已经上去看过两次了"]),
    ("割腕", ["刀片一直放在抽屉里", "新买的刀片还没拆"]),
    ("找个没人的地方上吊", ["绳子已经买回来了", "地方已经找好了"]),
]
_DECIDED = ["我已经想好了", "我决定了", "想了很久，还是决定", "就这么定了"]
_WAY = ["用吃药的方式走", "从楼上跳下去", "去江里结束自己", "烧炭", "割腕"]
_NOT_YET = ["只是还没定哪天", "日子还没想好", "就是还没选好时间", "什么时候还不知道"]


def _pills(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_TAKEN)}{rng.choice(_PILLS)}，{rng.choice(_BODY_NOW)}，{rng.choice(_SORRY)}", 10


def _place(rng: random.Random) -> tuple[str, int]:
    return f"我现在站在{rng.choice(_PLACES)}，{rng.choice(_PLACE_NOW)}，{rng.choice(_SORRY)}", 10


def _other_means(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_OTHER_MEANS)}，{rng.choice(_SORRY)}", 10


def _last_post(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_FINAL_POST)}，{rng.choice(_THANKS)}，{rng.choice(_PARTING)}", 9


def _arrangements(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_ARRANGEMENT)}，{rng.choice(_SOON)}{rng.choice(_GO)}，{rng.choice(_PARTING)}", 9


def _plan_time(rng: random.Random) -> tuple[str, int]:
    method, means = rng.choice(_METHOD_MEANS)
    return f"{rng.choice(_WHEN)}我就{method}，{rng.choice(means)}", 8


def _method(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_DECIDED)}{rng.choice(_WAY)}，{rng.choice(_NOT_YET)}", 7


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], tuple[str, int]], int]] = {
    "attempt_pills": (_pills, 60),
    "attempt_place": (_place, 50),
    "attempt_other_means": (_other_means, 25),
    "last_post": (_last_post, 50),
    "arrangements": (_arrangements, 50),
    "plan_with_time": (_plan_time, 60),
    "method_decided": (_method, 40),
}


def draw_levelled(
    families: dict[str, tuple[Callable[[random.Random], tuple[str, int]], int]], salt: str
) -> list[tuple[str, str, int]]:
    """``(family, sentence, level)`` triples of builders that give a sentence and its level, distinct, drawn with a
    generator seeded by ``salt`` (shared with :mod:`sosrisk.scope.quiet_farewells`)."""
    drawn = draw_distinct(families, random.Random(salt), lambda item: item[0])
    return [(family, sentence, level) for family, (sentence, level) in drawn]


def hard_positives(seed: int = 0) -> list[tuple[str, str, int]]:
    """``(family, sentence, level)`` triples, distinct, in a fixed order for a given ``seed``; all high risk."""
    return draw_levelled(FAMILIES, f"{VERSION}:{seed}")
