"""The triage pages: log in, the queue in urgency order, one post at a time, decisions, export.

Server-rendered HTML (Jinja2, autoescaped) with one small script for keyboard shortcuts; Chinese first,
English beside it. Sessions live in the database (the cookie holds a random id, the table its hash);
every form carries a CSRF token derived from the session; login forms use a double-submit cookie.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import io
import logging
import secrets
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..scale import RAISING_LEVEL, SCALE, TIERS, tier_of
from .accounts import (
    User,
    authenticate,
    create_session,
    csrf_token,
    end_session,
    recent_failed_logins,
    session_user,
)
from .explain import describe_rule_hit
from .review import (
    ACTIONS,
    ClaimedByOther,
    PostView,
    QueueFilters,
    ReviewError,
    claim,
    claim_next,
    decide,
    export_reviewed,
    get_post,
    list_queue,
    queue_counts,
    queue_sources,
    release,
)
from .state import ServiceState
from .store import utcnow

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
SESSION_COOKIE = "sosrisk_session"
LOGIN_CSRF_COOKIE = "sosrisk_login_csrf"
PAGE_PREFIXES = ("/login", "/logout", "/queue", "/posts", "/export", "/docs")
MESSAGES = {
    "saved": "已保存决定。 Decision saved.",
    "empty": "没有待审核的帖子了。 No pending posts match these filters.",
    "released": "已放回队列。 Post released back to the queue.",
    "logged_out": "已退出。 Logged out.",
}
STATUS_NAMES = {"pending": "待审核 pending", "reviewed": "已审核 reviewed", "all": "全部 all"}
FAILED_LOGIN_WINDOW_MINUTES = 15


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a page (errors become HTML) rather than the JSON API."""
    return request.url.path == "/" or request.url.path.startswith(PAGE_PREFIXES)


def error_page(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """An HTML error page for a refused page request."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": exc.status_code, "detail": exc.detail, "user": None},
        exc.status_code,
        headers=exc.headers,
    )


def _state(request: Request) -> ServiceState:
    return request.app.state.sosrisk


@dataclass
class Reviewer:
    """The logged-in reviewer and their session's CSRF token."""

    user: User
    csrf: str


class LoginRequired(Exception):
    """Raised by :func:`page_reviewer` for a request without a valid session; :func:`login_redirect`
    (an exception handler of the app) answers it by sending the browser to the login form."""


async def login_redirect(request: Request, _exc: Exception) -> RedirectResponse:
    """The login form, with the page asked for as ``next``."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)


def session_reviewer(request: Request) -> Reviewer | None:
    """Dependency: the reviewer whose session cookie came with ``request``, or None."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    user = session_user(_state(request).engine, session_id)
    return None if user is None else Reviewer(user, csrf_token(session_id))


def page_reviewer(reviewer: Annotated[Reviewer | None, Depends(session_reviewer)]) -> Reviewer:
    """Dependency of every page but the login form: the logged-in reviewer, or :class:`LoginRequired`."""
    if reviewer is None:
        raise LoginRequired
    return reviewer


def form_reviewer(request: Request, csrf: Annotated[str, Form()]) -> Reviewer:
    """Dependency of every form a logged-in reviewer sends: :func:`page_reviewer`, then the form's CSRF field
    checked against the session. One dependency that takes the field itself, so that a form without it is
    refused as invalid (422) before the session is looked at."""
    reviewer = page_reviewer(session_reviewer(request))
    _check_csrf(reviewer, csrf)
    return reviewer


def _check_csrf(reviewer: Reviewer, submitted: str) -> None:
    if not hmac.compare_digest(reviewer.csrf.encode(), submitted.encode()):
        raise HTTPException(
            403,
            "表单已过期或来自其他网站。 The form has expired or came from another site (CSRF check failed). "
            "Reload the page and try again.",
        )


PageReviewer = Annotated[Reviewer, Depends(page_reviewer)]
FormReviewer = Annotated[Reviewer, Depends(form_reviewer)]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def _filters(tier: str | None, status: str | None, source: str | None) -> QueueFilters:
    try:
        return QueueFilters(tier=tier or None, status=status or "pending", source=source or None)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def query_filters(tier: str | None = None, status: str | None = None, source: str | None = None) -> QueueFilters:
    """Dependency: the queue filters in a page's query string."""
    return _filters(tier, status, source)


def form_filters(
    tier: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "pending",
    source: Annotated[str, Form()] = "",
) -> QueueFilters:
    """Dependency: the queue filters a form carries along (hidden fields), so the reviewer stays in their view."""
    return _filters(tier, status, source)


QueryFilters = Annotated[QueueFilters, Depends(query_filters)]
FormFilters = Annotated[QueueFilters, Depends(form_filters)]


def _filter_query(filters: QueueFilters, **extra: str) -> str:
    values = {"tier": filters.tier or "", "status": filters.status, "source": filters.source or ""}
    values.update(extra)
    return urllib.parse.urlencode({k: v for k, v in values.items() if v})


def _context(request: Request, reviewer: Reviewer | None, **values: Any) -> dict[str, Any]:
    return {"user": reviewer.user if reviewer else None, "csrf": reviewer.csrf if reviewer else "", **values}


# ------------------------------------------------------------------------------------------------ login
@router.get("/")
def index() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"user": None, "login_csrf": token, "next": _safe_next(next), "error": error},
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_state(request).settings.cookie_secure,
        path="/login",
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    csrf: str = Form(...),
    next: str = Form("/queue"),
) -> Response:
    state = _state(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        raise HTTPException(
            403,
            "登录表单已过期。 The login form has expired (CSRF check failed). Reload the page and try again.",
        )
    target = _safe_next(next)
    client = request.client.host if request.client else "unknown"
    settings = state.settings
    failed = recent_failed_logins(state.engine, username, client, minutes=FAILED_LOGIN_WINDOW_MINUTES)
    message = None
    if failed.client >= settings.max_failed_logins_per_client:
        message = (
            "此地址登录失败次数过多，请 15 分钟后再试。 "
            "Too many failed logins from this address; try again in 15 minutes."
        )
    elif failed.name_from_client >= settings.max_failed_logins or failed.name >= settings.max_failed_logins_per_name:
        message = "登录失败次数过多，请 15 分钟后再试。 Too many failed logins; try again in 15 minutes."
    if message is not None:
        logger.warning("login refused: too many failed logins (%s from this client)", failed.client)
        return RedirectResponse("/login?" + urllib.parse.urlencode({"error": message, "next": target}), 303)
    user = authenticate(state.engine, username, password, client=client)
    if user is None:
        message = "用户名或密码错误。 Wrong username or password."
        return RedirectResponse("/login?" + urllib.parse.urlencode({"error": message, "next": target}), 303)
    session_id = create_session(state.engine, user, hours=state.settings.session_hours)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(state.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=state.settings.cookie_secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    reviewer: Annotated[Reviewer | None, Depends(session_reviewer)],
    csrf: str = Form(...),
) -> Response:
    if reviewer is not None:
        _check_csrf(reviewer, csrf)
        end_session(_state(request).engine, request.cookies[SESSION_COOKIE], actor=f"user:{reviewer.user.username}")
    response = RedirectResponse("/login?" + urllib.parse.urlencode({"error": MESSAGES["logged_out"]}), 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ------------------------------------------------------------------------------------------------ queue
@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    reviewer: PageReviewer,
    filters: QueryFilters,
    msg: str | None = None,
) -> Response:
    state = _state(request)
    rows, total = list_queue(state.engine, filters)
    return templates.TemplateResponse(
        request,
        "queue.html",
        _context(
            request,
            reviewer,
            rows=rows,
            total=total,
            filters=filters,
            counts=queue_counts(state.engine),
            sources=queue_sources(state.engine),
            tiers=TIERS,
            statuses=STATUS_NAMES,
            message=MESSAGES.get(msg or ""),
            now=utcnow(),
            query=_filter_query(filters),
            tier_of=tier_of,
        ),
    )


@router.post("/queue/next")
def next_post(
    request: Request,
    reviewer: FormReviewer,
    filters: FormFilters,
) -> Response:
    return _go_next(request, reviewer, filters)


def _go_next(request: Request, reviewer: Reviewer, filters: QueueFilters, *, done: str | None = None) -> Response:
    state = _state(request)
    post_id = claim_next(state.engine, reviewer.user, filters, minutes=state.settings.claim_minutes)
    if post_id is None:
        return RedirectResponse(f"/queue?{_filter_query(filters, msg='empty')}", status_code=303)
    extra = {"msg": done} if done else {}
    return RedirectResponse(f"/posts/{post_id}?{_filter_query(filters, **extra)}", status_code=303)


# ------------------------------------------------------------------------------------------------- post
@router.get("/posts/{post_id}", response_class=HTMLResponse)
def post_page(
    request: Request,
    post_id: int,
    reviewer: PageReviewer,
    filters: QueryFilters,
    msg: str | None = None,
) -> Response:
    state = _state(request)
    held_by: str | None = None
    try:
        post = claim(state.engine, post_id, reviewer.user, minutes=state.settings.claim_minutes)
    except ClaimedByOther as taken:
        held_by = str(taken)
        post = get_post(state.engine, post_id)
    except ReviewError as exc:
        raise HTTPException(404, str(exc)) from None
    return _render_post(request, reviewer, post, filters, held_by=held_by, message=MESSAGES.get(msg or ""))


def _render_post(
    request: Request,
    reviewer: Reviewer,
    post: PostView,
    filters: QueueFilters,
    *,
    held_by: str | None = None,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "post.html",
        _context(
            request,
            reviewer,
            post=post,
            filters=filters,
            query=_filter_query(filters),
            held_by=held_by,
            message=message,
            error=error,
            segments=group_by_rules(highlight_segments(post.text, post.explanations or [], post.rule_hits)),
            rule_hits=rule_hit_views(post),
            chart=probability_chart(post),
            scale=SCALE,
            level=SCALE[post.current_level] if post.current_level is not None else None,
            tier=tier_of(post.current_level) if post.current_level is not None else None,
            actions=ACTIONS,
            explanation_methods=sorted({e["method"] for e in post.explanations or []}),
        ),
        status_code,
    )


@router.post("/posts/{post_id}/decision")
def post_decision(
    request: Request,
    post_id: int,
    reviewer: FormReviewer,
    filters: FormFilters,
    level: int = Form(..., ge=0, le=10),
    action: str = Form(...),
    high_risk: str = Form(""),
    note: str = Form("", max_length=2000),
) -> Response:
    state = _state(request)
    if high_risk not in ("", "0", "1"):
        raise HTTPException(
            422, f"The high-risk flag must be '1', '0' or empty (not judged). Got {high_risk[:20]!r} instead."
        )
    flag = {"1": True, "0": False}.get(high_risk)
    try:
        decide(state.engine, post_id, reviewer.user, level=level, action=action, note=note.strip(), high_risk=flag)
    except ClaimedByOther as taken:
        post = get_post(state.engine, post_id)
        return _render_post(request, reviewer, post, filters, held_by=str(taken), error=str(taken), status_code=409)
    except ReviewError as exc:
        post = get_post(state.engine, post_id)
        return _render_post(request, reviewer, post, filters, error=str(exc), status_code=422)
    return _go_next(request, reviewer, filters, done="saved")


@router.post("/posts/{post_id}/release")
def post_release(
    request: Request,
    post_id: int,
    reviewer: FormReviewer,
    filters: FormFilters,
) -> Response:
    release(_state(request).engine, post_id, reviewer.user)
    return RedirectResponse(f"/queue?{_filter_query(filters, msg='released')}", status_code=303)


# ----------------------------------------------------------------------------------------------- export
@router.get("/export")
async def export(request: Request, reviewer: PageReviewer, task: str = "level") -> Response:
    if task not in ("level", "binary"):
        raise HTTPException(422, f"The export task must be 'level' or 'binary'. Got {task!r} instead.")
    buffer = io.StringIO()
    await run_in_threadpool(
        export_reviewed, _state(request).engine, task, buffer, actor=f"user:{reviewer.user.username}"
    )
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M")
    return Response(
        buffer.getvalue().encode("utf-8"),
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="sosrisk-reviewed-{task}-{stamp}.tsv"'},
    )


# ------------------------------------------------------------------------------------------------- docs
@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> Response:
    """The API reference, rendered from the OpenAPI schema without any external asset."""
    schema = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    return templates.TemplateResponse(request, "docs.html", {"user": None, "schema": schema, "operations": operations})


# ------------------------------------------------------------------------------------------------ views
def highlight_segments(
    text: str, explanations: list[dict[str, Any]], rule_hits: list[dict[str, Any]] | None = None
) -> list[tuple[str, int, tuple[int, ...]]]:
    """``text`` cut into ``(piece, strength, rules)``: strength 0 (plain) to 3 (strongest phrase), and the
    numbers (1-based, in the order of ``rule_hits``) of the safety-net rules whose matched span covers it.

    Each explanation's phrase weights are scaled by its largest; a character takes the largest scaled
    weight of the phrases covering it (overlapping n-grams of one phrase add up).
    """
    covering: list[tuple[int, ...]] = [()] * len(text)
    for number, hit in enumerate(rule_hits or [], start=1):
        for position in range(max(0, int(hit["start"])), min(len(text), int(hit["end"]))):
            covering[position] = (*covering[position], number)
    strength = [0.0] * len(text)
    for explanation in explanations:
        phrases = explanation.get("phrases") or []
        per_char = [0.0] * len(text)
        for phrase in phrases:
            for position in range(max(0, phrase["start"]), min(len(text), phrase["end"])):
                per_char[position] += float(phrase["weight"])
        top = max(per_char, default=0.0)
        if top > 0:
            strength = [max(a, b / top) for a, b in zip(strength, per_char, strict=True)]
    levels = [0 if s <= 0 else 1 if s < 0.34 else 2 if s < 0.67 else 3 for s in strength]
    segments: list[tuple[str, int, tuple[int, ...]]] = []
    for char, value, rules in zip(text, levels, covering, strict=True):
        if segments and segments[-1][1:] == (value, rules):
            segments[-1] = (segments[-1][0] + char, value, rules)
        else:
            segments.append((char, value, rules))
    return segments


def group_by_rules(
    segments: list[tuple[str, int, tuple[int, ...]]],
) -> list[tuple[tuple[int, ...], list[tuple[str, int]]]]:
    """Consecutive segments with the same rules together, so that a rule's span is boxed once around its
    highlighted pieces: ``[(rules, [(piece, strength), ...]), ...]``."""
    groups: list[tuple[tuple[int, ...], list[tuple[str, int]]]] = []
    for piece, strength, rules in segments:
        if groups and groups[-1][0] == rules:
            groups[-1][1].append((piece, strength))
        else:
            groups.append((rules, [(piece, strength)]))
    return groups


# the rule families of sosrisk.scope.rules, in Chinese for the page (the English descriptions come from RULE_SET)
RULE_FAMILY_NAMES = {
    "attempt": "正在实施",
    "farewell": "告别或最后的留言",
    "plan_with_time": "定了时间的计划",
    "pact_or_method": "约死或寻找方法",
    "wish": "直接说出想死的念头",
    "semantic": "按语义识别的计划、行动或告别",
}


def rule_hit_views(post: PostView) -> list[dict[str, Any]]:
    """The post's rule hits as the page shows them: number, family (and its Chinese name), the rule's
    description, the level it raises the post to (and whether it flags it high risk), and the matched span."""
    views = []
    for number, hit in enumerate(post.rule_hits or [], start=1):
        view = describe_rule_hit(hit, post.text)
        view["number"] = number
        view["family_zh"] = RULE_FAMILY_NAMES.get(view["family"], view["family"])
        view["flags_high_risk"] = view["floor"] >= RAISING_LEVEL
        views.append(view)
    return views


def probability_chart(post: PostView) -> dict[str, Any]:
    """Bar geometry of the level probabilities for the inline SVG chart (no inline styles: CSP)."""
    probabilities = post.level_probabilities or []
    height = 60
    bars = []
    for value, p in enumerate(probabilities):
        bar = round(max(p, 0.0) * height, 1)
        bars.append(
            {
                "level": value,
                "p": p,
                "x": value * 22 + 2,
                "y": round(height - bar, 1),
                "height": bar,
                "tier": tier_of(value).key,
                "chosen": value == post.risk_level,
            }
        )
    return {"bars": bars, "height": height, "width": 11 * 22 + 2}
