"""The Ray engine: Ray Data reads the inputs, a pool of actors scores them, the driver writes the chunks.

* Reading is a Ray Data datasource with one read task per input file; each task runs the same
  streaming reader and parser as the local engine (so rejects and positions are identical) and yields
  blocks of parsed records.
* Scoring is ``map_batches`` over an actor pool: each actor loads the models once. The model files
  travel through Ray's object store, so the workers of a cluster need no shared copy of the model;
  the input files must be readable at the same path on every node (a shared or mounted file system).
* The dataset keeps its order (``preserve_order``): the driver receives scored records in input order,
  cuts them into chunks of ``chunk_size`` records and commits each one like the local engine does.
  Chunks therefore finish as a prefix, and ``--resume`` skips every record up to the last finished
  one before anything is read into Ray.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..data.reader import InputFile, ReadSettings, iter_segments, parse_segments
from .allocator import keep_freed_memory
from .local import RunContext, guard_disk, single_threaded_blas
from .results import PROCESS_KINDS, LoadedModels, ModelSpec, score_table
from .workdir import ChunkRecord, write_chunk

logger = logging.getLogger(__name__)

READ_BLOCK_ROWS = 8192


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(
            f'The Ray engine needs Ray Data ({exc}). Install it with: pip install "sosrisk[ray]"'
        ) from None
    return ray


def pack_model_dirs(specs: Sequence[ModelSpec]) -> list[dict[str, bytes]]:
    """Every file of each model directory as ``{relative path: bytes}`` (sent to the actors once)."""
    packed = []
    for spec in specs:
        root = Path(spec.directory)
        packed.append({str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()})
    return packed


class RayScorer:
    """A Ray Data actor: unpacks and loads the models once, then scores record batches."""

    def __init__(self, packed: Any, specs: list[ModelSpec], keep_text: bool) -> None:
        import ray

        if isinstance(packed, ray.ObjectRef):
            packed = ray.get(packed)
        self._tmp = tempfile.TemporaryDirectory(prefix="sosrisk-models-")
        directories = []
        for number, files in enumerate(packed):
            directory = Path(self._tmp.name) / f"model-{number}"
            for name, data in files.items():
                target = directory / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            directories.append(directory)
        self._models = LoadedModels.load(specs, directories)
        self._keep_text = keep_text
        if all(spec.kind in PROCESS_KINDS for spec in specs):
            self._blas = single_threaded_blas()  # one actor per CPU already; idle BLAS threads would spin
            keep_freed_memory()  # the actor process exists only to score

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        table = score_table(batch, self._models)
        if not self._keep_text:
            index = table.column_names.index("text")
            table = table.set_column(index, "text", pa.nulls(table.num_rows, pa.string()))
        return table


def _make_datasource(items: list[InputFile], read: ReadSettings, resume_key: list[int] | None) -> Any:
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    def read_file(file_index: int) -> Iterator[Any]:
        import pyarrow.compute as pc

        for segment in iter_segments(items, read, segment_units=READ_BLOCK_ROWS, file_indices=[file_index]):
            records = parse_segments([segment], read)
            if resume_key is not None and file_index == resume_key[0]:
                records = records.filter(pc.greater(records.column("position"), resume_key[1]))
            if records.num_rows:
                yield records

    class PostsDatasource(Datasource):
        """The input files as Ray Data blocks of parsed records, in input order."""

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(item.path.stat().st_size for item in items)

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[Any]:
            tasks = []
            for file_index, item in enumerate(items):
                if resume_key is not None and file_index < resume_key[0]:
                    continue  # finished before the interruption
                metadata = BlockMetadata(
                    num_rows=None,
                    size_bytes=item.path.stat().st_size,
                    input_files=(str(item.path),),
                    exec_stats=None,
                )
                read_fn = functools.partial(read_file, file_index)
                limit = {"per_task_row_limit": per_task_row_limit} if per_task_row_limit is not None else {}
                tasks.append(ReadTask(read_fn, metadata, **limit))
            return tasks

        def get_name(self) -> str:
            return "SosriskPosts"

    return PostsDatasource()


@contextlib.contextmanager
def _ray_session(ray: Any, address: str | None, workers: int) -> Iterator[None]:
    """Connect to (or start) Ray for the run; shut down only what this run started."""
    if ray.is_initialized():
        yield
        return
    if address in (None, "local"):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def run_ray(
    context: RunContext, finished: dict[int, ChunkRecord], address: str | None, *, workers_given: bool = True
) -> int:
    """Score the unfinished records with Ray; return the number of chunks of the whole input.

    Without an explicit number of workers, a cluster gets one actor per CPU it has.
    """
    ray = _import_ray()
    import pyarrow as pa

    settings = context.settings
    done = 0
    while done in finished:  # the Ray engine finishes chunks in order: keep the finished prefix
        context.commit(finished[done], [])
        done += 1
    resume_key = finished[done - 1].last_key if done else None
    sizes = [item.path.stat().st_size for item in context.items]
    with _ray_session(ray, address, context.workers):
        actors = context.workers
        if not workers_given and address not in (None, "local"):
            actors = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        data_context = ray.data.DataContext.get_current()
        saved = (data_context.execution_options.preserve_order, data_context.enable_progress_bars)
        data_context.execution_options.preserve_order = True
        data_context.enable_progress_bars = False
        ray_data_logger = logging.getLogger("ray.data")
        saved_level = ray_data_logger.level
        ray_data_logger.setLevel(logging.WARNING)
        try:
            packed = ray.put(pack_model_dirs(context.specs))
            keep_text = settings.include_text or settings.queue_db is not None
            dataset = ray.data.read_datasource(
                _make_datasource(context.items, settings.read_settings(), resume_key),
                # Reading is light next to scoring; read tasks asking for a CPU would wait forever behind
                # an actor pool that holds every CPU of a small machine.
                num_cpus=0,
            ).map_batches(
                RayScorer,
                fn_constructor_kwargs={"packed": packed, "specs": context.specs, "keep_text": keep_text},
                batch_size=min(settings.chunk_size, READ_BLOCK_ROWS),
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=1,
            )
            index = done
            buffer: list[Any] = []
            buffered = 0

            def flush() -> None:
                nonlocal index, buffer, buffered
                table = pa.concat_tables(buffer)
                write = functools.partial(
                    write_chunk,
                    context.workdir,
                    index,
                    table,
                    context.sources,
                    tasks=context.tasks,
                    include_text=settings.include_text,
                    min_tier_rank=settings.min_tier_rank,
                    queue_rank=settings.queue_rank if settings.queue_db is not None else None,
                )
                record, queue_rows = guard_disk(index, context.workdir, write)
                record.units = record.records
                if record.last_key is not None:
                    context.progress_bytes[0] = sum(sizes[: record.last_key[0]])
                context.commit(record, queue_rows)
                index, buffer, buffered = index + 1, [], 0

            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                while batch.num_rows:
                    take = min(settings.chunk_size - buffered, batch.num_rows)
                    buffer.append(batch.slice(0, take))
                    batch = batch.slice(take)
                    buffered += take
                    if buffered == settings.chunk_size:
                        flush()
            if buffered:
                flush()
            context.progress_bytes[0] = sum(sizes)
            return index
        finally:
            data_context.execution_options.preserve_order, data_context.enable_progress_bars = saved
            ray_data_logger.setLevel(saved_level)
