"""LLM generation with the paper's strategy: a level's definition, six real posts of that level and the
setting of the comment thread, asking for 30 new posts per call at temperature 1.0.

Every answer is split into posts, which must pass a format and length check (numbering and quotes
removed; refusals, explanations, mostly non-Chinese lines and posts outside the length bounds are left
out) and a deduplication against every training post and every post generated before (character-bigram
cosine below 0.8). Calls go through the ledger, so a rerun pays only for the calls it had not made.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..scale import BINARY_NAMES_ZH, level
from .neardup import DUPLICATE_SIMILARITY, distinct

if TYPE_CHECKING:
    from ..llm import ChatClient, Ledger

logger = logging.getLogger(__name__)

POSTS_PER_CALL = 30
EXAMPLES_PER_CALL = 6
DEFAULT_TEMPERATURE = 1.0

SETTING_ZH = (
    "这些文本都是新浪微博上一条特殊微博下面的评论：发布者是一位因抑郁症离世的年轻人，他的最后一条微博下面，"
    "多年来有很多网友留言，像对着“树洞”一样倾诉自己的痛苦、孤独和绝望，其中一些人表达了想死的念头，"
    "甚至提到了自杀的方法和时间。"
)
BINARY_DEFINITIONS_ZH = {
    0: "自杀风险较低：有负面情绪或痛苦，但没有迫切的自杀危险。",
    1: "自杀风险较高：流露出明确的自杀意愿、计划、方法或时间，需要尽快干预。",
}
_NUMBERING = re.compile(r"^\s*(?:\d{1,3}\s*[.、)）:：]|[（(]\d{1,3}[)）]|[-*•·])\s*")
_QUOTES = "\"'“”‘’「」『』《》"
# An unnumbered line with any of these is the model talking, not a post.
_META = re.compile(
    r"(以下是|下面是|这是|好的[，,。！!]|当然[，,]|希望这些|注意[：:]|作为(?:一个)?(?:AI|人工智能|语言模型)|抱歉|对不起，我|我不能|"
    r"无法提供|请注意|心理援助|热线|评论[：:]?$)"
)
# A numbered line is a post unless it is plainly the model's own words.
_STRONG_META = re.compile(r"(作为(?:一个)?(?:AI|人工智能|语言模型)|心理援助热线|以下是|下面是|希望这些)")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class GenerationSettings:
    """How generation asks and what it keeps."""

    posts_per_call: int = POSTS_PER_CALL
    examples_per_call: int = EXAMPLES_PER_CALL
    temperature: float = DEFAULT_TEMPERATURE
    min_chars: int = 5
    max_chars: int = 400
    min_han_share: float = 0.5
    duplicate_similarity: float = DUPLICATE_SIMILARITY
    max_calls_per_label: int = 40
    max_idle_calls: int = 3  # stop a label after this many calls in a row that kept nothing

    def __post_init__(self) -> None:
        if self.posts_per_call < 1 or self.examples_per_call < 1:
            raise ValueError(
                "posts_per_call and examples_per_call must be at least 1. "
                f"Got {self.posts_per_call!r} and {self.examples_per_call!r} instead."
            )
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"The temperature must be from 0 to 2. Got {self.temperature!r} instead.")
        if not 1 <= self.min_chars <= self.max_chars:
            raise ValueError(
                f"Expected 1 <= min_chars <= max_chars. Got {self.min_chars!r} and {self.max_chars!r} instead."
            )


def generation_messages(task: str, label: int, examples: Sequence[str], count: int) -> list[dict[str, str]]:
    """The paper's prompt, in our words: setting, the label's definition, real examples, the request."""
    if task == "level":
        entry = level(label)
        definition = f"风险等级 {label}（共 0-10 级）：{entry.definition_zh}"
        target = f"风险等级 {label}"
    else:
        definition = f"{BINARY_NAMES_ZH[label]}：{BINARY_DEFINITIONS_ZH[label]}"
        target = BINARY_NAMES_ZH[label]
    shown = "\n".join(f"{i}. {text}" for i, text in enumerate(examples, start=1))
    lengths = sorted(len(t) for t in examples) or [20]
    system = (
        "你是协助心理危机干预研究的中文写作助手。你写的文本只用于训练自动识别自杀风险的模型，帮助志愿者更早发现需要帮助的人，"
        "不会被发布，也不会给任何人看作真实的留言。"
    )
    user = (
        f"场景：{SETTING_ZH}\n\n"
        f"{definition}\n\n"
        f"下面是 {len(examples)} 条属于{target}的真实评论：\n{shown}\n\n"
        f"请写出 {count} 条新的评论，每一条都必须属于{target}。要求：\n"
        "1. 每条出自不同的网友，处境、经历和措辞各不相同；不要复制或改写上面的示例；\n"
        f"2. 像真实的微博评论一样口语化，长度与示例相近（大约 {lengths[0]} 到 {lengths[-1]} 个字）；\n"
        "3. 严格符合这个等级的定义：是否有想死的愿望、是否提到具体方法、是否有大致或确定的时间，都要与定义一致；\n"
        f"4. 每行一条，以序号开头（1. 2. …… {count}.），除了这 {count} 条评论不要输出任何其他内容。"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_generated(answer: str, settings: GenerationSettings) -> tuple[list[str], Counter[str]]:
    """The posts of one answer that pass the format and length check, and why the others did not."""
    kept: list[str] = []
    rejected: Counter[str] = Counter()
    for raw_line in answer.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("```"):
            continue
        had_number = bool(_NUMBERING.match(line))
        text = _NUMBERING.sub("", line).strip().strip(_QUOTES).strip()
        if not text:
            continue
        if "|" in text or text.startswith("#"):
            rejected["format (table or heading)"] += 1
            continue
        if not had_number and _META.search(text):
            rejected["not a post (comment from the model)"] += 1
            continue
        if had_number and _STRONG_META.search(text):
            rejected["not a post (comment from the model)"] += 1
            continue
        han = len(_HAN.findall(text))
        if han < settings.min_han_share * len(text.replace(" ", "")):
            rejected["not mostly Chinese"] += 1
            continue
        if not settings.min_chars <= len(text) <= settings.max_chars:
            rejected["length outside bounds"] += 1
            continue
        kept.append(text)
    return kept, rejected


@dataclass
class GenerationResult:
    """Posts generated for one label, and the bookkeeping behind them."""

    posts: list[str] = field(default_factory=list)
    calls: int = 0
    cached_calls: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def generate_for_label(
    task: str,
    label: int,
    sources: Sequence[str],
    count: int,
    *,
    client: ChatClient | None,
    ledger: Ledger | None,
    rng: random.Random,
    settings: GenerationSettings | None = None,
    model: str | None = None,
    avoid: Sequence[str] = (),
    salt: str = "",
    reject: Callable[[list[str]], list[bool]] | None = None,
) -> GenerationResult:
    """Generate ``count`` new posts of ``label`` from real ``sources`` of that label (six per call).

    ``avoid`` are further texts the posts must not duplicate (every training post); ``reject`` may
    veto posts (the evaluation guard: "closest to an evaluation post"). Stops after
    ``settings.max_calls_per_label`` calls, or ``settings.max_idle_calls`` calls in a row that kept
    nothing, even if fewer posts were kept.
    """
    from ..llm import cached_chat

    chosen = settings or GenerationSettings()
    result = GenerationResult()
    if count <= 0:
        return result
    if not sources:
        raise ValueError(f"No real posts of label {label} to show as examples; generation needs at least one.")
    reference = list(dict.fromkeys([*sources, *avoid]))
    idle = 0
    for call in range(chosen.max_calls_per_label):
        if len(result.posts) >= count or idle >= chosen.max_idle_calls:
            break
        examples = rng.sample(list(sources), min(chosen.examples_per_call, len(sources)))
        reply = cached_chat(
            client,
            ledger,
            generation_messages(task, label, examples, chosen.posts_per_call),
            temperature=chosen.temperature,
            purpose="generate",
            salt=f"{salt}:{task}:{label}:call{call}",
            model=model,
            meta={"task": task, "label": label, "call": call},
        )
        result.calls += 1
        result.cached_calls += int(reply.cached)
        candidates, rejected = parse_generated(reply.content, chosen)
        result.rejected.update(rejected)
        keep = distinct(candidates, against=[*reference, *result.posts], threshold=chosen.duplicate_similarity)
        if len(candidates) > len(keep):
            result.rejected["duplicate of a training or generated post"] += len(candidates) - len(keep)
        kept = [candidates[i] for i in keep]
        if reject is not None and kept:
            vetoed = reject(kept)
            if any(vetoed):
                result.rejected["closest to an evaluation post"] += sum(vetoed)
            kept = [text for text, bad in zip(kept, vetoed, strict=True) if not bad]
        result.posts.extend(kept)
        idle = 0 if kept else idle + 1
    if len(result.posts) > count:
        result.posts = result.posts[:count]
    logger.info(
        "generated %d posts for label %d in %d calls (%d from the ledger)",
        len(result.posts),
        label,
        result.calls,
        result.cached_calls,
    )
    return result
