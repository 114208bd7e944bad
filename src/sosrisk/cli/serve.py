"""``sosrisk serve``, ``sosrisk users``, ``sosrisk tokens`` and ``sosrisk queue``: the service and its database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

db_option = click.option(
    "--db",
    "db_url",
    envvar="SOSRISK_DB_URL",
    default=None,
    metavar="URL",
    help="Database URL (env SOSRISK_DB_URL; default: sqlite file queue.db in the data home's serve/ folder).",
)


def _db_url(db_url: str | None) -> str:
    from ..serve.store import default_db_url

    return db_url or default_db_url()


def _engine(db_url: str | None) -> Engine:
    from ..serve.store import get_engine

    return get_engine(_db_url(db_url))


@click.command()
@click.argument("model_dir", required=False, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--level", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Level model.")
@click.option("--binary", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Binary model.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@db_option
@click.option("--migrate", is_flag=True, help="Bring the database schema up to date and exit.")
@click.option("--no-migrate", is_flag=True, help="Never change the schema at start-up; refuse an old one.")
@click.option("--max-posts", default=100, show_default=True, type=click.IntRange(1), help="Posts per request.")
@click.option("--max-chars", default=5000, show_default=True, type=click.IntRange(1), help="Characters per post.")
@click.option("--max-body-bytes", default=1_048_576, show_default=True, type=click.IntRange(1))
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option(
    "--header-timeout",
    "header_timeout_s",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a connection may take to send its request head before it is closed.",
)
@click.option(
    "--max-connections", default=512, show_default=True, type=click.IntRange(1), help="Open connections at most."
)
@click.option(
    "--health-interval",
    "health_interval_s",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds a healthy /healthz answer is reused before the database is probed with a write again.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Model threads.")
@click.option("--max-pending", default=8, show_default=True, type=click.IntRange(1), help="Requests admitted.")
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allow browser calls from this origin.")
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="Reverse proxies (comma-separated addresses, or '*') whose X-Forwarded-For names the client "
    "[default: $FORWARDED_ALLOW_IPS or 127.0.0.1].",
)
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send the login cookie over plain HTTP too (only on a trusted network or behind a TLS proxy).",
)
def serve(
    model_dir: Path | None,
    level: Path | None,
    binary: Path | None,
    host: str,
    port: int,
    db_url: str | None,
    migrate: bool,
    no_migrate: bool,
    max_posts: int,
    max_chars: int,
    max_body_bytes: int,
    timeout_s: float,
    header_timeout_s: float,
    max_connections: int,
    health_interval_s: float,
    workers: int,
    max_pending: int,
    cors_origins: tuple[str, ...],
    forwarded_allow_ips: str | None,
    insecure_cookies: bool,
) -> None:
    """Serve the assessment API and the triage pages for MODEL_DIR.

    MODEL_DIR is a model directory (its task decides whether it is the level or the binary model) or a
    folder with level/ and binary/ model directories; --level and --binary name them one by one.
    Reviewers log in at http://HOST:PORT/ (create them with 'sosrisk users add'); clients call
    POST /v1/assess with a token from 'sosrisk tokens create'. API reference: /docs.
    """
    if migrate:
        from ..serve.store import migrate as migrate_database

        revision = migrate_database(_db_url(db_url))
        click.echo(f"database schema at revision {revision}")
        return
    from ..serve.app import create_app
    from ..serve.server import run_server, server_config
    from ..serve.settings import ServeSettings, resolve_model_dirs

    level_dir, binary_dir = resolve_model_dirs(model_dir, level, binary)
    settings = ServeSettings(
        level_model=level_dir,
        binary_model=binary_dir,
        db_url=_db_url(db_url),
        max_posts=max_posts,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        request_timeout_s=timeout_s,
        header_timeout_s=header_timeout_s,
        max_connections=max_connections,
        health_interval_s=health_interval_s,
        workers=workers,
        max_pending=max_pending,
        cors_origins=cors_origins,
        cookie_secure=not insecure_cookies,
        migrate=not no_migrate,
    )
    app = create_app(settings)
    click.echo(f"sosrisk serving on http://{host}:{port}/ (API reference: /docs)", err=True)
    run_server(server_config(app, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips))


@click.group()
def users() -> None:
    """Reviewer accounts for the triage pages."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", default=None, help="Name shown to other reviewers (any characters).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@db_option
def users_add(username: str, display_name: str | None, password_stdin: bool, db_url: str | None) -> None:
    """Create a reviewer (asks for a password of at least 10 characters)."""
    from ..serve.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = add_user(_engine(db_url), username, password, display_name=display_name)
    click.echo(f"added reviewer {user.username} ({user.display_name})")


@users.command("restore")
@click.argument("username")
@click.option("--name", "display_name", default=None, help="A new display name (default: the old one).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
@db_option
def users_restore(username: str, display_name: str | None, password_stdin: bool, db_url: str | None) -> None:
    """Bring back a removed reviewer, the same person (asks for a new password); their decisions stay theirs."""
    from ..serve.accounts import restore_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    user = restore_user(_engine(db_url), username, password, display_name=display_name)
    click.echo(f"restored reviewer {user.username} ({user.display_name})")


@users.command("remove")
@click.argument("username")
@db_option
def users_remove(username: str, db_url: str | None) -> None:
    """Disable a reviewer: logged out, claims released; their past decisions stay in the audit trail."""
    from ..serve.accounts import remove_user

    remove_user(_engine(db_url), username)
    click.echo(f"removed reviewer {username}")


@users.command("list")
@db_option
def users_list(db_url: str | None) -> None:
    """List reviewer accounts."""
    from ..serve.accounts import list_users

    for username, display_name, created, removed in list_users(_engine(db_url)):
        state = f"removed {removed:%Y-%m-%d}" if removed else "active"
        click.echo(f"{username}\t{display_name}\tcreated {created:%Y-%m-%d}\t{state}")


@click.group()
def tokens() -> None:
    """API tokens for clients of POST /v1/assess."""


@tokens.command("create")
@click.argument("name")
@db_option
def tokens_create(name: str, db_url: str | None) -> None:
    """Create a token for the client NAME and print it once (only its hash is stored)."""
    from ..serve.accounts import create_token

    token = create_token(_engine(db_url), name)
    click.echo(token)
    click.echo(f"token {name!r} created; it is shown only now. Send it as 'Authorization: Bearer <token>'.", err=True)


@tokens.command("revoke")
@click.argument("name")
@db_option
def tokens_revoke(name: str, db_url: str | None) -> None:
    """Revoke the token NAME: requests with it are refused from now on."""
    from ..serve.accounts import revoke_token

    revoke_token(_engine(db_url), name)
    click.echo(f"revoked token {name}")


@tokens.command("list")
@db_option
def tokens_list(db_url: str | None) -> None:
    """List tokens (names and prefixes, never the tokens)."""
    from ..serve.accounts import list_tokens

    for token in list_tokens(_engine(db_url)):
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
        used = f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        click.echo(f"{token.name}\t{token.prefix}…\tcreated {token.created_at:%Y-%m-%d}\t{used}\t{state}")


@click.group()
def queue() -> None:
    """The review queue."""


@queue.command("export")
@click.option("--task", type=click.Choice(["level", "binary"]), default="level", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="TSV file to write.")
@db_option
def queue_export(task: str, out: Path, db_url: str | None) -> None:
    """Write reviewed posts as an official-format TSV (comment + myLabel, or comment + twoClass).

    The labels are the reviewers' decisions; train on them with 'sosrisk train --task TASK --train OUT'.
    """
    from ..serve.review import export_reviewed_file

    count = export_reviewed_file(_db_url(db_url), task, out)
    click.echo(f"wrote {count} reviewed posts to {out}")


COMMANDS = [serve, users, tokens, queue]
