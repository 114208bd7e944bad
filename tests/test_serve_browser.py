"""The triage page in headless Chromium (Debian's chromium driven by Playwright): log in, work through the
queue with the keyboard, and check the database afterwards. A screenshot goes to test-artifacts/.

Skips when Playwright or chromium is missing, unless SOSRISK_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='the service needs pip install "sosrisk[serve]"')

from serve_support import PASSWORD, running_server, train_models
from sosrisk.serve.accounts import add_user, create_token
from sosrisk.serve.app import create_app
from sosrisk.serve.settings import ServeSettings
from sosrisk.serve.store import dispose_engines

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
REQUIRED = os.environ.get("SOSRISK_REQUIRE_BROWSER") == "1"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    """The chromium executable, or a skip (a failure when the browser test is required)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed (pip install playwright; never 'playwright install')"
    executable = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if problem is None and executable is None:
        problem = "Debian's chromium is not installed (apt-get install -y chromium)"
    if problem is not None:
        if REQUIRED:
            pytest.fail(f"SOSRISK_REQUIRE_BROWSER=1 but {problem}.")
        pytest.skip(problem)
    assert executable is not None
    return executable


POSTS = [
    {"id": "b1", "text": "今天加班到很晚，好累，只想睡觉。", "source": "weibo", "time": "2024-05-01T08:00:00+08:00"},
    {"id": "b2", "text": "我已经吞了一整瓶药，现在好困。", "source": "weibo", "time": "2024-05-01T09:00:00+08:00"},
    {
        "id": "b3",
        "text": "我已经买好了安眠药，考完试以后就走。",
        "source": "douban",
        "time": "2024-05-01T10:00:00+08:00",
    },
    # out of scope: answered, never queued
    {"id": "b4", "text": "周末和朋友去看了一场电影", "source": "weibo", "time": "2024-05-01T11:00:00+08:00"},
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    level, binary = train_models(tmp_path / "models")
    db = tmp_path / "queue.db"
    app = create_app(ServeSettings(level_model=level, binary_model=binary, db_url=f"sqlite:///{db}"))
    engine = app.state.sosrisk.engine
    add_user(engine, "li", PASSWORD, display_name="李老师")
    token = create_token(engine, "feed")
    with running_server(app) as url:
        body = json.dumps({"posts": POSTS, "queue": True}, ensure_ascii=False).encode("utf-8")
        sent = urllib.request.Request(
            f"{url}/v1/assess",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(sent, timeout=30) as response:
            assessed = json.load(response)
        yield {"url": url, "db": db, "assessed": assessed}
    dispose_engines()


def test_a_reviewer_works_through_the_queue_in_chromium(site: dict[str, Any]) -> None:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    results = {r["id"]: r for r in site["assessed"]["results"]}
    assert results["b4"]["queue"]["status"] == "not_queued_out_of_scope"
    queued = [p for p in POSTS if results[p["id"]]["in_scope"]]
    assert [p["id"] for p in queued] == ["b1", "b2", "b3"]
    levels = {r["id"]: r["risk_level"] for r in site["assessed"]["results"]}
    expected_order = sorted(
        queued,
        key=lambda p: (
            -levels[p["id"]],
            -next(r for r in site["assessed"]["results"] if r["id"] == p["id"])["high_risk_probability"],
        ),
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(site["url"]) else None)
            page.goto(f"{site['url']}/queue")
            assert page.url.startswith(f"{site['url']}/login")
            page.fill("#username", "li")
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.wait_for_selector("#queue")
            shown = page.locator("#queue td.text a").all_inner_texts()
            assert shown == [p["text"] for p in expected_order]
            flags = [row.locator(".rule-flag").count() for row in page.locator("#queue tr.row").all()]
            assert flags == [int(bool(results[p["id"]]["rule_hits"])) for p in expected_order]
            page.keyboard.press("n")  # review the most urgent post
            decisions = [("9", "e", "已通知当地紧急救援"), ("8", "c", "私信联系，已回复"), ("0", "f", "")]
            for number, (level_key, action_key, note) in enumerate(decisions):
                page.wait_for_selector("#decision-form")
                assert page.locator("#post-text").inner_text() == expected_order[number]["text"]
                assert page.locator("#post-text mark").count() > 0, "explaining phrases are highlighted"
                result = results[expected_order[number]["id"]]
                assert page.locator("#p-scope").inner_text() == f"{result['scope_probability']:.2f}"
                hits = result["rule_hits"]
                assert page.locator("#rule-hits li").count() == len(hits)
                assert page.locator("#post-text mark.rule-hit").all_inner_texts() == [h["text"] for h in hits]
                if number == 0:
                    page.screenshot(path=str(ARTIFACTS / "triage.png"), full_page=True)
                page.keyboard.press(level_key)
                page.keyboard.press(action_key)
                if note:
                    page.keyboard.press("/")
                    page.keyboard.type(note)
                page.keyboard.press("Control+Enter")
                page.wait_for_load_state()
            page.wait_for_selector("#queue")
            assert "没有待审核的帖子了。" in page.content()
            assert page.locator("#count-reviewed").inner_text() == "3"
            assert external == [], f"the page loaded assets from elsewhere: {external}"
        finally:
            browser.close()
    with sqlite3.connect(site["db"]) as connection:
        rows = connection.execute(
            "SELECT p.external_id, d.reviewer, d.level_before, d.level_after, d.action, d.note, p.status "
            "FROM decisions d JOIN posts p ON p.id = d.post_id ORDER BY d.id"
        ).fetchall()
    actions = {"e": "escalated", "c": "contacted", "f": "false_alarm"}
    assert rows == [
        (post["id"], "li", levels[post["id"]], int(level), actions[action], note, "reviewed")
        for post, (level, action, note) in zip(expected_order, decisions, strict=True)
    ]
