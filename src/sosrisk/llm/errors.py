"""Errors of the LLM client: each says what was expected, what happened and what to do."""

from __future__ import annotations


class LLMError(ValueError):
    """An LLM endpoint could not be used as asked (bad options, refused request, unreadable answer)."""
