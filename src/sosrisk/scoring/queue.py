"""Appending a scan's urgent posts to the service's review queue (``sosrisk.serve.store``)."""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Sequence
from typing import Any

from .results import ModelSpec, assessment_from_row

logger = logging.getLogger(__name__)

# The review queue's limits (sosrisk.serve.store)
MAX_ID_CHARS = 200
MAX_AUTHOR_CHARS = 200
# What no database of the queue can store as text: NUL (PostgreSQL refuses it) and unpaired surrogates
# (not encodable as UTF-8). The store refuses a batch holding them; a scan replaces them instead.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def check_queue_available() -> None:
    """Fail before scoring when the review-queue store cannot be imported."""
    try:
        from ..serve import store
    except ImportError as exc:
        raise ImportError(
            f"--queue-db needs the review-queue store of the service ({exc}). Install it with: "
            'pip install "sosrisk[serve]"'
        ) from None
    for name in ("QueueItem", "enqueue_assessments"):
        if not hasattr(store, name):
            raise ImportError(
                f"--queue-db needs sosrisk.serve.store.{name}, which this installation lacks; upgrade sosrisk."
            )


def queue_model_info(specs: Sequence[ModelSpec]) -> dict[str, Any]:
    """What the queue records about the models: kind, training fingerprint and files, per task."""
    return {spec.task: spec.info() for spec in specs} | {"scored_by": "sosrisk score"}


def enqueue_rows(db_url: str, rows: Sequence[dict[str, Any]], *, source: str, model_info: dict[str, Any]) -> int:
    """Queue the scored rows (with text, author, time) idempotently; return how many were new.

    A post without an id is identified by ``<input file>:<line or row>``. A ``posted_at`` that is not
    an ISO 8601 date-time is left out (the post is still queued) and counted in a warning, so one odd
    timestamp cannot stop a scan.
    """
    if not rows:
        return 0
    from ..serve.store import QueueItem, enqueue_assessments

    items = []
    bad_times = 0
    replaced = 0
    for row in rows:
        posted_at = row.get("posted_at")
        if posted_at is not None and not _is_iso_time(posted_at):
            posted_at = None
            bad_times += 1
        author = row.get("author")
        author = author[:MAX_AUTHOR_CHARS] if author is not None else None
        post_id, text = external_id(row), row["text"]
        storable = (_storable(post_id), _storable(text), _storable(author) if author is not None else None)
        replaced += storable != (post_id, text, author)
        items.append(
            QueueItem(
                external_id=storable[0],
                text=storable[1],
                source=source,
                author=storable[2],
                posted_at=posted_at,
                assessment=assessment_from_row(row),
                model_info=model_info,
            )
        )
    if bad_times:
        logger.warning(
            "%d queued posts have a posted_at that is not an ISO 8601 date-time; queued without it", bad_times
        )
    if replaced:
        logger.warning(
            "%d queued posts held NUL characters or unpaired surrogates in their text, id or author, which no "
            "database stores as text; they were queued with U+FFFD in their place",
            replaced,
        )
    return int(enqueue_assessments(db_url, items))


def _storable(value: str) -> str:
    """``value`` with every character the queue cannot store replaced by U+FFFD."""
    if _UNSTORABLE.search(value) is None:
        return value
    return _UNSTORABLE.sub(REPLACEMENT, value)


def external_id(row: dict[str, Any]) -> str:
    """The id a queued post carries: its own id, or ``<input file>:<position>`` (at most 200 characters)."""
    if row.get("id") is not None:
        return str(row["id"])
    fallback = f"{row['source']}:{row['position']}"
    return fallback if len(fallback) <= MAX_ID_CHARS else fallback[-MAX_ID_CHARS:]


def _is_iso_time(value: str) -> bool:
    try:
        _dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True
