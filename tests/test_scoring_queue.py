"""Tests of sosrisk.scoring.queue: a scan's urgent posts go to the review queue on SQLite and PostgreSQL
(see serve_support) whatever characters they hold, and a database error never prints a post."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason='the review queue needs pip install "sosrisk[serve]"')
pytest.importorskip("alembic", reason='the review queue needs pip install "sosrisk[serve]"')

from click.testing import CliRunner

from scoring_support import train_tiny_models
from serve_support import captured_logs, install_trap, query
from sosrisk.cli import main
from sosrisk.scoring.queue import enqueue_rows
from sosrisk.scoring.results import LEVEL_PROBABILITY_COLUMNS
from sosrisk.serve.store import StoreError, get_engine

pytestmark = pytest.mark.usefixtures("fresh_engines")  # conftest: dispose of the engines after each test


def scored_row(post_id: str | None, text: str, author: str | None = None, position: int = 1) -> dict[str, Any]:
    """One row as ``sosrisk score`` hands it to the queue: a level-8 post."""
    probabilities = dict.fromkeys(LEVEL_PROBABILITY_COLUMNS, 0.0) | {LEVEL_PROBABILITY_COLUMNS[8]: 1.0}
    return {
        "source": "posts.jsonl",
        "position": position,
        "id": post_id,
        "text": text,
        "author": author,
        "posted_at": None,
        "risk_level": 8,
        "tier": "imminent",
        "expected_level": 8.0,
        **probabilities,
        "high_risk": True,
        "high_risk_probability": 0.9,
    }


def test_characters_no_database_stores_are_replaced_and_the_posts_still_queued(db_url: str) -> None:
    rows = [
        scored_row("n1", "药已经\u0000买好了"),
        scored_row("n\u00002", "今晚就走"),
        scored_row("n3", "再见", author="树洞\u0000"),
        scored_row("n4", "半个\ud83d表情"),
        scored_row("n5", "没有问题的帖子"),
    ]
    with captured_logs(("sosrisk", logging.DEBUG)) as logs:
        assert enqueue_rows(db_url, rows, source="scan", model_info={}) == 5
    stored = query(db_url, "SELECT external_id, text, author FROM posts ORDER BY external_id")
    assert stored == [
        ("n1", "药已经\ufffd买好了", None),
        ("n3", "再见", "树洞\ufffd"),
        ("n4", "半个\ufffd表情", None),
        ("n5", "没有问题的帖子", None),
        ("n\ufffd2", "今晚就走", None),
    ]
    assert any(
        "4 queued posts held NUL characters or unpaired surrogates in their text, id or author, which no database "
        "stores as text; they were queued with U+FFFD in their place" in record
        for record in logs
    )
    # a rerun (a resumed scan) queues nothing twice
    assert enqueue_rows(db_url, rows, source="scan", model_info={}) == 0


def test_a_database_error_names_the_failure_but_never_the_post(db_url: str) -> None:
    get_engine(db_url)  # the schema
    install_trap(db_url)
    secret = "只给审核员看的秘密内容"
    with pytest.raises(StoreError) as caught:
        enqueue_rows(db_url, [scored_row("t1", secret, author="秘密作者")], source="trap", model_info={})
    described = "IntegrityError (SQLITE_CONSTRAINT_TRIGGER)" if db_url.startswith("sqlite") else (
        "IntegrityError (CheckViolation 23514)"
    )  # fmt: skip
    assert str(caught.value) == (
        f"The review-queue database refused the operation ({described}); nothing was stored. This points to a "
        "damaged database or a bug; the values involved are never shown."
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_score_with_a_nul_post_and_a_refusing_queue_prints_no_post(db_url: str, tmp_path: Path) -> None:
    level, binary = train_tiny_models(tmp_path / "models")
    secret = "药已经买好了，今晚就走，这是秘密"
    posts = [
        {"id": "p1", "text": secret + "\u0000", "author": "秘密作者"},
        {"id": "p2", "text": "我现在站在楼顶上，马上就跳"},
    ]
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps(post) + "\n" for post in posts), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    command = ["score", str(level), str(binary), "-i", str(source), "-o", str(output), "--queue-db", db_url, "-q"]
    command += ["--queue-min-tier", "distress"]
    result = CliRunner().invoke(main, command, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    queued = query(db_url, "SELECT external_id, text FROM posts ORDER BY external_id")
    rejects = (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8")
    # the NUL post is queued with U+FFFD in its place, or refused by the reader as a reject
    assert queued in ([("p1", secret + "\ufffd"), ("p2", posts[1]["text"])], [("p2", posts[1]["text"])])
    assert len(queued) == 2 or '"p1"' in rejects
    # a queue that refuses the posts stops the run with a message that names no post
    install_trap(db_url)
    result = CliRunner().invoke(main, [*command, "--queue-source", "trap", "--overwrite"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: Appending chunk 0's ")
    assert "The review-queue database refused the operation (IntegrityError (" in result.output
    assert secret not in result.output and "秘密作者" not in result.output
