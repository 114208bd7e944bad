"""Tests of sosrisk.scoring (local engine, in this process): formats, rejects, resume rules, the queue."""

from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from scoring_support import generated_posts, train_tiny_models, write_jsonl
from sosrisk.assess import assess
from sosrisk.cli import main
from sosrisk.models import load_model
from sosrisk.scoring import ScoreSettings, ScoringError, score
from sosrisk.scoring.results import LEVEL_PROBABILITY_COLUMNS, assessment_from_row
from sosrisk.scoring.workdir import parts_dir_for


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("scoring-models"))


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_scores_match_assess_for_both_models(tmp_path: Path, models: tuple[Path, Path]) -> None:
    posts = generated_posts(120)
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    output = tmp_path / "scores.parquet"
    summary = score(list(models), source, output, ScoreSettings(chunk_size=25), workers=1, show_progress=False)
    frame = read_output(output)
    assert list(frame.columns) == [
        "source",
        "position",
        "id",
        "in_scope",
        "scope_probability",
        "scope_reason",
        "rule_hits",
        "risk_level",
        "tier",
        "expected_level",
        *LEVEL_PROBABILITY_COLUMNS,
        "high_risk",
        "high_risk_probability",
    ]
    assert frame["in_scope"].isna().all()  # the fixture's models have no scope stage
    assert frame["source"].unique().tolist() == [str(source)]
    assert frame["position"].tolist() == list(range(1, 121))
    assert frame["id"].tolist() == [p["id"] for p in posts]
    expected = assess([p["text"] for p in posts], level_model=load_model(models[0]), binary_model=load_model(models[1]))
    for row, want in zip(frame.to_dict("records"), expected, strict=True):
        got = assessment_from_row(row)
        assert (got.risk_level, got.tier, got.high_risk) == (want.risk_level, want.tier, want.high_risk)
        assert got.level_probabilities == pytest.approx(want.level_probabilities, abs=1e-9)
        assert got.expected_level == pytest.approx(want.expected_level, abs=1e-9)
        assert got.high_risk_probability == pytest.approx(want.high_risk_probability, abs=1e-9)
        assert got.definition_zh == want.definition_zh
    assert (summary.chunks, summary.posts, summary.scored, summary.rejected, summary.written) == (5, 120, 120, 0, 120)
    assert not parts_dir_for(output).exists()
    assert output.with_name("scores.rejects.jsonl").read_text() == ""
    written = json.loads(output.with_name("scores.summary.json").read_text())
    assert written["scored"] == 120 and written["manifest"]["settings"]["chunk_size"] == 25
    # the same run into JSONL gives the same rows; the output never holds post text unless asked
    jsonl = tmp_path / "scores.jsonl"
    score(list(models), source, jsonl, ScoreSettings(chunk_size=40), workers=1, show_progress=False)
    scope_columns = ["in_scope", "scope_probability", "scope_reason", "rule_hits"]
    assert read_output(jsonl)[scope_columns].isna().all().all()  # JSON null, Parquet null
    pd.testing.assert_frame_equal(
        read_output(jsonl).drop(columns=scope_columns), frame.drop(columns=scope_columns), check_dtype=False
    )
    assert "text" not in read_output(jsonl).columns


EMPTY = "the text is empty (only white space or invisible characters)"


def nul(field: str) -> str:
    return f"the {field} holds a NUL character (U+0000), which is not kept by databases; remove it"


def test_bad_rows_go_to_rejects_and_the_run_goes_on(tmp_path: Path, models: tuple[Path, Path]) -> None:
    lines = [
        '{"id": "a", "text": "我想死。"}',
        '{"id": "b"}',
        "",
        '{"id": "c", "text": "   "}',
        '{"id": "d", "text": "\udcff\udcfe"}',
        '{"id": "e", "text": "' + "长" * 50 + '"}',
        '{"id": "f", "text": ',
        "[1, 2]",
        '{"id": 7, "text": 123}',
        '{"id": "g", "comment": "今天好累"}',
        '{"id": "h", "text": "' + "x" * 1_100_000 + '"}',
        '{"id": "i", "text": "最后一条"}',
        '{"id": "j", "text": "\\u200b\\u2060\\ufeff \\u3164"}',  # invisible: blank
        '{"id": "k", "text": "好累\\u0000"}',
        '{"id": "l\\u0000", "text": "好累"}',
    ]
    source = tmp_path / "posts.jsonl"
    source.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    output = tmp_path / "out.parquet"
    summary = score(
        models[0], source, output, ScoreSettings(max_chars=40, chunk_size=4), workers=1, show_progress=False
    )
    frame = read_output(output)
    assert frame[["position", "id"]].values.tolist() == [[1, "a"], [10, "g"], [12, "i"]]
    assert read_jsonl(tmp_path / "out.rejects.jsonl") == [
        {"source": str(source), "position": 2, "id": "b", "reason": "missing_text",
         "detail": "no text: expected a string in 'text' or 'comment'"},
        {"source": str(source), "position": 4, "id": "c", "reason": "empty_text", "detail": EMPTY},
        {"source": str(source), "position": 5, "id": None, "reason": "undecodable",
         "detail": "undecodable bytes at byte 21 of the line: the file is read as utf-8"},
        {"source": str(source), "position": 6, "id": "e", "reason": "too_long",
         "detail": "the text has 50 characters; at most 40 are scored"},
        {"source": str(source), "position": 7, "id": None, "reason": "bad_json",
         "detail": "not valid JSON (Expecting value at column 21)"},
        {"source": str(source), "position": 8, "id": None, "reason": "not_an_object",
         "detail": "expected a JSON object per line, got list"},
        {"source": str(source), "position": 9, "id": "7", "reason": "not_text", "detail": "expected a string, got int"},
        {"source": str(source), "position": 11, "id": None, "reason": "too_long",
         "detail": "the line is longer than 1048576 bytes"},
        {"source": str(source), "position": 13, "id": "j", "reason": "empty_text", "detail": EMPTY},
        {"source": str(source), "position": 14, "id": "k", "reason": "nul_character", "detail": nul("text")},
        {"source": str(source), "position": 15, "id": "l\x00", "reason": "nul_character", "detail": nul("id")},
    ]  # fmt: skip
    assert (summary.posts, summary.scored, summary.rejected) == (14, 3, 11)
    assert summary.rejects_by_reason == {
        "bad_json": 1,
        "empty_text": 2,
        "missing_text": 1,
        "not_an_object": 1,
        "not_text": 1,
        "nul_character": 2,
        "too_long": 2,
        "undecodable": 1,
    }
    assert "长" not in (tmp_path / "out.rejects.jsonl").read_text(encoding="utf-8")  # no post text


def test_gzip_parquet_csv_tsv_and_folders_give_the_same_scores(tmp_path: Path, models: tuple[Path, Path]) -> None:
    posts = generated_posts(30, seed=3)
    folder = tmp_path / "in"
    write_jsonl(folder / "a.jsonl", posts[:10])
    (folder / "b").mkdir()
    with gzip.open(folder / "b" / "c.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in posts[10:20])
    pd.DataFrame(posts[20:25]).to_parquet(folder / "d.parquet")
    pd.DataFrame(posts[25:]).to_csv(folder / "e.csv", index=False)
    (folder / ".hidden.jsonl").write_text('{"text": "不要读我"}\n', encoding="utf-8")
    (folder / "notes.md").write_text("not an input\n", encoding="utf-8")
    output = tmp_path / "out.parquet"
    summary = score(models[0], folder, output, ScoreSettings(chunk_size=7), workers=1, show_progress=False)
    frame = read_output(output)
    assert frame["source"].tolist() == (
        [str(folder / "a.jsonl")] * 10
        + [str(folder / "b" / "c.jsonl.gz")] * 10
        + [str(folder / "d.parquet")] * 5
        + [str(folder / "e.csv")] * 5
    )
    assert frame["position"].tolist() == [*range(1, 11), *range(1, 11), *range(1, 6), *range(2, 7)]
    assert frame["id"].tolist() == [p["id"] for p in posts]
    reference = tmp_path / "reference.parquet"
    score(models[0], write_jsonl(tmp_path / "all.jsonl", posts), reference, workers=1, show_progress=False)
    with pytest.raises(ScoringError) as caught:
        score(models[0], folder, folder / "b" / "scores.jsonl", workers=1, show_progress=False)
    assert str(caught.value) == (
        f"{folder / 'b' / 'scores.jsonl'} is inside the input folder {folder.resolve()}: a later run (or --resume) "
        "would read it as input. Write the output and the rejects file outside the input folders."
    )
    columns = ["id", "risk_level", "tier", *LEVEL_PROBABILITY_COLUMNS]
    pd.testing.assert_frame_equal(frame[columns], read_output(reference)[columns])
    assert summary.scored == 30
    # worker processes (chunks that span files; plain chunks read back from disk, gzip ones sent whole)
    parallel = tmp_path / "parallel.parquet"
    score(models[0], folder, parallel, ScoreSettings(chunk_size=7), workers=2, show_progress=False)
    pd.testing.assert_frame_equal(read_output(parallel), frame)


def test_csv_tsv_rows_and_a_gbk_file(tmp_path: Path, models: tuple[Path, Path]) -> None:
    csv_file = tmp_path / "posts.csv"
    csv_file.write_text(
        'post_id,text,extra\n1,"我想死,真的",x\n2,"跨行的\n帖子",y\n3,多了一列,z,w\n4,,v\n5,"' + "长" * 30 + '",u\n',
        encoding="utf-8",
    )
    output = tmp_path / "csv.parquet"
    score(models[0], csv_file, output, ScoreSettings(max_chars=20), workers=1, show_progress=False)
    assert read_output(output)[["position", "id"]].values.tolist() == [[2, "1"], [3, "2"]]
    assert read_jsonl(tmp_path / "csv.rejects.jsonl") == [
        {"source": str(csv_file), "position": 5, "id": None, "reason": "bad_row",
         "detail": "expected 3 columns (post_id, text, extra), found 4; check for an unescaped delimiter or "
                   "quote in the text"},
        {"source": str(csv_file), "position": 6, "id": "4", "reason": "empty_text", "detail": EMPTY},
        {"source": str(csv_file), "position": 7, "id": "5", "reason": "too_long",
         "detail": "the text has 30 characters; at most 20 are scored"},
    ]  # fmt: skip
    gbk = tmp_path / "official.tsv"
    gbk.write_bytes("comment\tmyLabel\n我不想活了\t4\n今天好累\t0\n".encode("gbk"))
    output = tmp_path / "gbk.jsonl"
    score(models[0], gbk, output, workers=1, show_progress=False)
    frame = read_output(output)
    assert frame["position"].tolist() == [2, 3]
    expected = assess(["我不想活了", "今天好累"], level_model=load_model(models[0]))
    assert frame["risk_level"].tolist() == [a.risk_level for a in expected]


def test_min_tier_writes_only_urgent_posts(tmp_path: Path, models: tuple[Path, Path]) -> None:
    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(80, seed=5))
    everything, urgent = tmp_path / "all.parquet", tmp_path / "urgent.parquet"
    score(models[0], source, everything, workers=1, show_progress=False)
    summary = score(
        models[0], source, urgent, ScoreSettings(min_tier="plan", chunk_size=30), workers=1, show_progress=False
    )
    full = read_output(everything)
    expected = full[full["tier"].isin(["plan", "imminent"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(read_output(urgent), expected)
    assert 0 < summary.written < 80
    assert (summary.scored, summary.filtered, summary.written) == (80, 80 - len(expected), len(expected))
    with pytest.raises(ScoringError) as caught:
        score(models[1], source, tmp_path / "x.parquet", ScoreSettings(min_tier="plan"), workers=1, show_progress=False)
    assert str(caught.value) == (
        "--min-tier plan needs a level model (tiers come from levels); got only a 'binary' model. Add a level "
        "model directory or leave --min-tier out."
    )


def test_resume_after_a_full_disk_ends_with_every_post_once(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sosrisk.scoring.local as local

    posts = generated_posts(100, seed=7)
    posts[33]["text"] = ""  # a reject in a chunk that is scored again
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    reference = tmp_path / "reference.parquet"
    score(models[0], source, reference, ScoreSettings(chunk_size=20), workers=1, show_progress=False)
    original = local.write_chunk

    def disk_full_at_chunk_2(workdir: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(workdir, index, *args, **kwargs)

    monkeypatch.setattr(local, "write_chunk", disk_full_at_chunk_2)
    output = tmp_path / "out.parquet"
    parts = parts_dir_for(output)
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=20), workers=1, show_progress=False)
    assert str(caught.value) == (
        f"Writing chunk 2 to {parts} failed: the disk is full ([Errno 28] No space left on device). Finished "
        "chunks are kept; free space (or fix the problem) and rerun the same command with --resume."
    )
    assert not output.exists() and sorted(p.name for p in parts.glob("done-*")) == [
        "done-000000.json",
        "done-000001.json",
    ]
    monkeypatch.setattr(local, "write_chunk", original)
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=20), workers=1, show_progress=False)
    assert str(caught.value) == (
        f"An unfinished run is in {parts}. Pass --resume to continue it, or --overwrite to discard it and start over."
    )
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=10), workers=1, resume=True, show_progress=False)
    assert str(caught.value) == (
        f"Cannot resume the unfinished run in {parts}: setting 'chunk_size' was 20, now 10. Resume with the same "
        "inputs, models and settings, or pass --overwrite to discard its finished chunks and start over."
    )
    with pytest.raises(ScoringError) as caught:
        score(models[1], source, output, ScoreSettings(chunk_size=20), workers=1, resume=True, show_progress=False)
    assert str(caught.value).startswith(
        f"Cannot resume the unfinished run in {parts}: the models differ (expected ['level'] models with "
        "fingerprints ['sha256:"
    )
    summary = score(
        models[0], source, output, ScoreSettings(chunk_size=20), workers=1, resume=True, show_progress=False
    )
    assert (summary.chunks, summary.resumed_chunks, summary.posts, summary.rejected) == (5, 2, 100, 1)
    pd.testing.assert_frame_equal(read_output(output), read_output(reference))
    assert read_jsonl(tmp_path / "out.rejects.jsonl") == read_jsonl(tmp_path / "reference.rejects.jsonl")
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=20), workers=1, show_progress=False)
    assert str(caught.value) == (
        f"{output} already exists. Pass --overwrite to replace it, or choose another --output."
    )


def test_resume_refuses_changed_inputs(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sosrisk.scoring.local as local

    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(10))
    output = tmp_path / "out.parquet"
    parts = parts_dir_for(output)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(local, "write_chunk", broken)
    with pytest.raises(ScoringError, match="rerun the same command with --resume"):
        score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, show_progress=False)
    monkeypatch.undo()
    before = source.stat()
    write_jsonl(source, generated_posts(11))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same time stamp: size and bytes tell
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    assert str(caught.value) == (
        f"Cannot resume the unfinished run in {parts}: input {source.resolve()} changed since the run started "
        "(size, sha256). Resume with the same inputs, models and settings, or pass "
        "--overwrite to discard its finished chunks and start over."
    )
    summary = score(
        models[0], source, output, ScoreSettings(chunk_size=4), workers=1, overwrite=True, show_progress=False
    )
    assert (summary.posts, summary.resumed_chunks) == (11, 0)
    assert not parts.exists()


def test_resuming_a_finished_run_succeeds_with_nothing_to_do_and_a_different_run_is_refused(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    source = write_jsonl(tmp_path / "posts.jsonl", [*generated_posts(9), {"id": "blank", "text": " "}])
    output = tmp_path / "out.parquet"
    parts = parts_dir_for(output)
    first = score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    written = output.stat().st_mtime_ns
    again = score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    assert again.already_complete and not first.already_complete
    assert (again.posts, again.scored, again.rejected, again.chunks, again.resumed_chunks) == (10, 9, 1, 3, 3)
    assert output.stat().st_mtime_ns == written and not parts.exists()  # nothing was scored or rewritten
    result = CliRunner().invoke(
        main, ["score", str(models[0]), "-i", str(source), "-o", str(output), "--chunk-size", "4", "--resume", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"nothing left to do: {output} is already complete for these inputs, models and settings (9 posts scored, "
        "1 rejected, 9 rows written)\n"
    )
    with pytest.raises(ScoringError) as caught:  # another setting
        score(models[0], source, output, ScoreSettings(chunk_size=5), workers=1, resume=True, show_progress=False)
    assert str(caught.value) == (
        f"{output} is already complete, from another run: setting 'chunk_size' was 4, now 5. Pass --overwrite to "
        "score it again with these inputs, models and settings, or choose another --output."
    )
    with pytest.raises(ScoringError) as caught:  # another model
        score(models[1], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    assert str(caught.value).startswith(f"{output} is already complete, from another run: the models differ")
    write_jsonl(source, generated_posts(10))  # another input
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    assert str(caught.value).startswith(f"{output} is already complete, from another run: input {source.resolve()} ")
    (tmp_path / "out.summary.json").unlink()
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=True, show_progress=False)
    assert str(caught.value) == (
        f"{output} exists, but {tmp_path / 'out.summary.json'} (the record of the run that wrote it) is missing or "
        "damaged, so there is no telling whether it comes from these inputs, models and settings. Pass --overwrite "
        "to score it again, or choose another --output."
    )
    assert not parts.exists()  # a refused run leaves no work folder behind


def test_a_work_folder_from_another_version_is_refused_on_resume_and_discarded_by_overwrite(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(10))
    output = tmp_path / "out.parquet"
    parts = parts_dir_for(output)
    parts.mkdir()
    (parts / "manifest.json").write_text('{"format_version": 1}\n')
    (parts / "part-000000.parquet").write_bytes(b"old")
    for resume in (True, False):
        with pytest.raises(ScoringError, match=r"expected format_version 3, got 1\. Rerun with --overwrite"):
            score(models[0], source, output, ScoreSettings(chunk_size=4), workers=1, resume=resume, show_progress=False)
    summary = score(
        models[0], source, output, ScoreSettings(chunk_size=4), workers=1, overwrite=True, show_progress=False
    )
    assert (summary.posts, summary.scored) == (10, 10)
    assert not parts.exists()


def test_a_second_run_on_the_same_output_is_refused(tmp_path: Path, models: tuple[Path, Path]) -> None:
    import subprocess
    import sys

    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(10))
    output = tmp_path / "out.parquet"
    parts = parts_dir_for(output)
    holder = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sosrisk.scoring.workdir import WorkDir\n"
        "with WorkDir(Path(sys.argv[1])).locked():\n"
        "    (Path(sys.argv[1]) / 'manifest.json').write_text('{}')\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder, str(parts)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "locked\n"
        with pytest.raises(ScoringError) as caught:
            score(models[0], source, output, workers=1, resume=True, show_progress=False)
        assert str(caught.value) == (
            f"Another 'sosrisk score' is writing to {parts} (its lock is held). Wait for it to finish, or stop "
            "it and rerun with --resume."
        )
    finally:
        process.communicate("", timeout=30)


def test_urgent_posts_go_to_the_review_queue_once(tmp_path: Path, models: tuple[Path, Path]) -> None:
    pytest.importorskip("sqlalchemy", reason='the review queue needs pip install "sosrisk[serve]"')
    pytest.importorskip("alembic", reason='the review queue needs pip install "sosrisk[serve]"')
    import sqlite3

    from sosrisk.serve.store import dispose_engines

    posts = generated_posts(60, seed=11)
    for number, post in enumerate(posts):
        post["author"] = f"user{number % 3}"
        post["posted_at"] = "2024-05-01T22:15:00+08:00" if number % 2 else "昨天"
    del posts[4]["id"]
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    db = tmp_path / "queue.db"
    output = tmp_path / "out.parquet"
    settings = ScoreSettings(queue_db=f"sqlite:///{db}", chunk_size=25)
    try:
        summary = score(list(models), source, output, settings, workers=1, show_progress=False)
        frame = read_output(output)
        urgent = frame[frame["tier"].isin(["plan", "imminent"]) | frame["high_risk"]]
        with sqlite3.connect(db) as connection:
            stored = connection.execute("SELECT source, external_id, text, author FROM posts ORDER BY id").fetchall()
        by_id = {p.get("id", f"{source}:5"): p for p in posts}
        assert [s[1] for s in stored] == [p if p is not None else f"{source}:5" for p in urgent["id"].tolist()]
        assert stored == [("sosrisk-score", i, by_id[i]["text"], by_id[i]["author"]) for _, i, _, _ in stored]
        assert summary.queued == len(urgent) > 0
        again = score(list(models), source, output, settings, workers=1, overwrite=True, show_progress=False)
        assert again.queued == 0  # idempotent: a rerun or resume never queues a post twice
    finally:
        dispose_engines()


def test_the_cli_scores_and_reports(tmp_path: Path, models: tuple[Path, Path]) -> None:
    source = write_jsonl(tmp_path / "posts.jsonl", [*generated_posts(30), {"id": "x"}])
    output = tmp_path / "out.jsonl"
    runner = CliRunner()
    args = ["score", str(models[0]), "-i", str(source), "-o", str(output), "--workers", "1", "-q"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [
        f"scored 30 posts, rejected 1, filtered 0; wrote 30 rows to {output}",
        f"rejects (missing_text 1) in {tmp_path / 'out.rejects.jsonl'}",
    ]
    assert len(read_output(output)) == 30
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {output} already exists. Pass --overwrite to replace it, or choose another --output.\n"
    )
    result = runner.invoke(main, [*args, "--overwrite", "--address", "auto"], catch_exceptions=False)
    assert result.exit_code == 2 and "--address is for --engine ray." in result.output


def test_a_first_row_naming_no_text_column_stops_the_run_before_anything_is_scored(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    from sosrisk.data import DataError

    for name, data, columns in [
        ("one.csv", "content\n我不想活了\n", ["content"]),
        ("two.tsv", "content\tlabel\n我不想活了\t4\n", ["content", "label"]),
    ]:
        source = tmp_path / name
        source.write_text(data, encoding="utf-8")
        output = tmp_path / f"{name}.jsonl"
        with pytest.raises(DataError) as caught:
            score(models[0], source, output, workers=1, show_progress=False)
        assert str(caught.value) == (
            f"{source}:1: field 'text': no header naming the text column: expected 'text' (or 'comment') among "
            f"the first row's columns {columns}; a file without a header must hold a text and an integer label per "
            "row. Add a header row, or name the column with --text-column (one post per line: use a .txt file)"
        )
        assert not output.exists() and not parts_dir_for(output).exists()
        summary = score(models[0], source, output, ScoreSettings(text_column="content"), workers=1, show_progress=False)
        assert (summary.scored, summary.rejected) == (1, 0)
    headerless = tmp_path / "headerless.tsv"
    headerless.write_text("我不想活了\t4\n今天好累\t0\n", encoding="utf-8")  # text and an integer label: posts
    summary = score(models[0], headerless, output, overwrite=True, workers=1, show_progress=False)
    assert (summary.scored, read_output(output)["position"].tolist()) == (2, [1, 2])


def test_nul_characters_in_csv_and_parquet_fields_are_rejects(tmp_path: Path, models: tuple[Path, Path]) -> None:
    rows = {
        "id": ["a", "b\x00", "c", "d"],
        "text": ["今天好累", "今天好累", "好累\x00", "\u200b\u200c"],
        "author": ["x", "y", "z", "w"],
    }
    csv_file = tmp_path / "posts.csv"
    pd.DataFrame(rows).to_csv(csv_file, index=False)
    parquet_file = tmp_path / "posts.parquet"
    pd.DataFrame({**rows, "author": ["x", "y\x00", "z", "w"], "id": ["a", "b", "c", "d"]}).to_parquet(parquet_file)
    score(models[0], csv_file, tmp_path / "csv.jsonl", workers=1, show_progress=False)
    assert [(r["position"], r["reason"], r["detail"]) for r in read_jsonl(tmp_path / "csv.rejects.jsonl")] == [
        (3, "nul_character", nul("id")),
        (4, "nul_character", nul("text")),
        (5, "empty_text", EMPTY),
    ]
    score(models[0], parquet_file, tmp_path / "pq.jsonl", ScoreSettings(queue_db=None), workers=1, show_progress=False)
    rejects = read_jsonl(tmp_path / "pq.rejects.jsonl")
    assert [(r["position"], r["reason"]) for r in rejects] == [(3, "nul_character"), (4, "empty_text")]
    # the author is read (and checked) when posts go to the review queue
    from sosrisk.data.reader import ReadSettings, find_inputs, iter_segments, parse_segments

    read = ReadSettings(extra_columns=True)
    records = parse_segments(list(iter_segments(find_inputs([parquet_file]), read, segment_units=10)), read)
    assert records.column("reason").to_pylist() == [None, "nul_character", "nul_character", "empty_text"]
    assert records.column("detail").to_pylist()[1] == nul("author")


def test_resume_notices_an_edit_in_the_middle_of_a_file_with_the_same_size_and_time(
    tmp_path: Path, models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sosrisk.scoring.local as local

    posts = generated_posts(6000, seed=2)  # about 400 KB: far more than the first and last 64 KiB
    source = write_jsonl(tmp_path / "posts.jsonl", posts)
    output = tmp_path / "out.parquet"
    original = local.write_chunk

    def full_at_chunk_1(workdir: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(workdir, index, *args, **kwargs)

    monkeypatch.setattr(local, "write_chunk", full_at_chunk_1)
    with pytest.raises(ScoringError, match="rerun the same command with --resume"):
        score(models[0], source, output, ScoreSettings(chunk_size=1000), workers=1, show_progress=False)
    monkeypatch.undo()
    before = source.stat()
    data = bytearray(source.read_bytes())
    middle = data.index(b'"p3000"')
    data[middle : middle + 7] = b'"q3000"'  # another id, same length, in the middle of the file
    source.write_bytes(bytes(data))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert source.stat().st_size == before.st_size and source.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(ScoringError) as caught:
        score(models[0], source, output, ScoreSettings(chunk_size=1000), workers=1, resume=True, show_progress=False)
    assert str(caught.value) == (
        f"Cannot resume the unfinished run in {parts_dir_for(output)}: input {source.resolve()} changed since the run "
        "started (sha256). Resume with the same inputs, models and settings, or pass --overwrite to discard its "
        "finished chunks and start over."
    )


def test_a_damaged_model_fails_with_its_own_error_when_workers_do_not_fork(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    import shutil
    import threading

    from sosrisk.models import ModelError

    damaged = Path(shutil.copytree(models[0], tmp_path / "level"))
    (damaged / "weights.npz").write_bytes(b"")
    source = write_jsonl(tmp_path / "posts.jsonl", generated_posts(10))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)  # with another thread, workers start without fork
    other.start()
    try:
        with pytest.raises(ModelError) as caught:
            score(damaged, source, tmp_path / "out.parquet", workers=2, show_progress=False)
    finally:
        stop.set()
        other.join()
    assert str(caught.value) == (
        f"{damaged / 'weights.npz'}: not a readable .npz archive (File is not a zip file); it may be truncated or "
        "damaged. Restore the model directory from where it came, or train the model again."
    )


def test_scope_columns_match_assess_and_out_of_scope_rows_are_level_0(tmp_path: Path) -> None:
    from scope_support import ORDINARY_POSTS, tiny_scoped_model

    for task in ("level", "binary"):
        tiny_scoped_model(task, tmp_path).save(tmp_path / "scoped" / task)
    texts = [*ORDINARY_POSTS[:6], "好想死", "这是我最后一条微博了", "我刚吃了一整瓶安眠药，对不起"]
    source = write_jsonl(tmp_path / "posts.jsonl", [{"id": str(i), "text": t} for i, t in enumerate(texts)])
    output = tmp_path / "scores.parquet"
    score(
        [tmp_path / "scoped" / "level", tmp_path / "scoped" / "binary"], source, output, workers=1, show_progress=False
    )
    frame = read_output(output)
    expected = assess(
        texts,
        level_model=load_model(tmp_path / "scoped" / "level"),
        binary_model=load_model(tmp_path / "scoped" / "binary"),
    )
    assert frame["in_scope"].tolist() == [a.in_scope for a in expected]
    assert frame["scope_reason"].tolist() == [a.scope_reason for a in expected]
    assert frame["scope_probability"].tolist() == pytest.approx([a.scope_probability for a in expected], abs=1e-6)
    assert [json.loads(h) for h in frame["rule_hits"]] == [a.rule_hits for a in expected]
    assert frame["risk_level"].tolist() == [a.risk_level for a in expected]
    out = frame[~frame["in_scope"]]
    assert len(out) > 0 and (out["risk_level"] == 0).all() and (~out["high_risk"]).all()
