"""The real server: uvicorn on 127.0.0.1 (a free port), real HTTP clients, concurrent writers; on a SQLite file
and, where one is configured, a PostgreSQL database (see serve_support)."""

from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='the service needs pip install "sosrisk[serve]"')
pytest.importorskip("uvicorn", reason='the service needs pip install "sosrisk[serve]"')
pytest.importorskip("httpx", reason="the reviewers' clients need httpx")

import httpx

from serve_support import DIALECTS, PASSWORD, database_url, query, running_server, train_models
from sosrisk.serve.accounts import create_token
from sosrisk.serve.app import create_app
from sosrisk.serve.settings import ServeSettings
from sosrisk.serve.store import dispose_engines


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module", params=DIALECTS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, models: tuple[Path, Path]
) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("server")
    with database_url(request.param, folder) as db_url:
        settings = ServeSettings(
            level_model=models[0], binary_model=models[1], db_url=db_url, max_body_bytes=20_000, max_pending=64
        )
        app = create_app(settings)
        token = create_token(app.state.sosrisk.engine, "loader")
        with running_server(app) as base_url:
            yield {"url": base_url, "token": token, "db_url": db_url}
        dispose_engines()


def request(server: dict[str, Any], method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    parsed = urllib.parse.urlparse(server["url"])
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    all_headers = {"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json", **headers}
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        connection.request(
            method, path, body=body, headers=all_headers, encode_chunked=not isinstance(body, bytes | None)
        )
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def test_health_over_real_http(server: dict[str, Any]) -> None:
    status, body = request(server, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok"


def test_concurrent_clients_store_every_post_exactly_once(server: dict[str, Any]) -> None:
    errors: list[str] = []
    statuses: list[str] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for batch in range(4):
            # neighbouring workers overlap by half their ids, as retries and duplicate feeds do
            start = worker * 20 + batch * 10
            posts = [
                {"id": f"p{n}", "text": f"第{n}条：我想结束这一切。", "source": "load"}
                for n in range(start, start + 10)
            ]
            status, body = request(server, "POST", "/v1/assess", {"posts": posts, "queue": True})
            with lock:
                if status != 200:
                    errors.append(f"{status}: {body}")
                else:
                    statuses.extend(r["queue"]["status"] for r in body["results"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (stored,) = query(server["db_url"], "SELECT count(*), count(DISTINCT external_id) FROM posts WHERE source = 'load'")
    distinct_ids = 7 * 20 + 40  # ids p0 .. p179
    assert stored == (distinct_ids, distinct_ids)
    assert statuses.count("queued") == distinct_ids
    assert statuses.count("already_queued") == len(statuses) - distinct_ids


def test_oversize_bodies_are_refused_by_length_and_while_streaming(server: dict[str, Any]) -> None:
    big = {"posts": [{"id": "big", "text": "好" * 8000, "source": "oversize"}], "queue": True}
    status, body = request(server, "POST", "/v1/assess", big)
    assert status == 413
    assert body == {
        "detail": "The request body is larger than the limit of 20000 bytes. Send fewer or shorter posts per request."
    }
    encoded = json.dumps(big, ensure_ascii=False).encode("utf-8")
    chunks = iter([encoded[i : i + 4096] for i in range(0, len(encoded), 4096)])  # no Content-Length
    status, body = request(server, "POST", "/v1/assess", chunks)
    assert status == 413
    assert body == {
        "detail": "The request body is larger than the limit of 20000 bytes. Send fewer or shorter posts per request."
    }
    assert query(server["db_url"], "SELECT count(*) FROM posts WHERE source = 'oversize'") == [(0,)]


def test_malformed_json_and_missing_token_over_real_http(server: dict[str, Any]) -> None:
    status, body = request(server, "POST", "/v1/assess", b"{not json")
    assert status == 400
    assert body["detail"].startswith("The request body is not valid JSON (")
    status, body = request(server, "POST", "/v1/assess", {"posts": []}, Authorization="")
    assert status == 401


def test_no_post_text_reaches_the_logs(
    server: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    monkeypatch.setattr(logging.getLogger("sosrisk"), "propagate", True)  # the CLI tests may have set it off
    secret = "我不想活了，这是只给审核员看的秘密"  # in scope: queued
    ordinary = "只给审核员看的秘密内容"  # out of scope: not queued
    with caplog.at_level(logging.DEBUG, logger="sosrisk"):
        posts = [{"id": "s1", "text": secret}, {"id": "s3", "text": ordinary}]
        status, body = request(server, "POST", "/v1/assess", {"posts": posts, "queue": True})
        request(server, "POST", "/v1/assess", {"posts": [{"id": "s2", "text": secret, "bad": 1}]})
    assert status == 200
    assert [r["queue"]["status"] for r in body["results"]] == ["queued", "not_queued_out_of_scope"]
    assert caplog.records, "the service logs something for each request"
    assert all(secret not in record.getMessage() and ordinary not in record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------------------- two instances, one database
def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _serve_processes(
    count: int, models: tuple[Path, Path], db_url: str, folder: Path, *options: str
) -> Iterator[list[str]]:
    """``count`` processes of ``sosrisk serve`` on one database (as separate machines would run them),
    started together; yields their base URLs."""
    ports = [_free_port() for _ in range(count)]
    logs = [(folder / f"serve-{port}.log").open("wb") for port in ports]
    processes = []
    for port, log in zip(ports, logs, strict=True):
        command = [sys.executable, "-m", "sosrisk", "serve", "--level", str(models[0]), "--binary", str(models[1])]
        command += ["--db", db_url, "--port", str(port), "--no-migrate", "--insecure-cookies", "--max-pending", "64"]
        command += options
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, port, process in zip(urls, ports, processes, strict=True):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"sosrisk serve exited with {process.returncode}: {_read(folder, port)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sosrisk serve did not answer within 60 s: {_read(folder, port)}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def _read(folder: Path, port: int) -> str:
    return (folder / f"serve-{port}.log").read_text(encoding="utf-8", errors="replace")[-2000:]


def _reviewer_session(url: str, username: str) -> tuple[httpx.Client, str]:
    """A logged-in reviewer's client and the CSRF token of their forms."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
    if response.status_code != 303 or response.headers["location"] != "/queue":
        client.close()
        raise AssertionError(f"login as {username}: {response.status_code} {response.headers.get('location')}")
    page = client.get("/queue").text
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_two_instances_share_one_database(dialect: str, models: tuple[Path, Path], tmp_path: Path) -> None:
    """Two service processes on one database: concurrent clients (retries, duplicate feeds, batches in any
    order) store every post once; concurrent reviewers on both never hold or decide the same post."""
    from sosrisk.serve.accounts import add_user
    from sosrisk.serve.store import get_engine

    with database_url(dialect, tmp_path) as db_url:
        engine = get_engine(db_url)  # the schema, once, as 'sosrisk serve --migrate' would
        token = create_token(engine, "feed")
        reviewers = ["li", "wang", "zhao", "qian"]
        for name in reviewers:
            add_user(engine, name, PASSWORD)
        with _serve_processes(2, models, db_url, tmp_path) as instances:
            errors: list[str] = []
            statuses: list[str] = []
            lock = threading.Lock()

            def client(worker: int) -> None:
                rng = random.Random(worker)
                with httpx.Client(timeout=60) as http:
                    for batch in range(3):
                        # neighbours overlap by half their ids; each batch in its own order, to both instances
                        start = worker * 8 + batch * 4
                        posts = [
                            {"id": f"p{n}", "text": f"第{n}条：药已经买好了，今晚就走。", "source": "two"}
                            for n in range(start, start + 8)
                        ]
                        rng.shuffle(posts)
                        response = http.post(
                            f"{instances[(worker + batch) % 2]}/v1/assess",
                            json={"posts": posts, "queue": True, "explain": False},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        with lock:
                            if response.status_code != 200:
                                errors.append(f"{response.status_code}: {response.text}")
                            else:
                                statuses.extend(r["queue"]["status"] for r in response.json()["results"])

            threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            distinct = len({n for k in range(6) for b in range(3) for n in range(k * 8 + b * 4, k * 8 + b * 4 + 8)})
            assert query(db_url, "SELECT count(*), count(DISTINCT external_id) FROM posts") == [(distinct, distinct)]
            assert statuses.count("queued") == distinct
            assert len(statuses) == 6 * 3 * 8

            claimed: dict[str, list[int]] = {name: [] for name in reviewers}
            refused: list[str] = []

            def review(index: int) -> None:
                name = reviewers[index]
                try:
                    work_through_the_queue(name, *_reviewer_session(instances[index % 2], name))
                except Exception as exc:  # reported by the assertion below, not lost in the thread
                    with lock:
                        refused.append(f"{name}: {exc!r}")

            def work_through_the_queue(name: str, client: httpx.Client, csrf: str) -> None:
                try:
                    response = client.post("/queue/next", data={"csrf": csrf})
                    while True:
                        location = response.headers.get("location", "")
                        found = re.match(r"/posts/(\d+)\?", location)
                        if response.status_code != 303 or found is None:
                            if not location.startswith("/queue?") or "msg=empty" not in location:
                                with lock:
                                    refused.append(f"{name}: {response.status_code} {location}")
                            return
                        post_id = int(found.group(1))
                        claimed[name].append(post_id)
                        # deciding releases the post and claims the next one (its address is the redirect)
                        response = client.post(
                            f"/posts/{post_id}/decision",
                            data={"csrf": csrf, "level": "8", "action": "contacted", "note": name},
                        )
                finally:
                    client.close()

            threads = [threading.Thread(target=review, args=(k,)) for k in range(len(reviewers))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert refused == []
        every_claim = [post_id for ids in claimed.values() for post_id in ids]
        assert len(every_claim) == len(set(every_claim)) == distinct, "a post was handed to two reviewers"
        assert sum(1 for ids in claimed.values() if ids) >= 2, "the reviewers did not work at the same time"
        decided = query(db_url, "SELECT post_id, count(*), min(reviewer) FROM decisions GROUP BY post_id")
        assert len(decided) == distinct and all(count == 1 for _, count, _ in decided)
        owner = {post_id: name for name, ids in claimed.items() for post_id in ids}
        assert all(owner[post_id] == reviewer for post_id, _, reviewer in decided)
        assert query(db_url, "SELECT count(*) FROM posts WHERE status <> 'reviewed' OR assigned_to IS NOT NULL") == [
            (0,)
        ]


def test_a_database_error_never_reaches_the_logs_with_the_post(server: dict[str, Any]) -> None:
    """uvicorn and Starlette log an unhandled exception whole; a database error's message can quote the
    row. The service answers 500 and logs only a description, on a real server at the default levels."""
    from serve_support import captured_logs, install_trap

    install_trap(server["db_url"])
    secret = "我不想活了，这是只给审核员看的秘密"  # in scope: it reaches the database
    with captured_logs() as logs:
        post = {"id": "t1", "text": secret, "author": "秘密作者", "source": "trap"}
        status, body = request(server, "POST", "/v1/assess", {"posts": [post], "queue": True})
    assert status == 500
    assert body == {
        "detail": "Internal error: the review-queue database refused the operation. It was logged for the "
        "service's administrator (without post text)."
    }
    assert any("database error in POST /v1/assess: IntegrityError" in record for record in logs)
    assert all(secret not in record and "秘密作者" not in record for record in logs)
    assert query(server["db_url"], "SELECT count(*) FROM posts WHERE source = 'trap'") == [(0,)]


# ---------------------------------------------------------------------------------- idle and slow clients
@pytest.mark.slow
def test_idle_connections_neither_block_health_nor_stay_open(models: tuple[Path, Path], tmp_path: Path) -> None:
    """300 connections that send nothing (more than uvicorn's old limit of 256) and one that sends its head
    a line at a time: /healthz still answers, and the server closes them all after the header timeout."""
    import socket

    from sosrisk.serve.store import get_engine

    with database_url("sqlite", tmp_path) as db_url:
        get_engine(db_url)
        with _serve_processes(1, models, db_url, tmp_path, "--header-timeout", "2") as (url,):
            port = int(url.rsplit(":", 1)[1])
            opened = time.monotonic()
            idle = [socket.create_connection(("127.0.0.1", port), timeout=15) for _ in range(300)]
            slow = socket.create_connection(("127.0.0.1", port), timeout=15)
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            try:
                health = httpx.get(f"{url}/healthz", timeout=10)
                assert health.status_code == 200, health.text
                assert time.monotonic() - opened < 2, "the idle connections were closed before /healthz was asked"
                for connection in idle:
                    assert connection.recv(1024) == b""  # closed by the server, without a word: it sent nothing
                answer = b""
                while chunk := slow.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
                assert answer.endswith(b'{"detail": "The request head did not arrive within 2 s. Send it again."}')
                closed_after = time.monotonic() - opened
                assert 1.5 < closed_after < 12, closed_after
                # and the server takes new clients as before
                assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
            finally:
                for connection in [*idle, slow]:
                    connection.close()


def test_connections_over_the_limit_are_refused_with_retry_after(models: tuple[Path, Path], tmp_path: Path) -> None:
    import socket

    settings = ServeSettings(
        level_model=models[0], binary_model=models[1], db_url=f"sqlite:///{tmp_path / 'queue.db'}", max_connections=5
    )
    app = create_app(settings)
    with running_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(5)]
        try:
            time.sleep(0.2)  # the server has seen them
            extra = socket.create_connection(("127.0.0.1", port), timeout=10)
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while chunk := extra.recv(4096):
                answer += chunk
            extra.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b"\r\n")[0] == b"HTTP/1.1 503 Service Unavailable"
            assert b"retry-after: 2" in head.split(b"\r\n")
            assert json.loads(body) == {"detail": "The service has 5 open connections, its limit. Retry after 2 s."}
        finally:
            for connection in held:
                connection.close()
        time.sleep(0.2)
        assert request({"url": url, "token": ""}, "GET", "/healthz")[0] == 200
    dispose_engines()


def test_behind_a_local_proxy_the_login_limits_count_the_forwarded_client(server: dict[str, Any]) -> None:
    """A reverse proxy on the same machine (127.0.0.1, trusted by default) names the client in
    X-Forwarded-For; failed logins are counted for that client, not for the proxy."""
    with httpx.Client(base_url=server["url"], follow_redirects=False, timeout=30) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/login",
            data={"username": "proxied", "password": "wrong password!", "csrf": csrf},
            # the login cookie is Secure (HTTPS, as behind the proxy): sent by hand over this plain connection
            headers={"X-Forwarded-For": "203.0.113.77", "Cookie": f"sosrisk_login_csrf={csrf}"},
        )
    assert response.status_code == 303
    assert query(server["db_url"], "SELECT detail FROM audit_events WHERE actor = 'login:proxied'") == [
        ('{"client":"203.0.113.77"}',)
    ]
