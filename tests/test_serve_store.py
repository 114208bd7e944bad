"""Tests of sosrisk.serve.store: queueing assessed posts into a real database, a SQLite file and a PostgreSQL
database (see serve_support), with no FastAPI needed."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason='the review queue needs pip install "sosrisk[serve]"')
pytest.importorskip("alembic", reason='the review queue needs pip install "sosrisk[serve]"')

import sqlalchemy as sa

from serve_support import query
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

pytestmark = pytest.mark.usefixtures("fresh_engines")  # conftest: dispose of the engines after each test

MODEL_INFO = {"level": {"kind": "char-linear", "data_fingerprint": "sha256:abc"}}


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


# ------------------------------------------------------------------------------------------------- scope
def scoped(external_id: str, text: str, *, reason: str, probability: float, hits: list[dict[str, object]]) -> QueueItem:
    queued = item(external_id, text, level=8)
    queued.assessment.in_scope = reason != "out_of_scope"
    queued.assessment.scope_probability = probability
    queued.assessment.scope_reason = reason
    queued.assessment.rule_hits = hits
    return queued


LAST_POST = {"family": "farewell", "rule": "last_post", "floor": 8, "start": 9, "end": 18}


def test_the_scope_decision_is_stored_with_a_queued_post(db_url: str) -> None:
    import json

    items = [
        scoped("r1", "周末去超市买水果，这是我最后一条微博了", reason="rule", probability=0.103532, hits=[LAST_POST]),
        scoped("g1", "我真的不想活了，好累", reason="in_scope", probability=0.971993, hits=[]),
        item("n1", "没有范围阶段的模型评估的帖子"),  # a model without a scope stage: nothing to store
    ]
    assert enqueue_assessments(db_url, items) == 3
    stored = query(
        db_url, "SELECT external_id, in_scope, scope_probability, scope_reason, rule_hits FROM posts ORDER BY id"
    )
    assert [(e, None if i is None else bool(i), p, r, h) for e, i, p, r, h in stored] == [
        ("r1", True, 0.103532, "rule", json.dumps([LAST_POST], separators=(",", ":"))),
        ("g1", True, 0.971993, "in_scope", "[]"),
        ("n1", None, None, None, None),
    ]
    details = [json.loads(d) for (d,) in query(db_url, "SELECT detail FROM audit_events ORDER BY id")]
    assert [d["scope_reason"] for d in details] == ["rule", "in_scope", None]


def test_a_post_out_of_scope_is_never_queued(db_url: str) -> None:
    out = scoped("o1", "今天的天气真不错，适合出去散步", reason="out_of_scope", probability=0.111632, hits=[])
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(db_url, [item("4", "好的"), out])
    assert str(caught.value) == (
        "item 1 (id 'o1'): the post is out of scope (scope_reason 'out_of_scope'), and a post out of scope is "
        "never queued. Leave it out of the batch; nothing of this batch was queued."
    )
    odd = scoped("o2", "我真的不想活了", reason="maybe", probability=0.5, hits=[])
    with pytest.raises(StoreError) as caught:
        enqueue_assessments(db_url, [odd])
    assert str(caught.value) == (
        "item 0 (id 'o2'): expected a scope_reason among in_scope, recovered, rule for a queued post. "
        "Got 'maybe' instead."
    )
    assert query(db_url, "SELECT count(*) FROM posts") == [(0,)]


def _alembic(url: str, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade REVISION`` on ``url`` with the shipped migrations, on a plain engine."""
    from alembic import command
    from alembic.config import Config

    from sosrisk.serve.store import MIGRATIONS_DIR

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def test_upgrading_from_0001_keeps_every_row_and_leaves_their_scope_unknown(db_url: str) -> None:
    """A queue that is in use at revision 0001 (posts, a reviewer, a decision, the audit trail) upgrades to the
    head with every row intact; its posts have no scope decision (NULL), and new posts store theirs."""
    import datetime as dt

    _alembic(db_url, "upgrade", "0001")
    now = dt.datetime(2026, 11, 30, 12, 0)
    old_post = {
        "id": 1, "source": "weibo", "external_id": "old-1", "text": "我已经买好了药。", "text_sha256": "0" * 64,
        "author": "树洞", "posted_at": now, "received_at": now, "risk_level": 7, "tier": "plan",
        "level_probabilities": "[0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0,0.0,0.0]", "expected_level": 7.0,
        "high_risk": True, "high_risk_probability": 0.9, "explanations": "[]", "model_info": "{}",
        "urgency_level": 7, "urgency_probability": 0.9, "sort_time": now, "status": "reviewed",
        "reviewed_level": 8, "reviewed_high_risk": True, "reviewed_action": "contacted", "reviewed_at": now,
        "reviewed_by": 1, "assigned_to": None, "assigned_until": None,
    }  # fmt: skip
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    old = sa.MetaData()
    old.reflect(engine)
    assert "in_scope" not in old.tables["posts"].c
    with engine.begin() as connection:
        connection.execute(
            old.tables["users"]
            .insert()
            .values(id=1, username="li", display_name="李老师", password_hash="x", created_at=now)
        )
        connection.execute(old.tables["posts"].insert().values(**old_post))
        connection.execute(
            old.tables["decisions"].insert().values(
                id=1, post_id=1, reviewer_id=1, reviewer="li", decided_at=now, level_before=7, level_after=8,
                high_risk_before=True, high_risk_after=True, action="contacted", note="已联系",
            )
        )  # fmt: skip
        connection.execute(
            old.tables["audit_events"]
            .insert()
            .values(id=1, at=now, actor="batch", event="post.queued", post_id=1, detail="{}")
        )
    if engine.dialect.name == "postgresql":  # rows inserted with explicit ids: move the sequences past them
        with engine.begin() as connection:
            for table in ("posts", "audit_events"):
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)")
    engine.dispose()

    assert get_engine(db_url) is not None  # the service's start-up: upgrade to the head
    check_schema(get_engine(db_url))
    assert head_revision() == "0002"
    from sosrisk.serve.schema import posts

    (row,) = query(db_url, sa.select(*(posts.c[name] for name in old_post)))
    assert dict(zip(old_post, row, strict=True)) == old_post
    assert query(db_url, "SELECT in_scope, scope_probability, scope_reason, rule_hits FROM posts") == [
        (None, None, None, None)
    ]
    assert query(db_url, "SELECT post_id, reviewer, level_after, note FROM decisions") == [(1, "li", 8, "已联系")]
    assert query(db_url, "SELECT actor, event, post_id FROM audit_events") == [("batch", "post.queued", 1)]
    new = scoped("new-1", "周末去超市买水果，这是我最后一条微博了", reason="rule", probability=0.1, hits=[LAST_POST])
    assert enqueue_assessments(db_url, [new]) == 1
    assert query(db_url, "SELECT external_id, scope_reason FROM posts ORDER BY id") == [
        ("old-1", None),
        ("new-1", "rule"),
    ]
    # and back: the downgrade drops the four columns and keeps the rows
    dispose_engines()
    _alembic(db_url, "downgrade", "0001")
    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        assert not {"in_scope", "scope_probability", "scope_reason", "rule_hits"} & {
            column["name"] for column in sa.inspect(engine).get_columns("posts")
        }
    finally:
        engine.dispose()
    assert query(db_url, "SELECT external_id FROM posts ORDER BY id") == [("old-1",), ("new-1",)]
    assert query(db_url, "SELECT count(*) FROM decisions") == [(1,)]


def test_score_queue_db_stores_the_scope_of_each_queued_post(db_url: str, tmp_path: Path) -> None:
    """``sosrisk score --queue-db`` with models that have a scope stage: the posts in scope are queued with
    their scope decision and rule hits as the output file has them; a post out of scope is not queued."""
    import json

    from click.testing import CliRunner

    from scope_support import tiny_scoped_model
    from sosrisk.cli import main

    level_dir, binary_dir = tmp_path / "level", tmp_path / "binary"
    tiny_scoped_model("level", tmp_path).save(level_dir)
    tiny_scoped_model("binary", tmp_path).save(binary_dir)
    posts = [
        {"id": "p1", "text": "我现在站在楼顶上，马上就跳"},
        {"id": "p2", "text": "今天的天气真不错，适合出去散步"},
        {"id": "p3", "text": "周末去超市买水果，这是我最后一条微博了"},
    ]
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps(post, ensure_ascii=False) + "\n" for post in posts), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    command = ["score", str(level_dir), str(binary_dir), "-i", str(source), "-o", str(output), "-q"]
    command += ["--queue-db", db_url, "--queue-min-tier", "distress"]
    result = CliRunner().invoke(main, command, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scored = {row["id"]: row for row in map(json.loads, output.read_text(encoding="utf-8").splitlines())}
    assert [scored[p]["scope_reason"] for p in ("p1", "p2", "p3")] == ["in_scope", "out_of_scope", "rule"]
    stored = query(
        db_url, "SELECT external_id, in_scope, scope_probability, scope_reason, rule_hits FROM posts ORDER BY 1"
    )
    assert [(e, bool(i), p, r, json.loads(h)) for e, i, p, r, h in stored] == [
        (p, True, scored[p]["scope_probability"], scored[p]["scope_reason"], json.loads(scored[p]["rule_hits"]))
        for p in ("p1", "p3")
    ]
    assert json.loads(scored["p3"]["rule_hits"]) == [LAST_POST]


def test_a_folder_named_as_the_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    import os
    import stat

    folder = tmp_path / "queue"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    with pytest.raises(StoreError) as caught:
        get_engine(f"sqlite:///{folder}")
    assert str(caught.value) == (
        f"{folder} is a folder, not a SQLite database file. Choose another --db sqlite:////path/queue.db."
    )
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
