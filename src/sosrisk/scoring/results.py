"""What batch scoring computes for each post, column by column, and the output schema.

The numbers are those of :func:`sosrisk.assess.assess`: both are built on
:func:`sosrisk.assess.answer_columns` (the scope decided once, the decision rule, probabilities rounded to 6
decimals, expected level to 4, as numpy arrays for the whole batch); ``assess`` makes one ``Assessment``
per post of them, :func:`score_table` Arrow columns. :func:`assessment_from_row` turns an output row back
into an ``Assessment`` (for the review queue).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..assess import Assessment, answer_columns
from ..models.base import ModelError, RiskModel, read_config
from ..scale import N_LEVELS, TIERS, level, tier_by_key

logger = logging.getLogger(__name__)

LEVEL_PROBABILITY_COLUMNS = [f"p_level_{value}" for value in range(N_LEVELS)]
# Model kinds scored in worker processes (pure numpy); other kinds (encoders) use threads in one process.
PROCESS_KINDS = frozenset({"char-linear"})
_TIER_KEY = np.array([next(t.key for t in TIERS if value in t) for value in range(N_LEVELS)], dtype=object)
_TIER_RANK = np.array([next(t.rank for t in TIERS if value in t) for value in range(N_LEVELS)])


@dataclass(frozen=True)
class ModelSpec:
    """A model directory to score with: where it is, its kind and task, and a fingerprint of its files."""

    directory: str
    kind: str
    task: str
    fingerprint: str
    sosrisk_version: str | None = None

    def info(self) -> dict[str, Any]:
        """What the review queue and the manifest record about the model."""
        return {
            "directory": self.directory,
            "kind": self.kind,
            "task": self.task,
            "fingerprint": self.fingerprint,
            "sosrisk_version": self.sosrisk_version,
        }


def model_specs(directories: Sequence[str | Path]) -> list[ModelSpec]:
    """Check the model directories (one level model, one binary model, or one of each) and fingerprint them."""
    if not directories:
        raise ModelError("Expected a level model directory, a binary one, or one of each; got none.")
    if len(directories) > 2:
        raise ModelError(
            f"Expected at most two model directories (a level model and a binary model); got {len(directories)}."
        )
    specs = []
    for directory in directories:
        path = Path(directory)
        config = read_config(path)
        specs.append(
            ModelSpec(
                directory=str(path),
                kind=str(config["kind"]),
                task=str(config["task"]),
                fingerprint=fingerprint_model_dir(path),
                sosrisk_version=config.get("sosrisk_version"),
            )
        )
    tasks = [spec.task for spec in specs]
    if len(set(tasks)) != len(tasks):
        raise ModelError(
            f"Both model directories hold a {tasks[0]!r} model ({specs[0].directory}, {specs[1].directory}); "
            "give one level model and one binary model."
        )
    return specs


def fingerprint_model_dir(directory: Path) -> str:
    """sha256 over every file of a model directory (names and bytes): the same model, the same fingerprint."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(directory)).encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


@dataclass
class LoadedModels:
    """The loaded models of a scoring run (either may be ``None``, not both)."""

    level: RiskModel | None
    binary: RiskModel | None
    batch_size: int = 1024

    @classmethod
    def load(cls, specs: Sequence[ModelSpec], directories: Sequence[str | Path] | None = None) -> LoadedModels:
        """Load the models of ``specs`` (from ``directories`` when the files were copied elsewhere)."""
        from ..models import load_model

        loaded: dict[str, RiskModel] = {}
        for index, spec in enumerate(specs):
            where = directories[index] if directories is not None else spec.directory
            loaded[spec.task] = load_model(where)
        return cls(level=loaded.get("level"), binary=loaded.get("binary"))


def output_columns(tasks: Sequence[str], *, include_text: bool) -> list[tuple[str, str]]:
    """``(name, arrow type name)`` of the output columns for the given tasks."""
    columns = [("source", "string"), ("position", "int64"), ("id", "string")]
    if include_text:
        columns.append(("text", "string"))
    columns += [
        ("in_scope", "bool_"),
        ("scope_probability", "float64"),
        ("scope_reason", "string"),
        ("rule_hits", "string"),
    ]
    if "level" in tasks:
        columns += [("risk_level", "int8"), ("tier", "string"), ("expected_level", "float64")]
        columns += [(name, "float64") for name in LEVEL_PROBABILITY_COLUMNS]
    if "binary" in tasks:
        columns += [("high_risk", "bool_"), ("high_risk_probability", "float64")]
    return columns


def output_schema(tasks: Sequence[str], *, include_text: bool) -> Any:
    """The ``pyarrow.Schema`` of the output file."""
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in output_columns(tasks, include_text=include_text)])


def score_table(records: Any, models: LoadedModels) -> Any:
    """Add the result columns to a records table (see :class:`~sosrisk.data.reader.Records`).

    Rows with a reject ``reason`` keep null results. Also adds ``tier_rank`` (for filtering).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = records.num_rows
    valid = pc.is_null(records.column("reason")).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(valid)
    if len(rows) == n:  # the common case: no rejects, no copy
        texts = records.column("text").to_pylist()
    else:
        texts = records.column("text").take(pa.array(rows, pa.int64())).to_pylist() if len(rows) else []
    missing = ~valid
    table = records
    answers = answer_columns(texts, level_model=models.level, binary_model=models.binary, batch_size=models.batch_size)
    in_scope = np.ones(n, dtype=bool)
    scope_probability = np.ones(n)
    hits = np.full(n, None, dtype=object)
    reasons = np.full(n, None, dtype=object)
    if answers.in_scope is not None:
        assert answers.scope_probability is not None and answers.rule_hits is not None
        reasons[rows] = answers.scope_reason
        in_scope[rows] = answers.in_scope
        scope_probability[rows] = answers.scope_probability
        hits[rows] = [json.dumps(row_hits) for row_hits in answers.rule_hits]
    no_scope = missing | (answers.in_scope is None)  # null where nothing was decided
    table = table.append_column("in_scope", pa.array(in_scope, pa.bool_(), mask=no_scope))
    table = table.append_column("scope_probability", pa.array(scope_probability, pa.float64(), mask=no_scope))
    table = table.append_column("scope_reason", pa.array(reasons, pa.string()))
    table = table.append_column("rule_hits", pa.array(hits, pa.string()))
    if answers.risk_level is not None:
        assert answers.level_probabilities is not None and answers.expected_level is not None
        labels = answers.risk_level
        level_values = np.zeros(n, dtype=np.int8)
        level_values[rows] = labels
        expected = np.zeros(n)
        expected[rows] = answers.expected_level
        probabilities = np.zeros((n, N_LEVELS))
        probabilities[rows] = answers.level_probabilities
        tiers = np.full(n, None, dtype=object)
        tiers[rows] = _TIER_KEY[labels]
        ranks = np.full(n, -1, dtype=np.int8)
        ranks[rows] = _TIER_RANK[labels]
        table = table.append_column("risk_level", pa.array(level_values, pa.int8(), mask=missing))
        table = table.append_column("tier", pa.array(tiers, pa.string()))
        table = table.append_column("tier_rank", pa.array(ranks, pa.int8()))
        table = table.append_column("expected_level", pa.array(expected, pa.float64(), mask=missing))
        for value, name in enumerate(LEVEL_PROBABILITY_COLUMNS):
            table = table.append_column(name, pa.array(probabilities[:, value], pa.float64(), mask=missing))
    if answers.high_risk is not None:
        assert answers.high_risk_probability is not None
        flags = np.zeros(n, dtype=bool)
        flags[rows] = answers.high_risk
        high = np.zeros(n)
        high[rows] = answers.high_risk_probability
        table = table.append_column("high_risk", pa.array(flags, pa.bool_(), mask=missing))
        table = table.append_column("high_risk_probability", pa.array(high, pa.float64(), mask=missing))
    return table


def assessment_from_row(row: dict[str, Any]) -> Assessment:
    """The :class:`~sosrisk.assess.Assessment` of one output row (as ``assess`` would give it)."""
    result = Assessment()
    if row.get("risk_level") is not None:
        value = int(row["risk_level"])
        entry = level(value)
        tier = tier_by_key(str(row["tier"]))
        result.risk_level = value
        result.level_probabilities = [float(row[name]) for name in LEVEL_PROBABILITY_COLUMNS]
        result.level_name = entry.name
        result.definition_en = entry.definition_en
        result.definition_zh = entry.definition_zh
        result.tier = tier.key
        result.tier_name = tier.name_en
        result.expected_level = float(row["expected_level"])
    if row.get("high_risk") is not None:
        result.high_risk = bool(row["high_risk"])
        result.high_risk_probability = float(row["high_risk_probability"])
    if row.get("in_scope") is not None:
        result.in_scope = bool(row["in_scope"])
        result.scope_probability = float(row["scope_probability"])
        result.scope_reason = str(row["scope_reason"])
        result.rule_hits = json.loads(row["rule_hits"]) if row.get("rule_hits") else []
    return result
