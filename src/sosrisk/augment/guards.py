"""What an augmentation must never change: negations, risk words and methods, times, intent, person.

The level of a post often hangs on one or two characters: 不想死 (level 0-3) vs 想死 (level 4+),
想死 (4) vs 准备死 (6), 割腕 (a method, 7) vs 难过, 明天 (9) vs 去年. Synonym replacement therefore
never touches a word that holds any of these characters or words, and never puts in a word that does;
back-translated and generated text is checked with :func:`guard_violations`.

The lists are deliberately broad: a word wrongly protected only costs a replacement, a word wrongly
replaced can change the label.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

# A word holding any of these characters is never replaced, and never put in.
NEGATION_CHARS = "不没沒无無别別非未莫勿甭否休毋"
RISK_CHARS = (
    "死杀殺亡尸屍葬坟墳墓遗遺药藥刀刃剪绳繩吊跳割腕血毒炭枪槍命疼痛伤傷楼樓桥橋崖河江海湖轨軌摔坠墜溺淹烧燒"
    "病抑郁鬱焦虑慮绝絕崩溃潰苦累活生世台窗顶頂狱獄魂鬼"
)
TIME_CHARS = "年月日天周週期号號时時点點分秒晚早夜午今明昨前后後刚剛过過节節考春夏秋冬宵旦久"
NUMBER_CHARS = "零〇一二三四五六七八九十百千万萬亿億两兩几幾半俩倆双雙0123456789０１２３４５６７８９"
INTENT_CHARS = "想要会會能准準备備计計划劃决決定已正将將打算再就快马馬即立"
PERSON_CHARS = "我你妳您他她它咱俺们們"
DEGREE_CHARS = "很太极極超最更越真好特十非常巨贼賊挺蛮蠻有点點些稍略"
GUARD_CHARS = frozenset(
    NEGATION_CHARS + RISK_CHARS + TIME_CHARS + NUMBER_CHARS + INTENT_CHARS + PERSON_CHARS + DEGREE_CHARS
)
# ... and a word holding any of these words (who is speaking or meant).
GUARD_WORDS = ("自己", "自个", "人家", "别人", "大家", "本人", "他人", "旁人", "某人", "有人", "没人", "意外")

# Terms whose presence must be kept exactly by back-translation and generation checks.
NEGATION_TERMS = ("不", "没", "沒", "无", "無", "别", "別", "非", "未", "莫", "勿", "甭", "毋")
METHOD_TERMS = (
    "自杀", "轻生", "寻死", "去死", "想死", "安眠药", "药", "农药", "百草枯", "敌敌畏", "煤气", "烧炭", "炭",
    "跳楼", "跳河", "跳江", "跳海", "跳桥", "跳下", "楼顶", "天台", "卧轨", "割腕", "割", "刀", "上吊", "吊",
    "绳", "枪", "毒", "溺", "淹", "遗书", "遗言", "后事", "告别", "永别", "再见",
)  # fmt: skip
TIME_TERMS = (
    "今天", "明天", "后天", "昨天", "前天", "今晚", "明晚", "今年", "明年", "去年", "前年", "今夜", "这周", "下周",
    "本周", "周末", "这个月", "下个月", "月底", "月初", "年底", "年初", "过年", "春节", "除夕", "生日", "考完",
    "毕业", "马上", "立刻", "即将", "现在", "刚刚", "刚才", "正在", "已经", "这几天", "这两天", "几天", "一周",
    "半年", "小时", "分钟", "凌晨", "早上", "晚上", "中午", "下午", "半夜", "周一", "周二", "周三", "周四",
    "周五", "周六", "周日", "星期",
)  # fmt: skip
_DIGITS = re.compile(r"\d+")
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")

# POS tags (jieba) of words that may be replaced: common nouns, verbs, adjectives and their nominal uses.
REPLACEABLE_TAGS = frozenset({"n", "v", "a", "vn", "an", "ad", "nz"})


def is_guarded(word: str) -> bool:
    """Whether ``word`` holds a character that can carry the level (never replaced, never put in)."""
    return any(ch in GUARD_CHARS for ch in word) or any(term in word for term in GUARD_WORDS)


def guard_sequence(text: str) -> str:
    """The guard characters of ``text`` in order: synonym replacement must keep this string unchanged."""
    return "".join(ch for ch in text if ch in GUARD_CHARS)


@dataclass(frozen=True)
class GuardTerms:
    """The level-bearing terms of a text: negation count, method/risk terms, time terms, numbers."""

    negations: int
    methods: frozenset[str]
    times: frozenset[str]
    numbers: tuple[str, ...]


def guard_terms(text: str) -> GuardTerms:
    """The terms of ``text`` that :func:`guard_violations` compares."""
    return GuardTerms(
        negations=sum(text.count(term) for term in NEGATION_TERMS),
        methods=frozenset(_terms_in(text, METHOD_TERMS)),
        times=frozenset(_terms_in(text, TIME_TERMS)),
        numbers=tuple(sorted(_DIGITS.findall(text))),
    )


def _terms_in(text: str, terms: tuple[str, ...]) -> set[str]:
    """The terms found in text, a shorter term counted only where no longer found term covers it."""
    found: set[str] = set()
    covered = [False] * len(text)
    for term in sorted(terms, key=len, reverse=True):
        start = text.find(term)
        while start >= 0:
            if not all(covered[start : start + len(term)]):
                found.add(term)
                for i in range(start, start + len(term)):
                    covered[i] = True
            start = text.find(term, start + 1)
    return found


def guard_violations(source: str, variant: str) -> list[str]:
    """Why ``variant`` may no longer have the level of ``source`` (empty when it keeps every guard term).

    Negations must keep their count; method/risk terms, time terms and numbers must be the same sets:
    a translation that drops 不, turns 割腕 into 割手 or 明天 into 去年 is rejected.
    """
    before, after = guard_terms(source), guard_terms(variant)
    problems = []
    if before.negations != after.negations:
        problems.append(f"negations {before.negations} -> {after.negations}")
    if before.methods != after.methods:
        problems.append(f"method/risk terms {sorted(before.methods)} -> {sorted(after.methods)}")
    if before.times != after.times:
        problems.append(f"time terms {sorted(before.times)} -> {sorted(after.times)}")
    if before.numbers != after.numbers:
        problems.append(f"numbers {list(before.numbers)} -> {list(after.numbers)}")
    return problems


def is_replaceable(word: str, tag: str) -> bool:
    """Whether a segmented word may be swapped for a synonym: 2-4 Han characters, a content-word tag,
    and no guard character."""
    return 2 <= len(word) <= 4 and tag in REPLACEABLE_TAGS and bool(_HAN.match(word)) and not is_guarded(word)


def segment(text: str) -> list[tuple[str, str]]:
    """``(word, POS tag)`` pairs from jieba, without jieba's start-up messages on stderr."""
    import jieba.posseg

    with _quiet_jieba():
        return [(pair.word, pair.flag) for pair in jieba.posseg.cut(text, HMM=True)]


def jieba_dictionary() -> Iterator[tuple[str, int, str]]:
    """``(word, frequency, tag)`` of jieba's main dictionary."""
    import jieba

    with _quiet_jieba():
        jieba.initialize()
        path = jieba.get_dict_file()
        try:
            for line in path:
                parts = line.decode("utf-8").split()
                if len(parts) == 3:
                    yield parts[0], int(parts[1]), parts[2]
        finally:
            path.close()


@contextlib.contextmanager
def _quiet_jieba() -> Iterator[None]:
    """Silence jieba's own INFO/DEBUG logger for the duration (restored afterwards)."""
    jieba_logger = logging.getLogger("jieba")
    saved = jieba_logger.level
    jieba_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        jieba_logger.setLevel(saved)
