"""The work folder of a scoring run: a manifest, one output part per chunk, and the final assembly.

Layout of ``<output>.parts/``::

    manifest.json          what the run is: input, model and settings fingerprints (written once)
    lock                   locked (a POSIX lock of the running process) while a run writes here
    part-000012.arrow      the output rows of chunk 12 (Arrow IPC, written atomically)
    rejects-000012.jsonl   its rejected rows, when it has any (written atomically)
    done-000012.json       chunk 12's counts: written last, atomically -- a chunk is finished iff this exists

A chunk is committed by writing ``done-N.json`` after its part files; a crash at any moment leaves
either a finished chunk or one that is simply scored again on ``--resume`` (its files are replaced).
When every chunk is finished the output, the rejects file and the summary are assembled atomically
and the work folder is removed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..atomic import atomic_write_text, describe_os_error
from .results import output_schema

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 3  # 2: parts are Arrow IPC files (were Parquet); 3: inputs fingerprinted by their whole sha256
OUTPUT_ROW_GROUP_ROWS = 16_384  # rows per Parquet row group of the output (about 8 MB held while gathering one)
MANIFEST_NAME = "manifest.json"
_DONE_RE = re.compile(r"^done-(\d{6,})\.json$")


class ScoringError(ValueError):
    """A scoring run cannot start, resume or finish; the message says why and what to do."""


@dataclass
class ChunkRecord:
    """What one finished chunk holds; written to ``done-N.json``."""

    index: int
    units: int = 0
    records: int = 0
    scored: int = 0
    rejected: int = 0
    filtered: int = 0
    written: int = 0
    queued: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    first_key: list[int] | None = None
    last_key: list[int] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkRecord:
        """Read a record written by :meth:`to_dict`."""
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def parts_dir_for(output: Path) -> Path:
    """The work folder beside ``output``."""
    return output.parent / f"{output.name}.parts"


def rejects_path_for(output: Path) -> Path:
    """The default rejects file beside ``output`` (``scores.parquet`` -> ``scores.rejects.jsonl``)."""
    return output.parent / f"{output.stem}.rejects.jsonl"


def summary_path_for(output: Path) -> Path:
    """The summary file beside ``output`` (``scores.parquet`` -> ``scores.summary.json``)."""
    return output.parent / f"{output.stem}.summary.json"


class WorkDir:
    """The work folder of one run (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    # ---------------------------------------------------------------- files
    def part(self, index: int) -> Path:
        """The output part of chunk ``index``."""
        return self.path / f"part-{index:06d}.arrow"

    def rejects(self, index: int) -> Path:
        """The rejects part of chunk ``index``."""
        return self.path / f"rejects-{index:06d}.jsonl"

    def done(self, index: int) -> Path:
        """The marker that says chunk ``index`` is finished."""
        return self.path / f"done-{index:06d}.json"

    @property
    def manifest_path(self) -> Path:
        """``manifest.json``."""
        return self.path / MANIFEST_NAME

    # ---------------------------------------------------------------- lock
    @contextlib.contextmanager
    def locked(self) -> Iterator[WorkDir]:
        """Hold an exclusive lock on the folder; a second run on the same output gets a clear error."""
        import fcntl

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / "lock", "w")  # noqa: SIM115 - held for the whole run
        except OSError as exc:
            raise ScoringError(
                f"Cannot create the run's work folder {self.path} beside the output: {describe_os_error(exc)}"
            ) from None
        try:
            # a POSIX record lock belongs to this process only: forked workers do not hold it, and it goes
            # away with the process however it ends
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            if exc.errno not in {errno.EACCES, errno.EAGAIN}:
                raise ScoringError(
                    f"Cannot lock {self.path / 'lock'} ({exc}); the work folder must be on a file system that "
                    "supports POSIX locks. Choose an --output on a local disk."
                ) from None
            raise ScoringError(
                f"Another 'sosrisk score' is writing to {self.path} (its lock is held). Wait for it to "
                "finish, or stop it and rerun with --resume."
            ) from None
        self._lock = handle
        try:
            yield self
        finally:
            self._lock = None
            with contextlib.suppress(OSError):
                if [entry.name for entry in os.scandir(self.path)] == ["lock"]:  # nothing was started here
                    os.unlink(self.path / "lock")
                    self.path.rmdir()
            handle.close()

    # ---------------------------------------------------------------- manifest
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest (once, at the start of a new run)."""
        body = {"format_version": MANIFEST_VERSION, "sosrisk_version": __version__, **manifest}
        body["created_at"] = _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
        atomic_write_text(self.manifest_path, json.dumps(body, ensure_ascii=False, indent=2) + "\n")

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or ``None`` when the folder has none (nothing to resume)."""
        if not self.manifest_path.is_file():
            return None
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ScoringError(
                f"{self.manifest_path}: not valid JSON ({exc.msg} at line {exc.lineno}); the work folder is "
                "damaged. Rerun with --overwrite to start over."
            ) from None
        if not isinstance(data, dict) or data.get("format_version") != MANIFEST_VERSION:
            raise ScoringError(
                f"{self.manifest_path}: expected format_version {MANIFEST_VERSION}, got "
                f"{data.get('format_version') if isinstance(data, dict) else data!r}. Rerun with --overwrite "
                "to start over."
            )
        return data

    # ---------------------------------------------------------------- chunks
    def finished_chunks(self) -> dict[int, ChunkRecord]:
        """The finished chunks whose part files are intact; any other chunk is scored again."""
        finished: dict[int, ChunkRecord] = {}
        if not self.path.is_dir():
            return finished
        for entry in os.scandir(self.path):
            match = _DONE_RE.match(entry.name)
            if not match:
                continue
            index = int(match.group(1))
            try:
                record = ChunkRecord.from_dict(json.loads(Path(entry.path).read_text(encoding="utf-8")))
                rows = read_part(self.part(index)).num_rows
                intact = record.index == index and rows == record.written
                if record.rejected:
                    with open(self.rejects(index), "rb") as handle:
                        intact = intact and sum(1 for _ in handle) == record.rejected
            except (OSError, ValueError, TypeError, KeyError) as exc:
                logger.warning("chunk %d will be scored again: its files are damaged (%s)", index, exc)
                continue
            if not intact:
                logger.warning("chunk %d will be scored again: its part files do not match its record", index)
                continue
            finished[index] = record
        return finished

    def mark_done(self, record: ChunkRecord) -> None:
        """Commit a chunk: its part files must already be in place."""
        with replace_atomically(self.done(record.index)) as handle:
            handle.write(json.dumps(record.to_dict()) + "\n")

    def clear(self) -> None:
        """Remove the run's files (keeps the folder and its lock)."""
        for entry in os.scandir(self.path):
            if entry.name != "lock" and entry.is_file():
                os.unlink(entry.path)

    def remove(self) -> None:
        """Delete the folder after a successful assembly."""
        for entry in os.scandir(self.path):
            if entry.is_file():
                os.unlink(entry.path)
        with contextlib.suppress(OSError):
            self.path.rmdir()


@contextlib.contextmanager
def replace_atomically(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file and one rename, without ``fsync``.

    For chunk files only: a process crash can never leave a half-written one, and after a machine
    crash a file that the rename outran is caught on resume (its Parquet footer, row count or JSON no
    longer checks out) and the chunk is scored again. Skipping fsync saves tens of milliseconds per chunk.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def read_part(path: Path, schema: Any = None) -> Any:
    """The table of an output part (memory-mapped, not copied); checks its schema when ``schema`` is given."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    if schema is not None and not table.schema.equals(schema):
        raise ValueError(f"{path}: the part's columns are not the run's ({table.schema.names})")
    return table


def dictionary_columns(schema: Any) -> list[str]:
    """The columns worth dictionary-encoding in Parquet (repeated strings; never the probabilities)."""
    return [name for name in ("source", "tier") if name in schema.names]


def write_chunk(
    workdir: WorkDir,
    index: int,
    table: Any,
    sources: Sequence[str],
    *,
    tasks: Sequence[str],
    include_text: bool,
    min_tier_rank: int | None,
    queue_rank: int | None,
) -> tuple[ChunkRecord, list[dict[str, Any]]]:
    """Write a scored chunk's output part and rejects part (atomically); return its record and queue rows.

    ``table`` is a records table with result columns (:func:`~sosrisk.scoring.results.score_table`).
    The queue rows are the scored posts in scope at or above ``queue_rank`` (or flagged high risk), with
    their text, author and time, when ``queue_rank`` is not ``None``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    record = ChunkRecord(index=index, records=table.num_rows)
    if table.num_rows:
        keys = table.select(["file_index", "position"])
        record.first_key = [int(keys.column(0)[0].as_py()), int(keys.column(1)[0].as_py())]
        record.last_key = [int(keys.column(0)[-1].as_py()), int(keys.column(1)[-1].as_py())]
    source_names = pa.array(list(sources), pa.string())
    valid = pc.is_null(table.column("reason"))
    scored = table if table.column("reason").null_count == table.num_rows else table.filter(valid)
    record.scored = scored.num_rows
    record.rejected = table.num_rows - scored.num_rows
    keep = scored
    if min_tier_rank is not None:
        keep = scored.filter(pc.greater_equal(scored.column("tier_rank"), min_tier_rank))
    record.filtered = scored.num_rows - keep.num_rows
    record.written = keep.num_rows
    schema = output_schema(tasks, include_text=include_text)
    columns = []
    for name in schema.names:
        if name == "source":
            columns.append(source_names.take(keep.column("file_index")))
        else:
            columns.append(keep.column(name))
    part = pa.Table.from_arrays(columns, schema=schema)
    # Arrow IPC, uncompressed: parts live minutes, writing one is a copy, and the assembly maps it back
    # without decoding (Parquet parts cost a fifth of a run's CPU to encode and decode again)
    with replace_atomically(workdir.part(index), "wb") as handle, pa.ipc.new_file(handle, schema) as writer:
        writer.write_table(part)
    if record.rejected:
        rejected = table.filter(pc.invert(valid)).select(["file_index", "position", "id", "reason", "detail"])
        reasons: dict[str, int] = {}
        with replace_atomically(workdir.rejects(index)) as handle:
            for row in rejected.to_pylist():
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
                entry = {
                    "source": sources[row["file_index"]],
                    "position": row["position"],
                    "id": row["id"],
                    "reason": row["reason"],
                    "detail": row["detail"],
                }
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        record.rejects_by_reason = dict(sorted(reasons.items()))
    queue_rows: list[dict[str, Any]] = []
    if queue_rank is not None and scored.num_rows:
        urgent = np.zeros(scored.num_rows, dtype=bool)
        if "tier_rank" in scored.column_names:
            urgent |= scored.column("tier_rank").to_numpy() >= queue_rank
        if "high_risk" in scored.column_names:
            urgent |= scored.column("high_risk").to_numpy(zero_copy_only=False).astype(bool)
        if scored.column("in_scope").null_count < scored.num_rows:  # a post out of scope is never queued
            urgent &= scored.column("in_scope").fill_null(True).to_numpy(zero_copy_only=False).astype(bool)
        if urgent.any():
            for row in scored.filter(pa.array(urgent)).to_pylist():
                row["source"] = sources[row.pop("file_index")]
                queue_rows.append(row)
    return record, queue_rows


class Assembler:
    """Joins the finished chunks' parts, in chunk order, into the output and the rejects file as the run goes.

    Chunks may finish in any order; each is appended as soon as every chunk before it is in. The
    growing files live in the work folder (``output.partial``, ``rejects.partial``) and are renamed
    into place only by :meth:`finish`, so there is never a half-written output; a run that stops
    leaves them to be rebuilt from the finished parts on ``--resume``. Use it as a context manager:
    leaving it without :meth:`finish` removes the partial files.
    """

    def __init__(self, workdir: WorkDir, output_format: str, *, tasks: Sequence[str], include_text: bool) -> None:
        self.workdir = workdir
        self.output_format = output_format
        self.schema = output_schema(tasks, include_text=include_text)
        self.next_index = 0  # the first chunk not yet appended
        self._ready: set[int] = set()
        self._output: IO[Any] | None = None
        self._rejects: IO[bytes] | None = None
        self._writer: Any = None  # a pyarrow ParquetWriter
        self._buffer: list[Any] = []
        self._buffered = 0

    @property
    def output_partial(self) -> Path:
        """The output while it grows."""
        return self.workdir.path / "output.partial"

    @property
    def rejects_partial(self) -> Path:
        """The rejects file while it grows."""
        return self.workdir.path / "rejects.partial"

    def __enter__(self) -> Assembler:
        import pyarrow.parquet as pq

        # closed by finish() or __exit__
        try:
            self._rejects = open(self.rejects_partial, "wb")
            if self.output_format == "parquet":
                self._output = open(self.output_partial, "wb")
                self._writer = pq.ParquetWriter(
                    self._output, self.schema, use_dictionary=dictionary_columns(self.schema)
                )
            else:
                self._output = open(self.output_partial, "w", encoding="utf-8")
        except OSError as exc:
            self._close()
            raise self._failure("starting the output", exc) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):  # after a failed write, closing fails again: the files go anyway
            self._close()
        for path in (self.output_partial, self.rejects_partial):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def add(self, index: int) -> None:
        """Chunk ``index`` is finished: append it, and every finished chunk after it, when its turn has come."""
        self._ready.add(index)
        while self.next_index in self._ready:
            self._ready.discard(self.next_index)
            try:
                self._append(self.next_index)
            except OSError as exc:
                raise self._failure(f"appending chunk {self.next_index}", exc) from None
            self.next_index += 1

    def finish(self, n_chunks: int, output: Path, rejects: Path) -> None:
        """Append what is left of chunks ``0 .. n_chunks - 1`` and move both files into place."""
        try:
            for index in range(self.next_index, n_chunks):
                self._append(index)
            self.next_index = n_chunks
            self._flush_row_group()
            if self._writer is not None:
                self._writer.close()  # writes the footer; the file stays open
                self._writer = None
            for handle in (self._output, self._rejects):
                assert handle is not None
                handle.flush()
                os.fsync(handle.fileno())
            self._close()
            os.replace(self.output_partial, output)
            os.replace(self.rejects_partial, rejects)
        except OSError as exc:
            raise self._failure("finishing the output", exc) from None

    def _failure(self, what: str, exc: OSError) -> ScoringError:
        return ScoringError(
            f"Writing the output failed while {what}: {describe_os_error(exc, advice=False)}. Finished chunks are "
            f"kept in {self.workdir.path}: free space (or fix the problem) and rerun the same command with --resume."
        )

    def _append(self, index: int) -> None:
        assert self._output is not None and self._rejects is not None
        table = read_part(self.workdir.part(index), self.schema)
        if self._writer is not None:
            # Parts are gathered into row groups of OUTPUT_ROW_GROUP_ROWS: the writer keeps metadata per
            # row group until it closes, so one row group per chunk would grow with the input.
            self._buffer.append(table)
            self._buffered += table.num_rows
            if self._buffered >= OUTPUT_ROW_GROUP_ROWS:
                self._flush_row_group()
        else:
            for batch in table.to_batches(max_chunksize=8192):
                for row in batch.to_pylist():
                    self._output.write(json.dumps(row, ensure_ascii=False) + "\n")
        path = self.workdir.rejects(index)
        if path.is_file():
            with open(path, "rb") as part:
                while block := part.read(1 << 20):
                    self._rejects.write(block)

    def _flush_row_group(self) -> None:
        import pyarrow as pa

        if self._writer is not None and self._buffer:
            self._writer.write_table(pa.concat_tables(self._buffer), row_group_size=max(self._buffered, 1))
        self._buffer, self._buffered = [], 0

    def _close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):  # already failing: the partial file is removed anyway
                self._writer.close()
            self._writer = None
        for handle in (self._output, self._rejects):
            if handle is not None:
                handle.close()
        self._output = self._rejects = None
