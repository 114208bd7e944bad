"""The JSON API: ``POST /v1/assess``, ``GET /v1/model``, ``GET /healthz``.

Clients authenticate with ``Authorization: Bearer <token>`` (``sosrisk tokens create NAME``). Bodies are
pydantic models with ``extra="forbid"``; limits come from :class:`~sosrisk.serve.settings.ServeSettings`.
A request that asks to queue its posts is answered only after their rows are committed; a refused
request (limits, validation, conflict, time-out) stores nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import __version__
from ..data.reader import is_blank_text
from ..scale import tier_by_key
from .accounts import token_name
from .explain import describe_rule_hit
from .limits import Busy
from .state import ServiceState
from .store import QueueConflict, QueueItem, StoreError, parse_time, text_problem

logger = logging.getLogger(__name__)
router = APIRouter()


# ------------------------------------------------------------------------------------------------ bodies
class PostIn(BaseModel):
    """One post to assess."""

    # strict: no value is coerced ("yes" is not true, 1 is not "1")
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, max_length=200, description="The client's id of the post.")
    text: str = Field(min_length=1, description="The post text (Chinese).")
    source: str | None = Field(None, max_length=100, description="Where the post comes from, e.g. 'weibo'.")
    author: str | None = Field(None, max_length=200, description="The writer's handle, for reviewers.")
    time: str | None = Field(
        None, description="When it was posted, ISO 8601 ('2024-05-01T22:15:00+08:00'; no zone = UTC)."
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if is_blank_text(value):  # white space, control and invisible characters only, as the scorer sees it
            raise ValueError("the text is blank; send the post's words")
        return value

    @field_validator("time")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_time(value, what="time")
            except StoreError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _storable(self) -> PostIn:
        # NUL and unpaired surrogates cannot be stored (PostgreSQL refuses NUL; neither encodes as UTF-8):
        # refused here, on every database, before anything is assessed or stored
        for name in ("id", "text", "source", "author"):
            value = getattr(self, name)
            problem = text_problem(value) if value is not None else None
            if problem is not None:
                post = "this post" if name == "id" or text_problem(self.id) else f"post {self.id!r}"
                raise ValueError(
                    f"the {name} of {post} holds {problem}, which cannot be stored; remove it and send the post again"
                )
        return self


class AssessRequest(BaseModel):
    """A batch of posts; ``queue`` puts them in the review queue (idempotent on source + id)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    posts: list[PostIn] = Field(min_length=1)
    queue: bool = Field(False, description="Store the posts in the review queue for the triage page.")
    explain: bool = Field(True, description="Return the phrases that raised each assessment.")


class PhraseOut(BaseModel):
    text: str
    start: int
    end: int
    weight: float


class ExplanationOut(BaseModel):
    model: Literal["level", "binary"]
    method: str = Field(description="'exact' for char-linear, 'occlusion' or a registered method otherwise.")
    label: int = Field(description="The explained label: the assessed level, or 1 (high risk).")
    phrases: list[PhraseOut]


class QueueOut(BaseModel):
    post_id: int | None = Field(description="The post's row in the review queue; null when it was not queued.")
    status: Literal["queued", "already_queued", "not_queued_out_of_scope"] = Field(
        description="'queued' now, 'already_queued' earlier (same source and id), or 'not_queued_out_of_scope': "
        "the scope stage put the post out of scope, and a post out of scope is never queued (nor stored)."
    )


class RuleHitOut(BaseModel):
    family: str = Field(
        description="The rule family: 'attempt', 'farewell', 'plan_with_time', 'pact_or_method', 'wish' or 'semantic'."
    )
    rule: str = Field(description="The rule's name within its family.")
    floor: int = Field(
        description="The level the rule raises the post to at least; from 6 (the plan tier) up it also flags high risk."
    )
    start: int = Field(description="Where the matched span starts in the text (a character offset).")
    end: int = Field(description="Where the matched span ends (exclusive).")
    text: str = Field(description="The matched span, text[start:end].")
    description: str = Field(description="What the rule catches, in plain words.")


class ResultOut(BaseModel):
    id: str
    source: str | None
    risk_level: int | None
    level_name: str | None
    definition_en: str | None
    definition_zh: str | None
    tier: str | None
    tier_name: str | None
    tier_name_zh: str | None
    level_probabilities: list[float] | None
    expected_level: float | None
    high_risk: bool | None
    high_risk_probability: float | None
    in_scope: bool | None = Field(
        description="Whether the post is about the writer's own suicidal thoughts, plans, self-harm or crisis at "
        "all: the scope gate says so, or a safety-net rule fired. A post out of scope gets level 0 and low risk "
        "and is never queued. Null when the models have no scope stage."
    )
    scope_probability: float | None = Field(
        description="The scope gate's probability that the post is in scope (compared with the gate's threshold, "
        "see GET /v1/model); null when the models have no scope stage."
    )
    scope_reason: Literal["in_scope", "recovered", "rule", "someone_else", "out_of_scope", "blank"] | None = Field(
        description="Why: 'in_scope' (the gate), 'recovered' (in scope, read by the scope stage's recovery cap as "
        "looking back on a crisis that is over: level at most 5, not high risk), 'rule' (the gate alone would have "
        "left it out; a safety-net rule brought it in), 'someone_else' (the gate or the plain-danger net kept it, "
        "but it asks how to help someone "
        "else in danger and no regex rule raised it), 'out_of_scope', 'blank'; null when the models have no scope "
        "stage."
    )
    rule_hits: list[RuleHitOut] | None = Field(
        description="The safety-net rules that fired (they only raise a post: level at least the rule's floor, "
        "high risk); empty when none fired, null when the models have no scope stage."
    )
    explanations: list[ExplanationOut] = Field(
        description="Per model, the phrases that raised the assessment; empty for a post out of scope (no model "
        "ran on it) or with explain: false."
    )
    queue: QueueOut | None


class AssessResponse(BaseModel):
    results: list[ResultOut]
    models: dict[str, dict[str, Any]]


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "The body is not valid JSON.",
        401: "Missing, invalid or revoked API token.",
        408: "The body did not arrive in time.",
        409: "An id already queued under the same source with a different text.",
        413: "The body or the number of posts is over the limit.",
        422: "A field is invalid or a post is too long.",
        503: "The service is busy or the batch took too long; retry after Retry-After seconds.",
    }.items()
}


# ------------------------------------------------------------------------------------------------- auth
def require_token(request: Request) -> str:
    """The name of the client's live API token; 401 otherwise."""
    state: ServiceState = request.app.state.sosrisk
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "Missing API token. Send 'Authorization: Bearer <token>'; create a token with "
            "'sosrisk tokens create NAME'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    name = token_name(state.engine, token.strip())
    if name is None:
        raise HTTPException(
            401,
            "Invalid or revoked API token. Ask the service's administrator for a new one.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return name


# ------------------------------------------------------------------------------------------------ routes
@router.get(
    "/healthz",
    tags=["service"],
    responses={503: {"description": "The database cannot take writes now; retry after Retry-After seconds."}},
)
def healthz(request: Request) -> Any:
    """Readiness: the models are loaded and the database takes writes (a committed test write, and for
    SQLite at least 16 MiB free on its disk). Otherwise 503 with ``Retry-After``; the reason is logged."""
    state: ServiceState = request.app.state.sosrisk
    body = {"status": "ok", "version": __version__, "models": sorted(state.models.models())}
    problem = state.database_problem()
    if problem is None:
        return body
    wait = state.settings.retry_after_s
    logger.warning("health check: the database cannot take writes: %s", problem)
    # the reason (driver messages, server addresses) goes to the log only: /healthz needs no token
    detail = (
        f"The review-queue database cannot take writes now (the reason is in the service's log). Retry after {wait} s."
    )
    return JSONResponse(
        {**body, "status": "unavailable", "detail": detail}, status_code=503, headers={"Retry-After": str(wait)}
    )


@router.get("/v1/model", tags=["assess"], responses={401: ERRORS[401]})
def model_card(request: Request, client: str = Depends(require_token)) -> dict[str, Any]:
    """The served models' cards (kind, settings, calibration, decision rule, training record,
    cross-validated metrics, and each model's scope stage: gate, threshold, rules version, training), which
    model's scope stage decides scope and the safety-net rules it runs, the sosrisk version and the service's
    limits."""
    state: ServiceState = request.app.state.sosrisk
    settings = state.settings
    return {
        "sosrisk_version": __version__,
        "models": state.models.cards(),
        "scope": state.models.scope_card(),
        "limits": {
            "max_body_bytes": settings.max_body_bytes,
            "max_posts": settings.max_posts,
            "max_chars": settings.max_chars,
            "request_timeout_s": settings.request_timeout_s,
        },
    }


@router.post(
    "/v1/assess",
    tags=["assess"],
    response_model=AssessResponse,
    responses={code: ERRORS[code] for code in (400, 401, 408, 409, 413, 422, 503)},
)
async def assess_posts(body: AssessRequest, request: Request, client: str = Depends(require_token)) -> AssessResponse:
    """Assess a batch of posts: whether each is in scope (with the gate's probability, the reason and the
    safety-net rules that fired), level, probabilities, tier, the level's definition, the high-risk flag and
    probability, and the phrases that raised the assessment. With ``queue: true`` the posts in scope go to the
    review queue (a post already queued under the same source and id is not queued twice); a post out of scope
    is never queued (status ``not_queued_out_of_scope``)."""
    state: ServiceState = request.app.state.sosrisk
    settings = state.settings
    _check_limits(body, settings.max_posts, settings.max_chars)
    texts = [post.text for post in body.posts]
    try:
        assessments, explanations = await state.pool.run(
            state.score, texts, body.explain, timeout_s=settings.request_timeout_s
        )
    except Busy as busy:
        raise HTTPException(
            503,
            f"The service is busy ({state.pool.max_pending} requests in progress). Retry after {busy.retry_after} s.",
            headers={"Retry-After": str(busy.retry_after)},
        ) from None
    except TimeoutError:
        raise HTTPException(
            503,
            f"Assessing {len(texts)} posts took longer than {settings.request_timeout_s:g} s; nothing was "
            "stored. Send smaller batches or retry later.",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from None
    out_of_scope = [result.in_scope is False for result in assessments]
    queued: list[QueueOut | None] = [None] * len(texts)
    if body.queue:
        # a post out of scope is never queued: only the others go to the store (which refuses one anyway)
        rows = [row for row, out in enumerate(out_of_scope) if not out]
        items = [
            QueueItem(
                external_id=body.posts[row].id,
                text=body.posts[row].text,
                source=body.posts[row].source,
                author=body.posts[row].author,
                posted_at=body.posts[row].time,
                assessment=assessments[row],
                model_info=state.model_info,
                explanations=explanations[row] if body.explain else None,
            )
            for row in rows
        ]
        try:
            enqueued = await run_in_threadpool(state.enqueue, items, f"token:{client}") if items else []
        except QueueConflict as conflict:
            raise HTTPException(409, str(conflict)) from None
        queued = [QueueOut(post_id=None, status="not_queued_out_of_scope") if out else None for out in out_of_scope]
        for row, entry in zip(rows, enqueued, strict=True):
            queued[row] = QueueOut(post_id=entry.post_id, status="queued" if entry.newly_queued else "already_queued")
    logger.info(
        "assessed %d posts for client %s (%d out of scope, %d newly queued)",
        len(texts),
        client,
        sum(out_of_scope),
        sum(1 for q in queued if q is not None and q.status == "queued"),
    )
    results = []
    for post, result, explained, queue in zip(body.posts, assessments, explanations, queued, strict=True):
        values = result.to_dict()
        values["tier_name_zh"] = tier_by_key(result.tier).name_zh if result.tier else None
        if result.rule_hits is not None:
            values["rule_hits"] = [describe_rule_hit(hit, post.text) for hit in result.rule_hits]
        results.append(
            ResultOut(
                id=post.id,
                source=post.source,
                explanations=[ExplanationOut.model_validate(e) for e in explained],
                queue=queue,
                **values,
            )
        )
    return AssessResponse(results=results, models=state.model_info)


def _check_limits(body: AssessRequest, max_posts: int, max_chars: int) -> None:
    if len(body.posts) > max_posts:
        raise HTTPException(
            413,
            f"Too many posts in one request: got {len(body.posts)}, the limit is {max_posts}. "
            f"Split the batch into requests of at most {max_posts} posts.",
        )
    seen: set[tuple[str | None, str]] = set()
    for index, post in enumerate(body.posts):
        if len(post.text) > max_chars:
            raise HTTPException(
                422,
                f"posts[{index}] (id {post.id!r}): the text has {len(post.text)} characters; the limit is "
                f"{max_chars}. Shorten the post or split it.",
            )
        key = (post.source, post.id)
        if key in seen:
            raise HTTPException(
                422,
                f"posts[{index}]: the id {post.id!r} (source {post.source!r}) appears twice in this request; "
                "ids must be unique within a source.",
            )
        seen.add(key)
