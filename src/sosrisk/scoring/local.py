"""The local engine: one reader cuts the inputs into chunks; worker processes parse, score and write them.

For ``char-linear`` (pure numpy) each of ``workers`` processes loads the models once and handles whole
chunks, so parsing, scoring and writing all run in parallel while the main process only reads raw
bytes and commits finished chunks. For other kinds (encoders, which use threads themselves) chunks are
scored in the main process with ``workers`` threads. At most ``2 * workers`` chunks are in flight, so
memory stays flat however large the input is.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.reader import InputFile, ReadSettings, Segment, iter_segments, parse_segments
from ..threads import sentence_encoder_threads_for
from .allocator import keep_freed_memory
from .results import PROCESS_KINDS, LoadedModels, ModelSpec, score_table
from .settings import ScoreSettings
from .workdir import ChunkRecord, ScoringError, WorkDir, write_chunk

logger = logging.getLogger(__name__)

Commit = Callable[[ChunkRecord, list[dict[str, Any]]], None]


@dataclass
class RunContext:
    """Everything an engine needs to score a run's unfinished chunks."""

    items: list[InputFile]
    specs: list[ModelSpec]
    settings: ScoreSettings
    workdir: WorkDir
    workers: int
    commit: Commit  # queue the urgent rows, mark the chunk done, advance the progress bar
    progress_bytes: list[int]

    @property
    def sources(self) -> list[str]:
        """The ``source`` name of each input file, by file index."""
        return [item.source for item in self.items]

    @property
    def tasks(self) -> list[str]:
        """The tasks of the models (``level``, ``binary``)."""
        return [spec.task for spec in self.specs]


def iter_chunks(
    items: Sequence[InputFile], read: ReadSettings, chunk_size: int, progress_bytes: list[int] | None = None
) -> Iterator[tuple[int, list[Segment]]]:
    """``(index, segments)`` of consecutive ``chunk_size`` input units, across files, in input order.

    The same inputs and chunk size always give the same chunks: that is what makes resuming exact.
    """
    index, current, units = 0, [], 0
    for segment in iter_segments(items, read, segment_units=chunk_size, progress=progress_bytes):
        rest: Segment | None = segment
        while rest is not None:
            head, rest = rest.split(chunk_size - units)
            current.append(head)
            units += head.units
            if units == chunk_size:
                yield index, current
                index, current, units = index + 1, [], 0
    if current:
        yield index, current


# ------------------------------------------------------------------------------------------ workers
@dataclass
class _ChunkJob:
    """What a worker needs to turn a chunk into files (sent once, at start-up)."""

    specs: list[ModelSpec]
    settings: ScoreSettings
    sources: list[str]
    workdir: str
    tasks: list[str]


_STATE: dict[str, Any] = {}


def _init_worker(job: _ChunkJob, main_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    # A worker waits on a queue whose write end it holds itself, so it would outlive a main process
    # killed with -9 (and keep its pipes open); it watches the main process and leaves with it.
    threading.Thread(target=_exit_with, args=(main_pid,), name="sosrisk-watch-main", daemon=True).start()
    keep_freed_memory()
    _STATE["job"] = job
    if _STATE.get("models_of") != job.specs:  # not already loaded by the main process before it forked us
        _STATE["models"] = LoadedModels.load(job.specs)
    # One BLAS thread per worker: the workers already use every core, and idle OpenBLAS threads spin.
    _STATE["blas"] = single_threaded_blas()


def _exit_with(pid: int, interval: float = 0.5) -> None:
    while _is_alive(pid):
        time.sleep(interval)
    os._exit(1)


def _is_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in {"Z", "X"}


def _process_chunk(index: int, segments: list[Segment]) -> tuple[ChunkRecord, list[dict[str, Any]]]:
    job: _ChunkJob = _STATE["job"]
    models: LoadedModels = _STATE["models"]
    return process_chunk(job, models, index, [segment.attached() for segment in segments])


def process_chunk(
    job: _ChunkJob, models: LoadedModels, index: int, segments: list[Segment]
) -> tuple[ChunkRecord, list[dict[str, Any]]]:
    """Parse, score and write one chunk; return its record and the rows for the review queue."""
    settings = job.settings
    records = parse_segments(segments, settings.read_settings())
    table = score_table(records, models)
    record, queue_rows = write_chunk(
        WorkDir(Path(job.workdir)),
        index,
        table,
        job.sources,
        tasks=job.tasks,
        include_text=settings.include_text,
        min_tier_rank=settings.min_tier_rank,
        queue_rank=settings.queue_rank if settings.queue_db is not None else None,
    )
    record.units = sum(segment.units for segment in segments)
    return record, queue_rows


def chunk_job(context: RunContext) -> _ChunkJob:
    """What the workers of a run need."""
    return _ChunkJob(
        specs=context.specs,
        settings=context.settings,
        sources=context.sources,
        workdir=str(context.workdir.path),
        tasks=context.tasks,
    )


@contextlib.contextmanager
def worker_pool(context: RunContext) -> Iterator[cf.ProcessPoolExecutor | None]:
    """The worker processes of a run, started now; ``None`` when chunks are scored in this process.

    Enter it before any other thread of the run starts (the progress bar's): the workers are then
    forked from this process, which has already imported everything, so they start at once.
    """
    if context.workers <= 1 or not all(spec.kind in PROCESS_KINDS for spec in context.specs):
        yield None
        return
    start = _worker_context()
    if start.get_start_method() == "fork":
        # Load the models, and pandas (pyarrow imports it on first use), once, here: forked workers
        # share them and start scoring at once, instead of each spending half a second on it.
        import pandas  # noqa: F401

        _STATE["models"] = LoadedModels.load(context.specs)
        _STATE["models_of"] = context.specs
    else:  # the workers load the models themselves: a damaged model must fail here, with its own error
        LoadedModels.load(context.specs)
    pool = cf.ProcessPoolExecutor(
        max_workers=context.workers,
        mp_context=start,
        initializer=_init_worker,
        initargs=(chunk_job(context), os.getpid()),
    )
    try:
        for _ in range(context.workers):
            pool.submit(int)  # start every worker now (a fork pool starts all of them on the first call)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _STATE.pop("models", None)
        _STATE.pop("models_of", None)


def run_local(context: RunContext, finished: dict[int, ChunkRecord], pool: cf.ProcessPoolExecutor | None = None) -> int:
    """Score every unfinished chunk (in ``pool``, or in this process); return the number of chunks."""
    chunks = iter_chunks(
        context.items, context.settings.read_settings(), context.settings.chunk_size, context.progress_bytes
    )
    if pool is None:
        return _run_in_process(context, chunk_job(context), chunks, finished)
    return _run_in_pool(context, pool, chunks, finished)


def _skip(context: RunContext, record: ChunkRecord) -> None:
    context.commit(record, [])  # already finished: only counted


def _run_in_process(
    context: RunContext, job: _ChunkJob, chunks: Iterator[tuple[int, list[Segment]]], finished: dict[int, ChunkRecord]
) -> int:
    models = LoadedModels.load(context.specs)
    if "torch" in sys.modules:  # encoder kinds: let torch use the cores we were given
        sys.modules["torch"].set_num_threads(context.workers)
    numpy_only = all(spec.kind in PROCESS_KINDS for spec in context.specs)
    blas = single_threaded_blas() if numpy_only else contextlib.nullcontext()
    with sentence_encoder_threads_for(context.workers), blas:  # the scope stage's encoder gets the run's cores
        return _score_in_process(context, job, models, chunks, finished)


def _score_in_process(
    context: RunContext,
    job: _ChunkJob,
    models: LoadedModels,
    chunks: Iterator[tuple[int, list[Segment]]],
    finished: dict[int, ChunkRecord],
) -> int:
    count = 0
    for index, segments in chunks:
        count = index + 1
        if index in finished:
            _skip(context, finished[index])
            continue
        record, queue_rows = guard_disk(
            index, context.workdir, functools.partial(process_chunk, job, models, index, segments)
        )
        context.commit(record, queue_rows)
    return count


def _run_in_pool(
    context: RunContext,
    pool: cf.ProcessPoolExecutor,
    chunks: Iterator[tuple[int, list[Segment]]],
    finished: dict[int, ChunkRecord],
) -> int:
    in_flight: dict[cf.Future[tuple[ChunkRecord, list[dict[str, Any]]]], int] = {}
    limit = 2 * context.workers
    count = 0

    def collect(wait_for: int) -> None:
        while len(in_flight) > wait_for:
            done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in done:
                index = in_flight.pop(future)
                record, queue_rows = guard_disk(index, context.workdir, future.result)
                context.commit(record, queue_rows)

    try:
        for index, segments in chunks:
            count = index + 1
            if index in finished:
                _skip(context, finished[index])
                continue
            detached = [segment.detached() for segment in segments]
            future = guard_disk(index, context.workdir, functools.partial(pool.submit, _process_chunk, index, detached))
            in_flight[future] = index
            collect(limit - 1)
        collect(0)
    except BaseException:
        for future in in_flight:
            future.cancel()
        raise
    return count


def single_threaded_blas() -> Any:
    """Limit BLAS to one thread (restored on exit when used as a context manager); a no-op without threadpoolctl.

    The numpy models make only small matrix products per batch, where extra BLAS threads only spin.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _worker_context() -> Any:
    """How worker processes start: forked from this process when it has no other thread (instant, and
    the imports are shared), else from a fork server that has imported the scoring code, else spawned."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sosrisk.scoring.local", "sosrisk.models.char_linear"])
        return context
    return multiprocessing.get_context("spawn")


def guard_disk(index: int, workdir: WorkDir, call: Callable[[], Any]) -> Any:
    """Run ``call``; a full disk (or any OS error writing chunk files) becomes a clear, resumable error."""
    try:
        return call()
    except cf.process.BrokenProcessPool as exc:
        raise ScoringError(
            f"A scoring worker process died while chunk {index} was being scored ({exc}); finished chunks "
            f"are kept in {workdir.path}. Rerun the same command with --resume. (Calling "
            "sosrisk.scoring.score from your own script? Worker processes import its main module: guard the "
            "script's entry point with `if __name__ == '__main__':`, or pass workers=1.)"
        ) from None
    except OSError as exc:
        what = "the disk is full" if exc.errno in {errno.ENOSPC, errno.EDQUOT} else os.strerror(exc.errno or 0)
        raise ScoringError(
            f"Writing chunk {index} to {workdir.path} failed: {what} ({exc}). Finished chunks are kept; free "
            "space (or fix the problem) and rerun the same command with --resume."
        ) from None
