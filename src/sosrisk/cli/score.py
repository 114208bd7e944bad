"""``sosrisk score``: batch scoring of large inputs, resumable, locally or on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import quiet_option

_TIERS = click.Choice(["distress", "wish", "plan", "imminent"])


@click.command()
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Input file or folder (repeatable): JSONL (.gz too), CSV, TSV, .txt or Parquet.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .parquet or .jsonl (or set --format).",
)
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl"]), default=None, help="Output format.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--address",
    default=None,
    help="Ray only: 'auto' joins the cluster this machine belongs to, 'ray://HOST:10001' a remote one; "
    "default: start Ray on this machine.",
)
@click.option("--text-column", default=None, help="Column / JSON key of the text (default: text or comment).")
@click.option("--id-column", default=None, help="Column / JSON key of the post id (default: id or post_id).")
@click.option(
    "--input-format",
    type=click.Choice(["jsonl", "csv", "tsv", "text", "parquet"]),
    default=None,
    help="Read every input as this format instead of guessing from the suffix.",
)
@click.option("--min-tier", type=_TIERS, default=None, help="Write only posts at or above this tier.")
@click.option("--include-text", is_flag=True, help="Also write the post text into the output.")
@click.option(
    "--max-chars", type=click.IntRange(min=1), default=20_000, show_default=True, help="Longer texts are rejected."
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Input lines/rows per chunk (the unit of work, atomic output and resume).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes, or Ray actors; default: every core (with --address: every CPU of the Ray cluster).",
)
@click.option("--resume", is_flag=True, help="Continue the unfinished run of the same command.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output or discard an unfinished run.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where bad rows go (default: OUTPUT_STEM.rejects.jsonl).",
)
@click.option(
    "--queue-db",
    default=None,
    help="Also append urgent posts to the review queue in this database (URL, e.g. sqlite:///queue.db).",
)
@click.option(
    "--queue-min-tier",
    type=_TIERS,
    default="plan",
    show_default=True,
    help="Lowest tier sent to the review queue (a binary model's high-risk posts are always sent).",
)
@click.option("--queue-source", default="sosrisk-score", show_default=True, help="Source name of the queued posts.")
@quiet_option
def score(
    model_dirs: tuple[Path, ...],
    inputs: tuple[Path, ...],
    output: Path,
    address: str | None,
    workers: int | None,
    resume: bool,
    overwrite: bool,
    rejects: Path | None,
    quiet: bool,
    **settings: Any,
) -> None:
    """Score every post of large inputs with MODEL_DIR (a level model, a binary model, or one of each).

    Streams the inputs in chunks with constant memory, writes each chunk atomically, and after an
    interruption continues with --resume, ending with exactly one output row per input post. Bad rows
    go to the rejects file with their reason and position. See docs/scoring.md.
    """
    # every other option is named after a field of ScoreSettings (tests/test_cli_score.py checks)
    from ..scoring import ScoreSettings
    from ..scoring import score as run_score
    from ..scoring.allocator import keep_freed_memory

    keep_freed_memory()  # this process exists only for this run (see sosrisk.scoring.allocator)
    if address is not None and settings["engine"] != "ray":
        raise click.UsageError("--address is for --engine ray.")
    summary = run_score(
        list(model_dirs),
        list(inputs),
        output,
        ScoreSettings(**settings),
        workers=workers,
        address=address,
        resume=resume,
        overwrite=overwrite,
        rejects=rejects,
        show_progress=not quiet,
    )
    if summary.already_complete:
        click.echo(
            f"nothing left to do: {summary.output} is already complete for these inputs, models and settings "
            f"({summary.scored:,} posts scored, {summary.rejected:,} rejected, {summary.written:,} rows written)"
        )
        return
    resumed = (
        f" ({summary.resumed_chunks} of {summary.chunks} chunks from the earlier run)" if summary.resumed_chunks else ""
    )
    click.echo(
        f"scored {summary.scored:,} posts, rejected {summary.rejected:,}, filtered {summary.filtered:,}; "
        f"wrote {summary.written:,} rows to {summary.output}{resumed}"
    )
    if summary.rejected:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in summary.rejects_by_reason.items())
        click.echo(f"rejects ({reasons}) in {summary.rejects}")
    if settings["queue_db"] is not None:
        click.echo(f"queued {summary.queued:,} new urgent posts for review")
    click.echo(f"{summary.seconds:.1f} s, {summary.posts_per_second:,.0f} posts/s")


COMMANDS = [score]
