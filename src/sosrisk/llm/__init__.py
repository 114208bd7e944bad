"""A small client for OpenAI-compatible chat-completions endpoints, and a ledger of every call.

Used by ``sosrisk augment`` (back-translation, generation) and ``sosrisk annotate``. Needs the ``llm``
extra (``pip install "sosrisk[llm]"``: httpx and pydantic). The API key is held as a secret: it is sent
in the ``Authorization`` header and nowhere else (never logged, never written to a ledger or a file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import LLMError
from .ledger import Ledger, cached_chat
from .options import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, LLMOptions

if TYPE_CHECKING:
    from .client import ChatClient, ChatReply

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "ChatClient",
    "ChatReply",
    "LLMError",
    "LLMOptions",
    "Ledger",
    "cached_chat",
]


def __getattr__(name: str) -> object:
    # the HTTP client imports httpx; load it only when asked for
    if name in {"ChatClient", "ChatReply"}:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
