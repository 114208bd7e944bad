"""A JSONL ledger of every LLM request and answer, so that an interrupted run resumes without paying twice.

Each line is one call: ``key`` (sha256 of the request body and a salt), ``purpose``, ``request`` (the
JSON body: model, messages, temperature; never a header, so never the key), ``reply`` (or ``error``)
and ``time``. A request whose key is already in the ledger with a reply is answered from it. Lines
are flushed and fsynced as they are written; a line cut short by a crash is skipped when reading.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LLMError

if TYPE_CHECKING:
    from .client import ChatClient, ChatReply, Message

logger = logging.getLogger(__name__)

LEDGER_VERSION = 1


def request_key(body: dict[str, Any], salt: str = "") -> str:
    """The ledger key of a request: sha256 over the canonical JSON of the body and ``salt``.

    ``salt`` tells apart calls with the same body that must each be paid once (for example the
    third of several generation calls at temperature 1.0 with the same prompt).
    """
    canonical = json.dumps({"body": body, "salt": salt}, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Ledger:
    """An append-only JSONL file of calls; :meth:`lookup` finds a paid answer by its key."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._replies: dict[str, dict[str, Any]] = {}
        self.skipped_lines = 0
        self.hits = 0
        self.misses = 0
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open("r", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    key = record["key"]
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1
                    logger.warning("%s:%d: unreadable ledger line skipped (cut short by a crash?)", self.path, number)
                    continue
                if isinstance(record.get("reply"), dict):
                    self._replies[key] = record["reply"]

    def __len__(self) -> int:
        return len(self._replies)

    def __contains__(self, key: object) -> bool:
        return key in self._replies

    def lookup(self, key: str) -> ChatReply | None:
        """The stored reply of ``key``, or ``None`` when that call was never answered."""
        from .client import ChatReply

        stored = self._replies.get(key)
        return ChatReply.from_dict(stored, cached=True) if stored is not None else None

    def record(
        self,
        key: str,
        body: dict[str, Any],
        *,
        purpose: str,
        reply: ChatReply | None = None,
        error: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Append one call (its reply, or the error that ended it) and make it durable."""
        entry: dict[str, Any] = {
            "ledger_version": LEDGER_VERSION,
            "key": key,
            "purpose": purpose,
            "time": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "request": body,
        }
        if meta:
            entry["meta"] = meta
        if reply is not None:
            entry["reply"] = reply.to_dict()
        if error is not None:
            entry["error"] = error
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if reply is not None:
            self._replies[key] = entry["reply"]


def cached_chat(
    client: ChatClient | None,
    ledger: Ledger | None,
    messages: Sequence[Message],
    *,
    temperature: float,
    purpose: str,
    salt: str = "",
    model: str | None = None,
    meta: dict[str, Any] | None = None,
) -> ChatReply:
    """One chat call through the ledger: answered from it when paid before, else sent and recorded.

    ``client`` may be ``None`` when every answer is expected in the ledger (an offline replay); then
    ``model`` names the model the ledger's requests were made with, and a missing answer is an error.
    """
    if client is not None:
        body = client.request_body(messages, temperature=temperature)
    else:
        if model is None:
            raise LLMError("cached_chat without a client needs model= (the model the ledger was written with)")
        body = {
            "model": model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "temperature": float(temperature),
        }
    key = request_key(body, salt)
    if ledger is not None:
        stored = ledger.lookup(key)
        if stored is not None:
            ledger.hits += 1
            return stored
        ledger.misses += 1
    if client is None:
        raise LLMError(
            f"the ledger has no answer for this {purpose} request and no endpoint was given; "
            "pass --base-url/--llm-model (or set SOSRISK_LLM_BASE_URL and SOSRISK_LLM_MODEL)"
        )
    try:
        reply = client.send(body)
    except LLMError as exc:
        if ledger is not None:
            ledger.record(key, body, purpose=purpose, error=str(exc), meta=meta)
        raise
    if ledger is not None:
        ledger.record(key, body, purpose=purpose, reply=reply, meta=meta)
    return reply
