"""Reading a model's annotation answer: a markdown table (or, failing that, JSON or ``N: level`` lines).

Nothing is guessed. A row counts only when its number is one of the batch's, its level cell holds
exactly one integer within the scale and no other row gives the same number a different level. Every
row or post that does not count is named in ``problems``; the caller retries those posts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_INT = re.compile(r"-?\d+")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ID_HEADERS = ("编号", "序号", "id", "no", "#", "评论编号", "number")
_LEVEL_HEADERS = ("等级", "风险等级", "level", "risk", "标注", "label")
_REASON_HEADERS = ("理由", "原因", "依据", "reason", "解释", "说明")
_LINE = re.compile(
    r"^\s*[\[\(（#]?\s*[Pp]?(?P<id>\d{1,4})\s*[\]\)）]?\s*[.:：、,，|]\s*(?:等级|level|风险等级)?\s*[:：]?\s*"
    r"(?P<level>-?\d{1,3})\s*级?\s*[,，;；。|\-—:：]*\s*(?P<reason>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AnnotatedRow:
    """One post's answer: its number in the batch, its level and the model's reason."""

    number: int
    level: int
    reason: str


@dataclass
class ParsedAnswer:
    """The rows that count, by number, and every problem met."""

    rows: dict[int, AnnotatedRow] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def missing(self, expected: Sequence[int]) -> list[int]:
        """Numbers of the batch without a row that counts."""
        return [n for n in expected if n not in self.rows]


def _cells(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|"):
        text = text[:-1]
    return [cell.strip() for cell in text.split("|")]


def _header_roles(cells: list[str]) -> dict[str, int] | None:
    lowered = [c.lower().strip("* ") for c in cells]
    roles: dict[str, int] = {}
    for index, cell in enumerate(lowered):
        if "id" not in roles and any(cell == h or cell.startswith(h) for h in _ID_HEADERS):
            roles["id"] = index
        elif "level" not in roles and any(h in cell for h in _LEVEL_HEADERS):
            roles["level"] = index
        elif "reason" not in roles and any(h in cell for h in _REASON_HEADERS):
            roles["reason"] = index
    return roles if "id" in roles and "level" in roles else None


def _number(cell: str) -> int | None:
    found = _INT.findall(cell)
    return int(found[0]) if len(found) == 1 else None


def parse_answer(answer: str, expected: Sequence[int], *, labels: Sequence[int] = tuple(range(11))) -> ParsedAnswer:
    """The rows of ``answer`` for the batch numbers ``expected``, with problems for everything else."""
    parsed = ParsedAnswer()
    wanted = set(expected)
    allowed = set(labels)
    candidates: list[tuple[int, str, str, str]] = []  # number, level cell, reason, where
    table_lines = [line for line in answer.splitlines() if line.count("|") >= 2]
    if table_lines:
        roles = {"id": 0, "level": 1, "reason": 2}
        for position, line in enumerate(table_lines, start=1):
            if _SEPARATOR.match(line):
                continue
            cells = _cells(line)
            header = _header_roles(cells)
            if header is not None and _number(cells[header["id"]]) is None:
                roles = header
                continue
            if max(roles["id"], roles["level"]) >= len(cells):
                parsed.problems.append(
                    f"table row {position}: expected at least {max(roles.values()) + 1} cells, got {len(cells)}"
                )
                continue
            number = _number(cells[roles["id"]])
            if number is None:
                parsed.problems.append(
                    f"table row {position}: the number cell {cells[roles['id']]!r} is not one integer"
                )
                continue
            reason = cells[roles["reason"]] if roles.get("reason", 99) < len(cells) else ""
            candidates.append((number, cells[roles["level"]], reason, f"table row {position}"))
    else:
        candidates = _json_candidates(answer) or _line_candidates(answer)
        if not candidates:
            parsed.problems.append("no table, JSON or 'number: level' lines found in the answer")
    conflicting: set[int] = set()
    for number, level_cell, reason, where in candidates:
        if number not in wanted:
            parsed.problems.append(f"{where}: number {number} is not one of this batch's ({min(wanted)}-{max(wanted)})")
            continue
        level_numbers = _INT.findall(level_cell)
        if len(level_numbers) != 1:
            parsed.problems.append(f"{where}: post {number}: level {level_cell!r} is not one integer")
            continue
        value = int(level_numbers[0])
        if value not in allowed:
            parsed.problems.append(f"{where}: post {number}: level {value} is outside {min(allowed)}-{max(allowed)}")
            continue
        previous = parsed.rows.get(number)
        if previous is not None and previous.level != value:
            parsed.problems.append(f"{where}: post {number} has two different levels ({previous.level} and {value})")
            conflicting.add(number)
            continue
        parsed.rows[number] = AnnotatedRow(number, value, reason.strip())
    for number in conflicting:
        parsed.rows.pop(number, None)
    for number in parsed.missing(expected):
        if number not in conflicting:
            parsed.problems.append(f"post {number}: no usable row in the answer")
    return parsed


def _json_candidates(answer: str) -> list[tuple[int, str, str, str]]:
    start, end = answer.find("["), answer.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        items = json.loads(answer[start : end + 1])
    except ValueError:
        return []
    out = []
    if not isinstance(items, list):
        return []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            continue
        keys = {str(k).lower(): v for k, v in item.items()}
        number = next((keys[k] for k in ("id", "编号", "number", "no") if k in keys), None)
        level_value = next((keys[k] for k in ("level", "等级", "risk_level", "label") if k in keys), None)
        reason = next((keys[k] for k in ("reason", "理由", "原因") if k in keys), "")
        if number is None or level_value is None:
            continue
        parsed_number = _number(str(number))
        if parsed_number is None:
            continue
        out.append((parsed_number, str(level_value), str(reason), f"JSON item {position}"))
    return out


def _line_candidates(answer: str) -> list[tuple[int, str, str, str]]:
    out = []
    for position, line in enumerate(answer.splitlines(), start=1):
        match = _LINE.match(line)
        if match:
            out.append((int(match["id"]), match["level"], match["reason"], f"line {position}"))
    return out
