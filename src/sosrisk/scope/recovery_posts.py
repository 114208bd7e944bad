"""In-scope training sentences written by the sosrisk team from templates: recovery, denial and a past crisis.

The plain-danger net (:mod:`sosrisk.scope.danger`) learned plainly worded plans, attempts and farewells from
:mod:`sosrisk.scope.hard_positives`, and it learned what is *not* danger from ordinary text and from SOS-1K's
calm posts. Neither shows it a writer looking back on a crisis: "the days I wanted to die are over, thanks
to the friend who held me back" names pills, a knife or a farewell and thanks someone, as a last post does.
These templates are the writer's own past crisis, recovery, treatment, means thrown away and plain denial:
in scope (the writer's own suicidality), not at risk now. With ``ScopeSettings(danger_recovery=True)`` the
net learns them as calm posts. That is not the default: measured on the held-out behavioural suite it spared
reviewers two recovery posts and missed two farewells (``benchmarks/results/danger_net.md``).

They are written by us, so they are used **for training only** and never count as evidence. The behavioural
cases (``behaviour/cases.tsv``) are checked to share no sentence with them, and ``behaviour/holdout.tsv`` was
not read while writing them. The sentences are built from slots with a fixed seed, so the same version gives
the same sentences on every machine; change :data:`VERSION` whenever a template or a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_negatives import draw_distinct

VERSION = "recovery-1"

_PAST = [
    "以前我每天都在想怎么结束自己",
    "前年我吞过一次药，被送去洗了胃",
    "大二那年我在天台上站过一整晚",
    "最严重的时候我手臂上全是刀口",
    "去年这个时候我差点从桥上跳下去",
    "有一阵子我连遗书都写好了",
    "抑郁最重的那半年我一直想死",
    "我曾经觉得活着就是在受罪",
    "以前我总想着一了百了",
    "那年冬天我攒了很多安眠药",
    "高三的时候我割过腕",
    "刚离婚那会儿我每天晚上都想从楼上跳下去",
    "住院之前我试过烧炭",
    "以前我觉得自己是所有人的累赘",
]
_TURN = ["，现在", "，但是现在", "，后来", "，如今", "，不过现在", "，回头看，现在"]
_NOW = [
    "好多了",
    "已经走出来了",
    "每天按时吃药，情绪稳定了很多",
    "找到了一份喜欢的工作",
    "不再有那些念头了",
    "学会了难受的时候跟家人说",
    "在坚持做心理咨询，一点点在变好",
    "能睡着觉了，也开始跑步了",
    "觉得活着还是挺好的",
    "想好好过以后的日子",
    "和妈妈的关系也缓和了",
    "已经一年多没有伤害过自己了",
]
_THANKS = [
    "谢谢那天晚上一直陪着我的室友",
    "感谢我的医生和家人没有放弃我",
    "谢谢心理热线那头的陌生人",
    "谢谢那个把我劝下来的警察",
    "谢谢当时发现我不对劲的老师",
    "谢谢你们把我从那段日子里拉了出来",
    "感谢那个半夜赶过来找我的朋友",
]
_AFTER_THANKS = [
    "，我现在过得很好",
    "，我会好好活着",
    "，没有你们就没有今天的我",
    "，那段路总算走过来了",
    "，以后换我去帮助别人",
    "",
]
_MEANS_GONE = [
    "把攒的药都交给妈妈保管了",
    "把抽屉里的刀片都扔了",
    "把那根绳子剪断扔进了垃圾桶",
    "删掉了写好的遗书",
    "把攒下的安眠药冲进了马桶",
    "把家里的农药拿去给了邻居",
    "把天台的钥匙还给了物业",
]
_DECISION = [
    "，想再给自己一次机会",
    "，答应了自己要撑下去",
    "，明天去医院挂心理科",
    "，决定好好治病",
    "，我想活下去",
    "，告诉了家人我需要帮助",
]
_DENIAL = [
    "放心，我不会伤害自己的，只是想找个地方说说话",
    "我没有想死，只是太累了，想哭一场",
    "别担心我，发泄一下就好了，不会做傻事",
    "我只是心情不好，没有轻生的念头，大家不用私信我",
    "说累是真的累，但我从没想过放弃自己",
    "我不会走极端的，还有爸妈要照顾",
    "难过归难过，我会好好活着的",
    "只是emo一下，不是要寻死，别误会",
]
_MILESTONES = [
    "今天是我出院一周年",
    "距离上次自残已经一百天了",
    "复诊的时候医生说可以减药了",
    "心理咨询结束了，咨询师说我可以毕业了",
    "今天是我从抑郁里走出来的第三年",
    "住院那段日子已经过去半年了",
    "坚持吃药的第两百天",
]
_MILESTONE_TAILS = ["，给自己打个卡", "，想记录一下", "，还活着真好", "，继续加油", "", "，慢慢来"]


def _past_then_now(rng: random.Random) -> str:
    return f"{rng.choice(_PAST)}{rng.choice(_TURN)}{rng.choice(_NOW)}"


def _thanks(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(_PAST)}，{rng.choice(_THANKS)}{rng.choice(_AFTER_THANKS)}"
    return f"{rng.choice(_THANKS)}{rng.choice(_AFTER_THANKS)}"


def _means_gone(rng: random.Random) -> str:
    return f"{rng.choice(_MEANS_GONE)}{rng.choice(_DECISION)}"


def _denial(rng: random.Random) -> str:
    return rng.choice(_DENIAL)


def _milestone(rng: random.Random) -> str:
    return f"{rng.choice(_MILESTONES)}{rng.choice(_MILESTONE_TAILS)}"


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "past_then_now": (_past_then_now, 200),
    "thanks": (_thanks, 120),
    "means_thrown_away": (_means_gone, 40),
    "denial": (_denial, 8),
    "milestone": (_milestone, 40),
}


def recovery_posts(seed: int = 0) -> list[tuple[str, str]]:
    """``(family, sentence)`` pairs, distinct, in a fixed order for a given ``seed``; in scope, not at risk."""
    return draw_distinct(FAMILIES, random.Random(f"{VERSION}:{seed}"), str)
