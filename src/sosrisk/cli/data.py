"""``sosrisk data``: get SOS-1K and look at it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import data_root_option, quiet_option


@click.group()
def data() -> None:
    """Get the SOS-1K dataset and inspect post files."""


@data.command("fetch")
@click.option(
    "--from",
    "source",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Copy from a local folder with the authors' repository layout instead of downloading.",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to put the files (default: $SOSRISK_HOME/sos1k or the per-user data folder).",
)
@quiet_option
def fetch(source: Path | None, dest: Path | None, quiet: bool) -> None:
    """Download SOS-1K at the pinned commit (or copy it --from DIR), checking every sha256.

    A file whose checksum differs is rejected and never written. Files absent from the source are
    listed (a development copy without the withheld test set is expected). Exits 1 when a required
    file is missing, mismatched or failed.
    """
    from ..data.fetch import fetch_sos1k

    report = fetch_sos1k(dest, source=source, show_progress=not quiet)
    click.echo(str(report))
    if not report.ok:
        sys.exit(1)


@data.command("info")
@data_root_option
@click.option("--all-problems", is_flag=True, help="List every problem instead of a summary per kind.")
def info(data_root: Path | None, all_problems: bool) -> None:
    """Counts per level, task and fold of the SOS-1K development data, and the problems found."""
    from ..data.sos1k import summarize

    counts, problems, facts = summarize(data_root)
    click.echo(f"SOS-1K at {facts['root']}")
    for task in ("level", "binary"):
        table = counts[counts["task"] == task].drop(columns="task")
        click.echo(f"\n{task} task ({int(table['total'].sum())} posts):")
        click.echo(table.to_string(index=False))
        click.echo(f"test set: {facts[f'{task}_test_set']}")
    if "binary_is_not_a_cut_of_level" in facts:
        click.echo(f"\nbinary vs level: {facts['binary_is_not_a_cut_of_level']}")
    click.echo(f"augmentation pool files: {facts['pool_files']}")
    click.echo(f"\nproblems: {len(problems)}")
    by_kind: dict[str, list[str]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(str(problem))
    for kind, items in sorted(by_kind.items()):
        shown = items if all_problems else items[:5]
        click.echo(f"  {kind}: {len(items)}")
        for line in shown:
            click.echo(f"    {line}")
        if len(items) > len(shown):
            click.echo(f"    ... {len(items) - len(shown)} more (use --all-problems)")
