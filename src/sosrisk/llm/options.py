"""Options of an OpenAI-compatible endpoint, validated with pydantic (unknown fields are an error)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import LLMError

try:
    from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('The LLM features of sosrisk need pydantic and httpx: pip install "sosrisk[llm]"') from exc

ENV_BASE_URL = "SOSRISK_LLM_BASE_URL"
ENV_MODEL = "SOSRISK_LLM_MODEL"
ENV_API_KEY = "SOSRISK_LLM_API_KEY"
_ENV_OF = {"base_url": ENV_BASE_URL, "model": ENV_MODEL, "api_key": ENV_API_KEY}
_OPTION_OF = {"base_url": "--base-url", "model": "--llm-model", "api_key": "--api-key"}


class LLMOptions(BaseModel):
    """Where and how to call an OpenAI-compatible chat-completions endpoint.

    ``base_url`` is the API root that ``/chat/completions`` is appended to (for example
    ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``). ``api_key`` is a secret: its
    ``repr`` is ``'**********'`` and it is only ever sent in the ``Authorization`` header.
    Retries (429, 5xx, timeouts, dropped connections) wait ``backoff_initial_s`` seconds, doubling up
    to ``backoff_max_s``, at most ``max_retries`` times; a ``Retry-After`` header is honoured up to
    ``backoff_max_s``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    model: str = Field(min_length=1)
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("expected an http(s) URL such as https://api.openai.com/v1")
        if parts.username or parts.password:
            raise ValueError("the URL must not carry a user name or password; pass the key as api_key")
        path = parts.path.rstrip("/")
        if path.endswith("/chat/completions"):
            path = path[: -len("/chat/completions")]
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))

    @property
    def endpoint(self) -> str:
        """The full chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    @property
    def host(self) -> str:
        """The endpoint's host (for messages and ledgers; never the key)."""
        return urlsplit(self.base_url).netloc

    def secret_key(self) -> str | None:
        """The API key in clear, for the Authorization header only."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    @classmethod
    def build(cls, values: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> LLMOptions:
        """Options from ``values``, with ``base_url``, ``model`` and ``api_key`` taken from the environment
        (``SOSRISK_LLM_BASE_URL``, ``SOSRISK_LLM_MODEL``, ``SOSRISK_LLM_API_KEY``) where not given.

        Validation errors become one :class:`LLMError` naming the field, what was expected and the fix.
        """
        env = os.environ if environ is None else environ
        merged: dict[str, Any] = {k: v for k, v in (values or {}).items() if v is not None}
        for field_name, variable in _ENV_OF.items():
            if field_name not in merged and env.get(variable):
                merged[field_name] = env[variable]
        for required in ("base_url", "model"):
            if required not in merged:
                raise LLMError(
                    f"LLM option '{required}': expected a value, got none; pass {_OPTION_OF[required]} "
                    f"or set {_ENV_OF[required]}"
                )
        try:
            return cls(**merged)
        except ValidationError as exc:
            raise LLMError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """One line per problem: ``LLM option 'x': <what pydantic found>; got <value>``."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "options"
        shown = "(hidden)" if name == "api_key" else repr(error.get("input"))
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(LLMOptions.model_fields)
            lines.append(f"LLM option '{name}': unknown option; expected one of {allowed}")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"LLM option '{name}': {message}; got {shown}")
    return "; ".join(lines)
