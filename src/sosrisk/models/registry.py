"""The registry of model kinds: built-in kinds and extensions register the same way.

It imports nothing of the base class (``base.py`` looks kinds up here when it loads a directory), so the
two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ModelError

# kind -> a RiskModel subclass (typed loosely: naming RiskModel here would import base.py)
_REGISTRY: dict[str, type[Any]] = {}
# Kinds whose module is imported on first use, so that heavy dependencies load only when needed.
_LAZY: dict[str, str] = {
    "char-linear": "sosrisk.models.char_linear",
    "encoder": "sosrisk.models.encoder",
    "embedding-linear": "sosrisk.models.embedding_linear",
    "ensemble": "sosrisk.models.ensemble",
    "best": "sosrisk.models.ensemble",
}

M = TypeVar("M", bound=type[Any])


def register_model(kind: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`RiskModel` subclass under ``kind``."""

    def decorator(cls: M) -> M:
        if kind in _REGISTRY and _REGISTRY[kind] is not cls:
            raise ModelError(f"A model kind named {kind!r} is already registered.")
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return decorator


def register_lazy(kind: str, module: str) -> None:
    """Register a kind whose module is imported only when the kind is first asked for."""
    _LAZY[kind] = module


def available_kinds() -> list[str]:
    """Names of every model kind known to this installation."""
    return sorted(set(_REGISTRY) | set(_LAZY))


def get_model_class(kind: str) -> type[Any]:
    """The class registered under ``kind``; imports lazily registered modules on demand."""
    if kind not in _REGISTRY and kind in _LAZY:
        import importlib

        importlib.import_module(_LAZY[kind])
    try:
        return _REGISTRY[kind]
    except KeyError:
        known = ", ".join(available_kinds())
        raise ModelError(f"Unknown model kind {kind!r}; known kinds: {known}.") from None
