"""Model kinds behind one interface, the registry and the model-directory format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .base import ModelError, NotFittedError, RiskModel
from .decision import DecisionRule
from .registry import available_kinds, get_model_class, register_lazy, register_model


def load_model(directory: str | Path) -> RiskModel:
    """Load any sosrisk model directory."""
    return RiskModel.load(directory)


def load_directories(directories: Sequence[str | Path]) -> dict[str, RiskModel]:
    """Load one level and/or one binary model from model directories or a folder holding ``level/`` / ``binary/``.

    Returns ``{task: model}``; two models of one task are an error.
    """
    from .base import CONFIG_NAME

    paths: list[Path] = []
    for directory in directories:
        path = Path(directory)
        if (path / CONFIG_NAME).is_file():
            paths.append(path)
            continue
        inside = [path / task for task in ("level", "binary") if (path / task / CONFIG_NAME).is_file()]
        if not inside:
            raise ModelError(
                f"{path} is not a model directory ({CONFIG_NAME} is missing) and holds no level/ or binary/ model "
                "directory. Pass a folder written by 'sosrisk train --out'."
            )
        paths.extend(inside)
    models: dict[str, RiskModel] = {}
    for path in paths:
        model = load_model(path)
        if model.task in models:
            raise ModelError(
                f"Two {model.task} models given ({path} and another); give one level and one binary model."
            )
        models[model.task] = model
    return models


__all__ = [
    "DecisionRule",
    "ModelError",
    "NotFittedError",
    "RiskModel",
    "available_kinds",
    "get_model_class",
    "load_directories",
    "load_model",
    "register_lazy",
    "register_model",
]
