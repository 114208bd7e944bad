"""``sosrisk predict``: the same answers as ``assess`` and ``score``, from the one reader, all or nothing."""

from __future__ import annotations

import csv
import io
import json
import resource
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scoring_support import generated_posts, train_tiny_models, write_jsonl
from sosrisk.assess import assess
from sosrisk.cli import main
from sosrisk.data import DataError
from sosrisk.models import load_model
from sosrisk.scoring import predict as predict_module
from sosrisk.scoring.predict import predict

FIX = "fix that row, or use 'sosrisk score', which sets bad rows aside in a rejects file"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("predict-models"))


def run(*args: str, input: str | None = None, ok: bool = True) -> Any:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result


SCOPE_FIELDS = ("in_scope", "scope_probability", "scope_reason", "rule_hits")


def jsonl(output: bytes | str) -> list[dict[str, Any]]:
    text = output.decode() if isinstance(output, bytes) else output
    return [json.loads(line) for line in text.splitlines()]


def predicted(models: list[Path], source: Path, **options: Any) -> bytes:
    buffer = io.BytesIO()
    predict(models, input_file=source, output=buffer, show_progress=False, **options)
    return buffer.getvalue()


def test_answers_are_those_of_assess_with_every_field(tmp_path: Path, models: tuple[Path, Path]) -> None:
    posts = generated_posts(30)
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    expected = assess([p["text"] for p in posts], level_model=load_model(models[0]), binary_model=load_model(models[1]))
    for given in ([models[0], models[1]], [models[0].parent]):  # two directories, or the folder holding both
        records = jsonl(predicted(given, source, fmt="jsonl"))
        assert [r["id"] for r in records] == [p["id"] for p in posts]
        for record, post, want in zip(records, posts, expected, strict=True):
            # the scope fields are there even for models without a scope stage (null: nothing was decided)
            fields = {k: v for k, v in want.to_dict().items() if v is not None or k in SCOPE_FIELDS}
            assert list(record) == ["id", "text", *fields]
            assert record["text"] == post["text"]
            for key, value in fields.items():
                assert record[key] == (pytest.approx(value, abs=1e-9) if isinstance(value, float | list) else value)
    rows = list(csv.DictReader(io.StringIO(predicted([models[1]], source, fmt="csv", include_text=False).decode())))
    assert list(rows[0]) == ["id", "high_risk", "high_risk_probability", *SCOPE_FIELDS]
    assert [r["high_risk"] for r in rows] == [str(a.high_risk) for a in expected]


def test_csv_rows_are_the_flat_rows_of_assess(tmp_path: Path, models: tuple[Path, Path]) -> None:
    posts = generated_posts(20, seed=5)
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    expected = assess([p["text"] for p in posts], level_model=load_model(models[0]), binary_model=load_model(models[1]))
    rows = list(csv.DictReader(io.StringIO(predicted(list(models), source, fmt="csv").decode())))
    for row, post, want in zip(rows, posts, expected, strict=True):
        flat = {"id": post["id"], "text": post["text"], **want.flat()}
        assert list(row) == list(flat)
        for key, value in flat.items():
            if isinstance(value, float):
                assert float(row[key]) == pytest.approx(value, abs=1e-9), key
            else:
                assert row[key] == ("" if value is None else str(value)), key


def test_worker_processes_give_the_answers_of_one_process(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = generated_posts(25_000, seed=3)  # three chunks
    posts[7]["text"] = 'a "quoted" \\ text\twith\ncontrol characters'  # escaped in JSON
    del posts[11]["id"]  # named FILE:LINE
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    one = predicted(list(models), source, fmt="jsonl", workers=1)
    monkeypatch.setattr(predict_module, "LARGE_INPUT_BYTES", 1)
    pooled = predicted(list(models), source, fmt="jsonl", workers=2)
    assert pooled == one
    records = jsonl(one)
    assert len(records) == 25_000 and records[11]["id"] == "posts.jsonl:12"
    assert records[7]["text"] == posts[7]["text"]
    assert [json.loads(line) for line in one.decode().splitlines()[:3]] == records[:3]


def test_labels_in_the_file_are_ignored(tmp_path: Path, models: tuple[Path, Path]) -> None:
    source = tmp_path / "labelled.tsv"
    source.write_text("comment\tmyLabel\ttwoClass\n好想死\t12\tmaybe\n今天好累\t\t\n", encoding="utf-8")
    records = jsonl(predicted([models[0]], source, fmt="jsonl"))
    assert [r["id"] for r in records] == ["labelled.tsv:2", "labelled.tsv:3"]


def test_columns_a_model_stage_adds_to_score_table_reach_every_format(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    original = predict_module.score_table

    def with_scope(records: Any, loaded: Any) -> Any:
        table = original(records, loaded)
        n = table.num_rows
        table = table.append_column("stage_flag", pa.array([True] * n))
        table = table.append_column("stage_probability", pa.array([0.25] * n))
        return table.append_column("stage_hits", pa.array([["plan"]] * n, pa.list_(pa.string())))

    monkeypatch.setattr(predict_module, "score_table", with_scope)
    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(3))
    record = jsonl(predicted([models[0]], source, fmt="jsonl"))[0]
    assert list(record)[-3:] == ["stage_flag", "stage_probability", "stage_hits"]
    assert (record["stage_flag"], record["stage_probability"], record["stage_hits"]) == (True, 0.25, ["plan"])
    row = next(csv.DictReader(io.StringIO(predicted([models[0]], source, fmt="csv").decode())))
    assert (row["stage_flag"], row["stage_probability"], row["stage_hits"]) == ("True", "0.25", "['plan']")


@pytest.mark.parametrize(
    ("line", "field", "detail"),
    [
        (
            '{"id": "2", "text": "\\u200b\\u200d"}',
            "text",
            "the text is empty (only white space or invisible characters)",
        ),
        (
            '{"id": "2", "text": "秘密\\u0000"}',
            "text",
            "the text holds a NUL character (U+0000), which is not kept by databases; remove it",
        ),
        (
            '{"id": "2\\u0000", "text": "秘密"}',
            "id",
            "the id holds a NUL character (U+0000), which is not kept by databases; remove it",
        ),
        ('{"id": "2", "text": "' + "秘" * 30 + '"}', "text", "the text has 30 characters; at most 20 are scored"),
    ],
)
def test_a_bad_row_stops_predict_naming_it_and_nothing_is_written(
    tmp_path: Path, models: tuple[Path, Path], line: str, field: str, detail: str
) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text('{"id": "1", "text": "好累"}\n' + line + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    output.write_text("earlier\n", encoding="utf-8")
    args = ["predict", str(models[0]), "--input", str(source), "--max-chars", "20", "--format", "jsonl"]
    result = run(*args, "--output", str(output), ok=False)
    assert result.output == f"Error: {source}:2: field '{field}': {detail}; {FIX}\n"
    assert output.read_text(encoding="utf-8") == "earlier\n"  # the earlier output is intact
    assert "秘" not in run(*args, ok=False).output  # never printed, and nothing on standard output


def test_texts_from_arguments_and_standard_input_are_checked_the_same_way(models: tuple[Path, Path]) -> None:
    result = run("predict", str(models[0]), "好累", "\u200b", ok=False)
    assert result.output == (
        f"Error: argument:2: field 'text': the text is empty (only white space or invisible characters); {FIX}\n"
    )
    result = run("predict", str(models[0]), input="好累\n\n好想\x00死\n", ok=False)
    assert result.output == (
        "Error: standard input:2: field 'text': the text holds a NUL character (U+0000), which is not kept by "
        f"databases; remove it; {FIX}\n"
    )
    assert run("predict", str(models[0]), input="\n  \n", ok=False).output == (
        "Error: standard input: holds no posts: expected at least one non-blank line, or a row with a text\n"
    )


def test_an_empty_file_is_an_error_not_silence(tmp_path: Path, models: tuple[Path, Path]) -> None:
    for name in ("empty.tsv", "blank.txt"):
        source = tmp_path / name
        source.write_text("" if name == "empty.tsv" else "\n \n", encoding="utf-8")
        result = run("predict", str(models[0]), "--input", str(source), ok=False)
        assert result.output == (
            f"Error: {source}: holds no posts: expected at least one non-blank line, or a row with a text\n"
        )


def test_one_huge_line_is_refused_unread(tmp_path: Path, models: tuple[Path, Path]) -> None:
    source = tmp_path / "posts.txt"
    with open(source, "wb") as handle:
        handle.write("好累\n".encode())
        handle.write(b"x" * (40 << 20) + b"\n")  # 40 MB on one line
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            predicted([models[0]], source, fmt="jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value) == f"{source}:2: the line is longer than 1048576 bytes; {FIX}"
    assert peak < 24 << 20  # the line was skipped, never held


def test_the_progress_bar_is_for_large_inputs_and_quiet_turns_it_off(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sosrisk.scoring.progress as progress

    shown: list[bool] = []
    original = progress.score_progress

    def record(total: Any, description: str, *, enabled: bool) -> Any:
        shown.append(enabled)
        return original(total, description, enabled=False)

    monkeypatch.setattr(progress, "score_progress", record)
    small = write_jsonl(tmp_path / "small.jsonl", generated_posts(10))
    large = write_jsonl(tmp_path / "large.jsonl", generated_posts(30_000))
    assert large.stat().st_size >= predict_module.LARGE_INPUT_BYTES > small.stat().st_size
    for source, quiet in ((small, []), (large, []), (large, ["-q"])):
        run("predict", str(models[0]), "--input", str(source), "--format", "jsonl", *quiet)
    assert shown == [False, True, False]


def test_a_full_disk_gives_one_clean_message_and_keeps_the_earlier_output(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(3000))
    output = tmp_path / "out.jsonl"
    output.write_text("earlier\n", encoding="utf-8")

    def small_files() -> None:  # the file system refuses to grow any file past 64 KiB (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))

    sosrisk = str(Path(sys.executable).with_name("sosrisk"))
    command = [sosrisk, "predict", str(models[0]), "--input", str(source), "--format", "jsonl", "--output", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=small_files, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Cannot write {output}: the file grew past the size this process may write (File too large). "
        "Free space or raise the limit.\n"
    )
    assert output.read_text(encoding="utf-8") == "earlier\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")] == []  # no temporary file left
