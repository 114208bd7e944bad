"""``score_table``: the answers of ``assess``, field for field, as Arrow columns (both are built on
``assess.answer_columns``); rejected rows keep null answers."""

from __future__ import annotations

from pathlib import Path

from conftest import tiny_dataset
from scope_support import ORDINARY_POSTS, tiny_scoped_model
from sosrisk.assess import Assessment, assess
from sosrisk.data.reader import Records
from sosrisk.models.base import RiskModel
from sosrisk.scoring.results import LoadedModels, assessment_from_row, score_table
from sosrisk.training import make_model

TEXTS = [*ORDINARY_POSTS[:5], "好想死", "这是我最后一条微博了", "我刚吃了一整瓶安眠药，对不起", "今天好累。"]


def scored_rows(texts: list[str], level: RiskModel | None, binary: RiskModel | None) -> list[dict]:
    records = Records()
    for number, text in enumerate(texts, start=1):
        records.add(0, number, str(number), text)
    records.add(0, len(texts) + 1, "rejected", "x" * 50, reason="too_long", detail="too long")
    table = score_table(records.to_arrow(), LoadedModels(level=level, binary=binary))
    return table.to_pylist()


def test_every_field_is_that_of_assess_with_and_without_a_scope_stage(tmp_path: Path) -> None:
    scoped = {task: tiny_scoped_model(task, tmp_path) for task in ("level", "binary")}
    plain = {task: make_model("char-linear", task, {"cv_folds": 3}).fit(*tiny_dataset(task)) for task in scoped}
    for models in (scoped, plain):
        for level, binary in ((models["level"], models["binary"]), (models["level"], None), (None, models["binary"])):
            rows = scored_rows(TEXTS, level, binary)
            expected = assess(TEXTS, level_model=level, binary_model=binary)
            assert [assessment_from_row(row) for row in rows[:-1]] == expected
            assert assessment_from_row(rows[-1]) == Assessment(), "a rejected row has no answer"
            assert rows[-1]["scope_reason"] is None and rows[-1]["rule_hits"] is None
    assert {a.scope_reason for a in assess(TEXTS, level_model=scoped["level"])} >= {"out_of_scope", "in_scope"}
