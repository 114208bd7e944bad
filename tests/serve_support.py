"""Shared fixtures of the service tests: tiny real models trained on posts we wrote, a real server, and a
fresh review-queue database on SQLite or PostgreSQL.

PostgreSQL: the tests run against the server at ``SOSRISK_TEST_POSTGRES_URL`` (a role that may create
databases, e.g. ``postgresql+psycopg://sosrisk_test:sosrisk_test@127.0.0.1:5432/postgres``; ``.ci/run`` starts
Debian's PostgreSQL and sets it). Every test gets a database of its own, dropped afterwards. Without the
variable the PostgreSQL runs skip with the reason; with ``SOSRISK_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

# Three short posts per level, written for these tests (not SOS-1K), and a high-risk flag of our own.
POSTS_BY_LEVEL: dict[int, list[str]] = {
    0: ["今天加班到很晚，好累，只想睡觉。", "考试没考好，心情很差。", "和朋友吵架了，好烦。"],
    1: ["有时候觉得活着也没什么意思。", "每天都一样，不知道为了什么。", "偶尔会怀疑人生的意义。"],
    2: ["活着真的好累，每天都觉得是负担。", "生活没有意义，一直都很痛苦。", "感觉自己活着就是拖累别人。"],
    3: ["死亡好像也没什么可怕的。", "痛苦到极点，常常想到死亡这件事。", "死了是不是就解脱了。"],
    4: ["我想死。", "真的不想活了，好想结束这一切。", "好想就这样消失，不想再活下去。"],
    5: ["每天都在想死，这个念头越来越强烈。", "我一定要死，只是还没想好怎么做。", "想死的念头一直挥之不去。"],
    6: ["我在计划自杀，正在做准备。", "已经开始安排后事，准备离开这个世界。", "我打算自杀，正在想具体的计划。"],
    7: ["我已经买好了安眠药。", "决定从楼上跳下去，就是还没定时间。", "刀片已经准备好了，割腕应该不会太疼。"],
    8: ["考完试以后我就去死。", "这个月底就结束自己的生命。", "过完生日那天就吃药走了。"],
    9: [
        "明天就是最后一天了，谢谢大家，再见。",
        "药已经准备好了，今晚就走，爸妈对不起。",
        "这是我的遗言，这两天就会跳下去。",
    ],
    10: ["我已经吞了一整瓶药，现在好困。", "我现在站在楼顶，马上就跳。", "血一直在流，我已经割了手腕。"],
}
TEXTS = [text for level in sorted(POSTS_BY_LEVEL) for text in POSTS_BY_LEVEL[level]]
LEVELS = [level for level in sorted(POSTS_BY_LEVEL) for _ in POSTS_BY_LEVEL[level]]
HIGH_RISK = [int(level >= 5) for level in LEVELS]
PASSWORD = "correct horse battery"


def train_models(folder: Path, *, scope: bool = True) -> tuple[Path, Path]:
    """Train and save a char-linear level model and binary model; returns their directories.

    With ``scope`` (the default, as ``sosrisk train`` does) each gets a real scope stage, trained on these posts
    and the everyday sentences of ``scope_support.ORDINARY_POSTS`` (a second of work, nothing downloaded);
    ``scope=False`` trains them as ``sosrisk train --no-scope`` does.
    """
    import numpy as np

    from sosrisk.models.char_linear import CharLinearModel

    level_dir, binary_dir = folder / "level", folder / "binary"
    folder.mkdir(parents=True, exist_ok=True)
    for task, labels, directory in (("level", LEVELS, level_dir), ("binary", HIGH_RISK, binary_dir)):
        model = CharLinearModel(task=task, cv_folds=3)
        if scope:
            from scope_support import tiny_scope_settings
            from sosrisk.training import fit_with_scope

            fit_with_scope(model, TEXTS, np.asarray(labels), tiny_scope_settings(folder))
        else:
            model.fit(TEXTS, labels)
        model.save(directory)
    return level_dir, binary_dir


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread, configured as ``sosrisk serve`` runs
    it; yields its base URL."""
    import uvicorn

    from sosrisk.serve.server import server_config

    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 20 s")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ----------------------------------------------------------------------------------------- databases
DIALECTS = ("sqlite", "postgresql")
POSTGRES_ENV = "SOSRISK_TEST_POSTGRES_URL"
REQUIRE_POSTGRES = os.environ.get("SOSRISK_REQUIRE_POSTGRES") == "1"


def _postgres_unusable(reason: str) -> None:
    """Skip (or, with SOSRISK_REQUIRE_POSTGRES=1, fail) a PostgreSQL run for ``reason``."""
    if REQUIRE_POSTGRES:
        pytest.fail(f"SOSRISK_REQUIRE_POSTGRES=1 but {reason}.")
    pytest.skip(reason)


def postgres_admin_url() -> Any:
    """The URL of the test PostgreSQL server (a role that may create databases), or a skip / failure."""
    import sqlalchemy as sa

    raw = os.environ.get(POSTGRES_ENV, "").strip()
    if not raw:
        _postgres_unusable(
            f"PostgreSQL is not configured: set {POSTGRES_ENV}=postgresql+psycopg://USER:PASSWORD@HOST:PORT/postgres "
            "(a role with CREATEDB; .ci/run starts Debian's PostgreSQL and sets it)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _postgres_unusable('the PostgreSQL driver is not installed (pip install -e ".[serve]")')
    return sa.engine.make_url(raw)


@contextmanager
def database_url(dialect: str, folder: Path) -> Iterator[str]:
    """A fresh, empty review-queue database: a SQLite file in ``folder``, or a new PostgreSQL database that
    is dropped (with every connection to it) afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'queue.db'}"
        return
    import sqlalchemy as sa

    admin_url = postgres_admin_url()
    name = f"sosrisk_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _postgres_unusable(f"the PostgreSQL server at {admin_url.render_as_string()} cannot be used ({exc.orig})")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        from sosrisk.serve.store import dispose_engines

        dispose_engines()
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin: Any, name: str, attempts: int = 20) -> None:
    """Drop database ``name`` with every connection to it. An autovacuum worker (the server's own role, which
    a test role may not terminate) can be connected to a fresh database for a moment: the drop is then
    refused with InsufficientPrivilege, and tried again for up to about 10 s before the error is raised."""
    import sqlalchemy as sa

    for attempt in range(attempts):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except sa.exc.ProgrammingError as exc:
            if "InsufficientPrivilege" not in type(exc.orig).__name__ or attempt == attempts - 1:
                raise
            time.sleep(0.5)


def query(url: str, statement: Any, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``statement`` (SQL text or a SQLAlchemy select) read through a connection of its own."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if isinstance(statement, str):
                statement = sa.text(statement)
            return [tuple(row) for row in connection.execute(statement, params)]
    finally:
        engine.dispose()


def install_trap(url: str) -> None:
    """Make the database itself refuse every post queued with source 'trap' (after the schema exists): a
    real database error on an insert whose values hold the post (PostgreSQL even quotes the row in its
    message: "Failing row contains (...)")."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql(
                    "CREATE TRIGGER trap BEFORE INSERT ON posts WHEN NEW.source = 'trap' "
                    "BEGIN SELECT RAISE(ABORT, 'trapped'); END"
                )
            else:
                connection.exec_driver_sql("ALTER TABLE posts ADD CONSTRAINT trap CHECK (source <> 'trap')")
    finally:
        engine.dispose()


@contextmanager
def captured_logs(*levels: tuple[str, int]) -> Iterator[list[str]]:
    """Every log record of the process as it would be written (message and traceback), from the root
    logger and uvicorn's own (which do not propagate); ``levels`` lowers named loggers' levels meanwhile."""
    import logging

    records: list[str] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(formatter.format(record))

    handler = Collect(logging.DEBUG)
    targets = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.access", "sosrisk")]
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name, _ in levels]
    for name, level in levels:
        logging.getLogger(name).setLevel(level)
    for target in targets:
        target.addHandler(handler)
    try:
        yield records
    finally:
        for target in targets:
            target.removeHandler(handler)
        for logger, level in saved:
            logger.setLevel(level)


class TcpRelay:
    """A TCP relay on 127.0.0.1 in front of a server: stopping it is the server going down for its clients
    (connections cut, new ones refused); starting it again on the same port is the server coming back."""

    def __init__(self, host: str, port: int) -> None:
        import socket

        self.target = (host, port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._sockets: list[Any] = []
        self._listener: Any = None
        self._lock = threading.Lock()

    def start(self) -> TcpRelay:
        import socket

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        import socket

        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            listener.close()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: Any) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.close()


@contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of ``megabytes`` mounted on ``folder`` (needs root and mount rights; skips otherwise):
    a real disk that can be filled."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a small real disk needs root to mount a tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Fill the file system of ``folder`` with one file until not one more byte fits; returns the file."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while os.write(descriptor, b"\0" * size) == size:
                    pass
            except OSError:
                pass
    finally:
        os.close(descriptor)
    return filler
