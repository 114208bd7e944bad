"""Reading post files: TSV, CSV, JSONL and Parquet, in UTF-8 (with or without BOM) or GBK/GB18030.

Official column names are mapped to ours (``comment`` -> ``text``, ``myLabel`` -> ``risk_level``,
``twoClass`` -> ``high_risk``). Header-less two-column files are read as text + label. Every bad value
raises :class:`~sosrisk.data.errors.DataError` naming the file, line and field; nothing is dropped.
Duplicate texts and empty files are reported as :class:`~sosrisk.data.errors.Problem`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..scale import Task, check_task
from .errors import DataError, Problem

# Our column names and the names we accept for them in files (first is ours).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "comment"),
    "risk_level": ("risk_level", "myLabel"),
    "high_risk": ("high_risk", "twoClass"),
    "id": ("id", "post_id"),
}
LABEL_COLUMN: dict[str, str] = {"level": "risk_level", "binary": "high_risk"}
FORMATS = ("tsv", "csv", "jsonl", "parquet", "lines")
_SUFFIX_FORMAT = {
    ".tsv": "tsv",
    ".txt": "lines",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_INT_RE = re.compile(r"^[+-]?\d+$")
FRAME_COLUMNS = ["text", "risk_level", "high_risk", "id", "source", "line"]


@dataclass
class PostSet:
    """Posts read from one or more files, with where each came from and the problems found.

    ``frame`` has the columns ``text`` (str), ``risk_level`` and ``high_risk`` (nullable Int64),
    ``id`` (str or missing), ``source`` (file path) and ``line`` (1-based line or row number).
    """

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def texts(self) -> list[str]:
        """The post texts, in file order."""
        return self.frame["text"].tolist()

    def has_labels(self, task: str) -> bool:
        """Whether every post carries a label of ``task``."""
        column = LABEL_COLUMN[check_task(task)]
        return len(self.frame) > 0 and bool(self.frame[column].notna().all())

    def labels(self, task: str) -> np.ndarray:
        """The labels of ``task`` as an int array; a clear error names the first post without one."""
        column = LABEL_COLUMN[check_task(task)]
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
        return cls(frame=frame, problems=problems)


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="object") for name in FRAME_COLUMNS})
    for name in ("risk_level", "high_risk"):
        frame[name] = frame[name].astype("Int64")
    frame["line"] = frame["line"].astype("int64")
    return frame


def detect_format(path: Path, format: str | None = None) -> str:
    """The file format from ``format`` or the file suffix (``.tsv``, ``.csv``, ``.jsonl``, ``.parquet``)."""
    if format is not None:
        if format not in FORMATS:
            raise DataError(path, f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        return format
    try:
        return _SUFFIX_FORMAT[path.suffix.lower()]
    except KeyError:
        raise DataError(
            path,
            f"cannot tell the format from the suffix {path.suffix!r}; expected one of "
            f"{', '.join(sorted(_SUFFIX_FORMAT))} or pass format=",
        ) from None


def decode_bytes(path: str | Path, raw: bytes) -> tuple[str, str]:
    """Decode a post file's bytes: UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK).

    Returns ``(text, encoding)``. When none fits, the error names the line and field of the first
    bytes that UTF-8 cannot decode.
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
) -> PostSet:
    """Read one post file.

    Parameters
    ----------
    path:
        A ``.tsv``, ``.csv``, ``.jsonl`` or ``.parquet`` file, or a ``.txt`` file with one post per line.
    task:
        When given, every post must carry a label of this task (``level``: ``risk_level`` / ``myLabel``
        0-10; ``binary``: ``high_risk`` / ``twoClass`` 0/1); a missing column is an error.
    format:
        Overrides the format guessed from the suffix.
    text_column, label_column, id_column:
        Column names to use instead of the known aliases. ``label_column`` is read as the label of
        ``task`` (``level`` when no task is given).
    headerless_label:
        What the second column of a header-less two-column file means: ``risk_level`` (default) or
        ``high_risk``. With ``task="binary"`` it is ``high_risk``.
    errors:
        ``raise`` (default): the first bad row raises :class:`DataError`. ``report``: a bad row (empty
        text, bad label) is left out and reported as a ``Problem`` of kind ``invalid`` with its file,
        line and field, so generated pools with a few broken rows stay usable. Structural problems
        (undecodable bytes, missing columns) raise in both modes.
    """
    if errors not in {"raise", "report"}:
        raise ValueError(f"The 'errors' parameter must be 'raise' or 'report'. Got {errors!r} instead.")
    file = Path(path)
    if not file.is_file():
        raise DataError(file, "no such file" if not file.exists() else "not a file")
    fmt = detect_format(file, format)
    if task is not None:
        check_task(task)
        if task == "binary":
            headerless_label = "high_risk"
    overrides = {"text": text_column, "id": id_column}
    if label_column is not None:
        overrides[LABEL_COLUMN[task or "level"]] = label_column
    if fmt == "parquet":
        rows: Iterable[tuple[int, dict[str, Any]]] = _parquet_rows(file)
    elif fmt == "jsonl":
        rows = _jsonl_rows(file)
    elif fmt == "lines":
        rows = _line_rows(file)
    else:
        rows = _delimited_rows(file, "\t" if fmt == "tsv" else ",", headerless_label)
    records = []
    problems: list[Problem] = []
    columns_checked = False
    for line, row in rows:
        if not columns_checked:
            mapping = _column_mapping(file, row.keys(), overrides, task, 1 if fmt in {"tsv", "csv"} else line)
            columns_checked = True
        try:
            records.append(_validate_row(file, line, row, mapping))
        except DataError as exc:
            if errors == "raise":
                raise
            problems.append(Problem("invalid", str(file), line, f"left out: field '{exc.field}': {exc.detail}"))
    if not records:
        if not problems:
            problems.append(Problem("empty", str(file), None, "the file holds no posts"))
        return PostSet(_empty_frame(), problems)
    frame = pd.DataFrame.from_records(records, columns=FRAME_COLUMNS)
    for name in ("risk_level", "high_risk"):
        frame[name] = frame[name].astype("Int64")
    frame["line"] = frame["line"].astype("int64")
    problems.extend(find_duplicates(frame))
    return PostSet(frame, problems)


def read_many(paths: Sequence[str | Path], **kwargs: Any) -> PostSet:
    """Read several files with :func:`read_posts` and join them (duplicates across files are reported)."""
    return PostSet.concat([read_posts(p, **kwargs) for p in paths])


def _column_mapping(
    file: Path, columns: Iterable[str], overrides: dict[str, str | None], task: str | None, line: int
) -> dict[str, str]:
    """Map our column names to the file's column names; errors name what is missing."""
    present = list(columns)
    mapping: dict[str, str] = {}
    for ours, aliases in COLUMN_ALIASES.items():
        wanted = overrides.get(ours)
        if wanted is not None:
            if wanted not in present:
                raise DataError(
                    file, f"missing column {wanted!r}; the file has columns {present}", line=line, field=ours
                )
            mapping[ours] = wanted
            continue
        for alias in aliases:
            if alias in present:
                mapping[ours] = alias
                break
    if "text" not in mapping:
        raise DataError(
            file,
            f"missing column: expected 'text' (or official 'comment'); the file has columns {present}",
            line=line,
            field="text",
        )
    if task is not None and LABEL_COLUMN[task] not in mapping:
        ours = LABEL_COLUMN[task]
        official = "myLabel" if task == "level" else "twoClass"
        raise DataError(
            file,
            f"missing column: the {task} task needs '{ours}' (or official '{official}'); "
            f"the file has columns {present}",
            line=line,
            field=ours,
        )
    return mapping


def _validate_row(file: Path, line: int, row: dict[str, Any], mapping: dict[str, str]) -> list[Any]:
    text = row.get(mapping["text"])
    if text is None or (isinstance(text, float) and np.isnan(text)):
        raise DataError(file, "empty text", line=line, field="text")
    if not isinstance(text, str):
        raise DataError(file, f"expected a string, got {type(text).__name__}", line=line, field="text")
    if not text.strip():
        raise DataError(file, "empty text", line=line, field="text")
    level = _label(file, line, row, mapping, "risk_level", 10)
    high = _label(file, line, row, mapping, "high_risk", 1)
    post_id = row.get(mapping["id"]) if "id" in mapping else None
    if post_id is not None and not isinstance(post_id, str):
        post_id = str(post_id)
    return [text, level, high, post_id, str(file), line]


def _label(file: Path, line: int, row: dict[str, Any], mapping: dict[str, str], ours: str, top: int) -> int | None:
    if ours not in mapping:
        return None
    value = row.get(mapping[ours])
    allowed = "0 to 10" if top == 10 else "0 or 1"
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        raise DataError(file, f"missing label; expected an integer from {allowed}", line=line, field=ours)
    if isinstance(value, (bool, int, np.integer)) or (
        isinstance(value, (float, np.floating)) and float(value).is_integer()
    ):
        number = int(value)
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        number = int(value.strip())
    else:
        raise DataError(file, f"label {value!r} is not an integer; expected {allowed}", line=line, field=ours)
    if not 0 <= number <= top:
        raise DataError(file, f"label {number} is outside {allowed}", line=line, field=ours)
    return number


def _delimited_rows(file: Path, delimiter: str, headerless_label: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text, _encoding = decode_bytes(file, file.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    start = 1
    known = {alias for aliases in COLUMN_ALIASES.values() for alias in aliases}
    for cells in reader:
        line, start = start, reader.line_num + 1
        if (not cells or all(not c.strip() for c in cells)) and len(cells) <= 1:
            continue  # blank line: nothing to read
        if header is None:
            stripped = [c.strip() for c in cells]
            looks_like_post = len(cells) == 2 and _INT_RE.match(cells[1].strip()) is not None
            if known.intersection(stripped) or not looks_like_post:
                header = stripped
                continue
            header = ["text", headerless_label]
        if len(cells) != len(header):
            raise DataError(
                file,
                f"expected {len(header)} columns ({', '.join(header)}), found {len(cells)}; "
                "check for an unescaped delimiter or quote in the text",
                line=line,
            )
        yield line, dict(zip(header, cells, strict=True))


def _line_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """A plain text file: one post per non-blank line, no labels."""
    text, _encoding = decode_bytes(file, file.read_bytes())
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if raw_line.strip():
            yield number, {"text": raw_line}


def _jsonl_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    text, _encoding = decode_bytes(file, file.read_bytes())
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            value = json.loads(raw_line)
        except json.JSONDecodeError as exc:
            raise DataError(file, f"not valid JSON ({exc.msg} at column {exc.colno})", line=number) from None
        if not isinstance(value, dict):
            raise DataError(file, f"expected a JSON object per line, got {type(value).__name__}", line=number)
        yield number, value


def _parquet_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(file, f"not a readable Parquet file ({exc})") from None
    columns = [str(c) for c in frame.columns]
    for number, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        yield number, {c: (None if v is pd.NA else v) for c, v in zip(columns, values, strict=True)}


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
