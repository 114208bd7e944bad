"""Training and cross-validation (sosrisk.training) on tiny labelled files we wrote; no SOS-1K needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_POSTS, tiny_dataset
from sosrisk import cross_validate, train_model
from sosrisk.data import read_posts
from sosrisk.models import ModelError
from sosrisk.models.char_linear import CharLinearModel
from sosrisk.training import make_model


def write_posts(path: Path, texts: list[str], labels: list[int], column: str = "risk_level") -> Path:
    rows = "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True))
    path.write_text(f"text\t{column}\n{rows}", "utf-8")
    return path


def test_make_model_builds_a_kind_and_names_a_bad_parameter() -> None:
    model = make_model("char-linear", "binary", {"C": 3})
    assert isinstance(model, CharLinearModel) and model.task == "binary" and model.C == 3
    with pytest.raises(ModelError) as caught:
        make_model("char-linear", "level", {"colour": "red"})
    assert str(caught.value) == (
        "Bad parameters for the 'char-linear' model: CharLinearModel.__init__() got an unexpected keyword argument "
        "'colour'."
    )
    with pytest.raises(ValueError, match="task"):
        make_model("char-linear", "levels")  # type: ignore[arg-type]


def test_train_model_on_files_records_where_the_posts_came_from(tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    first = write_posts(tmp_path / "a.tsv", texts[::2], labels[::2])
    second = write_posts(tmp_path / "b.tsv", texts[1::2], labels[1::2])
    model, posts = train_model(
        "level", train_files=[first, second], params={"cv_folds": 3}, scope=False, show_progress=False
    )
    assert len(posts) == len(texts) and model.is_fitted and model.scope_ is None
    assert model.training_["sources"] == sorted([str(first), str(second)])
    assert model.training_["n_posts"] == len(texts) and model.training_["scope"] is None
    assert model.training_["seconds"] >= 0
    assert model.predict("我已经吃了一整瓶药了，再见") >= 8
    empty = tmp_path / "empty.tsv"
    empty.write_text("text\trisk_level\n", "utf-8")
    with pytest.raises(ModelError) as caught:
        train_model("level", train_files=[empty], scope=False, show_progress=False)
    assert str(caught.value) == "No training posts: every training file is empty."


def five_folds(tmp_path: Path, task: str = "level") -> list:
    """Five small folds, every level in each (binary: levels 6-10 high), read like the official files."""
    folds: list[list[tuple[str, int]]] = [[] for _ in range(5)]
    for level, posts in TINY_POSTS.items():
        for copy in range(5):
            for post in posts:
                text = post if copy == 0 else f"{post}{'。' * copy}"
                folds[(copy + level) % 5].append((text, level if task == "level" else int(level >= 6)))
    column = "risk_level" if task == "level" else "high_risk"
    return [
        read_posts(write_posts(tmp_path / f"fold{k + 1}.tsv", [t for t, _ in f], [y for _, y in f], column), task=task)
        for k, f in enumerate(folds)
    ]


def test_cross_validation_trains_on_four_folds_and_evaluates_on_the_fifth(tmp_path: Path) -> None:
    folds = five_folds(tmp_path)
    result = cross_validate("level", folds=folds, params={"cv_folds": 3}, scope=False, show_progress=False)
    assert [int(m["n"]) for m in result.per_fold] == [len(f) for f in folds]
    assert [m["fold"] for m in result.per_fold] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert len(result.oof_labels) == len(result.oof_predictions) == sum(len(f) for f in folds)
    assert result.oof_proba.shape == (len(result.oof_labels), 11)
    np.testing.assert_allclose(result.oof_proba.sum(axis=1), 1.0)
    summary = result.to_dict()
    assert summary["mean"]["weighted_f1"] == pytest.approx(np.mean([m["weighted_f1"] for m in result.per_fold]))
    assert summary["params"]["C"] == 1.0 and summary["params"]["cv_folds"] == 3  # the settings used, resolved
    assert summary["params"]["scope"]["enabled"] is False
    assert result.problems == []


def test_a_text_in_a_training_part_and_its_evaluation_fold_is_reported(tmp_path: Path) -> None:
    folds = five_folds(tmp_path, "binary")
    repeated = folds[0].texts[0]
    labels = [*folds[4].labels("binary").tolist(), 0]
    leaked = write_posts(tmp_path / "fold5.tsv", [*folds[4].texts, repeated], labels, "high_risk")
    folds[4] = read_posts(leaked, task="binary")
    result = cross_validate("binary", folds=folds, params={"cv_folds": 3}, scope=False, show_progress=False)
    messages = [str(p) for p in result.problems]
    line = len(folds[4]) + 1  # the header is line 1
    assert f"{leaked}:{line}: this evaluation text is also in the training data at {tmp_path / 'fold1.tsv'}:2" in (
        messages
    )
