"""The registry of model kinds: built-in kinds and those of other packages register the same way.

Built-in kinds are registered lazily here (their modules, and torch for the encoder kinds, are imported
only when a kind is first asked for); another package adds a kind with the :func:`register_model`
decorator, :func:`register_lazy`, or an entry point in the ``sosrisk.model_kinds`` group (see
:mod:`sosrisk.registry`). It imports nothing of the base class (``base.py`` looks kinds up here when it
loads a directory), so the two modules do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..registry import Registry
from .errors import ModelError

ENTRY_POINT_GROUP = "sosrisk.model_kinds"
M = TypeVar("M", bound=type[Any])


def _name_the_kind(kind: str, cls: Any) -> None:
    cls.kind = kind


# kind -> a RiskModel subclass (typed loosely: naming RiskModel here would import base.py)
MODEL_KINDS: Registry[type[Any]] = Registry(
    "model kind", entry_point_group=ENTRY_POINT_GROUP, error=ModelError, on_register=_name_the_kind
)
MODEL_KINDS.register_lazy("char-linear", "sosrisk.models.char_linear:CharLinearModel")
MODEL_KINDS.register_lazy("embedding-linear", "sosrisk.models.embedding_linear:EmbeddingLinearModel")
MODEL_KINDS.register_lazy("use-linear", "sosrisk.models.use_linear:UseLinearModel")
MODEL_KINDS.register_lazy("encoder", "sosrisk.models.encoder:EncoderModel")
MODEL_KINDS.register_lazy("ensemble", "sosrisk.models.ensemble:EnsembleModel")
MODEL_KINDS.register_lazy("best", "sosrisk.models.ensemble:BestModel")


def register_model(kind: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`RiskModel` subclass under ``kind`` (and set its ``kind``)."""

    def decorator(cls: M) -> M:
        MODEL_KINDS.register(kind, cls)
        return cls

    return decorator


def register_lazy(kind: str, reference: str) -> None:
    """Register a kind as ``"module:Class"`` (or a module whose decorator registers it), imported on first use."""
    MODEL_KINDS.register_lazy(kind, reference)


def available_kinds() -> list[str]:
    """Names of every model kind known to this installation (entry points of installed packages included)."""
    return MODEL_KINDS.names()


def get_model_class(kind: str) -> type[Any]:
    """The class registered under ``kind``; imports lazily registered modules on demand."""
    return MODEL_KINDS.get(kind)
