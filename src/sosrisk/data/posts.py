"""Post sets: the posts of one or more files, with their labels, where each came from and the problems found.

Files are read by the one reader every command uses (:mod:`sosrisk.data.reader`): TSV, CSV, JSONL,
Parquet and ``.txt`` (also gzip-compressed), UTF-8 (with or without BOM) or GBK/GB18030. Official
column names are mapped to ours (``comment`` -> ``text``, ``myLabel`` -> ``risk_level``, ``twoClass`` ->
``high_risk``); header-less two-column files are read as text + label. Every bad row raises
:class:`~sosrisk.data.errors.DataError` naming the file, line and field (or, with ``errors="report"``,
is left out and reported); labels are checked for the task a command needs, other label columns only
when asked for. Duplicate texts and empty files are reported as :class:`~sosrisk.data.errors.Problem`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..scale import Task, check_task
from .errors import DataError, Problem
from .reader import (
    InputFile,
    ReadSettings,
    check_structure,
    input_format_of,
    iter_segments,
    parse_segments,
    reject_field,
)

LABEL_COLUMN: dict[str, str] = {"level": "risk_level", "binary": "high_risk"}
_OFFICIAL = {"risk_level": "myLabel", "high_risk": "twoClass"}
_TOP = {"risk_level": 10, "high_risk": 1}
_INT_RE = re.compile(r"^[+-]?\d+$")
FRAME_COLUMNS = ["text", "risk_level", "high_risk", "id", "source", "line"]
DEFAULT_MAX_CHARS = 20_000


@dataclass
class PostSet:
    """Posts read from one or more files, with where each came from and the problems found.

    ``frame`` has the columns ``text`` (str), ``risk_level`` and ``high_risk`` (nullable Int64),
    ``id`` (str or missing), ``source`` (file path) and ``line`` (1-based line or row number).
    ``label_errors`` keeps, per task, the first bad label of a task that was not checked when reading:
    :meth:`labels` raises it when that task's labels are asked for.
    """

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    label_errors: dict[str, DataError] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def texts(self) -> list[str]:
        """The post texts, in file order."""
        return self.frame["text"].tolist()

    def has_labels(self, task: str) -> bool:
        """Whether every post carries a valid label of ``task``."""
        column = LABEL_COLUMN[check_task(task)]
        valid = task not in self.label_errors
        return valid and len(self.frame) > 0 and bool(self.frame[column].notna().all())

    def labels(self, task: str) -> np.ndarray:
        """The labels of ``task`` as an int array; a clear error names the first post without a valid one."""
        column = LABEL_COLUMN[check_task(task)]
        if task in self.label_errors:
            raise self.label_errors[task]
        missing = self.frame[column].isna()
        if missing.any():
            row = self.frame[missing].iloc[0]
            official = "myLabel" if task == "level" else "twoClass"
            raise DataError(
                row["source"],
                f"no {task} label; expected a '{column}' (or official '{official}') value for every post "
                f"({int(missing.sum())} of {len(self.frame)} posts have none)",
                line=int(row["line"]),
                field=column,
            )
        return self.frame[column].to_numpy(dtype=np.int64)

    @classmethod
    def concat(cls, parts: Sequence[PostSet]) -> PostSet:
        """Join post sets in order; duplicates across the parts are reported too."""
        frames = [p.frame for p in parts if len(p.frame)]
        frame = pd.concat(frames, ignore_index=True) if frames else _empty_frame()
        problems = [pr for p in parts for pr in p.problems if pr.kind != "duplicate"]
        problems.extend(find_duplicates(frame))
        label_errors: dict[str, DataError] = {}
        for part in parts:
            for task, error in part.label_errors.items():
                label_errors.setdefault(task, error)
        return cls(frame=frame, problems=problems, label_errors=label_errors)


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="object") for name in FRAME_COLUMNS})
    for name in ("risk_level", "high_risk"):
        frame[name] = frame[name].astype("Int64")
    frame["line"] = frame["line"].astype("int64")
    return frame


def decode_bytes(path: str | Path, raw: bytes) -> tuple[str, str]:
    """Decode a whole file's bytes: UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK).

    Returns ``(text, encoding)``. When none fits, the error names the line and field of the first
    bytes that UTF-8 cannot decode. (Post files are read by :mod:`sosrisk.data.reader`; this is for
    small files read whole.)
    """
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            _raise_undecodable(path, raw, exc.start + len(codecs.BOM_UTF8), "UTF-8 (the file starts with a BOM)")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            _raise_undecodable(path, raw, utf8_error.start, "UTF-8, nor GBK/GB18030")
    raise AssertionError("unreachable")


def _raise_undecodable(path: str | Path, raw: bytes, position: int, tried: str) -> None:
    line_start = raw.rfind(b"\n", 0, position) + 1
    line = raw.count(b"\n", 0, position) + 1
    before = raw[line_start:position]
    column = before.count(b"\t") if b"\t" in raw[line_start : raw.find(b"\n", position) % (len(raw) + 1)] else None
    field_name = None
    if column is not None:
        field_name = "text" if column == 0 else f"column {column + 1}"
    snippet = raw[position : position + 4]
    raise DataError(
        path,
        f"undecodable bytes {snippet!r} at byte {position}: the file is neither {tried}. Re-save it as UTF-8.",
        line=line,
        field=field_name,
    )


def read_posts(
    path: str | Path,
    *,
    task: Task | None = None,
    format: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    headerless_label: str = "risk_level",
    errors: str = "raise",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> PostSet:
    """Read one post file with the one reader (:mod:`sosrisk.data.reader`).

    Parameters
    ----------
    path:
        A ``.tsv``, ``.csv``, ``.jsonl`` or ``.parquet`` file, or a ``.txt`` file with one post per line
        (each may be gzip-compressed, ``.gz``).
    task:
        When given, every post must carry a label of this task (``level``: ``risk_level`` / ``myLabel``
        0-10; ``binary``: ``high_risk`` / ``twoClass`` 0/1); a missing column is an error. Labels of
        the other task are read when present and checked only when :meth:`PostSet.labels` asks for them.
    format:
        Overrides the format guessed from the suffix (``tsv``, ``csv``, ``jsonl``, ``parquet``, ``text``
        or ``lines``).
    text_column, label_column, id_column:
        Column names to use instead of the known aliases. ``label_column`` is read as the label of
        ``task`` (``level`` when no task is given).
    headerless_label:
        What the second column of a header-less two-column file means: ``risk_level`` (default) or
        ``high_risk``. With ``task="binary"`` it is ``high_risk``.
    errors:
        ``raise`` (default): the first bad row raises :class:`DataError`. ``report``: a bad row (empty
        text, bad label, bad JSON ...) is left out and reported as a ``Problem`` of kind ``invalid``
        with its file, line and field, so generated pools with a few broken rows stay usable.
        Structural problems (unknown format, missing columns) raise in both modes.
    max_chars:
        Longer texts are bad rows (as in ``sosrisk score``).
    """
    if errors not in {"raise", "report"}:
        raise ValueError(f"The 'errors' parameter must be 'raise' or 'report'. Got {errors!r} instead.")
    file = Path(path)
    if not file.is_file():
        raise DataError(file, "no such file" if not file.exists() else "not a file")
    if task is not None:
        check_task(task)
        if task == "binary":
            headerless_label = "high_risk"
    if headerless_label not in _TOP:
        raise ValueError(f"headerless_label must be 'risk_level' or 'high_risk'. Got {headerless_label!r} instead.")
    fmt, compressed = input_format_of(file, "text" if format == "lines" else format)
    item = InputFile(file, str(file), fmt, compressed)
    label_role = LABEL_COLUMN[task or "level"]
    settings = ReadSettings(
        text_column=text_column,
        id_column=id_column,
        max_chars=max_chars,
        labels=True,
        level_column=label_column if label_column is not None and label_role == "risk_level" else None,
        binary_column=label_column if label_column is not None and label_role == "high_risk" else None,
        headerless_label=headerless_label,
        required_label=LABEL_COLUMN[task] if task is not None else None,
    )
    check_structure(item, settings)
    records: list[list[Any]] = []
    problems: list[Problem] = []
    label_errors: dict[str, DataError] = {}
    checked = LABEL_COLUMN[task] if task is not None else None
    for segment in iter_segments([item], settings, segment_units=8192):
        rows = parse_segments([segment], settings).to_pydict()
        for position, text, post_id, level, high, reason, detail in zip(
            rows["position"],
            rows["text"],
            rows["id"],
            rows["level_label"],
            rows["binary_label"],
            rows["reason"],
            rows["detail"],
            strict=True,
        ):
            try:
                if reason is not None:
                    raise DataError(file, detail, line=position, field=reject_field(reason, detail))
                labels = {}
                for role, value in (("risk_level", level), ("high_risk", high)):
                    try:
                        labels[role] = _label(file, position, value, role, required=role == checked)
                    except DataError as exc:
                        if role == checked:
                            raise
                        label_errors.setdefault("level" if role == "risk_level" else "binary", exc)
                        labels[role] = None
            except DataError as exc:
                if errors == "raise":
                    raise
                where = f"field '{exc.field}': " if exc.field else ""
                problems.append(Problem("invalid", str(file), position, f"left out: {where}{exc.detail}"))
                continue
            records.append([text, labels["risk_level"], labels["high_risk"], post_id, str(file), position])
    if not records:
        if not problems:
            problems.append(Problem("empty", str(file), None, "the file holds no posts"))
        return PostSet(_empty_frame(), problems, label_errors)
    frame = pd.DataFrame.from_records(records, columns=FRAME_COLUMNS)
    for name in ("risk_level", "high_risk"):
        frame[name] = frame[name].astype("Int64")
    frame["line"] = frame["line"].astype("int64")
    problems.extend(find_duplicates(frame))
    return PostSet(frame, problems, label_errors)


def read_many(paths: Sequence[str | Path], **kwargs: Any) -> PostSet:
    """Read several files with :func:`read_posts` and join them (duplicates across files are reported)."""
    return PostSet.concat([read_posts(p, **kwargs) for p in paths])


def _label(file: Path, line: int, value: str | None, role: str, *, required: bool) -> int | None:
    """A label from its raw text; ``None`` when absent and not required; a clear error when bad."""
    allowed = "0 to 10" if _TOP[role] == 10 else "0 or 1"
    if value is None or not value.strip():
        if not required:
            return None
        raise DataError(file, f"missing label; expected an integer from {allowed}", line=line, field=role)
    if not _INT_RE.match(value.strip()):
        raise DataError(file, f"label {value!r} is not an integer; expected {allowed}", line=line, field=role)
    number = int(value.strip())
    if not 0 <= number <= _TOP[role]:
        raise DataError(file, f"label {number} is outside {allowed}", line=line, field=role)
    return number


def find_duplicates(frame: pd.DataFrame) -> list[Problem]:
    """Report every text that appears more than once (with whether its labels agree)."""
    problems: list[Problem] = []
    if frame.empty:
        return problems
    duplicated = frame[frame["text"].duplicated(keep=False)]
    for _text, group in duplicated.groupby("text", sort=False):
        first = group.iloc[0]
        others = ", ".join(f"{r.source}:{r.line}" for r in group.iloc[1:].itertuples())
        conflict = []
        for column in ("risk_level", "high_risk"):
            values = group[column].dropna().unique()
            if len(values) > 1:
                conflict.append(f"{column} {sorted(int(v) for v in values)}")
        detail = f"; labels disagree ({', '.join(conflict)})" if conflict else ""
        problems.append(
            Problem(
                "duplicate",
                str(first["source"]),
                int(first["line"]),
                f"the same text appears again at {others}{detail}",
            )
        )
    return problems
