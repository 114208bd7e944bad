"""``sosrisk score``: its options are the fields of ``ScoreSettings``, with the same defaults."""

from __future__ import annotations

import dataclasses

import click

from sosrisk.cli.score import score as score_command
from sosrisk.scoring import ScoreSettings

RUN_ONLY = {"model_dirs", "inputs", "output", "address", "workers", "resume", "overwrite", "rejects", "quiet"}


def test_every_score_setting_is_an_option_with_the_settings_default() -> None:
    options = {param.name: param for param in score_command.params}
    fields = {field.name: field for field in dataclasses.fields(ScoreSettings)}
    context = click.Context(score_command)
    assert set(options) == set(fields) | RUN_ONLY
    for name, field in fields.items():
        option = options[name]
        assert isinstance(option, click.Option)
        default = option.get_default(context)
        assert default == field.default, f"--{name.replace('_', '-')}: {default!r} != {field.default!r}"
