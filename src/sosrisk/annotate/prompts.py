"""The paper's two pre-annotation prompts, in our own words.

- ``scene``: the scene definition alone (where the posts come from, what the 0-10 scale measures, its
  two ends), as the paper's first prompt;
- ``scene+levels``: the scene definition plus a description of every level (our wording of the
  annotation guideline, :mod:`sosrisk.scale`), as the paper's second prompt.

Both ask for a markdown table with one row per post: the post's number, its level and a short reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..scale import SCALE

STRATEGIES = ("scene", "scene+levels")

SCENE_ZH = (
    "背景：下面的每一条文本都是新浪微博上一条特殊微博下面的评论。这条微博的发布者是一位因抑郁症离世的年轻人，"
    "多年来很多网友在他最后一条微博下留言，像对着“树洞”一样倾诉自己的痛苦，其中一些人流露出自杀的念头、计划，"
    "甚至正在实施。\n"
    "任务：你是经验丰富的心理危机干预专家。请评估每条评论作者的自杀风险，给出 0 到 10 之间的一个整数等级："
    "0 级表示只有日常的负面情绪，没有生存痛苦和自杀念头；10 级表示自杀可能正在进行或刚刚发生；"
    "等级越高，自杀风险越高、越紧迫。只根据评论的文字判断，不要猜测文字以外的信息。"
)
FORMAT_ZH = (
    "请只输出一个 Markdown 表格，不要输出其他内容。表格有三列：编号 | 等级 | 理由。"
    "每条评论一行，编号与上面给出的编号一致，等级是 0 到 10 之间的一个整数，理由用一句话说明依据。"
    "必须为全部 {n} 条评论各给出一行。"
)


def check_strategy(strategy: str) -> str:
    """A known prompt strategy (``scene`` or ``scene+levels``)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"The prompt strategy must be one of {', '.join(STRATEGIES)}. Got {strategy!r} instead.")
    return strategy


def level_descriptions_zh() -> str:
    """Every level with its description, one per line."""
    return "\n".join(f"{entry.value} 级：{entry.definition_zh}" for entry in SCALE)


def annotation_messages(strategy: str, posts: Sequence[tuple[int, str]]) -> list[dict[str, str]]:
    """The chat messages asking for the levels of ``posts`` (``(number, text)`` pairs)."""
    check_strategy(strategy)
    parts = [SCENE_ZH]
    if strategy == "scene+levels":
        parts.append("各等级的含义：\n" + level_descriptions_zh())
    parts.append(FORMAT_ZH.format(n=len(posts)))
    listing = "\n".join(f"[{number}] {' '.join(text.split())}" for number, text in posts)
    system = "你是一名严谨的心理危机干预专家，负责对社交媒体评论做自杀风险的预标注，你的标注会由专业人员复核。"
    user = "\n\n".join(parts) + f"\n\n评论（共 {len(posts)} 条）：\n{listing}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
