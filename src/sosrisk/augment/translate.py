"""Back-translation through a pluggable translator: Chinese -> pivot language -> Chinese.

The paper used a commercial translation API and five pivots (en, es, fr, ar, ja). Here a translator is
anything with ``translate(texts, source=, target=) -> list[str | None]`` (``None``: that text could not
be translated). Two kinds ship:

- :class:`ChatTranslator`: any OpenAI-compatible chat model, through the LLM client and its ledger;
- :class:`TranslationAPI`: a base class for commercial translation APIs (batching, language-code
  mapping, retries); an adapter implements one method and registers itself with
  :func:`register_translator` (or an entry point in the group ``sosrisk.translators``) so that
  ``sosrisk augment run --translator NAME`` finds it.

Every back-translated variant is checked with :func:`~sosrisk.augment.guards.guard_violations`: one
that lost a negation or changed a method, time or number is rejected, never kept.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..registry import Registry

if TYPE_CHECKING:
    from ..llm import ChatClient, Ledger

logger = logging.getLogger(__name__)

DEFAULT_PIVOTS = ("en", "es", "fr", "ar", "ja")
LANGUAGE_NAMES = {
    "zh": "Simplified Chinese",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "ar": "Arabic",
    "ja": "Japanese",
    "de": "German",
    "ko": "Korean",
    "ru": "Russian",
    "pt": "Portuguese",
    "it": "Italian",
}


class TranslationError(ValueError):
    """A translator cannot be built or used as asked."""


@runtime_checkable
class Translator(Protocol):
    """Translates texts; returns one result per text, ``None`` where a text could not be translated."""

    name: str

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str | None]: ...


def check_language(code: str) -> str:
    """A known language code (``zh``, ``en``, ``es``, ``fr``, ``ar``, ``ja``...)."""
    if code not in LANGUAGE_NAMES:
        raise TranslationError(f"language: expected one of {', '.join(LANGUAGE_NAMES)}, got {code!r}")
    return code


TRANSLATORS: Registry[Callable[..., Translator]] = Registry(
    "translator", entry_point_group="sosrisk.translators", error=TranslationError
)


def register_translator(name: str) -> Callable[[Callable[..., Translator]], Callable[..., Translator]]:
    """Register a translator factory under ``name`` (a class or a function taking keyword options)."""
    return TRANSLATORS.register(name)


def available_translators() -> list[str]:
    """Names of the registered translators (entry points of installed packages included)."""
    return TRANSLATORS.names()


def make_translator(name: str, **options: Any) -> Translator:
    """Build the translator registered as ``name``."""
    if name not in TRANSLATORS:
        raise TranslationError(
            f"translator: expected one of {', '.join(available_translators())}, got {name!r}; a commercial API "
            "needs an adapter registered with sosrisk.augment.translate.register_translator"
        )
    return TRANSLATORS.get(name)(**options)


_JSON_ARRAY = re.compile(r"\[.*\]", re.DOTALL)


def parse_string_array(answer: str, expected: int) -> list[str] | None:
    """A JSON array of ``expected`` strings found in ``answer`` (code fences and chatter around it are
    ignored); ``None`` when there is none of that length."""
    match = _JSON_ARRAY.search(answer)
    if not match:
        return None
    try:
        values = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(values, list) or len(values) != expected or not all(isinstance(v, str) for v in values):
        return None
    return [v.strip() for v in values]


@register_translator("chat")
class ChatTranslator:
    """Translation by an OpenAI-compatible chat model: batches of texts in, a JSON array out.

    A batch whose answer is not a JSON array of the right length is asked again once (a new ledger
    entry), then each text of it alone; a text that still fails gives ``None``.
    """

    name = "chat"

    def __init__(
        self,
        client: ChatClient | None = None,
        *,
        ledger: Ledger | None = None,
        model: str | None = None,
        batch_size: int = 10,
        temperature: float = 0.0,
    ) -> None:
        if batch_size < 1:
            raise TranslationError(f"batch_size: expected at least 1, got {batch_size}")
        if client is None and model is None:
            raise TranslationError(
                "the chat translator needs an LLM endpoint (--base-url, --llm-model) or a ledger model"
            )
        self.client = client
        self.ledger = ledger
        self.model = model
        self.batch_size = batch_size
        self.temperature = temperature
        self.failed = 0

    def messages(self, texts: Sequence[str], *, source: str, target: str) -> list[dict[str, str]]:
        """The chat messages that ask for one batch."""
        source_name, target_name = LANGUAGE_NAMES[source], LANGUAGE_NAMES[target]
        system = (
            "You are a careful professional translator. You translate social-media comments written by people "
            "in distress for a suicide-prevention research project. Translate faithfully and completely."
        )
        user = (
            f"Translate each of the following {len(texts)} {source_name} texts into {target_name}. Keep the meaning "
            "exactly: every negation, every mention of death, suicide or a method, every time or date, every number "
            "and who is speaking. Do not soften, explain or add anything.\n"
            f"Answer with only a JSON array of exactly {len(texts)} strings, in the same order.\n\n"
            + json.dumps(list(texts), ensure_ascii=False)
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _ask(self, texts: Sequence[str], source: str, target: str, attempt: int) -> list[str] | None:
        from ..llm import cached_chat

        reply = cached_chat(
            self.client,
            self.ledger,
            self.messages(texts, source=source, target=target),
            temperature=self.temperature,
            purpose="translate",
            salt=f"attempt{attempt}" if attempt else "",
            model=self.model,
            meta={"source": source, "target": target, "texts": len(texts)},
        )
        return parse_string_array(reply.content, len(texts))

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str | None]:
        check_language(source)
        check_language(target)
        out: list[str | None] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            result = self._ask(batch, source, target, 0) or self._ask(batch, source, target, 1)
            if result is None and len(batch) > 1:
                singles: list[str | None] = []
                for text in batch:
                    one = self._ask([text], source, target, 0)
                    singles.append(one[0] if one else None)
                out.extend(singles)
            else:
                out.extend(result if result is not None else [None] * len(batch))
        self.failed += sum(1 for value in out if not value)
        return [value or None for value in out]


class TranslationAPI(ABC):
    """Base class for commercial translation APIs (Baidu, DeepL, Google, Azure...).

    An adapter sets ``name``, ``max_batch`` and ``language_codes`` (our codes -> the API's, where they
    differ, e.g. Baidu's ``jp``/``ara``/``spa``/``fra``) and implements :meth:`_translate_batch`, which
    sends one request and returns one translation per text. Failed batches are retried ``retries``
    times, then give ``None`` for their texts. Keys belong in the adapter's own options or environment,
    never in files written by sosrisk.
    """

    name = "api"
    max_batch = 20
    language_codes: dict[str, str] = {}  # noqa: RUF012 - adapters override the mapping

    def __init__(self, *, retries: int = 2) -> None:
        self.retries = retries
        self.failed = 0

    def code(self, language: str) -> str:
        """The API's code for one of our language codes."""
        return self.language_codes.get(check_language(language), language)

    @abstractmethod
    def _translate_batch(self, texts: list[str], *, source: str, target: str) -> list[str]:
        """Translate one batch (language codes already mapped); raise on failure."""

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str | None]:
        out: list[str | None] = []
        for start in range(0, len(texts), self.max_batch):
            batch = list(texts[start : start + self.max_batch])
            result: list[str | None] = [None] * len(batch)
            for attempt in range(self.retries + 1):
                try:
                    translated = self._translate_batch(batch, source=self.code(source), target=self.code(target))
                except Exception as exc:  # an adapter's transport errors vary; retried, then reported
                    logger.warning("%s: batch failed (attempt %d): %s", self.name, attempt + 1, type(exc).__name__)
                    continue
                if len(translated) == len(batch):
                    result = [t.strip() or None for t in translated]
                    break
            self.failed += sum(1 for value in result if value is None)
            out.extend(result)
        return out


def back_translate(texts: Sequence[str], translator: Translator, pivot: str, *, source: str = "zh") -> list[str | None]:
    """``texts`` translated into ``pivot`` and back; ``None`` where either step failed."""
    check_language(pivot)
    forward = translator.translate(list(texts), source=source, target=pivot)
    todo = [i for i, value in enumerate(forward) if value]
    backward = translator.translate([forward[i] or "" for i in todo], source=pivot, target=source) if todo else []
    out: list[str | None] = [None] * len(texts)
    for index, value in zip(todo, backward, strict=True):
        out[index] = value
    return out
