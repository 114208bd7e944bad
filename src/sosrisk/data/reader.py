"""The one reader of post files: files of any size, read in pieces with every row's position.

Every command reads posts through it (``score`` directly, ``predict`` too; ``train``, ``evaluate`` and
the rest through :func:`sosrisk.data.read_posts`), so encodings, column names, limits and bad rows are
handled the same way everywhere. Input files are JSONL (``.jsonl``/``.ndjson``/``.json``), CSV, TSV,
plain text (one post per line, ``.txt``) -- each optionally gzip-compressed (``.gz``) -- and Parquet, or
folders of them. Reading is split in two so that the expensive half runs in parallel:

* :func:`iter_segments` (one process, cheap): walks the files in order and cuts them into
  :class:`Segment` s of raw units -- raw JSONL/text lines as bytes, or CSV/Parquet rows as values --
  each with its file and position (1-based line for text formats, 1-based row for Parquet).
* :func:`parse_segments` (any process): turns segments into records: id, text (and, when asked, the
  raw label values), and either nothing wrong or a reject reason (:data:`REJECT_REASONS`).

A text is blank (``empty_text``) when it shows nothing: only white space, control characters and
invisible characters (zero-width spaces, joiners, direction marks, variation selectors, fillers); see
:func:`is_blank_text`. A NUL character (U+0000) in the text, id, author or time is a reject of its own
(``nul_character``): no database keeps it, and it hides text from most tools. Memory is bounded by the
segment size and by :attr:`ReadSettings.max_line_bytes` (a longer line is rejected unread), never by the
file size.

Why one module of about 1,300 lines: it holds two parsers that must give the same records row for row
(the column-wise Arrow path for JSON Lines and the line-by-line parser it falls back to, compared by
``tests/test_data_reader.py``), the segment format both read and the column and encoding rules both apply;
split apart, a change to one would have to be made in several modules at once. Its sections (files,
columns, segments, parsing) are marked below.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from .errors import DataError

# Our column names and the names we accept for them in files (first is ours).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "comment"),
    "risk_level": ("risk_level", "myLabel"),
    "high_risk": ("high_risk", "twoClass"),
    "id": ("id", "post_id"),
}

# File suffix (after an optional .gz) -> input format.
INPUT_SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "text",
    ".parquet": "parquet",
    ".pq": "parquet",
}
INPUT_FORMATS = ("jsonl", "csv", "tsv", "text", "parquet")
REJECT_REASONS = (
    "missing_text",
    "empty_text",
    "not_text",
    "undecodable",
    "too_long",
    "bad_json",
    "not_an_object",
    "bad_row",
    "nul_character",
)
LABEL_ROLES = ("risk_level", "high_risk")
# Extra columns read only when posts go to the review queue.
AUTHOR_ALIASES = ("author", "user")
POSTED_AT_ALIASES = ("posted_at", "created_at")
_SAMPLE_BYTES = 1 << 20  # the head of a file used to choose its text encoding
_FINGERPRINT_BLOCK = 1 << 20

# What shows nothing: white space (str.isspace), control characters (category Cc), Unicode's
# Default_Ignorable_Code_Point characters (soft hyphen, zero-width spaces and joiners, direction marks and
# isolates, word joiner, Hangul fillers, variation selectors, the BOM, tags ...) and the blank braille
# pattern U+2800. A text made only of these is blank; tests check the table against Python's own data.
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0020),
    (0x007F, 0x00A0),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x1680, 0x1680),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x206F),
    (0x2800, 0x2800),
    (0x3000, 0x3000),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_VISIBLE = re.compile("[^" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in _INVISIBLE_RANGES) + "]")
# the same class for RE2 (Arrow's regular expressions), which writes code points as \x{...}
_HAS_VISIBLE = "[^" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in _INVISIBLE_RANGES) + "]"


def is_blank_text(text: str) -> bool:
    """Whether ``text`` shows nothing: only white space, control and invisible characters (see the module)."""
    return _VISIBLE.search(text) is None


@dataclass(frozen=True)
class InputFile:
    """One input file: where it is, how to read it, and the name its rows carry as ``source``."""

    path: Path
    source: str
    format: str
    compressed: bool

    def fingerprint(self) -> dict[str, Any]:
        """Size, modification time and the sha256 of the whole file: any change to its bytes changes it.

        Reading the file costs about a second per GB from the page cache (one more read from disk when
        the inputs are larger than memory); a resumed run that trusted less could mix two versions of a
        file edited in place.
        """
        stat = self.path.stat()
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            while block := handle.read(_FINGERPRINT_BLOCK):
                digest.update(block)
        return {
            "path": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest.hexdigest(),
        }


@dataclass(frozen=True)
class ReadSettings:
    """How rows are read: which columns, and the longest text accepted."""

    text_column: str | None = None
    id_column: str | None = None
    max_chars: int = 20_000
    input_format: str | None = None
    extra_columns: bool = False  # also read author / posted_at (for the review queue)
    labels: bool = False  # also read the label columns (risk_level / high_risk), as raw text, unchecked
    level_column: str | None = None  # the column of the level label, instead of risk_level / myLabel
    binary_column: str | None = None  # the column of the binary label, instead of high_risk / twoClass
    headerless_label: str = "risk_level"  # what the second column of a header-less CSV/TSV file holds
    required_label: str | None = None  # a CSV/TSV/Parquet file without this label column is refused

    @property
    def max_line_bytes(self) -> int:
        """The longest raw line kept in memory; a longer one is rejected as ``too_long`` unread."""
        return max(1 << 20, 8 * self.max_chars)


@dataclass
class Segment:
    """Consecutive raw units of one file, ready to be parsed anywhere (it pickles cheaply).

    ``kind == "lines"``: ``data`` holds the raw bytes of physical lines ``first``, ``first + 1``, ...
    back to back, and ``ends`` (a numpy int64 array) where each ends in ``data`` (after its newline);
    a line longer than the limit was skipped unread: an empty line stands in for it in ``data`` and its
    offset is in ``too_long``. ``line_format`` says whether each line is a JSON object or a plain post.
    ``kind == "rows"``: ``rows`` holds already split rows as ``(position, id, text, author, posted_at,
    risk_level, high_risk, reason, detail)`` where ``reason`` is set when the row was already found bad.
    """

    file_index: int
    kind: Literal["lines", "rows"]
    first: int = 1
    encoding: str = "utf-8"
    line_format: str = "jsonl"
    data: bytes = b""
    ends: Any = None
    too_long: tuple[int, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    end_bytes: int = 0  # how far into the file (bytes on disk) reading had got: for the progress bar
    origin: tuple[str, int] | None = None  # (file, offset) when ``data`` is exactly the bytes there
    detached_bytes: int = 0  # set by detached(): ``data`` was left out and is this long

    @property
    def units(self) -> int:
        """How many input units (lines or rows) the segment covers."""
        if self.kind == "lines":
            return 0 if self.ends is None else len(self.ends)
        return len(self.rows)

    def raw_lines(self) -> list[bytes | None]:
        """The lines' raw bytes, one item per line (``None`` for a line skipped as too long)."""
        if self.ends is None:
            return []
        data = self.data
        lines: list[bytes | None] = []
        start = 0
        for end in self.ends.tolist():
            lines.append(data[start:end])
            start = end
        for offset in self.too_long:
            lines[offset] = None
        return lines

    def detached(self) -> Segment:
        """This segment without its bytes when a worker can read them back from the file (plain files).

        Sending a worker process the file offset instead of a megabyte of lines per chunk spares the
        main process pickling them and both processes copying them through a pipe.
        """
        if self.kind != "lines" or self.origin is None or not self.data:
            return self
        return replace(self, data=b"", detached_bytes=len(self.data))

    def attached(self) -> Segment:
        """A :meth:`detached` segment with its bytes read back; a clear error if the file changed meanwhile."""
        if not self.detached_bytes or self.origin is None:
            return self
        path, offset = self.origin
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(self.detached_bytes)
        intact = len(data) == self.detached_bytes
        if intact:  # every line but the last still ends with a newline where it did
            intact = bool(np.all(np.frombuffer(data, dtype=np.uint8)[self.ends[:-1] - 1] == 10))
        if not intact:
            raise DataError(
                path,
                f"the file changed while it was being scored (lines {self.first}-{self.first + self.units - 1} are "
                "no longer where they were); score a file that is no longer being written",
                line=self.first,
            )
        return replace(self, data=data, detached_bytes=0)

    def split(self, n: int) -> tuple[Segment, Segment | None]:
        """The first ``n`` units and the rest (``None`` when nothing is left)."""
        if self.units <= n:
            return self, None
        if self.kind == "lines":
            cut = int(self.ends[n - 1])
            head = replace(
                self,
                data=self.data[:cut],
                ends=self.ends[:n],
                too_long=tuple(k for k in self.too_long if k < n),
            )
            tail = replace(
                self,
                first=self.first + n,
                data=self.data[cut:],
                ends=self.ends[n:] - cut,
                too_long=tuple(k - n for k in self.too_long if k >= n),
                origin=None if self.origin is None else (self.origin[0], self.origin[1] + cut),
            )
            return head, tail
        rows_tail = self.rows[n:]
        return replace(self, rows=self.rows[:n]), replace(self, first=rows_tail[0][0], rows=rows_tail)


@dataclass
class Records:
    """Parsed rows of one or more segments, column by column (the shape Arrow tables are made from)."""

    file_index: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    id: list[str | None] = field(default_factory=list)
    text: list[str | None] = field(default_factory=list)
    author: list[str | None] = field(default_factory=list)
    posted_at: list[str | None] = field(default_factory=list)
    level_label: list[str | None] = field(default_factory=list)
    binary_label: list[str | None] = field(default_factory=list)
    reason: list[str | None] = field(default_factory=list)
    detail: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.position)

    def add(
        self,
        file_index: int,
        position: int,
        post_id: str | None,
        text: str | None,
        author: str | None = None,
        posted_at: str | None = None,
        reason: str | None = None,
        detail: str | None = None,
        labels: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Append one record; a rejected record keeps no text."""
        self.file_index.append(file_index)
        self.position.append(position)
        self.id.append(post_id)
        self.text.append(None if reason is not None else text)
        self.author.append(author)
        self.posted_at.append(posted_at)
        self.level_label.append(labels[0])
        self.binary_label.append(labels[1])
        self.reason.append(reason)
        self.detail.append(detail)

    def to_arrow(self) -> Any:
        """The records as a ``pyarrow.Table``: ``file_index``, ``position``, ``id``, ``text``, ``author``,
        ``posted_at``, ``level_label``, ``binary_label`` (raw label text, null unless labels were read),
        ``reason``, ``detail``."""
        import pyarrow as pa

        return pa.table(
            {
                "file_index": pa.array(self.file_index, pa.int32()),
                "position": pa.array(self.position, pa.int64()),
                "id": pa.array(self.id, pa.string()),
                "text": pa.array(self.text, pa.string()),
                "author": pa.array(self.author, pa.string()),
                "posted_at": pa.array(self.posted_at, pa.string()),
                "level_label": pa.array(self.level_label, pa.string()),
                "binary_label": pa.array(self.binary_label, pa.string()),
                "reason": pa.array(self.reason, pa.string()),
                "detail": pa.array(self.detail, pa.string()),
            }
        )


# ---------------------------------------------------------------------------------------------- files
def input_format_of(path: Path, override: str | None = None) -> tuple[str, bool]:
    """``(format, gzip-compressed)`` of a file from its suffix (or ``override``); a clear error otherwise."""
    compressed = path.suffix.lower() == ".gz"
    if override is not None:
        if override not in INPUT_FORMATS:
            raise DataError(path, f"unknown input format {override!r}; expected one of {', '.join(INPUT_FORMATS)}")
        fmt = override
    else:
        suffix = Path(path.stem).suffix.lower() if compressed else path.suffix.lower()
        if suffix not in INPUT_SUFFIXES:
            known = ", ".join(sorted(INPUT_SUFFIXES))
            raise DataError(
                path,
                f"cannot tell the input format from the name; expected a suffix among {known} "
                "(optionally followed by .gz), or pass --input-format",
            )
        fmt = INPUT_SUFFIXES[suffix]
    if fmt == "parquet" and compressed:
        raise DataError(path, "a gzip-compressed Parquet file cannot be streamed; decompress it first")
    return fmt, compressed


def find_inputs(paths: Sequence[str | os.PathLike[str]], *, input_format: str | None = None) -> list[InputFile]:
    """The input files in a stable order: files as given, folders expanded to their readable files (sorted).

    Hidden files and files with unknown suffixes inside folders are skipped; a file given by name must
    be readable. The same file given twice is an error (its posts would be scored twice).
    """
    if not paths:
        raise ValueError("Expected at least one input file or folder; got none. Pass --input PATH.")
    found: list[InputFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            members = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and _has_known_suffix(p)
            )
            if not members:
                known = ", ".join(sorted(INPUT_SUFFIXES))
                raise DataError(path, f"the folder holds no input files (expected suffixes {known}, or .gz)")
            for member in members:
                fmt, compressed = input_format_of(member, input_format)
                found.append(InputFile(member, str(member), fmt, compressed))
        elif path.is_file():
            fmt, compressed = input_format_of(path, input_format)
            found.append(InputFile(path, str(path), fmt, compressed))
        else:
            raise DataError(path, "no such file or folder")
    seen: dict[Path, str] = {}
    for item in found:
        key = item.path.resolve()
        if key in seen:
            raise DataError(item.path, f"given twice (also as {seen[key]}); each post must be scored exactly once")
        seen[key] = item.source
    return found


def _has_known_suffix(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix in INPUT_SUFFIXES and not name.endswith((".parquet.gz", ".pq.gz"))


def _open_binary(item: InputFile) -> IO[bytes]:
    if item.compressed:
        return gzip.open(item.path, "rb")  # type: ignore[return-value]
    return open(item.path, "rb", buffering=1 << 20)


def detect_encoding(item: InputFile) -> str:
    """The text encoding of a file, chosen from its first MiB: UTF-8 (with or without BOM) or GB18030.

    Rows that do not decode with the chosen encoding are rejected as ``undecodable`` later.
    """
    try:
        with _open_binary(item) as handle:
            sample = handle.read(_SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise DataError(item.path, _read_problem(exc)) from None
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(sample) == _SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n")]  # never judge a character cut in half
    utf8_bad = gb_bad = 0
    for line in sample.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            utf8_bad += 1
        try:
            line.decode("gb18030")
        except UnicodeDecodeError:
            gb_bad += 1
    return "gb18030" if utf8_bad and gb_bad < utf8_bad else "utf-8"


def _read_problem(exc: BaseException) -> str:
    """Why a file cannot be read, and what to do."""
    if isinstance(exc, PermissionError):
        return f"cannot read the file ({exc.strerror}); make it readable for this user"
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno is not None:
        return f"cannot read the file ({exc.strerror})"
    return f"cannot read the file ({exc}); it may be truncated or damaged"


def position_bytes(handle: IO[bytes], item: InputFile) -> int:
    """How far into the file (in bytes on disk) a reader has got, for the progress bar."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if item.compressed:
            return int(handle.fileobj.tell())  # type: ignore[attr-defined]
        return handle.tell()
    return 0


# ------------------------------------------------------------------------------------------ columns
def resolve_column(
    item: InputFile, present: Sequence[str], wanted: str | None, aliases: tuple[str, ...], role: str
) -> str | None:
    """The file's column for ``role``: ``wanted`` (must exist) or the first alias present (or ``None``)."""
    if wanted is not None:
        if wanted not in present:
            raise DataError(
                item.path,
                f"missing {role} column {wanted!r}; the file has columns {list(present)}. "
                f"Pass the right name with --{role}-column",
                field=wanted,
            )
        return wanted
    for alias in aliases:
        if alias in present:
            return alias
    return None


def check_structure(item: InputFile, settings: ReadSettings) -> None:
    """Fail early, before anything is scored, for a file whose columns cannot give texts (CSV/TSV/Parquet),
    or that lacks ``settings.required_label``."""
    if item.format == "parquet":
        schema_names = _parquet_file(item).schema_arrow.names
        _parquet_columns(item, schema_names, settings)
    elif item.format in {"csv", "tsv"}:
        encoding = detect_encoding(item)
        with _open_binary(item) as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter="," if item.format == "csv" else "\t")
            for cells in reader:
                if cells and any(c.strip() for c in cells):
                    _csv_header(item, cells, settings, reader.line_num)
                    break


def _parquet_file(item: InputFile) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(item.path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(item.path, f"not a readable Parquet file ({exc})") from None


def _parquet_columns(item: InputFile, names: Sequence[str], settings: ReadSettings) -> dict[str, str | None]:
    text = resolve_column(item, names, settings.text_column, COLUMN_ALIASES["text"], "text")
    if text is None:
        raise DataError(
            item.path,
            f"missing text column: expected 'text' (or 'comment'); the file has columns {list(names)}. "
            "Name it with --text-column",
            field="text",
        )
    columns: dict[str, str | None] = {
        "text": text,
        "id": resolve_column(item, names, settings.id_column, COLUMN_ALIASES["id"], "id"),
        "author": None,
        "posted_at": None,
    }
    if settings.extra_columns:
        columns["author"] = resolve_column(item, names, None, AUTHOR_ALIASES, "author")
        columns["posted_at"] = resolve_column(item, names, None, POSTED_AT_ALIASES, "posted_at")
    for role in LABEL_ROLES:
        columns[role] = _label_column(item, names, settings, role, line=None) if settings.labels else None
    return columns


def _label_column(
    item: InputFile, names: Sequence[str], settings: ReadSettings, role: str, line: int | None
) -> str | None:
    """The file's column of label ``role``; a clear error when it is the required one and missing."""
    wanted = settings.level_column if role == "risk_level" else settings.binary_column
    name = resolve_column(item, names, wanted, COLUMN_ALIASES[role], role.replace("_", "-"))
    if name is None and settings.required_label == role:
        task, official = ("level", "myLabel") if role == "risk_level" else ("binary", "twoClass")
        raise DataError(
            item.path,
            f"missing column: the {task} task needs '{role}' (or official '{official}'); the file has columns "
            f"{list(names)}",
            line=line,
            field=role,
        )
    return name


def _csv_header(
    item: InputFile, cells: list[str], settings: ReadSettings, line: int
) -> tuple[list[str], dict[str, int | None]]:
    """Header names and the index of each column we read; a header-less file's first column is the text."""
    names = [c.strip().lstrip("\ufeff") for c in cells]
    known = {a for aliases in COLUMN_ALIASES.values() for a in aliases}
    wanted = {settings.text_column, settings.id_column, settings.level_column, settings.binary_column} - {None}
    if not (known | wanted).intersection(names):
        # a header-less file holds text and an integer label per row; any other first row is a header
        # that names no text column (never a post: it would be scored, and perhaps queued, as one)
        looks_like_a_post = len(cells) == 2 and _INT_TEXT.match(cells[1].strip()) is not None
        if settings.text_column is not None or not looks_like_a_post:
            raise DataError(
                item.path,
                "no header naming the text column: expected 'text' (or 'comment'"
                + (f", or {settings.text_column!r}" if settings.text_column else "")
                + f") among the first row's columns {names}; a file without a header must hold a text and an "
                "integer label per row. Add a header row, or name the column with --text-column (one post per "
                "line: use a .txt file)",
                line=line,
                field="text",
            )
        headerless: dict[str, int | None] = {"text": 0, "id": None, "author": None, "posted_at": None}
        headerless.update({role: None for role in LABEL_ROLES})
        if settings.labels:
            headerless[settings.headerless_label] = 1
        return [], headerless
    text = resolve_column(item, names, settings.text_column, COLUMN_ALIASES["text"], "text")
    if text is None:
        raise DataError(
            item.path,
            f"missing text column: expected 'text' (or 'comment'); the header has {names}. Name it with --text-column",
            line=line,
            field="text",
        )
    post_id = resolve_column(item, names, settings.id_column, COLUMN_ALIASES["id"], "id")
    index: dict[str, int | None] = {
        "text": names.index(text),
        "id": names.index(post_id) if post_id else None,
        "author": None,
        "posted_at": None,
    }
    if settings.extra_columns:
        for role, aliases in (("author", AUTHOR_ALIASES), ("posted_at", POSTED_AT_ALIASES)):
            name = resolve_column(item, names, None, aliases, role)
            index[role] = names.index(name) if name else None
    for role in LABEL_ROLES:
        label = _label_column(item, names, settings, role, line) if settings.labels else None
        index[role] = names.index(label) if label else None
    return names, index


# ----------------------------------------------------------------------------------------- segments
def iter_segments(
    items: Sequence[InputFile],
    settings: ReadSettings,
    *,
    segment_units: int,
    file_indices: Sequence[int] | None = None,
    progress: list[int] | None = None,
) -> Iterator[Segment]:
    """Cut the files (all, or those at ``file_indices``) into segments of at most ``segment_units`` units.

    ``progress``, when given, is a one-item list updated with the bytes read so far over all files.
    """
    done_bytes = 0
    indices = range(len(items)) if file_indices is None else file_indices
    for file_index in indices:
        item = items[file_index]
        if item.format == "parquet":
            segments: Iterator[Segment] = _parquet_segments(item, file_index, settings, segment_units)
        elif item.format in {"csv", "tsv"}:
            segments = _csv_segments(item, file_index, settings, segment_units)
        else:
            segments = _line_segments(item, file_index, settings, segment_units)
        size = item.path.stat().st_size
        while True:
            try:
                segment = next(segments)
            except StopIteration:
                break
            except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated (gzip) file
                raise DataError(
                    item.path,
                    f"cannot read the file past this point ({type(exc).__name__}: {exc}); it may be truncated or "
                    "damaged",
                ) from None
            if progress is not None:
                progress[0] = done_bytes + min(segment.end_bytes, size)
            yield segment
        done_bytes += size
        if progress is not None:
            progress[0] = done_bytes


def _line_segments(item: InputFile, file_index: int, settings: ReadSettings, size: int) -> Iterator[Segment]:
    encoding = detect_encoding(item)
    line_format = "jsonl" if item.format == "jsonl" else "text"
    path = str(item.path.resolve())
    with _open_binary(item) as handle:
        position = 1
        pieces: list[bytes] = []
        ends: list[np.ndarray] = []
        too_long: list[int] = []
        count = length = 0
        origin: int | None = None  # where the segment's bytes start in the file, while they are its exact bytes

        def segment(end_bytes: int = 0) -> Segment:
            exact = not too_long and not item.compressed  # the data are the file's bytes from ``origin`` on
            return Segment(
                file_index,
                "lines",
                position,
                encoding,
                line_format,
                data=b"".join(pieces),
                ends=np.concatenate(ends),
                too_long=tuple(too_long),
                end_bytes=end_bytes,
                origin=(path, origin) if exact and origin is not None else None,
            )

        for data, block_ends, block_long, block_start in _line_blocks(handle, settings.max_line_bytes):
            start = 0  # the first line of the block not yet in a segment
            while start < len(block_ends):
                take = min(size - count, len(block_ends) - start)
                base = int(block_ends[start - 1]) if start else 0
                stop = int(block_ends[start + take - 1])
                if not count:
                    origin = None if block_start is None else block_start + base
                elif block_start is None:
                    origin = None
                pieces.append(data[base:stop])
                ends.append(block_ends[start : start + take] - base + length)
                too_long.extend(k - start + count for k in block_long if start <= k < start + take)
                count, length, start = count + take, length + stop - base, start + take
                if count == size:
                    yield segment(position_bytes(handle, item))
                    position += count
                    pieces, ends, too_long, count, length = [], [], [], 0, 0
        if count:
            yield segment()


_READ_BLOCK_BYTES = 1 << 22


def _line_blocks(handle: IO[bytes], limit: int) -> Iterator[tuple[bytes, np.ndarray, list[int], int | None]]:
    """The file's lines a block at a time: ``(data, ends, too_long, start)``, as in a lines :class:`Segment`,
    with ``start`` the offset of ``data`` in the file (``None`` when ``data`` is not the file's bytes).

    Newlines are found with numpy, not line by line in Python. A line whose content (without its
    newline) is longer than ``limit`` bytes is never kept: an empty line stands in for it. Memory holds
    one block plus at most ``limit`` bytes of an unfinished line, however long the lines are.
    """
    carry = b""  # the start of a line that goes on in the next block
    offset = 0  # where ``carry`` starts in the file
    while True:
        block = handle.read(_READ_BLOCK_BYTES)
        if not block:
            if carry:  # the last line has no newline
                if len(carry) > limit:
                    yield b"\n", np.array([1], dtype=np.int64), [0], None
                else:
                    yield carry, np.array([len(carry)], dtype=np.int64), [], offset
            return
        buffer = carry + block if carry else block
        newlines = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == 10)
        if len(newlines):
            cut = int(newlines[-1]) + 1
            data, carry = buffer[:cut], buffer[cut:]
            ends = newlines.astype(np.int64) + 1
            sizes = np.diff(ends, prepend=0)
            long = np.flatnonzero(sizes - 1 > limit)
            start: int | None = offset
            if len(long):
                data, ends = _blank_lines(data, ends, long)
                start = None
            yield data, ends, long.tolist(), start
            offset += cut
        else:
            carry = buffer
        if len(carry) > limit:  # an over-long line goes on: skip the rest of it unread
            offset += len(carry)
            while True:
                rest = handle.readline(1 << 20)
                offset += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            carry = b""
            yield b"\n", np.array([1], dtype=np.int64), [0], None


def _blank_lines(data: bytes, ends: np.ndarray, lines: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``data`` with each line at the offsets ``lines`` replaced by an empty line, and the new ends."""
    pieces, previous = [], 0
    for line in lines.tolist():
        pieces += [data[previous : int(ends[line - 1]) if line else 0], b"\n"]
        previous = int(ends[line])
    pieces.append(data[previous:])
    sizes = np.diff(ends, prepend=0)
    sizes[lines] = 1
    return b"".join(pieces), np.cumsum(sizes)


def _csv_segments(item: InputFile, file_index: int, settings: ReadSettings, size: int) -> Iterator[Segment]:
    encoding = detect_encoding(item)
    delimiter = "," if item.format == "csv" else "\t"
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(settings.max_line_bytes)
    try:
        with _open_binary(item) as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
            reader = csv.reader(text, delimiter=delimiter)
            header: list[str] | None = None
            index: dict[str, int | None] = {}
            make_row = _csv_row_maker([], index)
            rows: list[tuple[Any, ...]] = []
            start = 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    line, start = start, reader.line_num + 1
                    reason = "too_long" if "field limit" in str(exc) else "bad_row"
                    detail = (
                        f"a field is longer than {settings.max_line_bytes} characters"
                        if reason == "too_long"
                        else f"not a valid {item.format.upper()} row ({exc})"
                    )
                    rows.append((line, None, None, None, None, None, None, reason, detail))
                else:
                    line, start = start, reader.line_num + 1
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    if header is None:
                        header, index = _csv_header(item, cells, settings, line)
                        make_row = _csv_row_maker(header, index)
                        if header:
                            continue
                    rows.append(make_row(line, cells))
                if len(rows) >= size:
                    yield Segment(file_index, "rows", rows[0][0], rows=rows, end_bytes=position_bytes(raw, item))
                    rows = []
            if rows:
                yield Segment(file_index, "rows", rows[0][0], rows=rows)
    finally:
        csv.field_size_limit(previous_limit)


def _csv_row_maker(header: list[str], index: dict[str, int | None]) -> Callable[[int, list[str]], tuple[Any, ...]]:
    """A function turning a CSV/TSV record into a row of a :class:`Segment` (hot: called once per record)."""
    columns = len(header)
    wrong_count = (
        f"expected {columns} columns ({', '.join(header)}), found {{}}; check for an unescaped delimiter or quote in "
        "the text"
    )
    i_id, i_text, i_author, i_time, i_level, i_high = (
        index.get(role) for role in ("id", "text", "author", "posted_at", "risk_level", "high_risk")
    )

    def make_row(line: int, cells: list[str]) -> tuple[Any, ...]:
        count = len(cells)
        if columns and count != columns:
            return (line, None, None, None, None, None, None, "bad_row", wrong_count.format(count))
        post_id = cells[i_id] if i_id is not None and i_id < count else None
        if post_id is not None and not post_id.strip():
            post_id = None
        return (
            line,
            post_id,
            cells[i_text] if i_text is not None and i_text < count else None,
            cells[i_author] if i_author is not None and i_author < count else None,
            cells[i_time] if i_time is not None and i_time < count else None,
            cells[i_level] if i_level is not None and i_level < count else None,
            cells[i_high] if i_high is not None and i_high < count else None,
            None,
            None,
        )

    return make_row


def _parquet_segments(item: InputFile, file_index: int, settings: ReadSettings, size: int) -> Iterator[Segment]:
    parquet = _parquet_file(item)
    columns = _parquet_columns(item, parquet.schema_arrow.names, settings)
    wanted = [c for c in dict.fromkeys(columns.values()) if c is not None]
    total = max(parquet.metadata.num_rows, 1)
    file_size = item.path.stat().st_size
    position = 1
    for batch in parquet.iter_batches(batch_size=size, columns=wanted):
        n = batch.num_rows
        nothing: list[Any] = [None] * n

        rows = list(
            zip(
                range(position, position + n),
                _arrow_column(batch, columns["id"], nothing),
                _arrow_column(batch, columns["text"], nothing, as_text=False),
                _arrow_column(batch, columns["author"], nothing),
                _arrow_column(batch, columns["posted_at"], nothing),
                _arrow_column(batch, columns["risk_level"], nothing, as_label=True),
                _arrow_column(batch, columns["high_risk"], nothing, as_label=True),
                nothing,
                nothing,
                strict=True,
            )
        )
        segment_start, position = position, position + n
        yield Segment(file_index, "rows", segment_start, rows=rows, end_bytes=int(file_size * (position - 1) / total))


def _arrow_column(
    batch: Any, name: str | None, nothing: list[Any], *, as_text: bool = True, as_label: bool = False
) -> list[Any]:
    if name is None:
        return nothing
    values = batch.column(name).to_pylist()
    if as_label:
        return [label_text(v) for v in values]
    return [_scalar_text(v) for v in values] if as_text else values


def label_text(value: Any) -> str | None:
    """A raw label value as text, unchecked (``None`` when absent): checked by the command that needs labels.

    Integers and integral floats are written as integers (``3.0`` -> ``"3"``), booleans as ``1``/``0``.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _scalar_text(value: Any) -> str | None:
    """An id / author / time value as text (``None`` stays ``None``; numbers and dates as written)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# ------------------------------------------------------------------------------------------ parsing
def parse_segments(segments: Sequence[Segment], settings: ReadSettings) -> Any:
    """Parse segments into one records ``pyarrow.Table``, rejecting bad rows with a reason instead of raising.

    JSONL segments take a fast path (Arrow's JSON parser and Arrow compute, only the columns we read)
    when every line is a plain UTF-8 object whose fields have consistent types; any segment it cannot
    read exactly like the line-by-line parser falls back to that parser, so the records never depend on
    the path taken.
    """
    import pyarrow as pa

    tables = []
    for segment in segments:
        if segment.kind == "lines":
            table = _parse_lines_fast(segment, settings) if segment.line_format == "jsonl" else None
            if table is None:
                records = Records()
                _parse_lines(segment, settings, records)
                table = records.to_arrow()
        else:
            table = _parse_rows(segment, settings)
        tables.append(table)
    return pa.concat_tables(tables) if tables else Records().to_arrow()


def _parse_rows(segment: Segment, settings: ReadSettings) -> Any:
    records = Records()
    if segment.rows:
        columns = (list(c) for c in zip(*segment.rows, strict=True))
        positions, ids, values, authors, times, levels, highs, reasons, details = columns
        records.position, records.id, records.author, records.posted_at = positions, ids, authors, times
        records.level_label, records.binary_label = levels, highs
        records.file_index = [segment.file_index] * len(positions)
        texts, reasons, details = check_texts(values, settings.max_chars, reasons=reasons, details=details)
        _reject_nul_fields(reasons, details, ids, authors, times)
        records.text = [None if reason is not None else text for text, reason in zip(texts, reasons, strict=True)]
        records.reason, records.detail = reasons, details
    return records.to_arrow()


def _reject_nul_fields(reasons: list[str | None], details: list[str | None], *columns: list[str | None]) -> None:
    """Reject (in place) the rows whose id, author or time holds a NUL character."""
    for name, column in zip(("id", "author", "time"), columns, strict=True):
        for row, value in enumerate(column):
            if value is not None and "\x00" in value and reasons[row] is None:
                reasons[row], details[row] = "nul_character", nul_detail(name)


def reject_field(reason: str, detail: str) -> str | None:
    """The field a reject is about (``None`` when it is about the whole line or row)."""
    if reason == "nul_character":
        return {"id": "id", "author": "author", "time": "posted_at"}.get(detail.split()[1], "text")
    whole_line = " of the line" in detail or detail.startswith("the line ")  # undecodable or over-long lines
    if reason in {"bad_json", "not_an_object", "bad_row"} or whole_line:
        return None
    return "text"


def nul_detail(field_name: str) -> str:
    """The reject detail of a NUL character in a field (the value itself is never shown)."""
    return f"the {field_name} holds a NUL character (U+0000), which is not kept by databases; remove it"


def check_texts(
    values: Sequence[Any],
    max_chars: int,
    *,
    reasons: list[str | None] | None = None,
    details: list[str | None] | None = None,
) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """:func:`check_text` over a column, fast for the common case (rows already rejected stay rejected)."""
    texts: list[str | None] = []
    out_reasons: list[str | None] = []
    out_details: list[str | None] = []
    for i, value in enumerate(values):
        if reasons is not None and reasons[i] is not None:
            texts.append(None)
            out_reasons.append(reasons[i])
            out_details.append(details[i] if details is not None else None)
        elif (
            type(value) is str
            and len(value) <= max_chars
            and _VISIBLE.search(value) is not None
            and "\x00" not in value
            and not _has_surrogates(value)
        ):
            texts.append(value)
            out_reasons.append(None)
            out_details.append(None)
        else:
            text, reason, detail = check_text(value, max_chars)
            texts.append(text)
            out_reasons.append(reason)
            out_details.append(detail)
    return texts, out_reasons, out_details


# What ``bytes.strip()`` removes (a line of only these is blank), and what ``str.strip()`` removes (a text
# of only these is empty); tests check both against Python itself.
_BLANK_BYTES = b" \t\n\r\x0b\x0c"
_TEXT_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HAS_NON_SPACE = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in _TEXT_SPACE) + "]"  # an RE2 character class
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_IS_BLANK_BYTE = np.zeros(256, dtype=bool)
_IS_BLANK_BYTE[list(_BLANK_BYTES)] = True


def _parse_lines_fast(segment: Segment, settings: ReadSettings) -> Any | None:
    """Parse a JSONL segment with Arrow, column by column; ``None`` when it cannot be read exactly like
    :func:`_parse_lines` (the caller then uses that). Only the rows it rejects are looked at in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if segment.encoding not in {"utf-8", "utf-8-sig"} or segment.too_long or segment.units == 0 or settings.labels:
        return None
    data = segment.data
    if codecs.BOM_UTF8 in data:
        return None
    try:
        data.decode("utf-8")  # Arrow checks neither keys nor the fields it skips: a bad byte must not slip by
    except UnicodeDecodeError:
        return None
    positions = _object_lines(segment)
    if positions is None:
        return None
    if not len(positions):
        return Records().to_arrow()
    text_names = [settings.text_column] if settings.text_column else list(COLUMN_ALIASES["text"])
    id_names = [settings.id_column] if settings.id_column else list(COLUMN_ALIASES["id"])
    extra_names = list(AUTHOR_ALIASES + POSTED_AT_ALIASES) if settings.extra_columns else []
    table = _read_json_columns(data, text_names, id_names, extra_names)
    # Arrow reads two objects on one line as two rows and skips blank lines: one row per non-blank line
    # means each line held exactly one object
    if table is None or table.num_rows != len(positions):
        return None
    n = table.num_rows
    text = _one_of(table, text_names)
    post_id = _one_of(table, id_names)
    authors = _one_of(table, list(AUTHOR_ALIASES)) if settings.extra_columns else pa.nulls(n, pa.string())
    times = _one_of(table, list(POSTED_AT_ALIASES)) if settings.extra_columns else pa.nulls(n, pa.string())
    if text is None or post_id is None or authors is None or times is None:
        return None
    post_id, authors, times = _clean_values(post_id), _clean_values(authors), _clean_values(times)
    accepted = pc.fill_null(
        pc.and_kleene(
            pc.and_kleene(pc.match_substring_regex(text, _HAS_VISIBLE), pc.invert(pc.match_substring(text, "\x00"))),
            pc.less_equal(pc.utf8_length(text), settings.max_chars),
        ),
        False,
    )
    for column in (post_id, authors, times):
        if column.null_count < n:
            accepted = pc.and_(accepted, pc.invert(pc.fill_null(pc.match_substring(column, "\x00"), False)))
    reasons: Any = pa.nulls(n, pa.string())
    details: Any = pa.nulls(n, pa.string())
    if not pc.all(accepted).as_py():
        rejected = np.flatnonzero(~accepted.to_numpy(zero_copy_only=False))
        reason_list: list[str | None] = [None] * n
        detail_list: list[str | None] = [None] * n
        missing = "no text: expected a string in " + " or ".join(repr(name) for name in text_names)
        taken = pa.array(rejected)
        others = zip(*(column.take(taken).to_pylist() for column in (post_id, authors, times)), strict=True)
        for row, value, fields in zip(rejected.tolist(), text.take(taken).to_pylist(), others, strict=True):
            _, reason, detail = check_text(value, settings.max_chars)
            if reason is None:  # the text is fine: a NUL in another field
                name = next(n for n, v in zip(("id", "author", "time"), fields, strict=True) if v and "\x00" in v)
                reason, detail = "nul_character", nul_detail(name)
            reason_list[row], detail_list[row] = reason, missing if reason == "missing_text" else detail
        reasons, details = pa.array(reason_list, pa.string()), pa.array(detail_list, pa.string())
        text = pc.if_else(accepted, text, pa.scalar(None, pa.string()))
    return pa.table(
        {
            "file_index": pa.array(np.full(n, segment.file_index, dtype=np.int32)),
            "position": pa.array(positions, pa.int64()),
            "id": post_id,
            "text": text,
            "author": authors,
            "posted_at": times,
            "level_label": pa.nulls(n, pa.string()),
            "binary_label": pa.nulls(n, pa.string()),
            "reason": reasons,
            "detail": details,
        }
    )


def _object_lines(segment: Segment) -> np.ndarray | None:
    """The line numbers of the segment's non-blank lines when every one of them starts with ``{``, else ``None``.

    Lines holding anything but an object go to the line parser: Arrow reads a line ``null`` as a row
    of nulls, and crashes (pyarrow 26) when the first row of its input is ``null``.
    """
    ends = segment.ends
    starts = np.concatenate(([0], ends[:-1]))
    first_bytes = np.frombuffer(segment.data, dtype=np.uint8)[starts]
    nonblank = np.ones(len(ends), dtype=bool)
    for line in np.flatnonzero(_IS_BLANK_BYTE[first_bytes]).tolist():  # rare: look at the whole line
        stripped = segment.data[starts[line] : ends[line]].strip()
        if stripped and not stripped.startswith(b"{"):
            return None
        nonblank[line] = bool(stripped)
        first_bytes[line] = ord("{")
    if not np.all(first_bytes == ord("{")):
        return None
    return segment.first + np.flatnonzero(nonblank)


def _read_json_columns(data: bytes, text_names: list[str], id_names: list[str], extra_names: list[str]) -> Any:
    """The named columns of JSONL ``data`` as an Arrow table (ids as strings, else as integers), or ``None``
    when Arrow cannot read them with those types (or a name is listed twice)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    names = text_names + id_names + extra_names
    if len(set(names)) != len(names):
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    for id_type in (pa.string(), pa.int64()):
        schema = pa.schema(
            [(n, pa.string()) for n in text_names]
            + [(n, id_type) for n in id_names]
            + [(n, pa.string()) for n in extra_names]
        )
        try:
            return pa_json.read_json(
                pa.BufferReader(data),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=False
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError):
            continue
    return None


def _one_of(table: Any, names: list[str]) -> Any | None:
    """The column of the first of ``names`` that has any values, as the line parser would pick it (else ``None``).

    The line parser takes, per row, the first alias present as a key; Arrow cannot tell a missing key
    from a null, so this is exact only when at most one of the aliases has values in the segment.
    """
    import pyarrow as pa

    filled = [name for name in names if table.column(name).null_count < table.num_rows]
    if len(filled) > 1:
        return None
    if not filled:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(filled[0])


def _clean_values(column: Any) -> Any:
    """An id / author / time column as :func:`_scalar_text` gives it: text, with blank strings as nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(column.type):
        return pc.cast(column, pa.string())  # integers, written as Python writes them
    if column.null_count == len(column):
        return column
    return pc.if_else(pc.match_substring_regex(column, _HAS_NON_SPACE), column, pa.scalar(None, pa.string()))


def check_text(value: Any, max_chars: int) -> tuple[str | None, str | None, str | None]:
    """``(text, reason, detail)``: the text when it can be scored, else why not."""
    if value is None or (isinstance(value, float) and value != value):
        return None, "missing_text", "no text"
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, "undecodable", f"undecodable bytes at byte {exc.start} of the text: not UTF-8"
    if not isinstance(value, str):
        return None, "not_text", f"expected a string, got {type(value).__name__}"
    if "\x00" in value:
        return None, "nul_character", nul_detail("text")
    if is_blank_text(value):
        return None, "empty_text", "the text is empty (only white space or invisible characters)"
    if len(value) > max_chars:
        return None, "too_long", f"the text has {len(value)} characters; at most {max_chars} are scored"
    if _has_surrogates(value):
        return None, "undecodable", f"undecodable bytes in the text: {_NOT_ONE_ENCODING}"
    return value, None, None


_NOT_ONE_ENCODING = "the file is neither all UTF-8 nor all GBK/GB18030; re-save it as UTF-8"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_lines(segment: Segment, settings: ReadSettings, records: Records) -> None:
    text_column = settings.text_column
    id_column = settings.id_column
    add = records.add
    file_index = segment.file_index
    for offset, raw in enumerate(segment.raw_lines()):
        position = segment.first + offset
        if raw is None:
            add(
                file_index,
                position,
                None,
                None,
                reason="too_long",
                detail=f"the line is longer than {settings.max_line_bytes} bytes",
            )
            continue
        if not raw.strip():
            continue  # blank line: not a post
        try:
            line = raw.decode(segment.encoding)
        except UnicodeDecodeError as exc:
            add(
                file_index,
                position,
                None,
                None,
                reason="undecodable",
                detail=f"undecodable bytes at byte {exc.start} of the line: the file is read as {segment.encoding}",
            )
            continue
        if segment.line_format == "text":
            text, reason, detail = check_text(line.rstrip("\r\n"), settings.max_chars)
            add(file_index, position, None, text, reason=reason, detail=detail)
            continue
        try:
            value = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            add(
                file_index,
                position,
                None,
                None,
                reason="bad_json",
                detail=f"not valid JSON ({exc.msg} at column {exc.colno})",
            )
            continue
        if not isinstance(value, dict):
            kind = type(value).__name__
            add(
                file_index,
                position,
                None,
                None,
                reason="not_an_object",
                detail=f"expected a JSON object per line, got {kind}",
            )
            continue
        post_id = _scalar_text(_json_field(value, id_column, COLUMN_ALIASES["id"]))
        author = posted_at = None
        if settings.extra_columns:
            author = _scalar_text(_json_field(value, None, AUTHOR_ALIASES))
            posted_at = _scalar_text(_json_field(value, None, POSTED_AT_ALIASES))
        labels: tuple[str | None, str | None] = (None, None)
        if settings.labels:
            labels = (
                label_text(_json_field(value, settings.level_column, COLUMN_ALIASES["risk_level"])),
                label_text(_json_field(value, settings.binary_column, COLUMN_ALIASES["high_risk"])),
            )
        if text_column is not None:
            raw_text = value.get(text_column)
        else:
            raw_text = _json_field(value, None, COLUMN_ALIASES["text"])
        text, reason, detail = check_text(raw_text, settings.max_chars)
        if reason == "missing_text":
            names = [text_column] if text_column else list(COLUMN_ALIASES["text"])
            detail = f"no text: expected a string in {' or '.join(repr(n) for n in names)}"
        if reason is None:
            for name, other in (("id", post_id), ("author", author), ("time", posted_at)):
                if other is not None and "\x00" in other:
                    reason, detail = "nul_character", nul_detail(name)
                    break
        add(file_index, position, post_id, text, author, posted_at, reason, detail, labels)


def _json_field(value: dict[str, Any], wanted: str | None, aliases: tuple[str, ...]) -> Any:
    if wanted is not None:
        return value.get(wanted)
    for alias in aliases:
        if alias in value:
            return value[alias]
    return None
