"""``predict``: the answers for a few posts or a post file, computed exactly as ``score`` computes them.

Posts come from the one reader (:mod:`sosrisk.data.reader`: same formats, columns, limits and bad-row
checks as ``score``; labels in the file are ignored) and are scored column-wise by
:func:`sosrisk.scoring.results.score_table`, so every column that ``score`` computes -- including any a
model stage adds -- reaches ``predict`` too. Unlike ``score``, a bad row stops ``predict`` with an error
naming it (``score`` sets bad rows aside in a rejects file), and the output is all or nothing.

Large files are parsed, scored and rendered by worker processes (one per core) in chunks, in input
order; the answers are rendered as JSON Lines column by column with Arrow.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import csv
import io
import json
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..assess import flat_row, format_rule_hits
from ..data.errors import DataError
from ..data.reader import (
    InputFile,
    ReadSettings,
    Records,
    Segment,
    check_structure,
    check_text,
    find_inputs,
    parse_segments,
    reject_field,
)
from ..scale import N_LEVELS, level, tier_of
from .allocator import keep_freed_memory
from .results import LEVEL_PROBABILITY_COLUMNS, PROCESS_KINDS, LoadedModels, ModelSpec, model_specs, score_table

FORMATS = ("table", "jsonl", "csv")
LARGE_INPUT_BYTES = 1 << 20  # a progress bar, and worker processes, from this input size on
CHUNK_POSTS = 10_000
_RECORD_COLUMNS = frozenset(Records().to_arrow().schema.names)
_KNOWN_RESULTS = frozenset(
    {
        "risk_level",
        "tier",
        "tier_rank",
        "expected_level",
        *LEVEL_PROBABILITY_COLUMNS,
        "high_risk",
        "high_risk_probability",
    }
)
_BAD_ROW_FIX = "fix that row, or use 'sosrisk score', which sets bad rows aside in a rejects file"


def model_directories(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The model directories to load: one or two given, or a folder holding ``level/`` and/or ``binary/``."""
    directories = [Path(p) for p in paths]
    if len(directories) == 1 and not (directories[0] / "config.json").exists():
        inside = [directories[0] / task for task in ("level", "binary") if (directories[0] / task).is_dir()]
        if inside:
            return inside
        raise DataError(
            directories[0],
            "not a model directory: expected config.json, or a folder holding level/ and/or binary/ model directories",
        )
    return directories


@dataclass(frozen=True)
class _Job:
    """What a worker needs to answer a chunk (sent once, at start-up)."""

    specs: list[ModelSpec]
    read: ReadSettings
    fmt: str
    include_text: bool
    id_prefix: str  # posts without an id are named ``<id_prefix><position>``


@dataclass
class _Answer:
    """One chunk's answers: rendered bytes (jsonl, csv) or the scored table (table), or its first bad row."""

    posts: int
    rendered: bytes = b""
    header: list[str] | None = None
    table: Any = None
    bad_row: tuple[int, str, str] | None = None  # (position, reason, detail)


def predict(
    model_dirs: Sequence[str | os.PathLike[str]],
    *,
    input_file: str | os.PathLike[str] | None = None,
    texts: Sequence[str] | None = None,
    text_source: str = "argument",
    output: IO[bytes],
    fmt: str = "jsonl",
    include_text: bool = True,
    max_chars: int = 20_000,
    text_column: str | None = None,
    id_column: str | None = None,
    input_format: str | None = None,
    workers: int | None = None,
    show_progress: bool = True,
) -> int:
    """Assess the posts of ``input_file`` (or ``texts``) with one or two models; write the answers to ``output``.

    ``model_dirs``: a level model, a binary model, one of each, or one folder holding ``level/`` and/or
    ``binary/``. ``fmt``: ``jsonl`` (one object per post: ``id``, ``text``, the level with its
    probabilities, name, definitions, tier and expected level, and/or the high-risk flag with its
    probability, then any other column the models add), ``csv`` (the same, probabilities as
    ``p_level_0`` ... ``p_level_10``) or ``table`` (for reading). ``texts`` are numbered 1, 2, ...; posts
    of a file keep their ``id``, or are named ``FILE:LINE``. A bad row (blank or over-long text, a NUL,
    bad JSON ...) raises :class:`DataError` naming it and nothing is written; an input without posts too.
    Returns the number of posts answered.
    """
    if fmt not in FORMATS:
        raise DataError("--format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    specs = model_specs(model_directories(model_dirs))
    read = ReadSettings(text_column=text_column, id_column=id_column, max_chars=max_chars, input_format=input_format)
    if input_file is not None:
        items = find_inputs([input_file], input_format=input_format)
        check_structure(items[0], read)
        job = _Job(specs, read, fmt, include_text, f"{items[0].path.name}:")
        answers: Iterator[_Answer] = _answer_file(job, items[0], workers=workers, show_progress=show_progress)
        where = str(input_file)
    else:
        job = _Job(specs, read, fmt, include_text, "")
        answers = iter([_answer_texts(job, list(texts or []), text_source)])
        where = text_source
    return _write(answers, job, output, where)


def _write(answers: Iterator[_Answer], job: _Job, output: IO[bytes], where: str) -> int:
    """Write the answers in order, all or nothing: ``output`` gets bytes only once every chunk is answered."""
    rendered: list[bytes] = []
    tables: list[Any] = []
    header: list[str] | None = None
    posts = 0
    for answer in answers:
        posts += answer.posts
        if header is None and answer.header is not None:
            header = answer.header
        if answer.table is not None:
            tables.append(answer.table)
        rendered.append(answer.rendered)
    if posts == 0:
        raise DataError(where, "holds no posts: expected at least one non-blank line, or a row with a text")
    if job.fmt == "table":
        import pyarrow as pa

        rendered = [_render_table(pa.concat_tables(tables), job)]
    elif job.fmt == "csv" and header is not None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(header)
        rendered.insert(0, buffer.getvalue().encode("utf-8"))
    for piece in rendered:
        output.write(piece)
    return posts


# ------------------------------------------------------------------------------------------- inputs
def _answer_texts(job: _Job, texts: list[str], source: str) -> _Answer:
    """Posts given as arguments or on standard input: checked like a file's rows, numbered from 1."""
    records = Records()
    for number, text in enumerate(texts, start=1):
        checked, reason, detail = check_text(text, job.read.max_chars)
        if reason is not None:
            raise DataError(source, f"{detail}; {_BAD_ROW_FIX}", line=number, field="text")
        records.add(0, number, str(number), checked)
    if not len(records):
        return _Answer(posts=0)
    return _answer_records(job, LoadedModels.load(job.specs), records.to_arrow())


def _answer_file(job: _Job, item: InputFile, *, workers: int | None, show_progress: bool) -> Iterator[_Answer]:
    """The answers of a file's chunks, in input order: in worker processes when the file is large."""
    from .local import iter_chunks, single_threaded_blas
    from .progress import score_progress

    size = item.path.stat().st_size
    progress_bytes = [0]
    chunks = iter_chunks([item], job.read, CHUNK_POSTS, progress_bytes)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = cores if workers is None else workers
    in_processes = workers > 1 and size >= LARGE_INPUT_BYTES and all(s.kind in PROCESS_KINDS for s in job.specs)
    large = size >= LARGE_INPUT_BYTES
    with score_progress(size, "predicting", enabled=show_progress and large) as progress:
        if in_processes:
            answers = _answers_in_pool(job, chunks, workers)
        else:
            models = LoadedModels.load(job.specs)
            blas = single_threaded_blas() if all(s.kind in PROCESS_KINDS for s in job.specs) else None
            answers = _answers_here(job, models, chunks, blas)
        for answer in answers:
            if answer.bad_row is not None:
                position, reason, detail = answer.bad_row
                raise DataError(
                    item.source, f"{detail}; {_BAD_ROW_FIX}", line=position, field=reject_field(reason, detail)
                )
            progress.update(posts=answer.posts, new_posts=answer.posts, read_bytes=progress_bytes[0])
            yield answer


def _answers_here(
    job: _Job, models: LoadedModels, chunks: Iterator[tuple[int, list[Segment]]], blas: Any
) -> Iterator[_Answer]:
    import contextlib

    with blas if blas is not None else contextlib.nullcontext():
        for _index, segments in chunks:
            yield _answer_segments(job, models, segments)


_STATE: dict[str, Any] = {}


def _init_worker(job: _Job) -> None:
    from .local import single_threaded_blas

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    keep_freed_memory()
    _STATE["job"] = job
    if _STATE.get("models_of") != job.specs:  # not already loaded by the main process before it forked us
        _STATE["models"] = LoadedModels.load(job.specs)
    _STATE["blas"] = single_threaded_blas()


def _answer_in_worker(segments: list[Segment]) -> _Answer:
    return _answer_segments(_STATE["job"], _STATE["models"], [segment.attached() for segment in segments])


def _answers_in_pool(job: _Job, chunks: Iterator[tuple[int, list[Segment]]], workers: int) -> Iterator[_Answer]:
    from .local import _worker_context

    start = _worker_context()
    models = LoadedModels.load(job.specs)  # here first: a damaged model fails with its own error
    if start.get_start_method() == "fork":  # forked workers share the models loaded once here
        _STATE["models"] = models
        _STATE["models_of"] = job.specs
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=start, initializer=_init_worker, initargs=(job,))
    pending: collections.deque[cf.Future[_Answer]] = collections.deque()
    try:
        for _index, segments in chunks:
            pending.append(pool.submit(_answer_in_worker, [segment.detached() for segment in segments]))
            while len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        _STATE.pop("models", None)
        _STATE.pop("models_of", None)


def _answer_segments(job: _Job, models: LoadedModels, segments: list[Segment]) -> _Answer:
    records = parse_segments(segments, job.read)
    if records.column("reason").null_count < records.num_rows:
        import pyarrow.compute as pc

        first = int(np.flatnonzero(pc.is_valid(records.column("reason")).to_numpy(zero_copy_only=False))[0])
        row = records.slice(first, 1).to_pylist()[0]
        return _Answer(posts=records.num_rows, bad_row=(row["position"], row["reason"], row["detail"]))
    return _answer_records(job, models, records)


def _answer_records(job: _Job, models: LoadedModels, records: Any) -> _Answer:
    if not records.num_rows:
        return _Answer(posts=0)
    table = score_table(records, models)
    if job.fmt == "table":
        return _Answer(posts=table.num_rows, table=table)
    if job.fmt == "csv":
        header, rendered = _render_csv(table, job)
        return _Answer(posts=table.num_rows, rendered=rendered, header=header)
    return _Answer(posts=table.num_rows, rendered=_render_jsonl(table, job))


# ---------------------------------------------------------------------------------------- rendering
def _extra_columns(table: Any) -> list[str]:
    """Result columns beyond the known ones (a model stage may add some): written after the known fields."""
    return [name for name in table.column_names if name not in _RECORD_COLUMNS and name not in _KNOWN_RESULTS]


def _ids(table: Any, job: _Job) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = table.column("id")
    if ids.null_count:
        named = pc.binary_join_element_wise(job.id_prefix, pc.cast(table.column("position"), pa.string()), "")
        ids = pc.coalesce(ids, named)
    return ids


def _level_fragments() -> list[str]:
    """Per level, the JSON of the fields that follow from it (name, definitions, tier), as ``assess`` gives them."""
    fragments = []
    for value in range(N_LEVELS):
        entry, tier = level(value), tier_of(value)
        fields = {
            "level_name": entry.name,
            "definition_en": entry.definition_en,
            "definition_zh": entry.definition_zh,
            "tier": tier.key,
            "tier_name": tier.name_en,
        }
        fragments.append("".join(f", {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()))
    return fragments


def _json_strings(column: Any) -> Any:
    """Each string as ``json.dumps(value, ensure_ascii=False)`` writes it (``null`` for a null), column-wise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pc.cast(column, pa.string())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    quoted = pc.binary_join_element_wise('"', column, '"', "")
    needs_escapes = pc.fill_null(pc.match_substring_regex(column, '[\\x{0}-\\x{1f}"\\\\]'), False)
    if pc.any(needs_escapes).as_py():  # rare: escape those few in Python
        rows = np.flatnonzero(needs_escapes.to_numpy(zero_copy_only=False))
        escaped = [json.dumps(v, ensure_ascii=False) for v in column.take(pa.array(rows)).to_pylist()]
        mask = np.zeros(len(column), dtype=bool)
        mask[rows] = True
        quoted = pc.replace_with_mask(quoted, pa.array(mask), pa.array(escaped, pa.string()))
    return pc.fill_null(quoted, "null")


def _json_numbers(column: Any) -> Any:
    """Numbers as JSON: the shortest text that reads back as the same value (floats keep a decimal point)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(column, pa.string())
    if pa.types.is_floating(column.type):
        whole = pc.match_substring_regex(text, "^-?[0-9]+$")
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    return pc.fill_null(text, "null")


def _json_values(column: Any) -> Any:
    """Any result column as JSON text, column-wise for the usual types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "true", "false"), "null")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return _json_numbers(column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _json_strings(column)
    return pa.array([json.dumps(v, ensure_ascii=False) for v in column.to_pylist()], pa.string())


def _render_jsonl(table: Any, job: _Job) -> bytes:
    """One JSON object per post (the fields of ``predict --format jsonl``), built column by column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.combine_chunks()

    pieces: list[Any] = ['{"id": ', _json_strings(_ids(table, job))]
    if job.include_text:
        pieces += [', "text": ', _json_strings(table.column("text"))]
    names = set(table.column_names)
    if "risk_level" in names:
        levels = table.column("risk_level")
        probabilities = pc.binary_join_element_wise(
            *(_json_numbers(table.column(name)) for name in LEVEL_PROBABILITY_COLUMNS), ", "
        )
        fragments = pa.array(_level_fragments(), pa.string()).take(pc.cast(levels, pa.int64()))
        pieces += [', "risk_level": ', _json_numbers(levels), ', "level_probabilities": [', probabilities, "]"]
        pieces += [fragments, ', "expected_level": ', _json_numbers(table.column("expected_level"))]
    if "high_risk" in names:
        pieces += [', "high_risk": ', _json_values(table.column("high_risk"))]
        pieces += [', "high_risk_probability": ', _json_numbers(table.column("high_risk_probability"))]
    for name in _extra_columns(table):
        if name == "rule_hits":  # already JSON text: written as the array it is
            pieces += [', "rule_hits": ', pc.fill_null(table.column(name), "null")]
        else:
            pieces += [f", {json.dumps(name)}: ", _json_values(table.column(name))]
    pieces.append("}\n")
    lines = pc.binary_join_element_wise(*pieces, "")
    return b"".join(_string_bytes(chunk) for chunk in (lines.chunks if hasattr(lines, "chunks") else [lines]))


def _string_bytes(array: Any) -> bytes:
    """The UTF-8 bytes of a string array's values back to back (no copy per value)."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    return data[int(offsets[0]) : int(offsets[-1])].to_pybytes() if len(array) else b""


def _records(table: Any, job: _Job) -> list[dict[str, Any]]:
    """The answers as dicts, in the field order of the JSON Lines output (for the table and CSV formats)."""
    names = set(table.column_names)
    ids = _ids(table, job).to_pylist()
    texts = table.column("text").to_pylist()
    extras = {name: table.column(name).to_pylist() for name in _extra_columns(table)}
    if "rule_hits" in extras:
        extras["rule_hits"] = [json.loads(v) if v is not None else None for v in extras["rule_hits"]]
    has_level, has_high = "risk_level" in names, "high_risk" in names
    if has_level:
        levels = table.column("risk_level").to_pylist()
        probabilities = np.column_stack([table.column(n).to_numpy() for n in LEVEL_PROBABILITY_COLUMNS]).tolist()
        expected = table.column("expected_level").to_pylist()
    if has_high:
        flags = table.column("high_risk").to_pylist()
        high = table.column("high_risk_probability").to_pylist()
    records = []
    for row in range(table.num_rows):
        record: dict[str, Any] = {"id": ids[row]}
        if job.include_text:
            record["text"] = texts[row]
        if has_level:
            entry, tier = level(levels[row]), tier_of(levels[row])
            record.update(
                risk_level=levels[row],
                level_probabilities=probabilities[row],
                level_name=entry.name,
                definition_en=entry.definition_en,
                definition_zh=entry.definition_zh,
                tier=tier.key,
                tier_name=tier.name_en,
                expected_level=expected[row],
            )
        if has_high:
            record["high_risk"], record["high_risk_probability"] = flags[row], high[row]
        for name, values in extras.items():
            record[name] = values[row]
        records.append(record)
    return records


def _render_csv(table: Any, job: _Job) -> tuple[list[str], bytes]:
    """The header and the rows (probabilities as ``p_level_0`` ... ``p_level_10``, after the other fields)."""
    rows = [flat_row(record) for record in _records(table, job)]
    header = list(rows[0]) if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writerows(rows)
    return header, buffer.getvalue().encode("utf-8")


def _render_table(table: Any, job: _Job) -> bytes:
    """One or two lines per post, for reading in a terminal."""
    lines = []
    for record in _records(table, job):
        text = record.get("text", "")
        short = text if len(text) <= 40 else text[:39] + "…"
        parts = []
        if "risk_level" in record:
            top = max(record["level_probabilities"])
            parts.append(
                f"level {record['risk_level']:>2} ({record['tier']}, p={top:.2f})  "
                f"{record['level_name']}: {record['definition_en']}"
            )
        if "high_risk" in record:
            flag = "HIGH" if record["high_risk"] else "low "
            parts.append(f"{flag} risk (p_high={record['high_risk_probability']:.2f})")
        if record.get("in_scope") is False:
            parts.insert(0, f"OUT OF SCOPE (p_in={record['scope_probability']:.2f}):")
        if record.get("rule_hits"):
            parts.append("rules: " + format_rule_hits(record["rule_hits"]))
        if "risk_level" in record:
            lines.append(f"{record['id']:>4}  " + "  ".join(parts) + f"\n      {short}")
        else:
            lines.append(f"{record['id']:>4}  {parts[0]}  {short}")
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
