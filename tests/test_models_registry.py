"""The registry of model kinds, and the import structure of the models room."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sosrisk.models import ModelError, available_kinds, get_model_class
from sosrisk.models.base import RiskModel

MODELS = Path(__file__).resolve().parents[1] / "src" / "sosrisk" / "models"


def imported_modules(path: Path) -> set[str]:
    """The ``sosrisk.models`` modules a module imports anywhere in it (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            found.update(name.split(".")[0] for name in names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sosrisk.models."):
            found.add(str(node.module).split(".")[2])
    return {name for name in found if (MODELS / f"{name}.py").is_file()} - {path.stem}


def test_no_two_modules_of_the_models_room_import_each_other() -> None:
    graph = {path.stem: imported_modules(path) for path in MODELS.glob("*.py") if path.stem != "__init__"}
    cycles = []

    def walk(module: str, trail: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in trail:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif len(trail) < len(graph):
                walk(target, [*trail, target])

    for module in sorted(graph):
        walk(module, [module])
    assert cycles == []


def test_every_kind_resolves_to_a_risk_model_and_unknown_kinds_are_named() -> None:
    assert get_model_class("char-linear").kind == "char-linear"
    assert issubclass(get_model_class("char-linear"), RiskModel)
    with pytest.raises(ModelError) as info:
        get_model_class("gpt-9")
    assert str(info.value) == f"Unknown model kind 'gpt-9'; known model kinds: {', '.join(available_kinds())}."
