"""Pre-annotating posts with an LLM, in batches, through the ledger; and the review file it writes.

Posts go to the model in batches of ``batch_size``, numbered 1..n within the batch. Posts whose row
cannot be read (no row, a level outside 0-10, a number that is not in the batch, two different levels)
are sent again in later batches, up to ``max_attempts`` times in all; after that they are *flagged*:
they keep no level and the review file leaves their ``risk_level`` empty for a person to fill in.

Every request and answer goes through the ledger (:mod:`sosrisk.llm.ledger`): a run that crashed or
was stopped with Ctrl-C resumes where it was, paying only for the batches it had not received.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import PostSet, decode_bytes
from ..data.errors import DataError
from .parse import parse_answer
from .prompts import annotation_messages, check_strategy

if TYPE_CHECKING:
    from ..llm import ChatClient, Ledger

logger = logging.getLogger(__name__)

REVIEW_COLUMNS = ("id", "text", "risk_level", "llm_level", "llm_reason", "llm_status", "llm_problem", "reviewer_note")
OFFICIAL_NAMES = {"text": "comment", "risk_level": "myLabel"}


@dataclass
class Annotation:
    """The model's answer for one post: a level and its reason, or a flag with the last problem."""

    id: str
    text: str
    level: int | None = None
    reason: str = ""
    attempts: int = 0
    problem: str = ""

    @property
    def status(self) -> str:
        return "ok" if self.level is not None else "flagged"


@dataclass
class AnnotationRun:
    """Every post's annotation and what the run cost."""

    strategy: str
    model: str
    annotations: list[Annotation]
    calls: int = 0
    cached_calls: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[Annotation]:
        return [a for a in self.annotations if a.level is None]

    def summary(self) -> str:
        ok = len(self.annotations) - len(self.flagged)
        return (
            f"annotated {ok} of {len(self.annotations)} posts with {self.model} ({self.strategy} prompt); "
            f"{len(self.flagged)} flagged for a person; {self.calls} requests, {self.cached_calls} answered "
            "from the ledger"
        )


def post_ids(posts: PostSet) -> list[str]:
    """The posts' own ids, else ``file name:line``."""
    return [
        str(value) if value is not None and value == value else f"{Path(str(source)).name}:{line}"
        for value, source, line in zip(posts.frame["id"], posts.frame["source"], posts.frame["line"], strict=True)
    ]


def annotate_posts(
    posts: PostSet,
    *,
    strategy: str = "scene+levels",
    client: ChatClient | None,
    ledger: Ledger | None,
    batch_size: int = 20,
    temperature: float = 0.0,
    max_attempts: int = 3,
    model: str | None = None,
    show_progress: bool = True,
) -> AnnotationRun:
    """Ask the model for the level of every post; see the module description for retries and flags."""
    from ..llm import cached_chat
    from ..progress import progress_bar

    check_strategy(strategy)
    if batch_size < 1:
        raise ValueError(f"The batch size must be at least 1. Got {batch_size!r} instead.")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1. Got {max_attempts!r} instead.")
    model_name = client.options.model if client is not None else (model or "")
    annotations = [Annotation(id=i, text=t) for i, t in zip(post_ids(posts), posts.texts, strict=True)]
    run = AnnotationRun(strategy=strategy, model=model_name, annotations=annotations)
    pending = list(range(len(annotations)))
    with progress_bar(len(annotations), f"annotating ({strategy})", enabled=show_progress) as advance:
        for attempt in range(1, max_attempts + 1):
            if not pending:
                break
            still: list[int] = []
            for start in range(0, len(pending), batch_size):
                batch = pending[start : start + batch_size]
                numbered = [(n, annotations[i].text) for n, i in enumerate(batch, start=1)]
                reply = cached_chat(
                    client,
                    ledger,
                    annotation_messages(strategy, numbered),
                    temperature=temperature,
                    purpose="annotate",
                    salt=f"attempt{attempt}",
                    model=model,
                    meta={"strategy": strategy, "attempt": attempt, "posts": len(batch)},
                )
                run.calls += 1
                run.cached_calls += int(reply.cached)
                parsed = parse_answer(reply.content, [n for n, _ in numbered])
                if parsed.problems:
                    logger.info(
                        "batch of %d posts (attempt %d): %d problems in the answer",
                        len(batch),
                        attempt,
                        len(parsed.problems),
                    )
                for number, index in enumerate(batch, start=1):
                    annotation = annotations[index]
                    annotation.attempts = attempt
                    row = parsed.rows.get(number)
                    if row is None:
                        mine = [p for p in parsed.problems if f"post {number}:" in p or f"post {number} " in p]
                        annotation.problem = (mine or parsed.problems or ["no usable row"])[0]
                        still.append(index)
                        continue
                    annotation.level, annotation.reason, annotation.problem = row.level, row.reason, ""
                    advance()
            pending = still
        advance(len(pending))
    for index in pending:
        run.problems.append(
            f"{annotations[index].id}: flagged after {max_attempts} attempt(s): {annotations[index].problem}"
        )
    logger.info(run.summary())
    return run


def render_review(run: AnnotationRun, *, fmt: str = "tsv", columns: str = "ours") -> str:
    """The review file: one row per post, ``risk_level`` pre-filled with the model's level (empty where
    flagged) for an annotator to accept or correct. ``columns="official"`` names text and level
    ``comment`` and ``myLabel``."""
    if columns not in {"ours", "official"}:
        raise ValueError(f"columns must be 'ours' or 'official'. Got {columns!r} instead.")
    names = [OFFICIAL_NAMES.get(c, c) if columns == "official" else c for c in REVIEW_COLUMNS]
    records = []
    for a in run.annotations:
        level = "" if a.level is None else a.level
        records.append([a.id, a.text, level, level, a.reason, a.status, a.problem, ""])
    if fmt == "jsonl":
        return "".join(
            json.dumps({n: (None if v == "" else v) for n, v in zip(names, r, strict=True)}, ensure_ascii=False) + "\n"
            for r in records
        )
    if fmt not in {"tsv", "csv"}:
        raise ValueError(f"fmt must be 'tsv', 'csv' or 'jsonl'. Got {fmt!r} instead.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    writer.writerow(names)
    writer.writerows(records)
    return buffer.getvalue()


def write_review(path: str | Path, run: AnnotationRun, *, columns: str = "ours") -> Path:
    """Write the review file atomically; the format follows the suffix (``.tsv``, ``.csv``, ``.jsonl``)."""
    from ..atomic import atomic_write_text

    target = Path(path)
    suffix = target.suffix.lower()
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix, "tsv")
    atomic_write_text(target, render_review(run, fmt=fmt, columns=columns))
    return target


def is_review_file(path: str | Path) -> bool:
    """Whether ``path`` is a review file written by :func:`write_review` (it has an ``llm_level`` column)."""
    try:
        rows = read_review(path)
    except DataError:
        return False
    return bool(rows) and "llm_level" in rows[0]


def read_review(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a review file (TSV, CSV or JSONL) as dicts with our column names."""
    file = Path(path)
    if not file.is_file():
        raise DataError(file, "no such file")
    text, _ = decode_bytes(file, file.read_bytes())
    rename = {v: k for k, v in OFFICIAL_NAMES.items()}
    rows: list[dict[str, Any]] = []
    if file.suffix.lower() in {".jsonl", ".json"}:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    raise DataError(file, "not valid JSON", line=number) from None
                rows.append({rename.get(k, k): v for k, v in record.items()} | {"line": number})
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="," if file.suffix.lower() == ".csv" else "\t")
    for record in reader:
        rows.append({rename.get(k, k): v for k, v in record.items() if k is not None} | {"line": reader.line_num})
    return rows


def review_levels(path: str | Path) -> tuple[list[str], list[str], list[int | None]]:
    """``(ids, texts, model levels)`` of a review file; flagged posts have level ``None``."""
    file = Path(path)
    rows = read_review(file)
    if rows and "llm_level" not in rows[0]:
        raise DataError(file, "not a review file: expected an 'llm_level' column (written by 'sosrisk annotate')")
    ids, texts, levels = [], [], []
    for row in rows:
        raw = row.get("llm_level")
        value: int | None = None
        if raw not in (None, ""):
            try:
                value = int(str(raw).strip())
            except ValueError:
                raise DataError(
                    file, f"llm_level {raw!r} is not an integer", line=row["line"], field="llm_level"
                ) from None
        ids.append(str(row.get("id") or ""))
        texts.append(str(row.get("text") or ""))
        levels.append(value)
    return ids, texts, levels
