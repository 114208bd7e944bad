"""The review-queue database: engines, migrations and queueing assessed posts.

Works with SQLAlchemy and Alembic alone (no FastAPI), so batch scoring can queue posts too::

    from sosrisk.serve.store import QueueItem, enqueue_assessments

    enqueue_assessments("sqlite:////srv/sosrisk/queue.db", [QueueItem(...), ...])

Queueing is idempotent on ``(source, external_id)``: a post that is already queued is not queued again
(so a resumed scan never queues a post twice), and every call is one transaction, committed before it
returns. The same key with a different text is a :class:`QueueConflict` and nothing of that call is stored.
A post the scope stage put out of scope (``assessment.in_scope`` false) is refused: it is never queued. The
scope decision of a queued post (``in_scope``, ``scope_probability``, ``scope_reason``, ``rule_hits``) is
stored with it.

SQLite (the default, a file in the data home) runs in WAL mode with ``BEGIN IMMEDIATE`` transactions, so
concurrent writers wait for each other instead of failing; PostgreSQL works by URL
(``postgresql+psycopg://user@host/db``, with ``pip install "psycopg[binary]"``).

Why one module of about 640 lines: it is the whole database layer, in this order: the errors and the queued
item, the engines (SQLite's pragmas and file permissions), the migrations and schema checks, and the one write
path (queueing). The engines' error translation (:func:`database_error`, :func:`is_unavailable`) and
:func:`transaction` serve every half, and the service, batch scoring and the tests import their names from
this one place; split apart, each half would be small but none could be used without the others.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assess import Assessment
from ..home import data_home

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        'The review queue needs SQLAlchemy and Alembic. Install them with: pip install "sosrisk[serve]"'
    ) from exc

from .schema import audit_events, posts

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MAX_SOURCE_CHARS = 100
MAX_EXTERNAL_ID_CHARS = 200
MAX_AUTHOR_CHARS = 200
STATUSES = ("pending", "reviewed")
# why a queued post is in scope: the gate, or a safety-net rule (never "out_of_scope" nor "blank": not queued)
QUEUED_SCOPE_REASONS = ("in_scope", "recovered", "rule")


class StoreError(ValueError):
    """The database cannot be used as asked; the message says why and how to fix it."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached or cannot write now (server down, disk full, locked too long);
    nothing of the operation was stored, and retrying later may work."""


class QueueConflict(StoreError):
    """A post id that is already queued under the same source arrived with a different text."""

    def __init__(self, keys: Sequence[tuple[str | None, str]]) -> None:
        self.keys = list(keys)
        shown = ", ".join(f"{external_id!r} (source {source!r})" for source, external_id in self.keys[:5])
        more = f" and {len(self.keys) - 5} more" if len(self.keys) > 5 else ""
        super().__init__(
            f"Post ids already queued with a different text: {shown}{more}. Ids must be unique within a "
            "source; send the post under a new id or another source. Nothing of this batch was queued."
        )


@dataclass
class QueueItem:
    """One assessed post to put in the review queue.

    ``posted_at`` is an ISO 8601 date-time (``2024-05-01T22:15:00+08:00``); one without a time zone is
    taken as UTC. ``model_info`` says which model(s) made the assessment (kind, task, training
    fingerprint); it is shown to reviewers and kept with the post. ``explanations`` (optional) are the
    phrases that raised the assessment, as returned by :func:`sosrisk.serve.explain.explain_assessment`.
    """

    external_id: str
    text: str
    source: str | None
    author: str | None
    posted_at: str | None
    assessment: Assessment
    model_info: dict[str, Any]
    explanations: list[dict[str, Any]] | None = field(default=None)


@dataclass(frozen=True)
class Enqueued:
    """Where one item went: its row id and whether this call queued it (``False``: it already was)."""

    post_id: int
    source: str | None
    external_id: str
    newly_queued: bool


def utcnow() -> _dt.datetime:
    """Now, as the naive UTC datetime every table stores."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def parse_time(value: str, *, what: str = "time") -> _dt.datetime:
    """An ISO 8601 date-time as naive UTC (a value without a time zone is taken as UTC)."""
    try:
        parsed = _dt.datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise StoreError(
            f"{what}: expected an ISO 8601 date-time like '2024-05-01T22:15:00+08:00'. Got {value!r} instead."
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.UTC).replace(tzinfo=None)
    return parsed


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or ``None``: a NUL character (PostgreSQL refuses it, and
    it breaks exports) or an unpaired surrogate (not encodable as UTF-8). Never quotes the text."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char, position = found.group(), found.start()
    if char == "\x00":
        return f"a NUL character (U+0000) at position {position}"
    return f"an unpaired surrogate (U+{ord(char):04X}) at position {position}"


def describe_database_error(exc: BaseException) -> str:
    """What went wrong with the database, safe to log and to show: the driver's error class, its SQLSTATE
    or SQLite error name and, for connection-level (operational) errors, the first line of the driver's
    message. Never the statement's parameters, nor the row values some drivers put in their messages
    (PostgreSQL's "Failing row contains (...)")."""
    original = getattr(exc, "orig", None) or exc
    code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
    details = [name for name in (type(original).__name__, code) if name and name != type(exc).__name__]
    described = type(exc).__name__ + (f" ({' '.join(details)})" if details else "")
    if is_unavailable(exc):
        lines = str(original).strip().splitlines()
        if lines and lines[0].strip():
            described += f": {lines[0].strip()[:200]}"
    return described


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "cannot reach or write now" (retry later) rather than a bad
    statement or bad data: operational errors (server down, disk full, locked, deadlock), an exhausted
    connection pool, a lost connection."""
    if isinstance(exc, sa.exc.TimeoutError | sa.exc.DisconnectionError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    return False


def database_error(exc: sa.exc.SQLAlchemyError) -> StoreError:
    """A :class:`StoreError` (or :class:`DatabaseUnavailable`) for a failed database operation whose
    message names the error without any value of the statement."""
    described = describe_database_error(exc)
    if is_unavailable(exc):
        return DatabaseUnavailable(
            f"The review-queue database is unavailable ({described}); nothing was stored. Retry later; if it "
            "persists, check that the database server runs and that its disk is not full."
        )
    return StoreError(
        f"The review-queue database refused the operation ({described}); nothing was stored. This points to a "
        "damaged database or a bug; the values involved are never shown."
    )


def default_db_url() -> str:
    """The default database: ``queue.db`` in the ``serve`` folder of the data home."""
    return f"sqlite:///{data_home() / 'serve' / 'queue.db'}"


# ---------------------------------------------------------------------------------------------- engines
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(db_url: str, *, migrate_schema: bool = True) -> Engine:
    """The process-wide engine of ``db_url``; with ``migrate_schema`` the schema is brought to the latest
    revision on first use (otherwise a database that is not at the latest revision is an error).

    A database that cannot be reached raises :class:`DatabaseUnavailable` (never the driver's message
    whole)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(db_url)
        if engine is None:
            engine = _create_engine(db_url)
            try:
                if migrate_schema:
                    migrate(engine)
                else:
                    check_schema(engine)
            except sa.exc.SQLAlchemyError as exc:
                engine.dispose()
                raise database_error(exc) from None
            except BaseException:
                engine.dispose()
                raise
            _ENGINES[db_url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, and before a process forks)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _create_engine(db_url: str) -> Engine:
    try:
        url = sa.engine.make_url(db_url)
    except sa.exc.ArgumentError:
        raise StoreError(
            f"Expected a database URL like 'sqlite:////path/queue.db' or "
            f"'postgresql+psycopg://user@host/db'. Got {db_url!r} instead."
        ) from None
    if url.get_backend_name() != "sqlite":
        # hide_parameters: an error's message never carries the statement's values (post texts, authors)
        options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            # a server that does not answer fails a request (503) in seconds instead of hanging it
            options["connect_args"] = {"connect_timeout": 10}
        try:
            return sa.create_engine(url, **options)
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"The database driver {exc.name!r} for {url.drivername} is not installed. For PostgreSQL: "
                'pip install "psycopg[binary]" and use a postgresql+psycopg:// URL.'
            ) from None
    database = url.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        folder = Path(database).expanduser().parent
        try:
            if not folder.is_dir():
                folder.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder {folder} of the SQLite database ({exc.strerror}). Choose another "
                "--db sqlite:////path/queue.db."
            ) from None
        _private_database_file(Path(database).expanduser())
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}, "hide_parameters": True}
    if memory:
        kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # the driver's own transaction handling is off; "begin" below starts every transaction
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # take the write lock up front: two writers queue up instead of one failing with "locked"
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _private_database_file(database: Path) -> None:
    """Create the SQLite file readable and writable by its owner only (0600) before SQLite does (it would
    make it 0644, and gives its -wal and -shm files the database file's mode). An existing database, WAL or
    shared-memory file that every user may read loses those rights, with a warning: it holds post texts."""
    try:
        descriptor = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if database.is_dir():  # never touch the rights of a folder named by mistake
            raise StoreError(
                f"{database} is a folder, not a SQLite database file. Choose another --db sqlite:////path/queue.db."
            ) from None
        if not _is_sqlite_file(database):  # nor those of a file that is not a database
            raise StoreError(
                f"{database} is not a SQLite database file (it does not start with the SQLite header). Choose "
                "another --db sqlite:////path/queue.db."
            ) from None
    except OSError as exc:
        raise StoreError(
            f"Cannot create the SQLite database {database} ({exc.strerror}). Choose another "
            "--db sqlite:////path/queue.db."
        ) from None
    else:
        os.close(descriptor)
        return
    for path in (database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o007:
                os.chmod(path, mode & ~0o007)
                logger.warning(
                    "%s was open to every user (mode %03o) and holds post texts; it is now %03o",
                    path,
                    mode,
                    mode & ~0o007,
                )
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("%s is open to every user and its mode cannot be changed (%s)", path, exc.strerror)


def _is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is empty (SQLite makes it a database) or starts with SQLite's 16-byte header."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return True  # unreadable: let SQLite report it
    return head in (b"", b"SQLite format 3\x00")


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine_or_url: Engine | str) -> str:
    """Bring the database to the latest schema revision (``alembic upgrade head``); returns the revision."""
    from alembic import command

    engine = _create_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    revision = current_revision(engine)
    logger.info("database schema at revision %s", revision)
    if isinstance(engine_or_url, str):
        engine.dispose()
    return revision or ""


def head_revision() -> str:
    """The latest schema revision shipped with this version of sosrisk."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Raise :class:`StoreError` unless the database is at the latest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        found = "is empty" if current is None else f"is at revision {current}"
        raise StoreError(
            f"The database {engine.url.render_as_string(hide_password=True)} {found}; this sosrisk "
            f"needs revision {head}. Run 'sosrisk serve --migrate' (or start without --no-migrate)."
        )


MIN_FREE_BYTES = 16 * 2**20


def database_problem(engine: Engine) -> str | None:
    """Why the database cannot take writes now, or ``None``: it is probed with a committed write (a no-op
    update of Alembic's version row), and a SQLite file's disk must have at least 16 MiB free (a full disk
    does not always fail a small write at once, but it fails the next post)."""
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
    except sa.exc.SQLAlchemyError as exc:
        return f"a test write failed ({describe_database_error(exc)})"
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        folder = Path(database).expanduser().resolve().parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            return f"the free space of {folder} cannot be read ({exc.strerror})"
        if free < MIN_FREE_BYTES:
            return (
                f"the disk holding the SQLite file has {free / 2**20:.1f} MiB free, less than the "
                f"{MIN_FREE_BYTES // 2**20} MiB it needs"
            )
    return None


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One committed-or-rolled-back transaction."""
    with engine.begin() as connection:
        yield connection


# ---------------------------------------------------------------------------------------------- queueing
def to_json(value: Any) -> str:
    """Compact JSON text for the JSON-shaped columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_event(
    connection: Connection,
    actor: str,
    event: str,
    *,
    post_id: int | None = None,
    detail: dict[str, Any] | None = None,
    at: _dt.datetime | None = None,
) -> None:
    """Append one row to the audit trail (never with post text in ``detail``)."""
    connection.execute(
        audit_events.insert().values(
            at=at or utcnow(), actor=actor, event=event, post_id=post_id, detail=to_json(detail or {})
        )
    )


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_item(index: int, item: QueueItem) -> None:
    where = f"item {index} (id {item.external_id!r})"
    if not isinstance(item.external_id, str) or not item.external_id.strip():
        raise StoreError(f"item {index}: expected a non-empty str external_id. Got {item.external_id!r}.")
    for name in ("external_id", "text", "source", "author"):
        value = getattr(item, name)
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise StoreError(
                f"{f'item {index}' if name == 'external_id' else where}: the {name} holds {problem}, which the "
                "review queue cannot store. Remove or replace it; nothing of this batch was queued."
            )
    if len(item.external_id) > MAX_EXTERNAL_ID_CHARS:
        raise StoreError(f"{where}: the id has {len(item.external_id)} characters; at most 200 are allowed.")
    if not isinstance(item.text, str) or not item.text.strip():
        raise StoreError(f"{where}: expected a non-empty text.")
    if item.source is not None and len(item.source) > MAX_SOURCE_CHARS:
        raise StoreError(f"{where}: the source has {len(item.source)} characters; at most 100 are allowed.")
    if item.author is not None and len(item.author) > MAX_AUTHOR_CHARS:
        raise StoreError(f"{where}: the author has {len(item.author)} characters; at most 200 are allowed.")
    result = item.assessment
    if result.risk_level is None and result.high_risk_probability is None:
        raise StoreError(f"{where}: the assessment has neither a risk level nor a high-risk probability.")
    if result.in_scope is False:
        raise StoreError(
            f"{where}: the post is out of scope (scope_reason {result.scope_reason!r}), and a post out of scope "
            "is never queued. Leave it out of the batch; nothing of this batch was queued."
        )
    if result.scope_reason is not None and result.scope_reason not in QUEUED_SCOPE_REASONS:
        raise StoreError(
            f"{where}: expected a scope_reason among {', '.join(QUEUED_SCOPE_REASONS)} for a queued post. "
            f"Got {result.scope_reason!r} instead."
        )


def _row(item: QueueItem, received_at: _dt.datetime, index: int) -> dict[str, Any]:
    result = item.assessment
    posted_at = (
        parse_time(item.posted_at, what=f"item {index} (id {item.external_id!r}): posted_at")
        if item.posted_at
        else None
    )
    return {
        "source": item.source or "",
        "external_id": item.external_id,
        "text": item.text,
        "text_sha256": _text_sha256(item.text),
        "author": item.author,
        "posted_at": posted_at,
        "received_at": received_at,
        "risk_level": result.risk_level,
        "tier": result.tier,
        "level_probabilities": (
            to_json(result.level_probabilities) if result.level_probabilities is not None else None
        ),
        "expected_level": result.expected_level,
        "high_risk": result.high_risk,
        "high_risk_probability": result.high_risk_probability,
        "explanations": to_json(item.explanations) if item.explanations is not None else None,
        "model_info": to_json(item.model_info),
        "in_scope": result.in_scope,
        "scope_probability": result.scope_probability,
        "scope_reason": result.scope_reason,
        "rule_hits": to_json(result.rule_hits) if result.rule_hits is not None else None,
        # a safety-net rule raises a post: the level already is at least its floor, and without a level model
        # (binary only) the floor still puts the post ahead of those no rule fired on
        "urgency_level": max(
            result.risk_level if result.risk_level is not None else -1,
            max((int(hit["floor"]) for hit in result.rule_hits or []), default=-1),
        ),
        "urgency_probability": (result.high_risk_probability if result.high_risk_probability is not None else -1.0),
        "sort_time": posted_at or received_at,
        "status": "pending",
    }


def _insert_new(connection: Connection, row: dict[str, Any]) -> int | None:
    """Insert ``row`` unless its (source, external_id) is taken; the new id, or ``None``."""
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        statement = (
            insert(posts)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
            .returning(posts.c.id)
        )
        return connection.execute(statement).scalar_one_or_none()
    try:  # other databases: a savepoint per row
        with connection.begin_nested():
            inserted = connection.execute(posts.insert().values(**row)).inserted_primary_key
            return int(inserted[0]) if inserted else None
    except sa.exc.IntegrityError:
        return None


def enqueue(connection: Connection, items: Sequence[QueueItem], *, actor: str) -> list[Enqueued]:
    """Queue ``items`` inside the caller's transaction; one :class:`Enqueued` per item, in order.

    Raises :class:`QueueConflict` (the caller's transaction must then be rolled back) when an id is
    already queued under the same source with another text.
    """
    for index, item in enumerate(items):
        _check_item(index, item)
    received_at = utcnow()
    rows = [_row(item, received_at, index) for index, item in enumerate(items)]
    results: list[Enqueued] = []
    conflicts: list[tuple[str | None, str]] = []
    if connection.dialect.name == "postgresql":
        _lock_keys(connection, rows)
    for item, row in zip(items, rows, strict=True):
        post_id = _insert_new(connection, row)
        if post_id is not None:
            results.append(Enqueued(post_id, item.source, item.external_id, True))
            record_event(
                connection,
                actor,
                "post.queued",
                post_id=post_id,
                at=received_at,
                detail={
                    "source": item.source,
                    "external_id": item.external_id,
                    "risk_level": item.assessment.risk_level,
                    "high_risk_probability": item.assessment.high_risk_probability,
                    "scope_reason": item.assessment.scope_reason,
                },
            )
            continue
        existing = connection.execute(
            sa.select(posts.c.id, posts.c.text_sha256).where(
                posts.c.source == row["source"], posts.c.external_id == row["external_id"]
            )
        ).one()
        if existing.text_sha256 != row["text_sha256"]:
            conflicts.append((item.source, item.external_id))
        results.append(Enqueued(int(existing.id), item.source, item.external_id, False))
    if conflicts:
        raise QueueConflict(conflicts)
    return results


def _lock_keys(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: take a transaction-scoped advisory lock on every ``(source, external_id)`` of ``rows``,
    in one global order, before inserting any. Two transactions queueing overlapping posts in different
    orders would otherwise each wait for a row the other inserted first: a deadlock. The posts still go
    in in the batch's order (their ids follow it); a hash collision only makes two batches wait."""
    keys = sorted(
        {
            int.from_bytes(
                hashlib.blake2b(f"{row['source']}\x1f{row['external_id']}".encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for row in rows
        }
    )
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS bigint[])) AS key"), {"keys": keys}
    )


def enqueue_assessments(db_url: str, items: Sequence[QueueItem], *, actor: str = "batch") -> int:
    """Queue assessed posts for review in the database at ``db_url``; returns how many were newly queued.

    Idempotent on ``(source, external_id)``: items already queued (by an earlier call, or earlier in
    ``items``) are skipped. The whole call is one transaction, committed before it returns; on a
    :class:`QueueConflict` or any other error nothing of it is stored. A database error becomes a
    :class:`StoreError` (:class:`DatabaseUnavailable` when retrying later may work) that never quotes a
    post. The schema is created or upgraded on first use.
    """
    if not items:
        return 0
    engine = get_engine(db_url)
    try:
        with transaction(engine) as connection:
            results = enqueue(connection, items, actor=actor)
    except sa.exc.SQLAlchemyError as exc:
        # the driver's error may quote the rows (post texts, authors): only a safe description goes on
        raise database_error(exc) from None
    newly = sum(result.newly_queued for result in results)
    logger.info("queued %d new posts (%d already queued)", newly, len(results) - newly)
    return newly
