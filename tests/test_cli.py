"""The CLI through click's runner: every command, the formats, clean errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sosrisk.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, input: str | None = None, ok: bool = True, stdout: bool = False) -> str:
    """The command's output (stdout and stderr, interleaved), or only its stdout with ``stdout=True``."""
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.stdout if stdout else result.output


def all_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(main, ())
    return found


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(command: tuple[str, ...]) -> None:
    output = run(*command, "--help")
    assert "Usage:" in output
    readme = (REPO / "README.md").read_text("utf-8")
    assert f"sosrisk {' '.join(command)}" in readme, f"'sosrisk {' '.join(command)}' is not documented in README.md"


@pytest.fixture
def trained(tmp_path: Path, tiny_tsv: Path) -> Path:
    out = tmp_path / "model"
    output = run(
        "train",
        "--task",
        "level",
        "--train",
        str(tiny_tsv),
        "--out",
        str(out),
        "--quiet",
        "--set",
        "cv_folds=3",
    )
    assert f"saved char-linear (level) trained on 66 posts to {out}" in output
    return out


def test_train_evaluate_json(trained: Path, tiny_tsv: Path, tmp_path: Path) -> None:
    output = run("evaluate", str(trained), str(tiny_tsv), "--json", "--plots", str(tmp_path / "plots"), stdout=True)
    metrics = json.loads(output)
    for key in (
        "accuracy",
        "weighted_f1",
        "weighted_precision",
        "weighted_recall",
        "macro_f1",
        "qwk",
        "mae",
        "within_one",
    ):
        assert 0 <= metrics[key] <= 10
    assert (tmp_path / "plots" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "plots" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    table = run("evaluate", str(trained), str(tiny_tsv))
    assert "confusion matrix (rows: true, columns: predicted):" in table


def test_evaluate_json_keeps_stdout_one_object_and_reports_leakage_on_stderr(trained: Path, tiny_tsv: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate", str(trained), str(tiny_tsv), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    assert json.loads(result.stdout)["n"] == 66
    assert result.stderr == (
        f"note: {tiny_tsv}:2: leakage: 66 of 66 evaluation posts were in this model's training data; "
        "these metrics overstate how it does on new posts\n"
    )


def test_predict_formats_and_stdin(trained: Path, tmp_path: Path) -> None:
    lines = run("predict", str(trained), "我已经吃了一整瓶药了", "今天好累", "--format", "jsonl").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["1", "2"]
    for record in records:
        assert set(record) >= {"risk_level", "level_probabilities", "tier", "definition_en", "definition_zh"}
        assert abs(sum(record["level_probabilities"]) - 1) < 1e-4
    table = run("predict", str(trained), input="好想死\n\n明天就走了\n")
    assert table.count("level") == 2
    input_file = tmp_path / "posts.csv"
    input_file.write_text("id,text\na1,好想死\n", "utf-8")
    out = tmp_path / "out.csv"
    run(
        "predict",
        str(trained),
        "--input",
        str(input_file),
        "--output",
        str(out),
        "--format",
        "csv",
        "--no-text",
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert rows[0]["id"] == "a1" and "text" not in rows[0] and "p_level_10" in rows[0]


def test_binary_predict(tmp_path: Path) -> None:
    path = tmp_path / "b.tsv"
    from conftest import tiny_dataset

    texts, labels = tiny_dataset("binary")
    path.write_text("comment\ttwoClass\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True)), "utf-8")
    run(
        "train",
        "--task",
        "binary",
        "--train",
        str(path),
        "--out",
        str(tmp_path / "b"),
        "-q",
        "--target-recall",
        "0.9",
    )
    record = json.loads(run("predict", str(tmp_path / "b"), "明天晚上就跳下去", "--format", "jsonl"))
    assert set(record) == {"id", "text", "high_risk", "high_risk_probability"}
    metrics = json.loads(run("evaluate", str(tmp_path / "b"), str(path), "--json", stdout=True))
    assert {"high_risk_recall", "high_risk_precision", "high_risk_f1", "weighted_f1"} <= set(metrics)


def test_clean_errors(trained: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("comment\tmyLabel\n好累\t12\n", "utf-8")
    output = run("evaluate", str(trained), str(bad), ok=False)
    assert output == f"Error: {bad}:2: field 'risk_level': label 12 is outside 0 to 10\n"
    output = run("train", "--task", "level", "--train", str(bad), "--out", str(tmp_path / "x"), ok=False)
    assert output == f"Error: {bad}:2: field 'risk_level': label 12 is outside 0 to 10\n"
    from sosrisk.models import available_kinds

    output = run("train", "--task", "level", "--model", "gpt-9", "--out", str(tmp_path / "x"), ok=False)
    assert output == f"Error: Unknown model kind 'gpt-9'; known kinds: {', '.join(available_kinds())}.\n"
    output = run("train", "--task", "level", "--out", str(tmp_path / "x"), "--data", str(tmp_path), ok=False)
    assert output == (
        f"Error: {tmp_path}: SOS-1K not found: expected suicideDataProcessing/data/fine-grained/fold1.tsv "
        "here; pass the folder that holds 'suicideDataProcessing/' and 'ModelTrain/'\n"
    )
    output = run("predict", str(trained), "x", "--input", str(bad), ok=False)
    assert "Give texts as arguments or --input FILE, not both." in output


def test_fetch_info_train_cv_on_the_local_copy(sos1k_root: Path, isolated_home: Path, tmp_path: Path) -> None:
    fetched = run("data", "fetch", "--from", str(sos1k_root), "--quiet")
    assert "0 mismatched, 0 failed" in fetched
    assert "absent: the official 250-post test set" in fetched
    info = run("data", "info")
    assert "level task (999 posts):" in info and "binary task (999 posts):" in info
    assert "test set: absent (withheld in this copy)" in info
    report = json.loads(run("cv", "--task", "binary", "--json", "--quiet"))
    assert [int(f["n"]) for f in report["per_fold"]] == [200, 200, 200, 200, 199]
    assert report["mean"]["weighted_f1"] > 0.7
    assert report["problems"] == []
    run("train", "--task", "level", "--out", str(tmp_path / "lvl"), "--quiet")
    fold = sos1k_root / "suicideDataProcessing" / "data" / "fine-grained" / "fold1.tsv"
    metrics = json.loads(run("evaluate", str(tmp_path / "lvl"), str(fold), "--json", stdout=True))
    assert metrics["n"] == 200.0
