"""Model kinds behind one interface, the registry and the model-directory format."""

from __future__ import annotations

from pathlib import Path

from .base import ModelError, NotFittedError, RiskModel
from .decision import DecisionRule
from .registry import available_kinds, get_model_class, register_lazy, register_model


def load_model(directory: str | Path) -> RiskModel:
    """Load any sosrisk model directory."""
    return RiskModel.load(directory)


__all__ = [
    "DecisionRule",
    "ModelError",
    "NotFittedError",
    "RiskModel",
    "available_kinds",
    "get_model_class",
    "load_model",
    "register_lazy",
    "register_model",
]
