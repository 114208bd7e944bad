"""Tests of ``sosrisk serve --migrate``, ``users``, ``tokens`` and ``queue export`` through click's runner, on a
SQLite file and, where one is configured, a PostgreSQL database (see serve_support)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason='the review queue needs pip install "sosrisk[serve]"')

from click.testing import CliRunner

from serve_support import PASSWORD
from sosrisk.assess import Assessment
from sosrisk.cli import main
from sosrisk.serve.accounts import User, token_name
from sosrisk.serve.review import QueueFilters, decide, list_queue
from sosrisk.serve.store import QueueItem, enqueue_assessments, get_engine, head_revision

pytestmark = pytest.mark.usefixtures("fresh_engines")  # conftest: dispose of the engines after each test


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh review-queue database of each dialect (conftest's ``db_url``), named by ``$SOSRISK_DB_URL``."""
    monkeypatch.setenv("SOSRISK_DB_URL", db_url)
    return db_url


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_migrate_creates_the_schema(db: str) -> None:
    code, output = run("serve", "--migrate")
    assert code == 0, output
    assert output == f"database schema at revision {head_revision()}\n"


def test_serve_needs_a_model(db: str) -> None:
    code, output = run("serve")
    assert code == 1
    assert output == "Error: Expected MODEL_DIR, --level or --binary: the service needs at least one model.\n"


def test_users_add_list_remove(db: str) -> None:
    code, output = run("users", "add", "li", "--name", "李老师", "--password-stdin", input=PASSWORD + "\n")
    assert (code, output) == (0, "added reviewer li (李老师)\n")
    code, output = run("users", "add", "li", "--password-stdin", input=PASSWORD + "\n")
    assert code == 1
    assert output == (
        "Error: A reviewer named 'li' already exists. Remove it first ('sosrisk users remove li') or choose "
        "another name.\n"
    )
    code, output = run("users", "add", "wang", "--password-stdin", input="short\n")
    assert code == 1
    assert output == (
        "Error: A reviewer password needs at least 10 characters. Got 5; choose a longer one (a passphrase of "
        "several words is easiest).\n"
    )
    code, output = run("users", "add", "zhao", "--name", "赵\x00", "--password-stdin", input=PASSWORD + "\n")
    assert (code, output) == (
        1,
        "Error: A display name must be at most 128 characters without control characters. Got '赵\\x00' instead.\n",
    )
    code, output = run("users", "list")
    assert code == 0 and output.startswith("li\t李老师\tcreated ") and output.endswith("\tactive\n")
    assert run("users", "remove", "li") == (0, "removed reviewer li\n")
    code, output = run("users", "remove", "li")
    assert (code, output) == (1, "Error: No active reviewer named 'li'. List them with 'sosrisk users list'.\n")


def test_a_removed_reviewers_name_is_not_silently_reused(db: str) -> None:
    import datetime as dt

    from sosrisk.serve.accounts import authenticate

    assert run("users", "add", "li", "--name", "李老师", "--password-stdin", input=PASSWORD + "\n")[0] == 0
    assert run("users", "remove", "li") == (0, "removed reviewer li\n")
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    code, output = run("users", "add", "li", "--name", "李同学", "--password-stdin", input=PASSWORD + "\n")
    assert (code, output) == (
        1,
        f"Error: A reviewer named 'li' was removed on {today}; names are not reused, so that decisions and the "
        "audit trail keep naming one person. If it is the same person, run 'sosrisk users restore li'; "
        "otherwise choose another name.\n",
    )
    new_password = "a brand new passphrase"
    code, output = run("users", "restore", "li", "--password-stdin", input=new_password + "\n")
    assert (code, output) == (0, "restored reviewer li (李老师)\n")
    engine = get_engine(db)
    assert authenticate(engine, "li", PASSWORD) is None and authenticate(engine, "li", new_password) is not None
    code, output = run("users", "restore", "li", "--password-stdin", input=new_password + "\n")
    assert (code, output) == (
        1,
        "Error: Only a removed reviewer can be restored; 'li' is active. List them with 'sosrisk users list'.\n",
    )
    code, output = run("users", "restore", "wang", "--password-stdin", input=new_password + "\n")
    assert (code, output) == (
        1,
        "Error: Only a removed reviewer can be restored; 'wang' does not exist. List them with 'sosrisk users list'.\n",
    )


def test_tokens_create_list_revoke(db: str) -> None:
    result = CliRunner().invoke(main, ["tokens", "create", "hotline"], catch_exceptions=False)
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("sosrisk_") and len(token) > 40
    assert token_name(get_engine(db), token) == "hotline"
    code, output = run("tokens", "list")
    assert code == 0 and output.startswith(f"hotline\t{token[:12]}…\tcreated ")
    assert token not in output
    assert run("tokens", "revoke", "hotline") == (0, "revoked token hotline\n")
    assert token_name(get_engine(db), token) is None
    assert run("tokens", "revoke", "hotline") == (
        1,
        "Error: No active API token named 'hotline'. List them with 'sosrisk tokens list'.\n",
    )


def test_queue_export_writes_what_training_reads(db: str, tmp_path: Path) -> None:
    from sosrisk.serve.accounts import add_user

    reviewer: User = add_user(get_engine(db), "li", PASSWORD)
    assessment = Assessment(risk_level=7, level_probabilities=[0.0] * 11, tier="plan", high_risk_probability=0.8)
    item = QueueItem("w1", '他说"再见"\t然后\n离开了', "weibo", None, None, assessment, {})
    enqueue_assessments(db, [item, QueueItem("w2", "没审核的", "weibo", None, None, assessment, {})])
    post_id = next(post.id for post in list_queue(get_engine(db), QueueFilters())[0] if post.external_id == "w1")
    decide(get_engine(db), post_id, reviewer, level=8, action="contacted", high_risk=True)
    out = tmp_path / "reviewed.tsv"
    assert run("queue", "export", "--out", str(out)) == (0, f"wrote 1 reviewed posts to {out}\n")
    assert out.read_text(encoding="utf-8") == 'comment\tmyLabel\n"他说""再见""\t然后\n离开了"\t8\n'
    from sosrisk.data import read_posts

    posts = read_posts(out, task="level")
    assert posts.texts == ['他说"再见"\t然后\n离开了'] and posts.labels("level").tolist() == [8]


def test_every_service_command_is_documented() -> None:
    for path in (["serve"], ["users", "add"], ["users", "remove"], ["users", "restore"], ["users", "list"],
                 ["tokens", "create"], ["tokens", "revoke"], ["tokens", "list"], ["queue", "export"]):  # fmt: skip
        code, output = run(*path, "--help")
        assert code == 0 and "Usage:" in output
        command = main
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert command.help, f"sosrisk {' '.join(path)} has no help text"


def test_an_unreachable_database_is_one_clean_line(tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed")
    code, output = run("users", "list", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert code == 1
    assert output.startswith("Error: The review-queue database is unavailable (OperationalError: connection failed")
    assert output.endswith(
        "); nothing was stored. Retry later; if it persists, check that the database server runs and that its "
        "disk is not full.\n"
    )
    assert output.count("\n") == 1
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    code, output = run("users", "list", "--db", f"sqlite:///{tmp_path / 'a-file' / 'queue.db'}")
    assert (code, output) == (
        1,
        f"Error: Cannot create the folder {tmp_path / 'a-file'} of the SQLite database (File exists). Choose "
        "another --db sqlite:////path/queue.db.\n",
    )


# Texts that break a naive TSV: a bare carriage return (written unquoted by Python's csv writer, it split the
# row), CRLF, LF, tab, quotes, separators other readers treat as line breaks, spaces at both ends.
AWKWARD_TEXTS = [
    "我不想\r活了",
    "遗书\r\n写好了",
    "今晚\n就走",
    '他说"再见"\t然后离开了',
    '"',
    "\r好",
    "  前后有空格  ",
    "行\u2028分隔\u2029段落\x0b\x0c\x1c\x1d\x1e\x85结束",
    "comment\tmyLabel",
]


def test_the_review_loop_round_trips_any_text(db: str, tmp_path: Path) -> None:
    from sosrisk.data import read_posts
    from sosrisk.serve.accounts import add_user

    reviewer: User = add_user(get_engine(db), "li", PASSWORD)
    assessment = Assessment(risk_level=7, level_probabilities=[0.0] * 11, tier="plan", high_risk_probability=0.8)
    items = [QueueItem(f"w{n}", text, "weibo", None, None, assessment, {}) for n, text in enumerate(AWKWARD_TEXTS)]
    enqueue_assessments(db, items)
    for post in sorted(list_queue(get_engine(db), QueueFilters())[0], key=lambda post: int(post.external_id[1:])):
        decide(get_engine(db), post.id, reviewer, level=int(post.external_id[1:]) % 11, action="contacted")
    out = tmp_path / "reviewed.tsv"
    assert run("queue", "export", "--out", str(out)) == (0, f"wrote {len(AWKWARD_TEXTS)} reviewed posts to {out}\n")
    posts = read_posts(out, task="level")  # what 'sosrisk train --train' reads
    assert posts.texts == AWKWARD_TEXTS
    assert posts.labels("level").tolist() == [n % 11 for n in range(len(AWKWARD_TEXTS))]
