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

Version 3 (2026-12-06) added six families in shapes the first version lacked and held-out suites showed the
net missing: a plan tied to a condition or a date (等……我就……), an attempt described by what the writer
sees and feels rather than by an apology, belongings handed over without the word death, an apology to one
family member, and last words. They were written after reading the failures of ``holdout3.tsv``,
``holdout7.tsv`` and ``holdout8.tsv`` and before ``holdout9.tsv`` was run, which judges them (version 2,
six other families, was measured and reverted on 2026-12-06 for no held-out gain; docs/scope.md).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_negatives import draw_distinct

VERSION = "hard-positives-3"

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


# version 3: plans tied to a condition or a date, attempts by what is seen and felt, quiet arrangements,
# an apology to one family member, last words
_CONDITION = [
    "等孩子睡着以后",
    "等室友去上班",
    "等爸妈出门旅游",
    "领完这个月的工资",
    "交完毕业论文",
    "把猫送走以后",
    "过完二十五岁生日",
    "这个周末",
    "月底",
    "清明节那天",
    "今晚十点以后",
    "等老公出差",
    "把房租交完",
    "明天下了夜班",
    "等天一亮",
    "把工作交接完",
    "等外婆的丧事办完",
    "国庆放假第一天",
    "等妹妹开学走了",
    "周一早上",
]
_ACT = [
    "去天台跳下去",
    "去江边，不回来了",
    "把药全吃了",
    "在车里烧炭",
    "在卫生间上吊",
    "去那座桥上",
    "割腕",
    "喝那瓶农药",
    "去卧轨",
    "从宿舍楼顶跳下去",
    "去海边走进水里",
    "把煤气打开",
    "去山上找棵树",
    "跳进小区后面的水库",
    "吞下攒的那些药",
    "从阳台翻出去",
]
_RESOLVE = ["不会再犹豫了", "谁也拦不住", "心意已定", "这回不是说说而已", "不用劝我", "该买的都买齐了", ""]
# (what the writer is doing, what they see or feel while doing it)
_MEANS_NOW = [
    ("绳子已经套在脖子上了", ["脚下的凳子晃了一下", "手在抖", "心跳得好快"]),
    ("我在铁路上躺下了", ["铁轨在震", "石子硌得背疼", "天上一颗星星都没有"]),
    ("我一步一步往海里走", ["浪一下一下打过来", "水好冷", "鞋子早就没了"]),
    ("水已经没过胸口了", ["有点喘不上气", "脚下踩不到底了", "岸上的灯越来越远"]),
    ("我坐在窗台外面", ["风很大", "腿悬在半空", "楼下的人像蚂蚁一样小"]),
    ("攒的药一次全咽下去了", ["头越来越沉", "眼皮好重", "耳朵里嗡嗡响"]),
    ("炭火在床边慢慢烧", ["屋里越来越闷", "头开始疼了", "眼睛被熏得睁不开"]),
    ("煤气开着，门缝塞好了", ["有一股怪味", "头好晕", "困得不行"]),
    ("刀片已经割下去了", ["血还在往外流", "有点冷", "视线开始模糊"]),
    ("农药喝了大半瓶", ["胃里火辣辣的", "舌头发麻", "一直在吐"]),
    ("人在大桥外侧，只抓着一根栏杆", ["江面黑乎乎的", "胳膊没力气了", "风把眼泪都吹干了"]),
    ("翻过了楼顶的护栏", ["马路上的车像玩具", "腿在发软", "周围一个人都没有"]),
    ("药和酒一起喝下去了", ["天花板在转", "手脚开始发麻", "心跳得好慢"]),
]
_BELONGINGS = [
    "银行卡和密码",
    "攒下的钱",
    "我的吉他",
    "这台电脑",
    "我的狗",
    "房子的钥匙",
    "我收藏的书",
    "微信里的零钱",
    "所有的衣服",
    "手机里的照片",
]
_HANDED_TO = ["留给弟弟", "交给室友", "留给妈妈", "托付给楼下的阿姨", "转给妹妹", "送给最好的朋友", "留给奶奶"]
_AFTER = [
    "以后别给我留门了",
    "我这次走了就不回头了",
    "就当世上没有过我",
    "我能留下的就这些",
    "以后替我照顾好家里",
    "这个号从此停了",
    "你们好好生活",
    "别来找我",
]
_KIN = ["妈", "爸", "姐", "哥", "奶奶", "老婆", "宝贝"]
_REGRET = [
    "这些年让你受累了",
    "我没能成为你想要的样子",
    "我真的撑不住了",
    "我先走了",
    "下辈子再报答你",
    "原谅我这么自私",
    "我只能陪你到这里了",
    "别为我哭",
]
_LAST_WORDS = [
    "有些话想在离开前说完",
    "这是我在这里发的最后一条",
    "以后这个号就不会再更新了",
    "这是我最后一次跟你们说晚安",
    "今天是我在人间的最后一天",
    "发完这条，我就要走了",
]
_GOODBYE = ["谢谢你们一路陪着我", "谢谢曾经对我温柔的人", "大家保重", "不要难过", "再见", "忘了我吧", ""]


def _joined(*parts: str) -> str:
    return "，".join(part for part in parts if part)


def _plan_condition(rng: random.Random) -> tuple[str, int]:
    return _joined(f"{rng.choice(_CONDITION)}，我就{rng.choice(_ACT)}", rng.choice(_RESOLVE)), 8


def _plan_intent(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_CONDITION)}，我要{rng.choice(_ACT)}", 8


def _attempt_state(rng: random.Random) -> tuple[str, int]:
    doing, felt = rng.choice(_MEANS_NOW)
    return f"{doing}，{rng.choice(felt)}", 10


def _quiet_arrangements(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_BELONGINGS)}{rng.choice(_HANDED_TO)}，{rng.choice(_AFTER)}", 9


def _apology_kin(rng: random.Random) -> tuple[str, int]:
    return f"{rng.choice(_KIN)}，对不起，{rng.choice(_REGRET)}", 9


def _last_words(rng: random.Random) -> tuple[str, int]:
    return _joined(rng.choice(_LAST_WORDS), rng.choice(_GOODBYE)), 9


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], tuple[str, int]], int]] = {
    "attempt_pills": (_pills, 60),
    "attempt_place": (_place, 50),
    "attempt_other_means": (_other_means, 25),
    "last_post": (_last_post, 50),
    "arrangements": (_arrangements, 50),
    "plan_with_time": (_plan_time, 60),
    "method_decided": (_method, 40),
    # version 3
    "plan_condition": (_plan_condition, 150),
    "plan_intent": (_plan_intent, 80),
    "attempt_state": (_attempt_state, 39),  # every pair of its slots
    "quiet_arrangements": (_quiet_arrangements, 120),
    "apology_kin": (_apology_kin, 50),
    "last_words": (_last_words, 40),
}


def hard_positives(seed: int = 0) -> list[tuple[str, str, int]]:
    """``(family, sentence, level)`` triples, distinct, in a fixed order for a given ``seed``; all high risk."""
    drawn = draw_distinct(FAMILIES, random.Random(f"{VERSION}:{seed}"), lambda item: item[0])
    return [(family, sentence, level) for family, (sentence, level) in drawn]
