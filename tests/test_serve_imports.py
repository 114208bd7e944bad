"""The rooms of sosrisk.serve use only the rooms below them: no import cycle, not even one hidden inside a
function or an ``if TYPE_CHECKING:`` block (read from the source, so nothing is imported to check it)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVE = Path(__file__).resolve().parents[1] / "src" / "sosrisk" / "serve"
# top first; a room may import only rooms after it in this list
ROOMS = [
    "server",
    "app",
    "pages",
    "api",
    "state",
    "settings",
    "explain",
    "limits",
    "review",
    "accounts",
    "store",
    "schema",
]


def sibling_imports(path: Path) -> set[str]:
    """The sosrisk.serve modules that ``path`` imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .store import x
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import api, pages
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and (node.module or "").startswith("sosrisk.serve."):
                found.add((node.module or "").split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("sosrisk.serve."))
    return found - {path.stem}


def test_every_room_is_placed() -> None:
    modules = {path.stem for path in SERVE.glob("*.py")} - {"__init__"}
    assert modules == set(ROOMS)


def test_each_room_uses_only_the_rooms_below_it() -> None:
    wrong = []
    for room in ROOMS:
        for used in sorted(sibling_imports(SERVE / f"{room}.py")):
            if used in ROOMS and ROOMS.index(used) <= ROOMS.index(room):
                wrong.append(f"{room} imports {used}, which is not below it")
    assert wrong == []
