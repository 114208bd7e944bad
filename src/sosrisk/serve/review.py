"""The review loop: the queue in urgency order, one reviewer at a time per post, decisions, export.

Urgency order: the model's level (highest first), then the high-risk probability (highest first), then
the time of the post (or of its arrival when the client gave none; oldest first, it has waited longest).
A post a safety-net rule fired on counts at least the rule's floor as its level, also when only a binary
model assessed it (its probability is the model's own, and would otherwise sort it low).
A reviewer *claims* a post before deciding; a claim lapses after a few minutes so an abandoned post
returns to the queue. Every decision is appended to ``decisions`` (who, when, level and high-risk flag
before and after, action, note) and to the audit trail; the post keeps its latest reviewed state.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..scale import check_level, check_task, tier_by_key
from .accounts import User
from .schema import decisions, posts, users
from .store import StoreError, record_event, text_problem, transaction, utcnow

ACTIONS: dict[str, tuple[str, str]] = {
    "contacted": ("contacted the writer", "已联系"),
    "escalated": ("escalated (emergency protocol)", "已升级处理"),
    "no_action": ("no action needed", "无需行动"),
    "false_alarm": ("false alarm", "误报"),
}
STATUS_FILTERS = ("pending", "reviewed", "all")
MAX_NOTE_CHARS = 2000
EXPORT_COLUMNS = {"level": "myLabel", "binary": "twoClass"}


class ReviewError(StoreError):
    """A review step that cannot be done (unknown post, bad level or action, claimed by someone else)."""


class ClaimedByOther(ReviewError):
    """The post is claimed by another reviewer until ``until``."""

    def __init__(self, holder: str, until: _dt.datetime) -> None:
        self.holder = holder
        self.until = until
        super().__init__(
            f"This post is being reviewed by {holder} until {until:%H:%M} UTC; nothing was saved. "
            "Pick another post, or wait until the claim lapses."
        )


@dataclass(frozen=True)
class QueueFilters:
    """Which posts the queue shows: a tier key or ``None``, a status filter, a source or ``None``."""

    tier: str | None = None
    status: str = "pending"
    source: str | None = None

    def __post_init__(self) -> None:
        if self.tier is not None:
            tier_by_key(self.tier)
        if self.status not in STATUS_FILTERS:
            raise ReviewError(
                f"The status filter must be one of {', '.join(STATUS_FILTERS)}. Got {self.status!r} instead."
            )
        problem = text_problem(self.source) if self.source is not None else None
        if problem is not None:
            raise ReviewError(f"The source filter holds {problem}; no queued post has such a source.")


@dataclass(frozen=True)
class DecisionRecord:
    """One entry of a post's review history."""

    reviewer: str
    decided_at: _dt.datetime
    level_before: int | None
    level_after: int
    high_risk_before: bool | None
    high_risk_after: bool | None
    action: str
    note: str


@dataclass
class PostView:
    """A queued post with its assessment, review state, claim and history."""

    id: int
    source: str | None
    external_id: str
    text: str
    author: str | None
    posted_at: _dt.datetime | None
    received_at: _dt.datetime
    risk_level: int | None
    tier: str | None
    level_probabilities: list[float] | None
    expected_level: float | None
    high_risk: bool | None
    high_risk_probability: float | None
    explanations: list[dict[str, Any]] | None
    model_info: dict[str, Any]
    in_scope: bool | None
    scope_probability: float | None
    scope_reason: str | None
    rule_hits: list[dict[str, Any]] | None
    status: str
    reviewed_level: int | None
    reviewed_high_risk: bool | None
    reviewed_action: str | None
    reviewed_at: _dt.datetime | None
    assigned_to: int | None
    assigned_name: str | None
    assigned_until: _dt.datetime | None
    history: list[DecisionRecord] = field(default_factory=list)

    def claimed_by_other(self, user: User, now: _dt.datetime) -> bool:
        """Whether another reviewer holds a live claim on this post."""
        return (
            self.assigned_to is not None
            and self.assigned_to != user.id
            and self.assigned_until is not None
            and self.assigned_until > now
        )

    @property
    def rule_floor(self) -> int | None:
        """The highest level a safety-net rule raised this post to, or ``None`` when no rule fired."""
        return max((int(hit["floor"]) for hit in self.rule_hits or []), default=None)

    @property
    def current_level(self) -> int | None:
        """The reviewed level if there is one, else the model's."""
        return self.reviewed_level if self.status == "reviewed" else self.risk_level

    @property
    def current_high_risk(self) -> bool | None:
        """The reviewed high-risk flag if there is one, else the model's."""
        return self.reviewed_high_risk if self.status == "reviewed" else self.high_risk


_assignee = users.alias("assignee")
_POST_COLUMNS = [*posts.c, _assignee.c.display_name.label("assigned_name")]
URGENCY_ORDER = (
    posts.c.urgency_level.desc(),
    posts.c.urgency_probability.desc(),
    posts.c.sort_time.asc(),
    posts.c.id.asc(),
)


def _post_view(row: Any) -> PostView:
    def parsed(value: str | None) -> Any:
        return None if value is None else json.loads(value)

    return PostView(
        id=int(row.id),
        source=row.source or None,
        external_id=row.external_id,
        text=row.text,
        author=row.author,
        posted_at=row.posted_at,
        received_at=row.received_at,
        risk_level=row.risk_level,
        tier=row.tier,
        level_probabilities=parsed(row.level_probabilities),
        expected_level=row.expected_level,
        high_risk=row.high_risk,
        high_risk_probability=row.high_risk_probability,
        explanations=parsed(row.explanations),
        model_info=parsed(row.model_info) or {},
        in_scope=row.in_scope,
        scope_probability=row.scope_probability,
        scope_reason=row.scope_reason,
        rule_hits=parsed(row.rule_hits),
        status=row.status,
        reviewed_level=row.reviewed_level,
        reviewed_high_risk=row.reviewed_high_risk,
        reviewed_action=row.reviewed_action,
        reviewed_at=row.reviewed_at,
        assigned_to=row.assigned_to,
        assigned_name=row.assigned_name,
        assigned_until=row.assigned_until,
    )


def _filtered(statement: sa.Select[Any], filters: QueueFilters) -> sa.Select[Any]:
    if filters.status != "all":
        statement = statement.where(posts.c.status == filters.status)
    if filters.tier is not None:
        statement = statement.where(posts.c.tier == filters.tier)
    if filters.source is not None:
        statement = statement.where(posts.c.source == filters.source)
    return statement


def list_queue(
    engine: Engine, filters: QueueFilters = QueueFilters(), *, limit: int = 200, offset: int = 0
) -> tuple[list[PostView], int]:
    """One page of the queue in urgency order, and how many posts match the filters in all."""
    base = sa.select(*_POST_COLUMNS).select_from(posts.outerjoin(_assignee, _assignee.c.id == posts.c.assigned_to))
    with engine.connect() as connection:
        rows = connection.execute(_filtered(base, filters).order_by(*URGENCY_ORDER).limit(limit).offset(offset)).all()
        total = connection.execute(_filtered(sa.select(sa.func.count()).select_from(posts), filters)).scalar_one()
    return [_post_view(row) for row in rows], int(total)


def queue_sources(engine: Engine) -> list[str]:
    """The distinct sources of queued posts (for the filter), ``''`` excluded."""
    with engine.connect() as connection:
        result = connection.execute(
            sa.select(posts.c.source).where(posts.c.source != "").distinct().order_by(posts.c.source)
        )
        return [row.source for row in result]


def queue_counts(engine: Engine) -> dict[str, int]:
    """Posts per status (``pending``, ``reviewed``)."""
    with engine.connect() as connection:
        result = connection.execute(sa.select(posts.c.status, sa.func.count()).group_by(posts.c.status))
        counts = {status: 0 for status in ("pending", "reviewed")}
        counts.update({row[0]: int(row[1]) for row in result})
        return counts


def get_post(engine: Engine, post_id: int) -> PostView:
    """A post with its review history (oldest decision first)."""
    with engine.connect() as connection:
        return _get_post(connection, post_id)


def _get_post(connection: Connection, post_id: int) -> PostView:
    row = connection.execute(
        sa.select(*_POST_COLUMNS)
        .select_from(posts.outerjoin(_assignee, _assignee.c.id == posts.c.assigned_to))
        .where(posts.c.id == post_id)
    ).first()
    if row is None:
        raise ReviewError(f"No queued post has id {post_id}. Go back to the queue and pick another.")
    view = _post_view(row)
    history = connection.execute(sa.select(decisions).where(decisions.c.post_id == post_id).order_by(decisions.c.id))
    view.history = [
        DecisionRecord(
            reviewer=item.reviewer,
            decided_at=item.decided_at,
            level_before=item.level_before,
            level_after=item.level_after,
            high_risk_before=item.high_risk_before,
            high_risk_after=item.high_risk_after,
            action=item.action,
            note=item.note,
        )
        for item in history
    ]
    return view


def _lock_post(connection: Connection, post_id: int) -> Any:
    row = connection.execute(
        sa.select(posts.c.id, posts.c.assigned_to, posts.c.assigned_until, _assignee.c.display_name)
        .select_from(posts.outerjoin(_assignee, _assignee.c.id == posts.c.assigned_to))
        .where(posts.c.id == post_id)
        .with_for_update(of=posts)
    ).first()
    if row is None:
        raise ReviewError(f"No queued post has id {post_id}. Go back to the queue and pick another.")
    return row


def _held_by_other(row: Any, user: User, now: _dt.datetime) -> bool:
    return row.assigned_to not in (None, user.id) and row.assigned_until is not None and row.assigned_until > now


def claim(engine: Engine, post_id: int, user: User, *, minutes: float) -> PostView:
    """Claim a post for ``user`` for ``minutes`` (renewing their own claim); raises
    :class:`ClaimedByOther` when another reviewer holds it."""
    now = utcnow()
    with transaction(engine) as connection:
        row = _lock_post(connection, post_id)
        if _held_by_other(row, user, now):
            raise ClaimedByOther(row.display_name, row.assigned_until)
        connection.execute(
            posts.update()
            .where(posts.c.id == post_id)
            .values(assigned_to=user.id, assigned_until=now + _dt.timedelta(minutes=minutes))
        )
        if row.assigned_to != user.id or row.assigned_until is None or row.assigned_until <= now:
            record_event(connection, f"user:{user.username}", "post.claimed", post_id=post_id)
        return _get_post(connection, post_id)


def claim_next(engine: Engine, user: User, filters: QueueFilters, *, minutes: float) -> int | None:
    """Claim the most urgent pending post matching ``filters`` that nobody else holds; its id or ``None``."""
    now = utcnow()
    free = sa.or_(posts.c.assigned_to.is_(None), posts.c.assigned_to == user.id, posts.c.assigned_until <= now)
    pending = QueueFilters(tier=filters.tier, status="pending", source=filters.source)
    with transaction(engine) as connection:
        statement = _filtered(sa.select(posts.c.id).where(free), pending).order_by(*URGENCY_ORDER).limit(1)
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        post_id = connection.execute(statement).scalar_one_or_none()
        if post_id is None:
            return None
        connection.execute(
            posts.update()
            .where(posts.c.id == post_id)
            .values(assigned_to=user.id, assigned_until=now + _dt.timedelta(minutes=minutes))
        )
        record_event(connection, f"user:{user.username}", "post.claimed", post_id=post_id)
        return int(post_id)


def release(engine: Engine, post_id: int, user: User) -> None:
    """Give back ``user``'s claim on a post (no-op if they do not hold it)."""
    with transaction(engine) as connection:
        result = connection.execute(
            posts.update()
            .where(posts.c.id == post_id, posts.c.assigned_to == user.id)
            .values(assigned_to=None, assigned_until=None)
        )
        if result.rowcount:
            record_event(connection, f"user:{user.username}", "post.released", post_id=post_id)


def decide(
    engine: Engine,
    post_id: int,
    user: User,
    *,
    level: int,
    action: str,
    note: str = "",
    high_risk: bool | None = None,
) -> DecisionRecord:
    """Record a reviewer's decision: the confirmed or corrected level (and high-risk flag), the action
    taken and a note. The post must not be claimed by someone else; the decision releases the claim."""
    try:
        check_level(level)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
    if action not in ACTIONS:
        raise ReviewError(f"The action must be one of {', '.join(ACTIONS)}. Got {action!r} instead.")
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"A note may have at most {MAX_NOTE_CHARS} characters. Got {len(note)}.")
    problem = text_problem(note)
    if problem is not None:
        raise ReviewError(f"The note holds {problem}, which cannot be stored; remove it and save again.")
    now = utcnow()
    with transaction(engine) as connection:
        row = _lock_post(connection, post_id)
        if _held_by_other(row, user, now):
            raise ClaimedByOther(row.display_name, row.assigned_until)
        post = _get_post(connection, post_id)
        record = DecisionRecord(
            reviewer=user.username,
            decided_at=now,
            level_before=post.current_level,
            level_after=level,
            high_risk_before=post.current_high_risk,
            high_risk_after=high_risk,
            action=action,
            note=note,
        )
        connection.execute(decisions.insert().values(post_id=post_id, reviewer_id=user.id, **vars(record)))
        connection.execute(
            posts.update()
            .where(posts.c.id == post_id)
            .values(
                status="reviewed",
                reviewed_level=level,
                reviewed_high_risk=high_risk,
                reviewed_action=action,
                reviewed_at=now,
                reviewed_by=user.id,
                assigned_to=None,
                assigned_until=None,
            )
        )
        record_event(
            connection,
            f"user:{user.username}",
            "post.reviewed",
            post_id=post_id,
            at=now,
            detail={
                "level_before": record.level_before,
                "level_after": level,
                "high_risk_before": record.high_risk_before,
                "high_risk_after": high_risk,
                "action": action,
            },
        )
    return record


def export_reviewed(engine: Engine, task: str, out: IO[str], *, actor: str) -> int:
    """Write reviewed posts as an official-format TSV (``comment`` + ``myLabel`` for the level task,
    ``comment`` + ``twoClass`` for the binary task) that ``sosrisk train --train FILE`` reads.

    The labels are the reviewers' latest decisions; for the binary task only posts whose reviewer judged
    the high-risk flag are written. Returns the number of posts written.
    """
    check_task(task)
    label = posts.c.reviewed_level if task == "level" else posts.c.reviewed_high_risk
    with transaction(engine) as connection:
        rows: Sequence[Any] = connection.execute(
            sa.select(posts.c.text, label.label("label"))
            .where(posts.c.status == "reviewed", label.is_not(None))
            .order_by(posts.c.reviewed_at, posts.c.id)
        ).all()
        record_event(connection, actor, "export", detail={"task": task, "posts": len(rows)})
    out.write(f"comment\t{EXPORT_COLUMNS[task]}\n")
    for row in rows:
        out.write(f"{_tsv_field(row.text)}\t{int(row.label)}\n")
    return len(rows)


def _tsv_field(text: str) -> str:
    """``text`` as one TSV field that a CSV reader gives back unchanged: quoted when it holds a tab, a quote,
    or a line break of any kind. (Python's csv writer leaves a bare carriage return unquoted when lines
    end with a newline, and the reader then splits the row there.)"""
    if any(char in text for char in '\t"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def export_reviewed_file(db_url: str, task: str, path: str | Path, *, actor: str = "cli") -> int:
    """:func:`export_reviewed` into a file, written atomically; returns the number of posts written."""
    from ..atomic import atomic_write
    from .store import get_engine

    engine = get_engine(db_url, migrate_schema=False)
    with atomic_write(path, newline="") as handle:
        return export_reviewed(engine, task, handle, actor=actor)
