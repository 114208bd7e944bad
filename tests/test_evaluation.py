"""Evaluating a saved model on labelled files (sosrisk.evaluation): metrics, leakage, plots, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_dataset
from sosrisk import DataError, evaluate_model, load_model
from sosrisk.models import membership
from sosrisk.models.char_linear import CharLinearModel


def write_posts(path: Path, texts: list[str], labels: list[int]) -> Path:
    path.write_text("text\trisk_level\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True)), "utf-8")
    return path


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    texts, labels = tiny_dataset("level")
    return CharLinearModel(task="level", cv_folds=3).fit(texts, labels).save(tmp_path / "model")


def test_metrics_per_level_confusion_reliability_and_plots(saved: Path, tmp_path: Path) -> None:
    new = write_posts(tmp_path / "new.tsv", ["明天晚上就要跳下去了", "今天和朋友吵架了，很烦"], [9, 0])
    report = evaluate_model(load_model(saved), [new], plots_dir=tmp_path / "plots")
    assert report["metrics"]["n"] == 2.0
    assert {"accuracy", "weighted_f1", "qwk", "mae", "within_one", "ece"} <= set(report["metrics"])
    assert report["labels"] == list(range(11)) and len(report["confusion_matrix"]) == 11
    assert sum(map(sum, report["confusion_matrix"])) == 2
    assert report["leaked_posts"] == 0 and report["problems"] == []
    assert [Path(p).name for p in report["plots"]] == ["confusion_matrix.png", "reliability.png"]
    assert all(Path(p).read_bytes().startswith(b"\x89PNG") for p in report["plots"])


def test_training_posts_in_the_evaluation_are_reported(saved: Path, tmp_path: Path) -> None:
    texts, labels = tiny_dataset("level")
    evaluation = write_posts(tmp_path / "eval.tsv", ["明天晚上就要跳下去了", texts[3]], [9, labels[3]])
    report = evaluate_model(load_model(saved), [evaluation])
    assert report["leaked_posts"] == 1
    assert report["problems"] == [
        f"{evaluation}:3: leakage: 1 of 2 evaluation posts were in this model's training data; these metrics "
        "overstate how it does on new posts"
    ]


def test_another_machine_is_told_that_leakage_was_not_checked(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, labels = tiny_dataset("level")
    evaluation = write_posts(tmp_path / "eval.tsv", [texts[0], texts[-1]], [labels[0], labels[-1]])
    monkeypatch.setenv("SOSRISK_HOME", str(tmp_path / "another-machine"))
    monkeypatch.setattr(membership, "_KEYS", {})
    report = evaluate_model(load_model(saved), [evaluation])
    assert report["leaked_posts"] is None
    (problem,) = report["problems"]
    assert problem.startswith("leakage: not checked: the model's training hashes are keyed with the key hmac-sha256:")
    assert problem.endswith(
        f"and this machine has no key at {membership.key_path()}; copy that machine's key file here to check"
    )


def test_a_file_without_posts_is_an_error_naming_it(saved: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_text("text\trisk_level\n", "utf-8")
    with pytest.raises(DataError) as caught:
        evaluate_model(load_model(saved), [empty])
    assert str(caught.value) == (
        f"{empty}: no posts to evaluate: expected a text column and a 'risk_level' (or official 'myLabel') label "
        "for each post, found no posts"
    )
