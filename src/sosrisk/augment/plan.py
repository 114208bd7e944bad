"""Balancing plans: how many posts to add to each level (or binary class), shown before anything is made.

A plan only ever looks at the training posts' labels: evaluation data is never counted, read or changed.
Sizes, as in the paper: raise every smaller class to a count (``116``), to the largest class
(``largest``), to a multiple of it (``2xlargest``), or multiply every class (``x1.5``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..scale import Task, check_task, label_name, labels_for

_COUNT = re.compile(r"^\d+$")
_MULTIPLE = re.compile(r"^(?P<k>\d+(?:\.\d+)?)x-?largest$")
_FACTOR = re.compile(r"^x(?P<f>\d+(?:\.\d+)?)$")
SIZE_HELP = "N (raise smaller classes to N posts), largest, KxLargest (e.g. 2xlargest) or xF (multiply each class)"


class PlanError(ValueError):
    """A balancing size or plan that cannot be used."""


@dataclass(frozen=True)
class BalanceSize:
    """A parsed size: ``count`` (to N), ``largest`` (to K times the largest class) or ``factor`` (x F)."""

    mode: str
    value: float

    @classmethod
    def parse(cls, text: str | int) -> BalanceSize:
        """``"116"``, ``"largest"``, ``"2xlargest"`` or ``"x1.5"``; a clear error for anything else."""
        raw = str(text).strip().lower().replace(" ", "")
        if _COUNT.match(raw):
            if int(raw) < 1:
                raise PlanError(f"size: expected a count of at least 1, got {text!r}")
            return cls("count", float(int(raw)))
        if raw == "largest":
            return cls("largest", 1.0)
        match = _MULTIPLE.match(raw)
        if match:
            multiple = float(match["k"])
            if multiple < 1:
                raise PlanError(f"size: expected a multiple of the largest class of at least 1, got {text!r}")
            return cls("largest", multiple)
        match = _FACTOR.match(raw)
        if match:
            factor = float(match["f"])
            if factor < 1:
                raise PlanError(f"size: expected a factor of at least 1 (augmentation only adds), got {text!r}")
            return cls("factor", factor)
        raise PlanError(f"size: expected {SIZE_HELP}; got {text!r}")

    def __str__(self) -> str:
        if self.mode == "count":
            return str(int(self.value))
        if self.mode == "largest":
            return "largest" if self.value == 1 else f"{self.value:g}xlargest"
        return f"x{self.value:g}"


@dataclass(frozen=True)
class PlanRow:
    """One class of a plan: posts it has, posts to add, posts after."""

    label: int
    have: int
    add: int

    @property
    def after(self) -> int:
        return self.have + self.add


@dataclass(frozen=True)
class BalancePlan:
    """How many posts each class of the training data gets; :meth:`render` shows it before anything is made."""

    task: Task
    size: BalanceSize
    rows: tuple[PlanRow, ...]

    @property
    def total_added(self) -> int:
        return sum(row.add for row in self.rows)

    def additions(self) -> dict[int, int]:
        """``{label: posts to add}`` for the classes that get any."""
        return {row.label: row.add for row in self.rows if row.add > 0}

    def render(self) -> str:
        """A small table: label, name, have, add, after."""
        lines = [f"balancing plan ({self.task} task, size {self.size}): {self.total_added} posts to add"]
        lines.append(f"{'label':>5}  {'name':<28} {'have':>5} {'add':>6} {'after':>6}")
        for row in self.rows:
            name = label_name(self.task, row.label)
            lines.append(f"{row.label:>5}  {name:<28} {row.have:>5} {row.add:>6} {row.after:>6}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "task": self.task,
            "size": str(self.size),
            "rows": [{"label": r.label, "have": r.have, "add": r.add, "after": r.after} for r in self.rows],
            "total_added": self.total_added,
        }


def plan_balance(
    task: Task, labels: Sequence[int] | np.ndarray, size: BalanceSize | str | int, *, only: Sequence[int] | None = None
) -> BalancePlan:
    """The plan that brings the training ``labels`` of ``task`` to ``size``.

    ``only`` restricts the classes that may receive posts. A class with no training post gets none
    (there is nothing to augment from).
    """
    check_task(task)
    chosen = size if isinstance(size, BalanceSize) else BalanceSize.parse(size)
    values = np.asarray(labels, dtype=np.int64)
    allowed = labels_for(task)
    bad = sorted(set(values.tolist()) - set(allowed))
    if bad:
        raise PlanError(f"labels: expected values in {list(allowed)} for the {task} task, got {bad}")
    counts = {label: int((values == label).sum()) for label in allowed}
    if only is not None:
        unknown = sorted(set(only) - set(allowed))
        if unknown:
            raise PlanError(f"only: expected labels in {list(allowed)}, got {unknown}")
    largest = max(counts.values(), default=0)
    rows = []
    for label in allowed:
        have = counts[label]
        if have == 0 or (only is not None and label not in only):
            rows.append(PlanRow(label, have, 0))
            continue
        if chosen.mode == "count":
            target = int(chosen.value)
        elif chosen.mode == "largest":
            target = math.ceil(largest * chosen.value)
        else:
            target = math.ceil(have * chosen.value)
        rows.append(PlanRow(label, have, max(target - have, 0)))
    return BalancePlan(task=task, size=chosen, rows=tuple(rows))
