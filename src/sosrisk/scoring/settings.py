"""The settings of a scoring run, validated at construction; the ones that shape the output are fingerprinted."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..data.reader import INPUT_FORMATS, ReadSettings
from ..scale import TIERS, tier_by_key
from .workdir import ScoringError

ENGINES = ("local", "ray")
OUTPUT_FORMATS = ("parquet", "jsonl")
_OUTPUT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_TIER_KEYS = [t.key for t in TIERS]


def output_format_of(output: Path, fmt: str | None) -> str:
    """The output format from ``fmt`` or the output's suffix."""
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise ScoringError(f"The output format must be one of {set(OUTPUT_FORMATS)}. Got {fmt!r} instead.")
        return fmt
    try:
        return _OUTPUT_SUFFIXES[output.suffix.lower()]
    except KeyError:
        raise ScoringError(
            f"Cannot tell the output format from {output.name!r}: expected a suffix among "
            f"{', '.join(sorted(_OUTPUT_SUFFIXES))}, or pass --format parquet|jsonl."
        ) from None


@dataclass(frozen=True)
class ScoreSettings:
    """How a scoring run reads, scores and writes.

    Parameters
    ----------
    text_column, id_column:
        Input columns (JSON keys) of the text and the post id; default the aliases ``text``/``comment``
        and ``id``/``post_id``. Posts without an id are identified by ``source`` + ``position``.
    input_format:
        Read every input as this format (``jsonl``, ``csv``, ``tsv``, ``text``, ``parquet``) instead of
        guessing from the suffix.
    output_format:
        ``parquet`` or ``jsonl``; ``None``: from the output's suffix.
    min_tier:
        Write only posts at or above this tier (``distress``, ``wish``, ``plan``, ``imminent``); needs a
        level model. Posts below are counted as ``filtered``.
    include_text:
        Also write each post's text in the output (off by default: the output then holds no post text).
    max_chars:
        Longer texts are rejected as ``too_long``.
    chunk_size:
        Input units (lines or rows) per chunk: the unit of work, of atomic output and of resuming.
    engine:
        ``local`` (processes on this machine) or ``ray``.
    queue_db:
        Database URL of the review queue; posts at or above ``queue_min_tier`` (or flagged high risk by
        a binary model) are appended to it, idempotently.
    queue_min_tier, queue_source:
        The lowest tier queued, and the ``source`` name the queued posts carry.
    """

    text_column: str | None = None
    id_column: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    min_tier: str | None = None
    include_text: bool = False
    max_chars: int = 20_000
    chunk_size: int = 10_000
    engine: str = "local"
    queue_db: str | None = None
    queue_min_tier: str = "plan"
    queue_source: str = "sosrisk-score"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ScoringError(f"The engine must be one of {set(ENGINES)}. Got {self.engine!r} instead.")
        if self.input_format is not None and self.input_format not in INPUT_FORMATS:
            raise ScoringError(
                f"The input format must be one of {set(INPUT_FORMATS)}. Got {self.input_format!r} instead."
            )
        if self.output_format is not None and self.output_format not in OUTPUT_FORMATS:
            raise ScoringError(
                f"The output format must be one of {set(OUTPUT_FORMATS)}. Got {self.output_format!r} instead."
            )
        for name in ("min_tier", "queue_min_tier"):
            value = getattr(self, name)
            if value is not None and value not in _TIER_KEYS:
                raise ScoringError(f"The '{name}' setting must be a tier among {_TIER_KEYS}. Got {value!r} instead.")
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ScoringError(f"The chunk size must be an int >= 1. Got {self.chunk_size!r} instead.")
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int) or self.max_chars < 1:
            raise ScoringError(f"The 'max_chars' setting must be an int >= 1. Got {self.max_chars!r} instead.")
        if not self.queue_source:
            raise ScoringError("The 'queue_source' setting must be a non-empty name.")

    @property
    def min_tier_rank(self) -> int | None:
        """The rank of ``min_tier`` (``None`` when every post is written)."""
        return tier_by_key(self.min_tier).rank if self.min_tier is not None else None

    @property
    def queue_rank(self) -> int:
        """The rank of ``queue_min_tier``."""
        return tier_by_key(self.queue_min_tier).rank

    def read_settings(self) -> ReadSettings:
        """The reading part of the settings."""
        return ReadSettings(
            text_column=self.text_column,
            id_column=self.id_column,
            max_chars=self.max_chars,
            input_format=self.input_format,
            extra_columns=self.queue_db is not None,
        )

    def fingerprint_fields(self) -> dict[str, Any]:
        """Every setting that shapes the output or the chunks (a resumed run must match them).

        The queue URL is kept only as a hash (it may hold a password).
        """
        fields = asdict(self)
        url = fields.pop("queue_db")
        fields["queue_db_sha256"] = hashlib.sha256(url.encode()).hexdigest() if url is not None else None
        return fields

    def to_dict(self) -> dict[str, Any]:
        """All settings as a JSON-ready dict (the queue URL as a hash)."""
        return self.fingerprint_fields()
