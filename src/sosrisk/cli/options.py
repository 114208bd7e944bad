"""Options shared by several commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class RegistryChoice(click.Choice):
    """A choice among the names of a registry (model kinds, augmentation methods, translators, recipes).

    The names are asked for only when a value is checked or the help is shown, so a command imports nothing
    of the registry's room at start-up; a registered name is accepted without listing the others (which
    would read every installed package's entry points).
    """

    def __init__(self, names: Callable[[], Sequence[str]], known: Callable[[str], bool] | None = None) -> None:
        self._names = names
        self._known = known
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:  # click.Choice.__init__ sets it; the registry decides
        pass

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if self._known is not None and isinstance(value, str) and self._known(value):
            return value
        return super().convert(value, param, ctx)


def _model_kinds() -> list[str]:
    from ..models.registry import available_kinds

    return available_kinds()


def _is_model_kind(name: str) -> bool:
    from ..models.registry import MODEL_KINDS

    return name in MODEL_KINDS


MODEL_KIND = RegistryChoice(_model_kinds, _is_model_kind)

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


def parse_settings(values: tuple[str, ...], option: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` pairs into a dict; values are parsed as JSON when they can be (numbers, lists, true)."""
    settings: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
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


def scope_options(function: F) -> F:
    """``--no-scope``, ``--scope-sources``, ``--out-of-scope`` and ``--scope-set``: how a model's scope stage is
    trained."""
    function = click.option(
        "--scope-set",
        "scope_set",
        multiple=True,
        metavar="KEY=VALUE",
        help="A scope-stage setting (a field of sosrisk.scope.training.ScopeSettings), e.g. "
        "--scope-set danger_guarded_quantile=0.998 for the quieter own-voice bar (repeatable).",
    )(function)
    function = click.option(
        "--out-of-scope",
        "out_of_scope_files",
        multiple=True,
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="A file of your own out-of-scope posts (any post format; labels ignored) for the scope gate (repeatable).",
    )(function)
    function = click.option(
        "--scope-sources",
        default=None,
        metavar="NAMES",
        help="Comma-separated ordinary-text sources the scope gate learns from, or 'none' "
        "(default: every source; see 'sosrisk data ordinary').",
    )(function)
    function = click.option(
        "--no-scope",
        is_flag=True,
        help="Train without the scope stage and without ordinary posts (research on SOS-1K alone).",
    )(function)
    return function


# ScopeSettings fields that have options of their own
_SCOPE_FIELDS_WITH_OPTIONS = {
    "enabled": "--no-scope",
    "sources": "--scope-sources",
    "out_of_scope_files": "--out-of-scope",
}


def scope_settings(
    no_scope: bool,
    scope_sources: str | None,
    out_of_scope_files: tuple[Path, ...],
    scope_set: tuple[str, ...] = (),
) -> Any:
    """The :class:`~sosrisk.scope.training.ScopeSettings` of the scope options."""
    from dataclasses import fields, replace

    from ..models.base import ModelError
    from ..scope.training import ScopeSettings

    if no_scope:
        if scope_sources is not None or out_of_scope_files or scope_set:
            raise click.UsageError("--no-scope cannot be combined with --scope-sources, --out-of-scope or --scope-set.")
        return ScopeSettings(enabled=False)
    values: dict[str, Any] = {"out_of_scope_files": tuple(str(f) for f in out_of_scope_files)}
    if scope_sources is not None:
        names = [] if scope_sources.strip() == "none" else [n.strip() for n in scope_sources.split(",") if n.strip()]
        values["sources"] = tuple(names)
    extra = parse_settings(scope_set, "--scope-set")
    known = {f.name for f in fields(ScopeSettings)}
    for key in extra:
        if key in _SCOPE_FIELDS_WITH_OPTIONS:
            raise click.BadParameter(
                f"{key!r} has its own option: {_SCOPE_FIELDS_WITH_OPTIONS[key]}.", param_hint="--scope-set"
            )
        if key not in known:
            choices = ", ".join(sorted(known - set(_SCOPE_FIELDS_WITH_OPTIONS)))
            raise click.BadParameter(
                f"unknown scope setting {key!r}; expected one of: {choices}.", param_hint="--scope-set"
            )
    base = ScopeSettings(**values)  # its own errors (an unknown source, say) stay what they were
    if not extra:
        return base
    try:
        return replace(base, **extra)
    except (ModelError, TypeError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--scope-set") from None
