"""Tests of the JSON API through the app's test client, on a real database (a SQLite file, and a PostgreSQL
database where one is configured: see serve_support) and tiny real models."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='the service needs pip install "sosrisk[serve]"')
pytest.importorskip("httpx", reason="the test client needs httpx")

import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve_support import database_url, query, train_models
from sosrisk.serve.accounts import create_token, revoke_token
from sosrisk.serve.app import create_app
from sosrisk.serve.explain import occlusion_phrases, occlusion_windows
from sosrisk.serve.settings import ServeSettings, SettingsError

pytestmark = pytest.mark.usefixtures("fresh_engines")  # conftest: dispose of the engines after each test


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_models(tmp_path_factory.mktemp("models"))


class Service:
    """A test client of a fresh app on its own database, with one API token."""

    def __init__(self, models: tuple[Path, Path], db_url: str, **settings: Any) -> None:
        self.db_url = db_url
        self.settings = ServeSettings(level_model=models[0], binary_model=models[1], db_url=db_url, **settings)
        self.app = create_app(self.settings)
        self.state = self.app.state.sosrisk
        self.token = create_token(self.state.engine, "hotline")
        self.client = TestClient(self.app, base_url="https://testserver")
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def assess(self, body: Any, **kwargs: Any) -> Any:
        return self.client.post("/v1/assess", json=body, headers=self.headers, **kwargs)

    def rows(self, sql: str) -> list[tuple]:
        return query(self.db_url, sql)


@pytest.fixture
def service(models: tuple[Path, Path], db_url: str) -> Iterator[Service]:
    svc = Service(models, db_url)
    with svc.client:
        yield svc


POSTS = [
    {"id": "a1", "text": "今天加班到很晚，好累。", "source": "weibo", "time": "2024-05-01T08:00:00+08:00"},
    {
        "id": "a2",
        "text": "我已经买好了安眠药，今晚就走。",
        "source": "weibo",
        "author": "树洞",
        "time": "2024-05-01T09:00:00+08:00",
    },
    {"id": "a3", "text": "我现在站在楼顶，马上就跳。", "source": "douban"},
]


def test_healthz_needs_no_token(service: Service) -> None:
    response = service.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "0.1.0", "models": ["binary", "level"]}


def test_assess_answers_every_field_and_queues_once(service: Service) -> None:
    response = service.assess({"posts": POSTS, "queue": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["a1", "a2", "a3"]
    first = body["results"][1]
    assert set(first) == {
        "id", "source", "risk_level", "level_name", "definition_en", "definition_zh", "tier", "tier_name",
        "tier_name_zh", "level_probabilities", "expected_level", "high_risk", "high_risk_probability",
        "in_scope", "scope_probability", "scope_reason", "rule_hits", "explanations", "queue",
    }  # fmt: skip
    assert len(first["level_probabilities"]) == 11
    assert abs(sum(first["level_probabilities"]) - 1) < 1e-4
    assert first["risk_level"] >= 6 and first["high_risk"] is True
    assert [e["model"] for e in first["explanations"]] == ["level", "binary"]
    assert {e["method"] for e in first["explanations"]} == {"exact"}
    for explanation in first["explanations"]:
        assert explanation["phrases"], "the phrases that raised the assessment"
        for phrase in explanation["phrases"]:
            assert POSTS[1]["text"][phrase["start"] : phrase["end"]] == phrase["text"]
            assert phrase["weight"] > 0
    assert [r["queue"]["status"] for r in body["results"]] == ["queued"] * 3
    assert set(body["models"]) == {"level", "binary"}
    # sent again (a client retrying after a lost answer): nothing is queued twice
    again = service.assess({"posts": POSTS, "queue": True}).json()
    assert [r["queue"] for r in again["results"]] == [
        {"post_id": r["queue"]["post_id"], "status": "already_queued"} for r in body["results"]
    ]
    from sosrisk.serve.schema import posts

    stored = sa.select(posts.c.external_id, posts.c.source, posts.c.author, posts.c.posted_at)
    assert query(service.db_url, stored.order_by(posts.c.external_id)) == [
        ("a1", "weibo", None, dt.datetime(2024, 5, 1, 0, 0)),
        ("a2", "weibo", "树洞", dt.datetime(2024, 5, 1, 1, 0)),
        ("a3", "douban", None, None),
    ]
    assert service.rows("SELECT DISTINCT actor, event FROM audit_events WHERE event = 'post.queued'") == [
        ("token:hotline", "post.queued")
    ]


def test_assess_without_queue_stores_nothing(service: Service) -> None:
    response = service.assess({"posts": POSTS[:1], "explain": False})
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["explanations"] == [] and result["queue"] is None
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


def test_tokens_are_required_checked_and_revocable(service: Service) -> None:
    missing = service.client.post("/v1/assess", json={"posts": POSTS})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {
        "detail": "Missing API token. Send 'Authorization: Bearer <token>'; create a token with "
        "'sosrisk tokens create NAME'."
    }
    wrong = service.client.post("/v1/assess", json={"posts": POSTS}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid or revoked API token. Ask the service's administrator for a new one."}
    assert service.client.get("/v1/model", headers=service.headers).status_code == 200
    revoke_token(service.state.engine, "hotline")
    assert service.assess({"posts": POSTS}).status_code == 401
    # only the token's hash is stored
    assert service.token not in str(service.rows("SELECT * FROM api_tokens"))


def test_model_card_has_metrics_and_limits(service: Service) -> None:
    card = service.client.get("/v1/model", headers=service.headers).json()
    assert card["sosrisk_version"] == "0.1.0"
    assert card["limits"] == {"max_body_bytes": 1048576, "max_posts": 100, "max_chars": 5000, "request_timeout_s": 30.0}
    level = card["models"]["level"]
    assert level["kind"] == "char-linear" and level["task"] == "level" and level["explanation"] == "exact"
    assert "cv_metrics" in level and "files" not in level


def test_malformed_json_is_a_400(service: Service) -> None:
    response = service.client.post(
        "/v1/assess", content=b'{"posts": [', headers={**service.headers, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body is not valid JSON (Expecting value). Send a JSON object like "
        '{"posts": [{"id": "1", "text": "..."}], "queue": true}.'
    }


def test_invalid_fields_are_named_and_never_echoed(service: Service) -> None:
    invisible = " \u200b\u2060 "  # shows nothing: blank
    response = service.assess(
        {"posts": [{"id": "1", "text": "秘密的话", "colour": "red"}, {"id": "2", "text": invisible}], "queue": True}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Invalid request: posts[0].colour: Extra inputs are not permitted; posts[1].text: Value error, "
        "the text is blank; send the post's words.",
        "errors": [
            {"loc": "posts[0].colour", "message": "Extra inputs are not permitted"},
            {"loc": "posts[1].text", "message": "Value error, the text is blank; send the post's words"},
        ],
    }
    assert "秘密" not in response.text
    bad_time = service.assess({"posts": [{"id": "1", "text": "好累", "time": "昨晚"}]})
    assert bad_time.json()["detail"] == (
        "Invalid request: posts[0].time: Value error, time: expected an ISO 8601 date-time like "
        "'2024-05-01T22:15:00+08:00'. Got '昨晚' instead.."
    )
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


def test_limits_refuse_whole_requests_and_store_nothing(models: tuple[Path, Path], db_url: str) -> None:
    svc = Service(models, db_url, max_posts=3, max_chars=20, max_body_bytes=2000)
    with svc.client:
        too_many = svc.assess({"posts": [{"id": str(i), "text": "好累"} for i in range(4)], "queue": True})
        assert too_many.status_code == 413
        assert too_many.json() == {
            "detail": "Too many posts in one request: got 4, the limit is 3. Split the batch into requests of "
            "at most 3 posts."
        }
        too_long = svc.assess({"posts": [{"id": "ok", "text": "好累"}, {"id": "x", "text": "长" * 21}], "queue": True})
        assert too_long.status_code == 422
        assert too_long.json() == {
            "detail": "posts[1] (id 'x'): the text has 21 characters; the limit is 20. Shorten the post or split it."
        }
        twice = svc.assess({"posts": [{"id": "1", "text": "好累"}, {"id": "1", "text": "好累"}], "queue": True})
        assert twice.json() == {
            "detail": "posts[1]: the id '1' (source None) appears twice in this request; ids must be unique "
            "within a source."
        }
        oversize = svc.assess({"posts": [{"id": "1", "text": "好" * 1000}], "queue": True})
        assert oversize.status_code == 413
        assert oversize.json() == {
            "detail": "The request body is larger than the limit of 2000 bytes. Send fewer or shorter posts per "
            "request."
        }
        assert svc.rows("SELECT count(*) FROM posts") == [(0,)]


def test_a_conflicting_id_is_a_409_and_nothing_of_the_batch_is_stored(service: Service) -> None:
    assert service.assess({"posts": POSTS[:1], "queue": True}).status_code == 200
    clash = {"id": "a1", "text": "我真的不想活了，好累", "source": "weibo"}  # in scope, so it is queued
    response = service.assess({"posts": [POSTS[2], clash], "queue": True})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Post ids already queued with a different text: 'a1' (source 'weibo'). Ids must be unique "
        "within a source; send the post under a new id or another source. Nothing of this batch was queued."
    }
    assert service.rows("SELECT external_id FROM posts") == [("a1",)]


def _occupy(service: Service, release: threading.Event) -> threading.Thread:
    """Hold one slot of the service's work pool until ``release`` is set."""
    thread = threading.Thread(
        target=asyncio.run, args=(service.state.pool.run(release.wait, 30, timeout_s=60),), daemon=True
    )
    thread.start()
    while service.state.pool.pending == 0:
        threading.Event().wait(0.01)
    return thread


def test_a_full_work_pool_answers_503_with_retry_after(models: tuple[Path, Path], db_url: str) -> None:
    svc = Service(models, db_url, workers=1, max_pending=1, retry_after_s=7)
    release = threading.Event()
    with svc.client:
        holder = _occupy(svc, release)
        response = svc.assess({"posts": POSTS, "queue": True})
        release.set()
        holder.join()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.json() == {"detail": "The service is busy (1 requests in progress). Retry after 7 s."}
        assert svc.rows("SELECT count(*) FROM posts") == [(0,)]
        assert svc.assess({"posts": POSTS, "queue": True}).status_code == 200


def test_a_batch_past_the_timeout_is_a_503_and_stores_nothing(models: tuple[Path, Path], db_url: str) -> None:
    svc = Service(models, db_url, workers=1, max_pending=2, request_timeout_s=0.3)
    release = threading.Event()
    with svc.client:
        holder = _occupy(svc, release)  # the only worker is busy: the request waits past its time
        response = svc.assess({"posts": POSTS, "queue": True})
        release.set()
        holder.join()
        assert response.status_code == 503
        assert response.json() == {
            "detail": "Assessing 3 posts took longer than 0.3 s; nothing was stored. Send smaller batches or retry "
            "later."
        }
        assert svc.rows("SELECT count(*) FROM posts") == [(0,)]


def test_cors_is_off_unless_configured(models: tuple[Path, Path], tmp_path: Path) -> None:
    preflight = {"Origin": "https://team.example.org", "Access-Control-Request-Method": "POST"}
    off = Service(models, f"sqlite:///{tmp_path / 'off.db'}")
    with off.client:
        response = off.client.options("/v1/assess", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    on = Service(models, f"sqlite:///{tmp_path / 'on.db'}", cors_origins=("https://team.example.org",))
    with on.client:
        response = on.client.options("/v1/assess", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://team.example.org"


def test_openapi_and_local_docs(service: Service) -> None:
    schema = service.client.get("/openapi.json").json()
    assert {"/v1/assess", "/v1/model", "/healthz"} <= set(schema["paths"])
    assert "AssessRequest" in schema["components"]["schemas"]
    docs = service.client.get("/docs")
    assert docs.status_code == 200 and "POST /v1/assess" in docs.text
    assert "cdn" not in docs.text.lower()


def test_settings_are_validated() -> None:
    with pytest.raises(SettingsError) as caught:
        ServeSettings(level_model=Path("m"), max_posts=0)
    assert str(caught.value) == "The 'max_posts' setting must be an int >= 1. Got 0 instead."
    with pytest.raises(SettingsError) as caught:
        ServeSettings()
    assert str(caught.value) == (
        "Expected a level model, a binary model or both. Got neither; train one with "
        "'sosrisk train --task level --out DIR' and pass DIR."
    )
    with pytest.raises(SettingsError) as caught:
        ServeSettings(level_model=Path("m"), cors_origins=("team.example.org",))
    assert (
        str(caught.value) == "A CORS origin must look like 'https://team.example.org'. Got 'team.example.org' instead."
    )


class KeywordModel:
    """A tiny model of another kind: high risk when the text mentions 药; used to test occlusion."""

    kind = "keyword-test"
    classes_ = (0, 1)

    def predict_details(self, texts: list[str], *, batch_size: int = 256, apply_scope: bool = True) -> Any:
        import types

        import numpy as np

        proba = np.array([[0.1, 0.9] if "药" in text else [0.8, 0.2] for text in texts])
        return types.SimpleNamespace(labels=proba.argmax(axis=1), proba=proba)


def test_occlusion_finds_the_phrase_that_raises_the_score() -> None:
    assert occlusion_windows("一二三四五六七八九", max_windows=24) == [(0, 4), (4, 8), (8, 9)]
    text = "今天很累。我买了药，今晚就走。"
    # windows of 4 characters: 今天很累 / 。我买了 / 药，今晚 / 就走。; only removing the third lowers the score
    (phrases,) = occlusion_phrases(KeywordModel(), [text], [1], 5)  # type: ignore[arg-type]
    assert [(p.text, p.start, p.end, p.weight) for p in phrases] == [("药，今晚", 8, 12, 0.7)]


def test_unstorable_characters_are_refused_naming_the_post(service: Service) -> None:
    nul = "a NUL character (U+0000) at position"
    cases = [
        ({"id": "n1", "text": "药已经\u0000买好了"}, f"the text of post 'n1' holds {nul} 3"),
        ({"id": "n\u00002", "text": "好累"}, f"the id of this post holds {nul} 1"),
        ({"id": "n3", "text": "好累", "author": "树洞\u0000"}, f"the author of post 'n3' holds {nul} 2"),
        ({"id": "n4", "text": "好累", "source": "\u0000"}, f"the source of post 'n4' holds {nul} 0"),
    ]
    for post, problem in cases:
        response = service.assess({"posts": [POSTS[0], post], "queue": True})
        assert response.status_code == 422
        assert response.json()["detail"] == (
            f"Invalid request: posts[1]: Value error, {problem}, which cannot be stored; remove it and send the "
            "post again."
        )
        assert "买好" not in response.text and "树洞" not in response.text
    # an unpaired surrogate cannot be encoded at all (JSON allows the escape): pydantic refuses it
    body = b'{"queue": true, "posts": [{"id": "s1", "text": "\\u836f\\ud83d\\u4e70"}]}'
    response = service.client.post(
        "/v1/assess", content=body, headers={**service.headers, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Invalid request: posts[0].text: Input should be a valid string, unable to parse raw data as a unicode string."
    )
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


def test_a_database_error_is_a_500_that_never_shows_or_logs_the_post(service: Service) -> None:
    from serve_support import captured_logs, install_trap

    install_trap(service.db_url)
    secret = "我不想活了，这是只给审核员看的秘密"  # in scope: it reaches the database
    with captured_logs(("sosrisk", logging.DEBUG)) as logs:
        post = {"id": "t1", "text": secret, "source": "trap", "author": "秘密作者"}
        response = service.assess({"posts": [post], "queue": True})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal error: the review-queue database refused the operation. It was logged for the "
        "service's administrator (without post text)."
    }
    assert any("database error in POST /v1/assess: IntegrityError" in record for record in logs)
    assert all(secret not in record and "秘密作者" not in record for record in logs)
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


class ExplodingModel:
    """A model that fails with the post's text in its message, as a buggy model might."""

    kind = "exploding-test"
    task = "level"
    classes_ = tuple(range(11))
    scope_ = None

    def predict_details(self, texts: list[str], **_: Any) -> Any:
        raise ValueError(f"cannot handle {texts[0]!r}")


def test_an_unexpected_error_is_a_500_and_its_message_is_never_logged(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    from serve_support import captured_logs

    svc = Service(models, f"sqlite:///{tmp_path / 'queue.db'}")
    svc.state.models.level = ExplodingModel()
    secret = "只给审核员看的秘密内容"
    with svc.client, captured_logs(("sosrisk", logging.DEBUG)) as logs:
        response = svc.assess({"posts": [{"id": "x1", "text": secret}], "queue": True})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal error; it was logged for the service's administrator (without post text)."
    }
    assert any("unexpected ValueError in POST /v1/assess (messages not logged" in record for record in logs)
    assert all(secret not in record for record in logs)
    assert svc.rows("SELECT count(*) FROM posts") == [(0,)]


# ------------------------------------------------------------------------------- an unavailable database
def test_sqlite_on_a_full_disk_answers_503_with_retry_after_and_health_says_so(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    from serve_support import captured_logs, fill_disk, small_disk

    with small_disk(tmp_path / "disk", 40) as disk:
        svc = Service(models, f"sqlite:///{disk / 'queue.db'}", retry_after_s=5, health_interval_s=0)
        with svc.client:
            assert svc.client.get("/healthz").status_code == 200
            assert svc.assess({"posts": POSTS[:1], "queue": True}).status_code == 200
            filler = fill_disk(disk)
            response = svc.assess({"posts": POSTS[1:], "queue": True})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "5"
            assert response.json() == {
                "detail": "The review-queue database is unavailable; the request was not completed. Retry after 5 s."
            }
            with captured_logs() as logs:
                health = svc.client.get("/healthz")
            assert health.status_code == 503 and health.headers["retry-after"] == "5"
            assert health.json() == {
                "status": "unavailable",
                "version": "0.1.0",
                "models": ["binary", "level"],
                "detail": "The review-queue database cannot take writes now (the reason is in the service's log). "
                "Retry after 5 s.",
            }
            assert any(
                "health check: the database cannot take writes: a test write failed (OperationalError "
                "(SQLITE_FULL): database or disk is full)" in record
                for record in logs
            )
            filler.unlink()
            assert svc.client.get("/healthz").status_code == 200
            assert svc.assess({"posts": POSTS[1:], "queue": True}).status_code == 200
        assert svc.rows("SELECT external_id FROM posts ORDER BY external_id") == [("a1",), ("a2",), ("a3",)]


def test_postgresql_going_down_answers_503_with_retry_after_and_health_says_so(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    from serve_support import TcpRelay, captured_logs

    with database_url("postgresql", tmp_path) as direct_url:
        url = sa.engine.make_url(direct_url)
        relay = TcpRelay(url.host or "127.0.0.1", url.port or 5432).start()
        try:
            through = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
            svc = Service(models, through, retry_after_s=3, health_interval_s=0)
            with svc.client:
                assert svc.client.get("/healthz").status_code == 200
                relay.stop()  # the server is gone: open connections cut, new ones refused
                response = svc.assess({"posts": POSTS, "queue": True})
                assert response.status_code == 503
                assert response.headers["retry-after"] == "3"
                assert response.json() == {
                    "detail": "The review-queue database is unavailable; the request was not completed. Retry "
                    "after 3 s."
                }
                with captured_logs() as logs:
                    health = svc.client.get("/healthz")
                assert health.status_code == 503 and health.headers["retry-after"] == "3"
                assert health.json()["detail"] == (
                    "The review-queue database cannot take writes now (the reason is in the service's log). "
                    "Retry after 3 s."
                )
                assert any(
                    "health check: the database cannot take writes: a test write failed (OperationalError" in record
                    for record in logs
                )
                # the pages answer the same, as a page
                form = svc.client.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
                page = svc.client.post("/login", data={"username": "li", "password": "whatever it is", "csrf": csrf})
                assert page.status_code == 503 and page.headers["retry-after"] == "3"
                assert page.headers["content-type"].startswith("text/html")
                assert "The review-queue database is unavailable; the request was not completed." in page.text
                relay.start()  # back
                assert svc.client.get("/healthz").status_code == 200
                assert svc.assess({"posts": POSTS, "queue": True}).status_code == 200
        finally:
            relay.stop()
        assert query(direct_url, "SELECT count(*) FROM posts") == [(3,)]


def test_booleans_and_strings_are_strict(service: Service) -> None:
    for body, problem in (
        ({"posts": POSTS[:1], "queue": "yes"}, "queue: Input should be a valid boolean"),
        ({"posts": POSTS[:1], "explain": 0}, "explain: Input should be a valid boolean"),
        ({"posts": [{"id": 7, "text": "好累"}]}, "posts[0].id: Input should be a valid string"),
    ):
        response = service.assess(body)
        assert response.status_code == 422
        assert response.json()["detail"] == f"Invalid request: {problem}."
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


# ----------------------------------------------------------------------------------------------- scope
ORDINARY = {"id": "o1", "text": "今天的天气真不错，适合出去散步", "source": "weibo"}
RULE_ONLY = {"id": "r1", "text": "周末去超市买水果，这是我最后一条微博了", "source": "weibo"}
LAST_POST_HIT = {
    "family": "farewell",
    "rule": "last_post",
    "floor": 8,
    "start": 9,
    "end": 18,
    "text": "这是我最后一条微博",
    "description": "says this is the writer's last post or letter",
}


def test_posts_out_of_scope_are_answered_but_never_queued(service: Service) -> None:
    import json

    threshold = service.state.models.level.scope_.threshold
    response = service.assess({"posts": [ORDINARY, RULE_ONLY, POSTS[2]], "queue": True})
    assert response.status_code == 200, response.text
    ordinary, rule_only, imminent = response.json()["results"]
    # out of scope: level 0, low risk, the reason recorded, no explanation (no model ran), never queued
    assert ordinary["in_scope"] is False and ordinary["scope_reason"] == "out_of_scope"
    assert 0 <= ordinary["scope_probability"] < threshold
    assert (ordinary["risk_level"], ordinary["high_risk"], ordinary["rule_hits"]) == (0, False, [])
    assert ordinary["level_probabilities"][0] == 1.0
    assert ordinary["explanations"] == []
    assert ordinary["queue"] == {"post_id": None, "status": "not_queued_out_of_scope"}
    # the gate alone would leave it out; a safety-net rule brings it in, raises it and says where it matched
    assert rule_only["in_scope"] is True and rule_only["scope_reason"] == "rule"
    assert rule_only["scope_probability"] < threshold
    assert rule_only["rule_hits"] == [LAST_POST_HIT]
    assert RULE_ONLY["text"][9:18] == LAST_POST_HIT["text"]
    assert rule_only["risk_level"] >= 8 and rule_only["high_risk"] is True
    assert [e["model"] for e in rule_only["explanations"]] == ["level", "binary"]
    assert rule_only["queue"]["status"] == "queued"
    assert imminent["in_scope"] is True and imminent["scope_reason"] == "in_scope"
    assert imminent["scope_probability"] >= threshold
    assert [hit["family"] for hit in imminent["rule_hits"]] == ["attempt"]
    assert imminent["queue"]["status"] == "queued"
    stored = service.rows(
        "SELECT external_id, in_scope, scope_probability, scope_reason, rule_hits FROM posts ORDER BY id"
    )
    assert [(e, bool(i), p, r, json.loads(h)) for e, i, p, r, h in stored] == [
        (
            r["id"],
            True,
            r["scope_probability"],
            r["scope_reason"],
            [{k: v for k, v in hit.items() if k not in ("text", "description")} for hit in r["rule_hits"]],
        )
        for r in (rule_only, imminent)
    ]
    # sent again: still not queued; the others were queued before
    again = service.assess({"posts": [ORDINARY, RULE_ONLY, POSTS[2]], "queue": True}).json()["results"]
    assert [r["queue"]["status"] for r in again] == ["not_queued_out_of_scope", "already_queued", "already_queued"]
    # a batch of posts all out of scope stores nothing, and an id already queued is not checked against it
    clash = {**ORDINARY, "id": RULE_ONLY["id"]}
    only_ordinary = service.assess({"posts": [clash], "queue": True})
    assert only_ordinary.status_code == 200
    assert only_ordinary.json()["results"][0]["queue"] == {"post_id": None, "status": "not_queued_out_of_scope"}
    assert service.rows("SELECT count(*) FROM posts") == [(2,)]
    assert service.rows("SELECT count(*) FROM audit_events WHERE event = 'post.queued'") == [(2,)]


def test_without_explanations_or_queue_the_scope_is_still_answered(service: Service) -> None:
    response = service.assess({"posts": [ORDINARY, RULE_ONLY], "explain": False})
    assert response.status_code == 200
    ordinary, rule_only = response.json()["results"]
    assert (ordinary["scope_reason"], ordinary["queue"], ordinary["explanations"]) == ("out_of_scope", None, [])
    assert (rule_only["scope_reason"], rule_only["rule_hits"], rule_only["explanations"]) == (
        "rule",
        [LAST_POST_HIT],
        [],
    )
    assert service.rows("SELECT count(*) FROM posts") == [(0,)]


def test_models_without_a_scope_stage_answer_no_scope_and_queue_every_post(tmp_path: Path) -> None:
    unscoped = train_models(tmp_path / "unscoped", scope=False)
    svc = Service(unscoped, f"sqlite:///{tmp_path / 'queue.db'}")
    with svc.client:
        response = svc.assess({"posts": [ORDINARY, RULE_ONLY], "queue": True})
        card = svc.client.get("/v1/model", headers=svc.headers).json()
    assert response.status_code == 200
    for result in response.json()["results"]:
        assert [result[k] for k in ("in_scope", "scope_probability", "scope_reason", "rule_hits")] == [None] * 4
        assert result["queue"]["status"] == "queued"
    assert svc.rows("SELECT in_scope, scope_probability, scope_reason, rule_hits FROM posts") == [(None,) * 4] * 2
    assert card["scope"] == {"decided_by": None, "rules_version": None, "rules": []}
    assert card["models"]["level"]["scope"] is None and card["models"]["binary"]["scope"] is None


def test_model_card_describes_each_scope_stage_and_the_rules(service: Service, models: tuple[Path, Path]) -> None:
    import json

    from sosrisk.scope.rules import RULE_SET, RULES_VERSION

    card = service.client.get("/v1/model", headers=service.headers).json()
    for task, directory in zip(("level", "binary"), models, strict=True):
        written = json.loads((directory / "config.json").read_text(encoding="utf-8"))["scope"]
        assert written is not None and written["rules_version"] == RULES_VERSION
        assert card["models"][task]["scope"] == written
        assert card["models"][task]["scope"] == service.state.models.models()[task].scope_.describe()
    assert card["scope"] == {
        "decided_by": "level",
        "rules_version": RULES_VERSION,
        "rules": [
            {"family": rule.family, "rule": rule.name, "floor": rule.floor, "description": rule.description}
            for rule in RULE_SET
        ],
    }
    # every queued post records each model's scope threshold and rules version
    info = service.state.model_info
    assert info["level"]["scope"] == {
        "threshold": round(service.state.models.level.scope_.threshold, 6),
        "rules_version": RULES_VERSION,
    }


def test_openapi_documents_the_scope_fields(service: Service) -> None:
    schemas = service.client.get("/openapi.json").json()["components"]["schemas"]
    result = schemas["ResultOut"]["properties"]
    for name in ("in_scope", "scope_probability", "scope_reason", "rule_hits"):
        assert result[name]["description"], name
    assert {"in_scope", "scope_probability", "scope_reason", "rule_hits"} <= set(schemas["ResultOut"]["required"])
    reasons = next(option for option in result["scope_reason"]["anyOf"] if option.get("type") == "string")
    assert reasons["enum"] == ["in_scope", "recovered", "rule", "someone_else", "out_of_scope", "blank"]
    assert set(schemas["RuleHitOut"]["properties"]) == {
        "family",
        "rule",
        "floor",
        "start",
        "end",
        "text",
        "description",
    }
    assert schemas["QueueOut"]["properties"]["status"]["enum"] == [
        "queued",
        "already_queued",
        "not_queued_out_of_scope",
    ]


def test_occlusion_explains_the_risk_model_without_gating_the_variants(models: tuple[Path, Path]) -> None:
    """Occlusion removes windows of a post in scope; a variant the scope gate would put out of scope must show
    the model's own probability, not a drop to level 0 (which would make the removed window look decisive)."""
    from sosrisk.assess import assess
    from sosrisk.models import load_model

    level = load_model(models[0])
    text = RULE_ONLY["text"]
    (assessed,) = assess([text], level_model=level)
    label = int(assessed.risk_level)  # type: ignore[arg-type]
    windows = occlusion_windows(text, 24)
    variants = [text] + [text[:start] + text[end:] for start, end in windows]
    # the premise: some variants are out of scope (the rule's phrase is cut), so gating them would matter
    assert not level.scope_.decide(variants).in_scope.all()
    (phrases,) = occlusion_phrases(level, [text], [label], 8)
    own = level.predict_details(variants, apply_scope=False).proba[:, label]
    expected = sorted((round(float(own[0] - o), 6) for o in own[1:] if own[0] > o), reverse=True)
    assert [p.weight for p in phrases] == expected
    gated = level.predict_details(variants).proba[:, label]
    assert expected != sorted((round(float(gated[0] - g), 6) for g in gated[1:] if gated[0] > g), reverse=True)
