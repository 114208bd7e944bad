"""The ``sosrisk`` command: a thin layer over the library.

Every command parses its options, calls one public library function and turns library errors into a
clean message and exit status 1 (2 for bad usage).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from .. import __version__
from ..threads import PRECISIONS


class SosriskGroup(click.Group):
    """A click group that shows library errors as one clean line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from ..atomic import WriteError
        from ..data.errors import DataError
        from ..models.errors import ModelError

        try:
            return super().invoke(ctx)
        except (DataError, ModelError, WriteError, FileNotFoundError, ImportError) as exc:
            raise click.ClickException(str(exc)) from exc
        except ValueError as exc:
            if type(exc).__module__.startswith("sosrisk"):
                raise click.ClickException(str(exc)) from exc
            raise
        except Exception as exc:
            database_problem = _database_problem(exc)
            if database_problem is None:
                raise  # anything else is a bug: its traceback must show
            raise click.ClickException(database_problem) from exc


def _database_problem(exc: Exception) -> str | None:
    """A clean message when the database named by --db cannot be opened or is not a database, else ``None``.

    Only the driver's own reason is shown (never the SQL or its parameters, which may hold post texts);
    errors of the statements themselves (integrity, programming) are bugs and keep their traceback.
    """
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or type(exc) not in (sqlalchemy_exc.OperationalError, sqlalchemy_exc.DatabaseError):
        return None
    reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
    return (
        f"The database cannot be used ({reason}). Check --db (or SOSRISK_DB_URL): it must name a database "
        "that sosrisk created or can create, that this machine can reach."
    )


@click.group(cls=SosriskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sosrisk")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option(
    "--torch-threads",
    default="auto",
    show_default=True,
    envvar="SOSRISK_TORCH_THREADS",
    metavar="auto|N",
    help="Threads of the encoder models (torch) in this process (env SOSRISK_TORCH_THREADS). 'auto': one when "
    "the machine is already busy at start, torch's default otherwise.",
)
@click.option(
    "--encoder-precision",
    type=click.Choice(PRECISIONS),
    default="float32",
    show_default=True,
    envvar="SOSRISK_ENCODER_PRECISION",
    help="Arithmetic of the encoder models (env SOSRISK_ENCODER_PRECISION). float32 gives the answers the models "
    "were validated with; bfloat16 is about 1.6x faster on CPUs with native bfloat16 and changes a few answers "
    "near a boundary (benchmarks/results/best_speed.md).",
)
def main(verbose: int, torch_threads: str, encoder_precision: str) -> None:
    """sosrisk: suicide-risk assessment of Chinese social-media posts on the SOS-1K scale.

    Decision support for trained people, never a diagnosis or an automatic action.
    """
    from ..threads import choose_torch_threads, set_encoder_precision, set_torch_threads

    set_encoder_precision(encoder_precision)

    try:
        set_torch_threads(choose_torch_threads(torch_threads))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--torch-threads") from None
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("sosrisk")
    package_logger.handlers[:] = [handler]
    package_logger.setLevel(level)
    package_logger.propagate = False


def _register() -> None:
    from . import backbone as backbone_commands
    from . import behaviour as behaviour_commands
    from . import data as data_commands
    from . import models as model_commands
    from . import score as score_commands
    from . import serve as serve_commands

    main.add_command(data_commands.data)
    main.add_command(backbone_commands.backbone)
    commands = [*model_commands.COMMANDS, *behaviour_commands.COMMANDS, *score_commands.COMMANDS]
    for command in [*commands, *serve_commands.COMMANDS]:
        main.add_command(command)
    from . import annotate as annotate_commands
    from . import augment as augment_commands

    main.add_command(augment_commands.augment)
    main.add_command(annotate_commands.annotate)


_register()
