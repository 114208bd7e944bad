"""The real server: uvicorn on 127.0.0.1 (a free port), real HTTP clients, concurrent writers."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='the service needs pip install "sosrisk[serve]"')
pytest.importorskip("uvicorn", reason='the service needs pip install "sosrisk[serve]"')

from serve_support import running_server, train_models
from sosrisk.serve.accounts import create_token
from sosrisk.serve.app import create_app
from sosrisk.serve.settings import ServeSettings
from sosrisk.serve.store import dispose_engines


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("server")
    level, binary = train_models(folder / "models")
    db = folder / "queue.db"
    settings = ServeSettings(
        level_model=level, binary_model=binary, db_url=f"sqlite:///{db}", max_body_bytes=20_000, max_pending=64
    )
    app = create_app(settings)
    token = create_token(app.state.sosrisk.engine, "loader")
    with running_server(app) as base_url:
        yield {"url": base_url, "token": token, "db": db}
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
    with sqlite3.connect(server["db"]) as connection:
        stored = connection.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM posts WHERE source = 'load'"
        ).fetchone()
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
    with sqlite3.connect(server["db"]) as connection:
        assert connection.execute("SELECT count(*) FROM posts WHERE source = 'oversize'").fetchone() == (0,)


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
    secret = "只给审核员看的秘密内容"
    with caplog.at_level(logging.DEBUG, logger="sosrisk"):
        status, _ = request(server, "POST", "/v1/assess", {"posts": [{"id": "s1", "text": secret}], "queue": True})
        request(server, "POST", "/v1/assess", {"posts": [{"id": "s2", "text": secret, "bad": 1}]})
    assert status == 200
    assert caplog.records, "the service logs something for each request"
    assert all(secret not in record.getMessage() for record in caplog.records)
