"""The CLI through click's runner: every command, the formats, clean errors."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sosrisk.cli import main

REPO = Path(__file__).resolve().parents[1]


SCOPE_FIELDS = ("in_scope", "scope_probability", "scope_reason", "rule_hits")


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
        "--no-scope",  # the scope stage has its own tests (test_scope_stage.py)
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
        "--no-scope",
        "--train",
        str(path),
        "--out",
        str(tmp_path / "b"),
        "-q",
        "--target-recall",
        "0.9",
    )
    record = json.loads(run("predict", str(tmp_path / "b"), "明天晚上就跳下去", "--format", "jsonl"))
    # trained with --no-scope: the scope fields are there, null (no stage decided anything)
    assert set(record) == {"id", "text", "high_risk", "high_risk_probability", *SCOPE_FIELDS}
    assert all(record[field] is None for field in SCOPE_FIELDS)
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
    kinds = ", ".join(f"'{kind}'" for kind in available_kinds())  # the choices come from the registry
    assert output.endswith(f"Error: Invalid value for '--model': 'gpt-9' is not one of {kinds}.\n")
    output = run("train", "--task", "level", "--out", str(tmp_path / "x"), "--data", str(tmp_path), ok=False)
    assert output == (
        f"Error: {tmp_path}: SOS-1K not found: expected suicideDataProcessing/data/fine-grained/fold1.tsv "
        "here; pass the folder that holds 'suicideDataProcessing/' and 'ModelTrain/'\n"
    )
    output = run("predict", str(trained), "x", "--input", str(bad), ok=False)
    assert "Give texts as arguments or --input FILE, not both." in output


@pytest.mark.slow
def test_fetch_info_train_cv_on_the_local_copy(sos1k_root: Path, isolated_home: Path, tmp_path: Path) -> None:
    fetched = run("data", "fetch", "--from", str(sos1k_root), "--quiet")
    assert "0 mismatched, 0 failed" in fetched
    assert "absent: the official 250-post test set" in fetched
    info = run("data", "info")
    assert "level task (999 posts):" in info and "binary task (999 posts):" in info
    assert "test set: absent (withheld in this copy)" in info
    report = json.loads(run("cv", "--task", "binary", "--json", "--quiet", "--no-scope"))
    assert [int(f["n"]) for f in report["per_fold"]] == [200, 200, 200, 200, 199]
    assert report["mean"]["weighted_f1"] > 0.7
    assert report["problems"] == []
    run("train", "--task", "level", "--out", str(tmp_path / "lvl"), "--quiet", "--no-scope")
    fold = sos1k_root / "suicideDataProcessing" / "data" / "fine-grained" / "fold1.tsv"
    metrics = json.loads(run("evaluate", str(tmp_path / "lvl"), str(fold), "--json", stdout=True))
    assert metrics["n"] == 200.0


RESTORE = "Restore the model directory from where it came, or train the model again."
NOT_AN_ARCHIVE = "not a readable .npz archive (File is not a zip file); it may be truncated or damaged. " + RESTORE


@pytest.fixture(scope="module")
def bad_things(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Damaged model directories and bad input files, built once."""
    import gzip
    import shutil

    from conftest import tiny_dataset
    from sosrisk.models.char_linear import CharLinearModel

    root = tmp_path_factory.mktemp("bad")
    texts, labels = tiny_dataset("level")
    good = CharLinearModel(task="level", cv_folds=3).fit(texts, labels).save(root / "good")
    things: dict[str, Path] = {"good": good}
    for name in ("truncated", "empty", "pickled", "non_utf8", "object"):
        things[name] = Path(shutil.copytree(good, root / name))
    weights = (good / "weights.npz").read_bytes()
    (things["truncated"] / "weights.npz").write_bytes(weights[: len(weights) // 2])
    (things["empty"] / "weights.npz").write_bytes(b"")
    (things["pickled"] / "training_membership.npz").write_bytes(b"\x80\x04K\x01.")
    config = (good / "config.json").read_bytes()
    (things["non_utf8"] / "config.json").write_bytes(config.replace(b'"char-linear"', b'"char\xff"'))
    import numpy as np

    with open(things["object"] / "weights.npz", "wb") as handle:
        arrays = {"ngrams": np.array([{"a": 1}], dtype=object), "coef": np.ones((11, 1)), "intercept": np.ones(11)}
        np.savez(handle, idf=np.ones(1), **arrays)
    things["not_a_model"] = root / "folder"
    things["not_a_model"].mkdir()
    things["posts"] = root / "posts.jsonl"
    things["posts"].write_text('{"id": "1", "text": "好累"}\n', encoding="utf-8")
    things["labelled"] = root / "labelled.tsv"
    rows = "".join(f"{text}\t{label}\n" for text, label in zip(texts, labels, strict=True))
    things["labelled"].write_text("comment\tmyLabel\n" + rows, encoding="utf-8")
    things["docx"] = root / "posts.docx"
    things["docx"].write_bytes(b"PK\x03\x04")
    things["truncated_gz"] = root / "posts.jsonl.gz"
    things["truncated_gz"].write_bytes(gzip.compress(things["posts"].read_bytes() * 50)[:30])
    things["not_parquet"] = root / "posts.parquet"
    things["not_parquet"].write_text("text\n好累\n", encoding="utf-8")
    things["empty_tsv"] = root / "empty.tsv"
    things["empty_tsv"].write_bytes(b"")
    things["wrong_header"] = root / "wrong.csv"
    things["wrong_header"].write_text("content\n好累\n", encoding="utf-8")
    things["a_file"] = root / "a_file"
    things["a_file"].write_text("not a folder\n", encoding="utf-8")
    things["not_a_db"] = root / "queue.db"
    things["not_a_db"].write_text("not a database\n", encoding="utf-8")
    return things


def bad_input_table() -> list[tuple[str, list[str], str]]:
    """(case, arguments, the one error line): every command against damaged models, inputs and outputs.

    Paths are written ``{name}`` and filled from :func:`bad_things`.
    """
    score = ["score", "{good}", "-i", "{posts}", "-o", "{out}/scores.parquet", "-q"]
    return [
        (
            "predict: truncated weights",
            ["predict", "{truncated}", "好累"],
            "{truncated}/weights.npz: " + NOT_AN_ARCHIVE,
        ),
        ("evaluate: empty weights", ["evaluate", "{empty}", "{labelled}"], "{empty}/weights.npz: " + NOT_AN_ARCHIVE),
        (
            "score: pickled hashes",
            ["score", "{pickled}", "-i", "{posts}", "-o", "{out}/s.parquet", "-q"],
            "{pickled}/training_membership.npz: " + NOT_AN_ARCHIVE,
        ),
        (
            "predict: object arrays",
            ["predict", "{object}", "好累"],
            "{object}/weights.npz: array 'ngrams' holds Python objects, which would have to be unpickled; refused. "
            + RESTORE,
        ),
        (
            "score: non-UTF-8 config",
            ["score", "{non_utf8}", "-i", "{posts}", "-o", "{out}/s.parquet", "-q"],
            "{non_utf8}/config.json: not UTF-8 (undecodable byte at position {byte}); sosrisk writes it as UTF-8. "
            + RESTORE,
        ),
        (
            "predict: not a model",
            ["predict", "{not_a_model}", "好累"],
            "{not_a_model}: not a model directory: expected config.json, or a folder holding level/ and/or binary/ "
            "model directories",
        ),
        (
            "score: not a model",
            ["score", "{not_a_model}", "-i", "{posts}", "-o", "{out}/s.parquet", "-q"],
            "{not_a_model} is not a sosrisk model directory: config.json is missing.",
        ),
        (
            "predict: unknown suffix",
            ["predict", "{good}", "--input", "{docx}"],
            "{docx}: cannot tell the input format from the name; expected a suffix among .csv, .json, .jsonl, "
            ".ndjson, .parquet, .pq, .tsv, .txt (optionally followed by .gz), or pass --input-format",
        ),
        (
            "score: truncated gzip",
            ["score", "{good}", "-i", "{truncated_gz}", "-o", "{out}/s.parquet", "-q"],
            "{truncated_gz}: cannot read the file (Compressed file ended before the end-of-stream marker was "
            "reached); it may be truncated or damaged",
        ),
        (
            "predict: not Parquet",
            ["predict", "{good}", "--input", "{not_parquet}"],
            "{not_parquet}: not a readable Parquet file (Parquet magic bytes not found in footer. Either the file is "
            "corrupted or this is not a parquet file.)",
        ),
        (
            "score: a header naming no text column",
            ["score", "{good}", "-i", "{wrong_header}", "-o", "{out}/s.parquet", "-q"],
            "{wrong_header}:1: field 'text': no header naming the text column: expected 'text' (or 'comment') among "
            "the first row's columns ['content']; a file without a header must hold a text and an integer label "
            "per row. Add a header row, or name the column with --text-column (one post per line: use a .txt file)",
        ),
        (
            "evaluate: empty file",
            ["evaluate", "{good}", "{empty_tsv}"],
            "{empty_tsv}: no posts to evaluate: expected a text column and a 'risk_level' (or official 'myLabel') "
            "label for each post, found no posts",
        ),
        (
            "predict: empty file",
            ["predict", "{good}", "--input", "{empty_tsv}"],
            "{empty_tsv}: holds no posts: expected at least one non-blank line, or a row with a text",
        ),
        (
            "train: unknown suffix",
            ["train", "--task", "level", "--train", "{docx}", "--out", "{out}/m"],
            "{docx}: cannot tell the input format from the name; expected a suffix among .csv, .json, .jsonl, "
            ".ndjson, .parquet, .pq, .tsv, .txt (optionally followed by .gz), or pass --input-format",
        ),
        (
            "score: unknown output suffix",
            [*score[:5], "{out}/scores.xyz", "-q"],
            "Cannot tell the output format from 'scores.xyz': expected a suffix among .jsonl, .ndjson, .parquet, "
            ".pq, or pass --format parquet|jsonl.",
        ),
        (
            "score: output inside a file",
            [*score[:5], "{a_file}/scores.parquet", "-q"],
            "Cannot create the run's work folder {a_file}/scores.parquet.parts beside the output: a part of the path "
            "is a file, not a folder. Check the path.",
        ),
        (
            "predict: output inside a file",
            ["predict", "{good}", "好累", "--output", "{a_file}/out.jsonl"],
            "Cannot write {a_file}/out.jsonl: a part of the path is a file, not a folder. Check the path.",
        ),
        (
            "train: model inside a file",
            [
                "train",
                "--task",
                "level",
                "--train",
                "{labelled}",
                "--out",
                "{a_file}/m",
                "-q",
                "--no-scope",
                "--set",
                "cv_folds=3",
            ],
            "Cannot write {a_file}/m: a part of the path is a file, not a folder. Check the path.",
        ),
        (
            "evaluate: report inside a file",
            ["evaluate", "{good}", "{labelled}", "--report", "{a_file}/report.json"],
            "Cannot write {a_file}/report.json: a part of the path is a file, not a folder. Check the path.",
        ),
        (
            "tokens: a folder as the database",
            ["tokens", "list", "--db", "sqlite:///{not_a_model}"],
            "{not_a_model} is a folder, not a SQLite database file. Choose another --db sqlite:////path/queue.db.",
        ),
        (
            "tokens: not a database",
            ["tokens", "list", "--db", "sqlite:///{not_a_db}"],
            "{not_a_db} is not a SQLite database file (it does not start with the SQLite header). Choose another "
            "--db sqlite:////path/queue.db.",
        ),
    ]


@pytest.mark.parametrize(("case", "args", "message"), bad_input_table(), ids=[row[0] for row in bad_input_table()])
def test_bad_inputs_give_one_error_line_and_no_traceback(
    bad_things: dict[str, Path], tmp_path: Path, case: str, args: list[str], message: str
) -> None:
    names = {**{k: str(v) for k, v in bad_things.items()}, "out": str(tmp_path)}
    config = (bad_things["non_utf8"] / "config.json").read_bytes()
    names["byte"] = str(config.find(b"\xff"))
    # catch_exceptions=False: any exception the CLI does not turn into a clean error fails the test
    result = CliRunner().invoke(main, [a.format(**names) for a in args], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: {message.format(**names)}\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its permissions")
def test_unreadable_inputs_and_models_give_one_error_line(bad_things: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    posts = tmp_path / "posts.tsv"
    posts.write_text("text\n好累\n", encoding="utf-8")
    posts.chmod(0)
    model = Path(shutil.copytree(bad_things["good"], tmp_path / "model"))
    (model / "config.json").chmod(0)
    good = str(bad_things["good"])
    output = run("predict", good, "--input", str(posts), ok=False)
    assert output == f"Error: {posts}: cannot read the file (Permission denied); make it readable for this user\n"
    output = run("predict", str(model), "好累", ok=False)
    assert output == f"Error: {model / 'config.json'}: cannot be read (Permission denied).\n"
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    output = run("predict", good, "好累", "--output", str(read_only / "out.jsonl"), ok=False)
    assert output == (
        f"Error: Cannot write {read_only / 'out.jsonl'}: Permission denied. Choose a location you can write to.\n"
    )
