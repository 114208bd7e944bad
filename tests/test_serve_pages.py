"""Tests of the triage pages and the review loop through the test client: login, CSRF, the queue order,
claims, decisions with their audit trail, and the export that ``sosrisk train --train`` reads; on a SQLite
file and, where one is configured, a PostgreSQL database (see serve_support)."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason='the service needs pip install "sosrisk[serve]"')
pytest.importorskip("httpx", reason="the test client needs httpx")

from fastapi.testclient import TestClient

from serve_support import PASSWORD, query, train_models
from sosrisk.assess import Assessment
from sosrisk.data import read_posts
from sosrisk.scope.rules import RULES_VERSION
from sosrisk.serve.accounts import add_user, remove_user
from sosrisk.serve.app import create_app
from sosrisk.serve.pages import highlight_segments
from sosrisk.serve.review import ClaimedByOther, QueueFilters, claim, list_queue
from sosrisk.serve.settings import ServeSettings
from sosrisk.serve.store import QueueItem, enqueue_assessments

pytestmark = pytest.mark.usefixtures("fresh_engines")  # conftest: dispose of the engines after each test


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_models(tmp_path_factory.mktemp("models"))


def queued(external_id: str, text: str, level: int, p_high: float, posted_at: str, source: str = "weibo") -> QueueItem:
    from sosrisk.scale import tier_of

    probabilities = [0.0] * 11
    probabilities[level] = 1.0
    return QueueItem(
        external_id=external_id,
        text=text,
        source=source,
        author=None,
        posted_at=posted_at,
        assessment=Assessment(
            risk_level=level,
            level_probabilities=probabilities,
            tier=tier_of(level).key,
            high_risk=p_high >= 0.5,
            high_risk_probability=p_high,
        ),
        model_info={"level": {"kind": "char-linear"}},
        explanations=[{"model": "level", "method": "exact", "label": level, "phrases": [
            {"text": text[:2], "start": 0, "end": 2, "weight": 0.5}
        ]}],
    )  # fmt: skip


# urgency: level first, then the high-risk probability, then the older post
ITEMS = [
    queued("low", "今天好累。", 1, 0.10, "2024-05-01T08:00:00Z"),
    queued("plan-old", "我已经买好了药。", 7, 0.80, "2024-05-01T07:00:00Z"),
    queued("imminent", "我现在站在楼顶。", 10, 0.70, "2024-05-01T09:00:00Z"),
    queued("plan-new", "决定跳下去了。", 7, 0.80, "2024-05-01T10:00:00Z", source="douban"),
    queued("plan-sure", "刀片准备好了。", 7, 0.95, "2024-05-01T11:00:00Z"),
]
URGENCY = ["imminent", "plan-sure", "plan-old", "plan-new", "low"]


class Site:
    def __init__(self, models: tuple[Path, Path], db_url: str, **overrides: Any) -> None:
        self.url = db_url
        options = {"max_failed_logins": 3, **overrides}
        settings = ServeSettings(level_model=models[0], binary_model=models[1], db_url=self.url, **options)
        self.app = create_app(settings)
        self.engine = self.app.state.sosrisk.engine
        self.li = add_user(self.engine, "li", PASSWORD, display_name="李老师")
        self.wang = add_user(self.engine, "wang", PASSWORD, display_name="王同学")
        enqueue_assessments(self.url, ITEMS)

    def client(self, address: str = "testclient") -> TestClient:
        return TestClient(self.app, base_url="https://testserver", client=(address, 50000))

    def rows(self, sql: str) -> list[tuple]:
        return query(self.url, sql)


@pytest.fixture
def site(models: tuple[Path, Path], db_url: str) -> Site:
    return Site(models, db_url)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    form = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf": csrf_of(form.text), "next": "/queue"}
    )
    assert response.status_code == 200, response.text
    return response.text


def post_ids_in_order(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-post-id="(\d+)"', html)]


def test_pages_need_a_login_and_the_session_is_stored_hashed(site: Site) -> None:
    client = site.client()
    response = client.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fqueue"
    page = login(client, "li")
    assert "审核队列" in page and "李老师" in page
    cookie = client.cookies["sosrisk_session"]
    assert site.rows("SELECT count(*) FROM sessions") == [(1,)]
    assert cookie not in str(site.rows("SELECT id_hash FROM sessions"))
    set_cookie = client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "Secure" in set_cookie and "SameSite=strict" in set_cookie


def test_wrong_passwords_are_refused_and_then_locked_out(site: Site) -> None:
    client = site.client()
    page = login(client, "li", "wrong password!")
    assert "用户名或密码错误。 Wrong username or password." in page
    login(client, "li", "wrong again!!")
    login(client, "li", "and again!!!")
    page = login(client, "li")  # the right password, after 3 failures within 15 minutes
    assert "登录失败次数过多，请 15 分钟后再试。 Too many failed logins; try again in 15 minutes." in page
    assert (
        site.rows("SELECT actor, event FROM audit_events WHERE event LIKE 'login%'")
        == [("login:li", "login.failed")] * 3
    )


def test_one_client_cannot_lock_a_reviewer_out_for_others(site: Site) -> None:
    attacker, reviewer = site.client("203.0.113.9"), site.client("198.51.100.7")
    for _ in range(3):
        login(attacker, "li", "guessing wrong!")
    assert "Too many failed logins; try again in 15 minutes." in login(attacker, "li")
    page = login(reviewer, "li")  # the reviewer, from another address, is not locked out
    assert "审核队列" in page and "李老师" in page
    assert (
        site.rows("SELECT detail FROM audit_events WHERE event = 'login.failed'") == [('{"client":"203.0.113.9"}',)] * 3
    )


def test_one_client_cannot_try_names_without_end(models: tuple[Path, Path], db_url: str) -> None:
    site = Site(models, db_url, max_failed_logins_per_client=4)
    sprayer = site.client("203.0.113.9")
    for name in ("zhang", "zhao", "qian", "sun"):
        assert "Wrong username or password." in login(sprayer, name, "a common password")
    page = login(sprayer, "li")  # the limit holds for every name, even with the right password
    assert "Too many failed logins from this address; try again in 15 minutes." in page
    refused = site.rows("SELECT count(*) FROM audit_events WHERE event = 'login.failed'")
    assert refused == [(4,)], "refused attempts are not even tried (no password is hashed for them)"
    assert "李老师" in login(site.client("198.51.100.7"), "li")


def test_failures_from_many_clients_lock_a_name(models: tuple[Path, Path], db_url: str) -> None:
    site = Site(models, db_url, max_failed_logins=2, max_failed_logins_per_name=5)
    for number in range(3):
        client = site.client(f"203.0.113.{number}")
        for _ in range(2):
            login(client, "li", "guessing wrong!")
    assert "Too many failed logins; try again in 15 minutes." in login(site.client("198.51.100.7"), "li")
    assert "王同学" in login(site.client("198.51.100.7"), "wang")


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    client = site.client()
    form = client.get("/login")
    forged = client.post("/login", data={"username": "li", "password": PASSWORD, "csrf": "x" + csrf_of(form.text)})
    assert forged.status_code == 403
    assert "The login form has expired (CSRF check failed)" in forged.text
    login(client, "li")
    response = client.post("/posts/1/decision", data={"csrf": "forged", "level": "7", "action": "contacted"})
    assert response.status_code == 403
    assert (
        "表单已过期或来自其他网站。 The form has expired or came from another site (CSRF check failed). "
        "Reload the page and try again."
    ) in response.text
    assert site.rows("SELECT count(*) FROM decisions") == [(0,)]


def test_every_page_and_form_checks_the_session_then_the_csrf_token(site: Site) -> None:
    anonymous = site.client()
    for path in ("/queue?tier=plan", "/posts/1?status=all", "/export?task=binary"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?" + urllib.parse.urlencode({"next": path})
    forms = {
        "/queue/next": {},
        "/posts/1/decision": {"level": "7", "action": "contacted"},
        "/posts/1/release": {},
    }
    for path, fields in forms.items():
        response = anonymous.post(path, data={"csrf": "x", **fields}, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=" + path.replace("/", "%2F"))
        assert anonymous.post(path, data=fields, follow_redirects=False).status_code == 422, "no csrf field at all"
    logged_out = anonymous.post("/logout", data={"csrf": "x"}, follow_redirects=False)
    assert logged_out.status_code == 303 and logged_out.headers["location"].startswith("/login?error=")
    reviewer = site.client()
    login(reviewer, "li")
    for path, fields in forms.items():
        response = reviewer.post(path, data={"csrf": "forged", **fields}, follow_redirects=False)
        assert response.status_code == 403, path
        assert "(CSRF check failed)" in response.text
    assert reviewer.post("/logout", data={"csrf": "forged"}).status_code == 403
    csrf = csrf_of(reviewer.get("/queue").text)
    refused = "The status filter must be one of pending, reviewed, all. Got 'done' instead."
    assert reviewer.get("/posts/1?status=done").json() == {"detail": refused}
    for path, fields in forms.items():
        response = reviewer.post(path, data={"csrf": csrf, "status": "done", **fields}, follow_redirects=False)
        assert (response.status_code, response.json()) == (422, {"detail": refused}), path
    assert site.rows("SELECT count(*) FROM decisions") == [(0,)]
    assert site.rows("SELECT count(*) FROM posts WHERE assigned_to IS NOT NULL") == [(0,)]


def test_the_queue_is_sorted_by_urgency_and_filters(site: Site) -> None:
    client = site.client()
    page = login(client, "li")
    id_of = dict(site.rows("SELECT external_id, id FROM posts"))
    assert post_ids_in_order(page) == [id_of[name] for name in URGENCY]
    plan = client.get("/queue?tier=plan").text
    assert post_ids_in_order(plan) == [id_of[name] for name in ("plan-sure", "plan-old", "plan-new")]
    douban = client.get("/queue?source=douban").text
    assert post_ids_in_order(douban) == [id_of["plan-new"]]
    bad = client.get("/queue?status=done")
    assert bad.status_code == 422
    assert bad.json() == {"detail": "The status filter must be one of pending, reviewed, all. Got 'done' instead."}


def test_review_loop_claims_decides_audits_and_moves_to_the_next(site: Site) -> None:
    li, wang = site.client(), site.client()
    queue_page = login(li, "li")
    login(wang, "wang")
    first = li.post("/queue/next", data={"csrf": csrf_of(queue_page), "status": "pending"})
    assert first.status_code == 200
    imminent_id = int(re.search(r"/posts/(\d+)/decision", first.text).group(1))  # type: ignore[union-attr]
    assert "在站在楼顶。" in first.text
    assert '<mark class="hl hl-3">我现</mark>' in first.text
    # a second reviewer sees the claim and cannot decide
    seen_by_wang = wang.get(f"/posts/{imminent_id}")
    assert "This post is being reviewed by 李老师 until" in seen_by_wang.text
    assert 'id="decision-form"' not in seen_by_wang.text
    refused = wang.post(
        f"/posts/{imminent_id}/decision",
        data={"csrf": csrf_of(wang.get("/queue").text), "level": "3", "action": "no_action"},
    )
    assert refused.status_code == 409
    # wang's "next" skips the claimed post
    wang_next = wang.post("/queue/next", data={"csrf": csrf_of(wang.get("/queue").text)}, follow_redirects=False)
    assert wang_next.status_code == 303
    assert not wang_next.headers["location"].startswith(f"/posts/{imminent_id}?")
    # li corrects the level, marks the action and adds a note; the next post is claimed for li
    decided = li.post(
        f"/posts/{imminent_id}/decision",
        data={"csrf": csrf_of(first.text), "level": "9", "high_risk": "1", "action": "escalated", "note": "已报警"},
    )
    assert decided.status_code == 200
    assert "已保存决定。 Decision saved." in decided.text
    assert site.rows(
        "SELECT reviewer, level_before, level_after, high_risk_before, high_risk_after, action, note FROM decisions"
    ) == [("li", 10, 9, 1, 1, "escalated", "已报警")]
    assert site.rows(
        f"SELECT status, reviewed_level, reviewed_action, assigned_to FROM posts WHERE id = {imminent_id}"
    ) == [("reviewed", 9, "escalated", None)]
    events = site.rows(f"SELECT actor, event FROM audit_events WHERE post_id = {imminent_id} ORDER BY id")
    assert events == [("batch", "post.queued"), ("user:li", "post.claimed"), ("user:li", "post.reviewed")]
    assert "已报警" not in str(site.rows("SELECT detail FROM audit_events"))
    # the history shows on the post
    page = li.get(f"/posts/{imminent_id}").text
    assert "<b>li</b>:" in page and "等级 10 → <b>9</b>" in page and "<q>已报警</q>" in page


def test_claims_lapse_and_removed_reviewers_lose_access(site: Site) -> None:
    first_id = list_queue(site.engine, QueueFilters())[0][0].id
    claim(site.engine, first_id, site.li, minutes=10)
    with pytest.raises(ClaimedByOther):
        claim(site.engine, first_id, site.wang, minutes=10)
    claim(site.engine, first_id, site.li, minutes=-1)  # li's claim, already lapsed
    assert claim(site.engine, first_id, site.wang, minutes=10).assigned_name == "王同学"
    client = site.client()
    login(client, "wang")
    remove_user(site.engine, "wang")
    assert client.get("/queue", follow_redirects=False).status_code == 303
    assert site.rows(f"SELECT assigned_to FROM posts WHERE id = {first_id}") == [(None,)]


def test_export_is_an_official_file_that_training_reads(site: Site, tmp_path: Path) -> None:
    client = site.client()
    page = login(client, "li")
    csrf = csrf_of(page)
    for level, high in ((9, "1"), (2, "0"), (6, "")):
        nxt = client.post("/queue/next", data={"csrf": csrf})
        post_id = int(re.search(r"/posts/(\d+)/decision", nxt.text).group(1))  # type: ignore[union-attr]
        client.post(
            f"/posts/{post_id}/decision", data={"csrf": csrf, "level": level, "high_risk": high, "action": "contacted"}
        )
    level_tsv = client.get("/export?task=level")
    assert level_tsv.headers["content-type"] == "text/tab-separated-values; charset=utf-8"
    assert level_tsv.text == "comment\tmyLabel\n我现在站在楼顶。\t9\n刀片准备好了。\t2\n我已经买好了药。\t6\n"
    binary_tsv = client.get("/export?task=binary").text
    assert binary_tsv == "comment\ttwoClass\n我现在站在楼顶。\t1\n刀片准备好了。\t0\n"
    path = tmp_path / "reviewed.tsv"
    path.write_text(level_tsv.text, encoding="utf-8")
    posts = read_posts(path, task="level")
    assert posts.texts == ["我现在站在楼顶。", "刀片准备好了。", "我已经买好了药。"]
    assert posts.labels("level").tolist() == [9, 2, 6]


def test_highlight_segments_merge_overlapping_phrases() -> None:
    explanations = [
        {"phrases": [{"start": 0, "end": 2, "weight": 0.2}, {"start": 1, "end": 3, "weight": 0.2}]},
        {"phrases": [{"start": 5, "end": 6, "weight": 1.0}]},
    ]
    assert highlight_segments("安眠药好吗？药", explanations) == [
        ("安", 2, ()),
        ("眠", 3, ()),
        ("药", 2, ()),
        ("好吗", 0, ()),
        ("？", 3, ()),
        ("药", 0, ()),
    ]
    # the spans of rule hits cut the text too, numbered in the order of the hits; strengths are kept
    hits = [{"start": 1, "end": 4, "floor": 7}, {"start": 3, "end": 7, "floor": 10}]
    assert highlight_segments("安眠药好吗？药", explanations, hits) == [
        ("安", 2, ()),
        ("眠", 3, (1,)),
        ("药", 2, (1,)),
        ("好", 0, (1, 2)),
        ("吗", 0, (2,)),
        ("？", 3, (2,)),
        ("药", 0, (2,)),
    ]


def test_text_no_database_can_store_is_refused_on_the_pages(site: Site) -> None:
    client = site.client()
    page = login(client, "li")
    nxt = client.post("/queue/next", data={"csrf": csrf_of(page)})
    post_id = int(re.search(r"/posts/(\d+)/decision", nxt.text).group(1))  # type: ignore[union-attr]
    response = client.post(
        f"/posts/{post_id}/decision",
        data={"csrf": csrf_of(page), "level": "9", "action": "contacted", "note": "已联系\u0000家人"},
    )
    assert response.status_code == 422
    assert "The note holds a NUL character (U+0000) at position 3, which cannot be stored; remove it and save " in (
        response.text
    )
    assert site.rows("SELECT count(*) FROM decisions") == [(0,)]
    response = client.post(
        f"/posts/{post_id}/decision",
        data={"csrf": csrf_of(page), "level": "9", "action": "contacted", "high_risk": "yes"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "The high-risk flag must be '1', '0' or empty (not judged). Got 'yes' instead."
    }
    assert site.rows("SELECT count(*) FROM decisions") == [(0,)]
    bad_filter = client.get("/queue", params={"source": "wei\u0000bo"})
    assert bad_filter.status_code == 422
    assert bad_filter.json() == {
        "detail": "The source filter holds a NUL character (U+0000) at position 3; no queued post has such a source."
    }


# ------------------------------------------------------------------------------------------------- scope
def scoped_item(
    external_id: str, text: str, level: int, hits: list[dict[str, Any]], reason: str, p_scope: float
) -> QueueItem:
    item = queued(external_id, text, level, 0.9, "2024-05-02T08:00:00Z", source="scope")
    item.assessment.in_scope = True
    item.assessment.scope_probability = p_scope
    item.assessment.scope_reason = reason
    item.assessment.rule_hits = hits
    return item


# a post with markup of its own, brought in by a rule; the matched span is found in the text
RULE_TEXT = "<b>周末去超市</b>买水果<script>alert(1)</script>，这是我最后一条微博了"
RULE_START = RULE_TEXT.index("这是我")
RULE_HITS = [
    {"family": "farewell", "rule": "last_post", "floor": 8, "start": RULE_START, "end": RULE_START + 9},
    # queued under an earlier rule set: a rule this sosrisk no longer has
    {"family": "attempt", "rule": "retired_rule", "floor": 10, "start": 0, "end": 3},
]


def test_a_rule_below_the_plan_tier_shows_no_high_risk(site: Site) -> None:
    """The wish rule (floor 4) raises the level only: its line on the page must not say high risk."""
    text = "我真的不想活了"
    hit = {"family": "wish", "rule": "first_person_wish", "floor": 4, "start": 3, "end": 7}
    enqueue_assessments(site.url, [scoped_item("wished", text, 4, [hit], "rule", 0.02)])
    client = site.client()
    login(client, "li")
    (post_id,) = (i for (e, i) in site.rows("SELECT external_id, id FROM posts") if e == "wished")
    page = client.get(f"/posts/{post_id}").text
    ((_, body),) = re.findall(r'<li id="rule-hit-(\d)">(.*?)</li>', page, re.S)
    body = " ".join(body.split())
    assert body.startswith('<b>直接说出想死的念头</b> <span class="en">(wish / first_person_wish)</span>')
    assert '<b>4</b> 级 <span class="en">level</span> · 「<mark class="rule-hit">不想活了</mark>」' in body
    assert "高风险" not in body and "high risk" not in body


def test_the_post_page_shows_the_scope_and_the_rule_hits_escaped(site: Site) -> None:
    enqueue_assessments(site.url, [scoped_item("ruled", RULE_TEXT, 10, RULE_HITS, "rule", 0.1035)])
    client = site.client()
    login(client, "li")
    (post_id,) = (i for (e, i) in site.rows("SELECT external_id, id FROM posts") if e == "ruled")
    page = client.get(f"/posts/{post_id}").text
    assert '<b id="p-scope">0.10</b>' in page
    assert (
        '<span class="scope-tag rule" id="scope-reason">由规则纳入 <span class="en">in scope by a safety-net rule'
        in (page)
    )
    assert "The scope gate alone would have left this post out; a safety-net rule sent it to review." in page
    items = re.findall(r'<li id="rule-hit-(\d)">(.*?)</li>', page, re.S)
    assert [number for number, _ in items] == ["1", "2"]
    first, second = (" ".join(body.split()) for _, body in items)
    assert first == (
        '<b>告别或最后的留言</b> <span class="en">(farewell / last_post)</span>: <span class="en">says this is the '
        'writer&#39;s last post or letter</span> · 至少 <span class="en">at least</span> <b>8</b> 级 '
        '<span class="en">level</span>, 高风险 <span class="en">high risk</span> · 「<mark class="rule-hit">'
        "这是我最后一条微博</mark>」"
    )
    assert f"a rule that is not in this sosrisk&#39;s rule set ({RULES_VERSION})" in second
    assert '「<mark class="rule-hit">&lt;b&gt;</mark>」' in second
    # in the text: each span boxed once with the numbers of its rules (explained phrases inside), the post's
    # own markup shown as text, never run
    text, boxed = post_text_and_boxes(page)
    assert text == RULE_TEXT
    assert boxed == [("规则 rule 2", "<b>"), ("规则 rule 1", "这是我最后一条微博")]
    assert '<mark class="rule-hit" title="规则 rule 2"><mark class="hl hl-' in page, "an explained phrase, boxed"
    assert "<script>" not in page and "<b>周末" not in page


def post_text_and_boxes(page: str) -> tuple[str, list[tuple[str, str]]]:
    """The text of ``#post-text`` as a browser shows it, and each rule box in it: ``(title, boxed text)``."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.text, self.marks = False, "", []  # type: ignore[var-annotated]
            self.boxes: list[tuple[str, str]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if values.get("id") == "post-text":
                self.inside = True
            elif self.inside and tag == "mark":
                self.marks.append(values)
                if values.get("class") == "rule-hit":
                    self.boxes.append((str(values.get("title")), ""))

        def handle_endtag(self, tag: str) -> None:
            if self.inside and tag == "mark":
                self.marks.pop()
            elif self.inside and tag == "p":
                self.inside = False

        def handle_data(self, data: str) -> None:
            if self.inside:
                self.text += data
                if any(mark.get("class") == "rule-hit" for mark in self.marks):
                    title, boxed = self.boxes[-1]
                    self.boxes[-1] = (title, boxed + data)

    reader = Reader()
    reader.feed(page)
    return reader.text, reader.boxes


def test_the_queue_marks_rule_raised_posts(site: Site) -> None:
    hit = [{"family": "farewell", "rule": "last_post", "floor": 8, "start": RULE_START, "end": RULE_START + 9}]
    enqueue_assessments(
        site.url,
        [
            scoped_item("ruled", RULE_TEXT, 9, hit, "rule", 0.1035),
            scoped_item("gated", "我真的不想活了，好累", 4, [], "in_scope", 0.97),
            scoped_item("back", "去年我在江边站了一夜，现在每周去复查，好多了", 5, [], "recovered", 0.91),
        ],
    )
    client = site.client()
    page = login(client, "li")
    rows = dict(re.findall(r'data-post-id="(\d+)">(.*?)</tr>', page, re.S))
    id_of = dict(site.rows("SELECT external_id, id FROM posts"))
    flagged = {external_id for external_id, post_id in id_of.items() if 'class="rule-flag"' in rows[str(post_id)]}
    assert flagged == {"ruled"}
    assert '规则 <span class="en">rule</span> ≥8' in rows[str(id_of["ruled"])]
    assert "a safety-net rule raised it to at least level 8: farewell" in rows[str(id_of["ruled"])]
    # a post in scope by the gate shows its probability and no rule; a post queued without a scope decision
    # (a model without a scope stage, or queued before revision 0002) shows no scope at all
    gated = client.get(f"/posts/{id_of['gated']}").text
    assert '<b id="p-scope">0.97</b>' in gated and 'id="no-rule-hits"' in gated
    assert '<span class="scope-tag" id="scope-reason">在范围内' in gated
    # a post the recovery cap kept at level 5 says so, and asks the reviewer to check that the crisis is over
    back = client.get(f"/posts/{id_of['back']}").text
    assert '<span class="scope-tag" id="scope-reason">在范围内，读作已过去的危机' in back
    assert "Check that the crisis really is over." in back and "a safety-net rule sent it" not in back
    unknown = client.get(f"/posts/{id_of['low']}").text
    assert 'id="scope"' not in unknown and "rule-hit" not in unknown


def test_with_a_binary_model_only_a_rule_raised_post_comes_first(db_url: str) -> None:
    """The level sorts first, and a rule's floor counts as a level: without a level model, a post a rule fired on
    (flagged high risk whatever the model's probability) still comes before the posts no rule fired on."""
    from sosrisk.serve.store import get_engine

    def binary_only(external_id: str, p_high: float, hits: list[dict[str, Any]]) -> QueueItem:
        return QueueItem(
            external_id=external_id,
            text=f"帖子 {external_id}",
            source="feed",
            author=None,
            posted_at="2024-05-01T08:00:00Z",
            assessment=Assessment(
                high_risk=bool(hits) or p_high >= 0.5,
                high_risk_probability=p_high,
                in_scope=True,
                scope_probability=0.9,
                scope_reason="in_scope",
                rule_hits=hits,
            ),
            model_info={"binary": {"kind": "char-linear"}},
        )

    last_post = [{"family": "farewell", "rule": "last_post", "floor": 8, "start": 0, "end": 2}]
    enqueue_assessments(db_url, [binary_only("sure", 0.95, []), binary_only("ruled", 0.2, last_post)])
    rows, _ = list_queue(get_engine(db_url), QueueFilters())
    assert [(row.external_id, row.risk_level, row.rule_floor) for row in rows] == [
        ("ruled", None, 8),
        ("sure", None, None),
    ]
