"""``score``: stream any number of posts through one or two models into one output file, resumably."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..data.reader import InputFile, check_structure, find_inputs
from .local import RunContext, run_local, worker_pool
from .progress import score_progress
from .queue import check_queue_available, enqueue_rows, queue_model_info
from .results import ModelSpec, model_specs
from .settings import ScoreSettings, output_format_of
from .workdir import (
    Assembler,
    ChunkRecord,
    ScoringError,
    WorkDir,
    parts_dir_for,
    rejects_path_for,
    summary_path_for,
)

logger = logging.getLogger(__name__)


class ScoringInterrupted(ScoringError):
    """The run was stopped (Ctrl-C); finished chunks are kept for ``--resume``."""


@dataclass
class ScoreSummary:
    """What a finished run did. ``posts`` = ``scored`` + ``rejected``; ``written`` = ``scored`` - ``filtered``."""

    output: str
    rejects: str
    engine: str
    chunks: int = 0
    resumed_chunks: int = 0
    posts: int = 0
    scored: int = 0
    rejected: int = 0
    filtered: int = 0
    written: int = 0
    queued: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    posts_per_second: float = 0.0
    already_complete: bool = False  # --resume found the output complete for the same run: nothing was done

    def add(self, record: ChunkRecord, *, resumed: bool) -> None:
        """Count one finished chunk."""
        self.chunks += 1
        self.resumed_chunks += int(resumed)
        self.posts += record.records
        self.scored += record.scored
        self.rejected += record.rejected
        self.filtered += record.filtered
        self.written += record.written
        self.queued += record.queued
        for reason, count in record.rejects_by_reason.items():
            self.rejects_by_reason[reason] = self.rejects_by_reason.get(reason, 0) + count

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def score(
    model_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    settings: ScoreSettings | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> ScoreSummary:
    """Score every post of ``inputs`` with a level model, a binary model or both, into ``output``.

    Inputs are JSONL (also ``.gz``), CSV/TSV, text or Parquet files or folders of them, read as streams;
    each post keeps its ``source`` file and ``position`` (line, or row for Parquet). ``settings``
    (:class:`ScoreSettings`, default ``ScoreSettings()``) says how they are read, scored and written. The
    output (Parquet or JSONL, by suffix or ``settings.output_format``) has one row per scored post, in input
    order: ``source``, ``position``, ``id``, then ``risk_level``, ``tier``, ``expected_level`` and
    ``p_level_0`` ... ``p_level_10`` (level model) and/or ``high_risk``, ``high_risk_probability``
    (binary model); with ``settings.min_tier`` only posts at or above that tier. Bad rows go to ``rejects``
    (default ``<output stem>.rejects.jsonl``) with their reason and position; a summary is written to
    ``<output stem>.summary.json`` and returned.

    The work is done in chunks of ``settings.chunk_size`` input units, each committed atomically in
    ``<output>.parts/`` by ``workers`` processes or Ray actors (default: every core); after an interruption,
    ``resume=True`` with the same inputs, models and settings scores only the unfinished chunks and ends
    with exactly one row per input post. ``settings.engine="ray"`` runs on Ray (``address``: ``None``
    starts a local instance, ``"auto"`` or ``"ray://host:10001"`` joins a cluster). See
    ``docs/scoring.md``.
    """
    started = time.perf_counter()
    settings = ScoreSettings() if settings is None else settings
    output_path = Path(output)
    settings = replace(settings, output_format=output_format_of(output_path, settings.output_format))
    workers_given = workers is not None
    workers = _check_workers(workers)
    specs = model_specs(_paths(model_dirs))
    tasks = [spec.task for spec in specs]
    if settings.min_tier is not None and "level" not in tasks:
        raise ScoringError(
            f"--min-tier {settings.min_tier} needs a level model (tiers come from levels); got only a "
            f"{tasks[0]!r} model. Add a level model directory or leave --min-tier out."
        )
    if settings.queue_db is not None:
        check_queue_available()
    input_paths = _paths(inputs)
    rejects_path = Path(rejects) if rejects is not None else rejects_path_for(output_path)
    _check_outside_inputs(input_paths, [output_path, rejects_path])
    items = find_inputs(input_paths, input_format=settings.input_format)
    for item in items:
        check_structure(item, settings.read_settings())
    summary = ScoreSummary(output=str(output_path), rejects=str(rejects_path), engine=settings.engine)
    manifest = _manifest(items, specs, settings)
    workdir = WorkDir(parts_dir_for(output_path))
    if not resume and not overwrite and output_path.exists():
        raise ScoringError(f"{output_path} already exists. Pass --overwrite to replace it, or choose another --output.")
    with workdir.locked():
        if resume and not overwrite and workdir.read_manifest() is None and output_path.exists():
            return _completed_run(output_path, rejects_path, manifest, workdir)
        finished = _prepare(workdir, manifest, output_path, resume=resume, overwrite=overwrite)
        model_info = queue_model_info(specs)
        total_bytes = sum(item.path.stat().st_size for item in items)
        progress_bytes = [0]
        context = RunContext(items, specs, settings, workdir, workers, _no_commit, progress_bytes)
        pool_or_none = worker_pool(context) if settings.engine == "local" else contextlib.nullcontext()
        assembler = Assembler(
            workdir, settings.output_format or "parquet", tasks=tasks, include_text=settings.include_text
        )
        with (
            pool_or_none as pool,  # workers start before the progress bar's thread does
            assembler,
            score_progress(total_bytes, f"scoring ({settings.engine})", enabled=show_progress) as progress,
        ):

            def commit(record: ChunkRecord, queue_rows: list[dict[str, Any]]) -> None:
                resumed = record.index in finished
                if not resumed:
                    if queue_rows:
                        assert settings.queue_db is not None
                        record.queued = _enqueue(settings, queue_rows, model_info, record.index, workdir)
                    workdir.mark_done(record)
                summary.add(record, resumed=resumed)
                assembler.add(record.index)  # the output grows while later chunks are scored
                progress.update(
                    posts=record.records, new_posts=0 if resumed else record.records, read_bytes=progress_bytes[0]
                )

            context.commit = commit
            try:
                if settings.engine == "ray":
                    from .ray_engine import run_ray

                    n_chunks = run_ray(context, finished, address, workers_given=workers_given)
                else:
                    n_chunks = run_local(context, finished, pool)
            except KeyboardInterrupt:
                raise ScoringInterrupted(
                    f"Interrupted after {summary.chunks} finished chunks ({summary.posts} posts); they are kept "
                    f"in {workdir.path}. Rerun the same command with --resume to continue."
                ) from None
            new_posts = progress.new_posts
            missing = [index for index in range(n_chunks) if not workdir.done(index).is_file()]
            if missing or summary.chunks != n_chunks:
                raise ScoringError(
                    f"Chunks {missing[:5]} of {n_chunks} are not finished in {workdir.path}; this should not "
                    "happen. Rerun with --resume."
                )
            assembler.finish(n_chunks, output_path, rejects_path)
        summary.seconds = round(time.perf_counter() - started, 3)
        summary.posts_per_second = round(new_posts / summary.seconds, 1) if summary.seconds else 0.0
        atomic_write_text(
            summary_path_for(output_path),
            json.dumps({**summary.to_dict(), "manifest": manifest}, ensure_ascii=False, indent=2) + "\n",
        )
        for path in (output_path, rejects_path, summary_path_for(output_path)):
            _permissions_of_a_new_file(path)
        workdir.remove()
    logger.info(
        "scored %d posts (%d rejected, %d filtered) into %s in %.1f s",
        summary.scored,
        summary.rejected,
        summary.filtered,
        output_path,
        summary.seconds,
    )
    return summary


def _no_commit(record: ChunkRecord, queue_rows: list[dict[str, Any]]) -> None:
    raise AssertionError("chunks are committed only once the run has started")


def _permissions_of_a_new_file(path: Path) -> None:
    """Give a file written through a private temporary file the permissions a new file gets (umask)."""
    mask = 0o022
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                mask = int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~mask)


def _check_outside_inputs(inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
    """Refuse to write into an input folder: the next run would read the output as input."""
    for folder in (p.resolve() for p in inputs if p.is_dir()):
        for path in outputs:
            if path.resolve().is_relative_to(folder):
                raise ScoringError(
                    f"{path} is inside the input folder {folder}: a later run (or --resume) would read it as "
                    "input. Write the output and the rejects file outside the input folders."
                )


def _paths(value: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    return [Path(v) for v in value]


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ScoringError(f"The number of workers must be an int >= 1. Got {workers!r} instead.")
    return workers


def _manifest(items: Sequence[InputFile], specs: Sequence[ModelSpec], settings: ScoreSettings) -> dict[str, Any]:
    return {
        "inputs": [{"source": item.source, "format": item.format, **item.fingerprint()} for item in items],
        "models": [{"task": spec.task, "kind": spec.kind, "fingerprint": spec.fingerprint} for spec in specs],
        "settings": settings.fingerprint_fields(),
    }


def _prepare(
    workdir: WorkDir, manifest: dict[str, Any], output: Path, *, resume: bool, overwrite: bool
) -> dict[int, ChunkRecord]:
    """Start a new run, or check that the unfinished one matches and return its finished chunks."""
    # --overwrite discards whatever is there, even a work folder this version cannot read
    existing = None if overwrite else workdir.read_manifest()
    if existing is not None and resume:
        problems = _differences(existing, manifest)
        if problems:
            raise ScoringError(
                f"Cannot resume the unfinished run in {workdir.path}: " + "; ".join(problems) + ". Resume with "
                "the same inputs, models and settings, or pass --overwrite to discard its finished chunks "
                "and start over."
            )
        finished = workdir.finished_chunks()
        logger.info("resuming: %d chunks already finished in %s", len(finished), workdir.path)
        return finished
    if existing is not None:
        raise ScoringError(
            f"An unfinished run is in {workdir.path}. Pass --resume to continue it, or --overwrite to "
            "discard it and start over."
        )
    workdir.clear()
    workdir.write_manifest(manifest)
    return {}


def _completed_run(output: Path, rejects: Path, manifest: dict[str, Any], workdir: WorkDir) -> ScoreSummary:
    """``--resume`` of a run that already finished: its summary when the inputs, models and settings are the same.

    A scheduled job or a retry loop can then always pass ``--resume``; a different run is still refused.
    """
    summary_path = summary_path_for(output)
    try:
        recorded = json.loads(summary_path.read_text(encoding="utf-8"))
        counts = {key: recorded[key] for key in ScoreSummary.__dataclass_fields__ if key in recorded}
        summary = ScoreSummary(**counts)
        old_manifest = recorded["manifest"]
        problems = _differences(old_manifest, manifest)
    except (OSError, ValueError, TypeError, KeyError):
        raise ScoringError(
            f"{output} exists, but {summary_path} (the record of the run that wrote it) is missing or damaged, so "
            "there is no telling whether it comes from these inputs, models and settings. Pass --overwrite to "
            "score it again, or choose another --output."
        ) from None
    if summary.rejects != str(rejects):
        problems.append(f"the rejects file was {summary.rejects}, now {rejects}")
    elif not rejects.is_file():
        problems.append(f"its rejects file {rejects} is missing")
    if problems:
        raise ScoringError(
            f"{output} is already complete, from another run: " + "; ".join(problems) + ". Pass --overwrite to "
            "score it again with these inputs, models and settings, or choose another --output."
        )
    logger.info("nothing to resume: %s is already complete for this run", output)
    return replace(summary, already_complete=True, resumed_chunks=summary.chunks, seconds=0.0, posts_per_second=0.0)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    problems = []
    old_inputs = {i["path"]: i for i in old.get("inputs", [])}
    new_inputs = {i["path"]: i for i in new["inputs"]}
    if list(old_inputs) != list(new_inputs):
        added = sorted(set(new_inputs) - set(old_inputs))
        gone = sorted(set(old_inputs) - set(new_inputs))
        parts = [f"added {added}" if added else "", f"missing {gone}" if gone else ""]
        detail = ", ".join(p for p in parts if p) or "their order changed"
        problems.append(f"the input files differ (expected the same files in the same order; {detail})")
    else:
        for path, entry in new_inputs.items():
            before = old_inputs[path]
            changed = [k for k in ("size", "mtime_ns", "sha256") if before.get(k) != entry.get(k)]
            if changed:
                problems.append(f"input {path} changed since the run started ({', '.join(changed)})")
    old_models = [(m["task"], m["fingerprint"]) for m in old.get("models", [])]
    new_models = [(m["task"], m["fingerprint"]) for m in new["models"]]
    if old_models != new_models:
        problems.append(
            f"the models differ (expected {[t for t, _ in old_models]} models with fingerprints "
            f"{[f[:19] for _, f in old_models]}, got {[f[:19] for _, f in new_models]})"
        )
    old_settings, new_settings = old.get("settings", {}), new["settings"]
    for key in sorted(set(old_settings) | set(new_settings)):
        if old_settings.get(key) != new_settings.get(key):
            problems.append(f"setting {key!r} was {old_settings.get(key)!r}, now {new_settings.get(key)!r}")
    return problems


def _enqueue(
    settings: ScoreSettings, rows: list[dict[str, Any]], model_info: dict[str, Any], index: int, workdir: WorkDir
) -> int:
    assert settings.queue_db is not None
    try:
        return enqueue_rows(settings.queue_db, rows, source=settings.queue_source, model_info=model_info)
    except ImportError:
        raise
    except Exception as exc:
        raise ScoringError(
            f"Appending chunk {index}'s {len(rows)} urgent posts to the review queue failed "
            f"({type(exc).__name__}: {exc}). Finished chunks are kept in {workdir.path}; fix the problem and "
            "rerun the same command with --resume (posts already queued are not queued twice)."
        ) from exc
