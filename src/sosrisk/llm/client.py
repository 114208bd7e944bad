"""The chat-completions client: timeouts, retries with back-off, and a key that never leaves the header."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import LLMError
from .options import LLMOptions

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
Message = dict[str, str]


def _require_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError('The LLM client needs httpx: pip install "sosrisk[llm]"') from exc
    return httpx


@dataclass(frozen=True)
class ChatReply:
    """One answer of the endpoint: the text, and what the server said about it."""

    content: str
    model: str = ""
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    attempts: int = 1
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the ledger)."""
        return {
            "content": self.content,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, cached: bool = False) -> ChatReply:
        """The reply stored by :meth:`to_dict`."""
        return cls(
            content=str(data["content"]),
            model=str(data.get("model") or ""),
            finish_reason=data.get("finish_reason"),
            usage={k: int(v) for k, v in (data.get("usage") or {}).items() if isinstance(v, int)},
            attempts=int(data.get("attempts") or 1),
            cached=cached,
        )


class ChatClient:
    """Calls ``POST {base_url}/chat/completions`` with retries.

    Retried: HTTP 429 and 5xx (and 408/409/425), timeouts, refused or dropped connections and
    answers that are not the JSON of a chat completion. Not retried: other 4xx (bad key, unknown
    model, bad request), which raise :class:`LLMError` at once. ``sleep`` and ``transport`` exist for
    tests.
    """

    def __init__(
        self,
        options: LLMOptions,
        *,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        httpx = _require_httpx()
        self.options = options
        self._sleep = sleep
        self._random = random.Random(seed)
        timeout = httpx.Timeout(options.timeout_s, connect=options.connect_timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = options.secret_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(timeout=timeout, headers=headers, transport=transport, follow_redirects=False)
        self.calls = 0  # HTTP requests sent (attempts included)

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __repr__(self) -> str:
        return f"ChatClient(host={self.options.host!r}, model={self.options.model!r})"

    def request_body(
        self, messages: Sequence[Message], *, temperature: float, max_tokens: int | None = None
    ) -> dict[str, Any]:
        """The JSON body of a chat-completions request (what the ledger stores and hashes)."""
        _check_messages(messages)
        if not 0 <= temperature <= 2:
            raise LLMError(f"temperature: expected a number from 0 to 2, got {temperature!r}")
        body: dict[str, Any] = {
            "model": self.options.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "temperature": float(temperature),
        }
        tokens = max_tokens if max_tokens is not None else self.options.max_tokens
        if tokens is not None:
            body["max_tokens"] = int(tokens)
        return body

    def chat(
        self, messages: Sequence[Message], *, temperature: float = 0.0, max_tokens: int | None = None
    ) -> ChatReply:
        """Send one chat request and return the assistant's answer, retrying transient failures."""
        return self.send(self.request_body(messages, temperature=temperature, max_tokens=max_tokens))

    def send(self, body: dict[str, Any]) -> ChatReply:
        """Send a request body built by :meth:`request_body`."""
        httpx = _require_httpx()
        options = self.options
        attempts = options.max_retries + 1
        delay = options.backoff_initial_s
        last_problem = ""
        for attempt in range(1, attempts + 1):
            self.calls += 1
            retry_after: float | None = None
            try:
                response = self._http.post(options.endpoint, json=body)
            except httpx.TimeoutException as exc:
                last_problem = f"no answer within the timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_problem = f"connection failed or dropped ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        reply = _parse_completion(response.content)
                    except LLMError as exc:
                        last_problem = str(exc)
                    else:
                        return ChatReply(
                            content=reply.content,
                            model=reply.model,
                            finish_reason=reply.finish_reason,
                            usage=reply.usage,
                            attempts=attempt,
                        )
                elif status in RETRY_STATUSES:
                    last_problem = f"HTTP {status} {self._server_message(response)}".rstrip()
                    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                else:
                    raise LLMError(self._refusal(status, response))
            if attempt == attempts:
                break
            wait = min(delay, options.backoff_max_s)
            if retry_after is not None:
                wait = min(max(wait, retry_after), options.backoff_max_s)
            wait *= 1.0 + 0.1 * self._random.random()  # a little jitter so parallel clients spread out
            logger.info(
                "%s: attempt %d of %d failed (%s); retrying in %.2f s",
                options.host,
                attempt,
                attempts,
                last_problem,
                wait,
            )
            self._sleep(wait)
            delay = delay * 2 if delay > 0 else 0.0
        raise LLMError(
            f"{options.endpoint}: no usable answer after {attempts} attempt(s); last problem: "
            f"{last_problem}. Check that the endpoint is up, or raise max_retries / timeout_s."
        )

    # ----------------------------------------------------------------- helpers
    def _redact(self, text: str) -> str:
        key = self.options.secret_key()
        if key:
            text = text.replace(key, "***")
            if len(key) > 8:  # servers often echo a shortened key ("sk-abc...wxyz")
                text = text.replace(key[:8], "***").replace(key[-4:], "***")
        return text

    def _server_message(self, response: Any) -> str:
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            text = response.text[:200]
        else:
            error = data.get("error") if isinstance(data, dict) else None
            text = str(error.get("message", error) if isinstance(error, dict) else error or "")[:200]
        return f"({self._redact(text)})" if text else ""

    def _refusal(self, status: int, response: Any) -> str:
        hints = {
            400: "the server rejected the request; check the model name and options",
            401: "the API key was refused; set SOSRISK_LLM_API_KEY (or --api-key) to a valid key",
            403: "the key may not use this model or endpoint",
            404: "no such endpoint or model; base_url must be the API root (e.g. .../v1) and the model must exist",
        }
        hint = hints.get(status, "the server refused the request")
        message = self._server_message(response)
        return f"{self.options.endpoint}: HTTP {status} {message}: {hint}".replace("  ", " ")


def _check_messages(messages: Sequence[Message]) -> None:
    if not messages:
        raise LLMError("messages: expected at least one message, got none")
    for index, message in enumerate(messages):
        if message.get("role") not in {"system", "user", "assistant"} or not isinstance(message.get("content"), str):
            raise LLMError(
                f"messages[{index}]: expected {{'role': 'system'|'user'|'assistant', 'content': str}}, "
                f"got keys {sorted(message)}"
            )


def _parse_completion(raw: bytes) -> ChatReply:
    """The assistant message of a chat-completions JSON body; :class:`LLMError` when it is not one."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError("the answer is not a chat completion (expected JSON with choices[0].message.content)") from None
    if not isinstance(content, str):
        raise LLMError(f"choices[0].message.content: expected a string, got {type(content).__name__}")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ChatReply(
        content=content,
        model=str(data.get("model") or ""),
        finish_reason=choice.get("finish_reason"),
        usage={k: v for k, v in usage.items() if isinstance(v, int)},
    )


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date); ``None`` when absent or odd."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)
