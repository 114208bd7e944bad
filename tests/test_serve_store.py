"""Tests of sosrisk.serve.store: queueing assessed posts into a real database, a SQLite file and a PostgreSQL
database (see serve_support), with no FastAPI needed."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason='the review queue needs pip install "sosrisk[serve]"')
pytest.importorskip("alembic", reason='the review queue needs pip install "sosrisk[serve]"')

import sqlalchemy as sa

from serve_support import DIALECTS, database_url, query
from sosrisk.assess import Assessment
from sosrisk.serve.store import (
    QueueConflict,
    QueueItem,
    StoreError,
    check_schema,
    dispose_engines,
    enqueue_assessments,
    get_engine,
    head_revision,
    parse_time,
)

MODEL_INFO = {"level": {"kind": "char-linear", "data_fingerprint": "sha256:abc"}}


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    yield
    dispose_engines()


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh review-queue database of each dialect."""
    with database_url(request.param, tmp_path) as url:
        yield url


def assessment(level: int, p_high: float | None = None) -> Assessment:
    probabilities = [0.0] * 11
    probabilities[level] = 1.0
    return Assessment(
        risk_level=level,
        level_probabilities=probabilities,
        tier="plan" if level in (6, 7) else "distress",
        high_risk=None if p_high is None else p_high >= 0.5,
        high_risk_probability=p_high,
    )


def item(external_id: str, text: str, level: int = 7, source: str | None = "weibo") -> QueueItem:
    return QueueItem(
        external_id=external_id,
        text=text,
        source=source,
        author="树洞用户",
        posted_at="2024-05-01T22:15:00+08:00",
        assessment=assessment(level, 0.9),
        model_info=MODEL_INFO,
    )


def test_enqueue_is_idempotent_on_source_and_id(db_url: str) -> None:
    import datetime as dt

    from sosrisk.serve.schema import posts

    url = db_url
    first = [item("1", "我想结束这一切"), item("2", "今天好累"), item("1", "我想结束这一切")]
    assert enqueue_assessments(url, first) == 2
    # a resumed scan sends the same posts again, plus one new one; the same id without a source is new
    again = [item("2", "今天好累"), item("3", "明天去天台"), item("1", "别的来源", source=None)]
    assert enqueue_assessments(url, again) == 2
    columns = (posts.c.source, posts.c.external_id, posts.c.text, posts.c.posted_at, posts.c.status)
    stored = query(url, sa.select(*columns).order_by(posts.c.id))
    posted = dt.datetime(2024, 5, 1, 14, 15)
    assert stored == [
        ("weibo", "1", "我想结束这一切", posted, "pending"),
        ("weibo", "2", "今天好累", posted, "pending"),
        ("weibo", "3", "明天去天台", posted, "pending"),
        ("", "1", "别的来源", posted, "pending"),
    ]
    events = query(url, "SELECT actor, event, post_id FROM audit_events ORDER BY id")
    # (PostgreSQL's ids may have gaps: an insert skipped on conflict still takes a number)
    assert events == [("batch", "post.queued", i) for (i,) in query(url, "SELECT id FROM posts ORDER BY id")]
    # the audit trail never holds post text
    details = " ".join(detail for (detail,) in query(url, "SELECT detail FROM audit_events"))
    assert "结束" not in details and "天台" not in details


def test_a_conflicting_id_stores_nothing_of_the_batch(db_url: str) -> None:
    url = db_url
    assert enqueue_assessments(url, [item("1", "第一条")]) == 1
    with pytest.raises(QueueConflict) as caught:
        enqueue_assessments(url, [item("9", "新的一条"), item("1", "不同的文字")])
    assert str(caught.value) == (
        "Post ids already queued with a different text: '1' (source 'weibo'). Ids must be unique within "
        "a source; send the post under a new id or another source. Nothing of this batch was queued."
    )
    assert query(url, "SELECT external_id FROM posts") == [("1",)]


def test_bad_items_are_rejected_with_the_item_named(db_url: str) -> None:
    url = db_url
    bad_time = item("5", "文字")
    bad_time.posted_at = "昨天晚上"
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(url, [item("4", "好的"), bad_time])
    assert str(caught.value) == (
        "item 1 (id '5'): posted_at: expected an ISO 8601 date-time like '2024-05-01T22:15:00+08:00'. "
        "Got '昨天晚上' instead."
    )
    # NUL: PostgreSQL refuses it (and an error there used to quote the whole row); refused on every dialect
    nul = item("7", "药已经\u0000买好了")
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(url, [item("4", "好的"), nul])
    assert str(caught.value) == (
        "item 1 (id '7'): the text holds a NUL character (U+0000) at position 3, which the review queue cannot "
        "store. Remove or replace it; nothing of this batch was queued."
    )
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(url, [item("8\u0000", "好的")])
    assert str(caught.value) == (
        "item 0: the external_id holds a NUL character (U+0000) at position 1, which the review queue cannot "
        "store. Remove or replace it; nothing of this batch was queued."
    )
    empty = item("6", "文字")
    empty.assessment = Assessment()
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(url, [empty])
    assert str(caught.value) == (
        "item 0 (id '6'): the assessment has neither a risk level nor a high-risk probability."
    )
    assert query(url, "SELECT count(*) FROM posts") == [(0,)]


def test_concurrent_writers_store_every_post_exactly_once(db_url: str) -> None:
    url = db_url
    get_engine(url)  # create the schema once, as the service does at start-up
    counts: list[int] = []
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            # every writer sends 40 posts, half of them shared with the next writer, in an order of its own
            # (on PostgreSQL, rows inserted in different orders by two transactions could deadlock)
            batch = [item(str(n), f"帖子{n}") for n in range(offset * 20, offset * 20 + 40)]
            random.Random(offset).shuffle(batch)
            for start in range(0, 40, 10):
                counts.append(enqueue_assessments(url, batch[start : start + 10]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(counts) == 140  # ids 0..139
    assert query(url, "SELECT count(*), count(DISTINCT external_id) FROM posts") == [(140, 140)]


def test_a_database_behind_the_schema_is_named_with_the_fix(db_url: str) -> None:
    url = db_url
    if url.startswith("sqlite"):
        sqlite3.connect(url.removeprefix("sqlite:///")).close()
    with pytest.raises(StoreError) as caught:
        get_engine(url, migrate_schema=False)
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    assert str(caught.value) == (
        f"The database {shown} is empty; this sosrisk needs revision "
        f"{head_revision()}. Run 'sosrisk serve --migrate' (or start without --no-migrate)."
    )
    engine = get_engine(url)  # migrates
    check_schema(engine)


def test_parse_time_takes_naive_times_as_utc() -> None:
    assert str(parse_time("2024-05-01T22:15:00+08:00")) == "2024-05-01 14:15:00"
    assert str(parse_time("2024-05-01T22:15:00Z")) == "2024-05-01 22:15:00"
    assert str(parse_time("2024-05-01 22:15")) == "2024-05-01 22:15:00"


def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    old_umask = os.umask(0o022)  # the common default, under which SQLite makes its files 0644
    try:
        url = f"sqlite:///{tmp_path / 'serve' / 'queue.db'}"
        assert enqueue_assessments(url, [item("1", "我想结束这一切")]) == 1
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "serve").iterdir()}
        assert modes == {"queue.db": 0o600, "queue.db-wal": 0o600, "queue.db-shm": 0o600}
        assert stat.S_IMODE((tmp_path / "serve").stat().st_mode) == 0o700
        dispose_engines()
        # a database made world-readable before (by an older version, or by hand) is closed to others
        old = tmp_path / "old.db"
        sqlite3.connect(old).close()
        os.chmod(old, 0o644)
        get_engine(f"sqlite:///{old}")
        assert stat.S_IMODE(old.stat().st_mode) == 0o640
    finally:
        os.umask(old_umask)
