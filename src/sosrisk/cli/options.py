"""Options shared by several commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
task_option = click.option(
    "--task",
    type=click.Choice(["level", "binary"]),
    required=True,
    help="level: 11 ordinal levels; binary: high vs low risk.",
)
data_root_option = click.option(
    "--data",
    "data_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="SOS-1K folder to read (default: the data home filled by 'sosrisk data fetch').",
)


def parse_settings(values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs into a dict; values are parsed as JSON when they can be (numbers, lists, true)."""
    settings: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        try:
            settings[key.replace("-", "_")] = json.loads(raw)
        except json.JSONDecodeError:
            settings[key.replace("-", "_")] = raw
    return settings


set_option = click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A model setting, e.g. --set C=3 --set ngram_range=[1,3] (repeatable).",
)
