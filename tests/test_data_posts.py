"""Reading post files: formats, encodings, header-less files and every bad-input message."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sosrisk.data import DataError, PostSet, find_leaks, read_many, read_posts


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_official_tsv_maps_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", "comment\tmyLabel\n好累\t0\n想死\t4\n".encode())
    posts = read_posts(path, task="level")
    assert posts.texts == ["好累", "想死"]
    assert posts.labels("level").tolist() == [0, 4]
    assert posts.frame["line"].tolist() == [2, 3]
    assert posts.frame["source"].tolist() == [str(path)] * 2
    assert posts.problems == []


def test_binary_official_column(tmp_path: Path) -> None:
    path = write(tmp_path / "b.tsv", "comment\ttwoClass\n好累\t0\n明天就走\t1\n".encode())
    posts = read_posts(path, task="binary")
    assert posts.labels("binary").tolist() == [0, 1]
    assert not posts.has_labels("level")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("gbk.tsv", "comment\tmyLabel\r\n今天好难过\t3\r\n".encode("gbk")),
        ("bom.tsv", b"\xef\xbb\xbf" + "comment\tmyLabel\n今天好难过\t3\n".encode()),
        ("crlf.tsv", "comment\tmyLabel\r\n今天好难过\t3\r\n".encode()),
        ("gb18030.tsv", "comment\tmyLabel\n今天好难过\t3\n".encode("gb18030")),
        ("headerless.tsv", "今天好难过\t3\n".encode("gbk")),
    ],
)
def test_encodings_line_endings_and_headerless(tmp_path: Path, name: str, data: bytes) -> None:
    posts = read_posts(write(tmp_path / name, data), task="level")
    assert posts.texts == ["今天好难过"]
    assert posts.labels("level").tolist() == [3]


def test_headerless_binary_file(tmp_path: Path) -> None:
    posts = read_posts(write(tmp_path / "h.tsv", "好累\t1\n".encode()), task="binary")
    assert posts.labels("binary").tolist() == [1]


def test_quoted_tsv_field_with_doubled_quotes(tmp_path: Path) -> None:
    data = 'comment\tmyLabel\n"他说""再见""了"\t9\n'.encode()
    assert read_posts(write(tmp_path / "q.tsv", data)).texts == ['他说"再见"了']


def test_csv_jsonl_parquet_and_lines(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "a.csv", "text,risk_level,high_risk,id\n好累,0,0,p1\n".encode())
    jsonl_path = write(
        tmp_path / "a.jsonl",
        (json.dumps({"text": "好累", "risk_level": 0, "high_risk": False, "id": 7}) + "\n\n").encode(),
    )
    parquet_path = tmp_path / "a.parquet"
    pd.DataFrame({"comment": ["好累"], "myLabel": [0], "twoClass": [0]}).to_parquet(parquet_path)
    lines_path = write(tmp_path / "a.txt", "好累\n\n想死\n".encode())
    for path in (csv_path, jsonl_path, parquet_path):
        posts = read_posts(path, task="level")
        assert posts.texts == ["好累"]
        assert posts.labels("level").tolist() == [0]
        assert posts.labels("binary").tolist() == [0]
    assert read_posts(csv_path).frame["id"].tolist() == ["p1"]
    assert read_posts(jsonl_path).frame["id"].tolist() == ["7"]
    lines = read_posts(lines_path)
    assert lines.texts == ["好累", "想死"]
    assert lines.frame["line"].tolist() == [1, 3]


def test_custom_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", "post,score\n好累,2\n".encode())
    posts = read_posts(path, task="level", text_column="post", label_column="score")
    assert posts.labels("level").tolist() == [2]


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        read_posts(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_missing_label_column(tmp_path: Path) -> None:
    path = write(tmp_path / "m.tsv", "comment\tother\n好累\t1\n".encode())
    assert error_of(path, task="level") == (
        f"{path}:1: field 'risk_level': missing column: the level task needs 'risk_level' (or official "
        "'myLabel'); the file has columns ['comment', 'other']"
    )


def test_missing_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "body,myLabel\n好累,1\n".encode())
    assert error_of(path) == (
        f"{path}:1: field 'text': missing text column: expected 'text' (or 'comment'); the header has "
        "['body', 'myLabel']. Name it with --text-column"
    )


def test_empty_text(tmp_path: Path) -> None:
    path = write(tmp_path / "e.tsv", "comment\tmyLabel\n好累\t1\n   \t2\n".encode())
    assert error_of(path, task="level") == (
        f"{path}:3: field 'text': the text is empty (only white space or invisible characters)"
    )


def test_label_not_an_integer(tmp_path: Path) -> None:
    path = write(tmp_path / "l.tsv", "comment\tmyLabel\n好累\tfour\n".encode())
    assert error_of(path, task="level") == (
        f"{path}:2: field 'risk_level': label 'four' is not an integer; expected 0 to 10"
    )


def test_level_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "comment\tmyLabel\n好累\t11\n".encode())
    assert error_of(path, task="level") == f"{path}:2: field 'risk_level': label 11 is outside 0 to 10"


def test_binary_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "comment\ttwoClass\n好累\t2\n".encode())
    assert error_of(path, task="binary") == f"{path}:2: field 'high_risk': label 2 is outside 0 or 1"


def test_missing_label_value(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", "comment\tmyLabel\n好累\t\n".encode())
    assert (
        error_of(path, task="level") == f"{path}:2: field 'risk_level': missing label; expected an integer from 0 to 10"
    )


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "u.tsv", b"comment\tmyLabel\nok\t1\nbad \xff\xfe\x80\t2\n")
    assert error_of(path) == (
        f"{path}:3: field 'text': undecodable bytes in the text: the file is neither all UTF-8 nor all "
        "GBK/GB18030; re-save it as UTF-8"
    )


def test_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path / "w.tsv", "comment\tmyLabel\n好累\t1\textra\n".encode())
    assert error_of(path) == (
        f"{path}:2: expected 2 columns (comment, myLabel), found 3; check for an unescaped delimiter or "
        "quote in the text"
    )


def test_not_json(tmp_path: Path) -> None:
    path = write(tmp_path / "j.jsonl", b'{"text": "ok"}\n{"text": \n')
    assert error_of(path) == f"{path}:2: not valid JSON (Expecting value at column 10)"


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path / "x.docx", b"")
    assert error_of(path) == (
        f"{path}: cannot tell the input format from the name; expected a suffix among .csv, .json, .jsonl, "
        ".ndjson, .parquet, .pq, .tsv, .txt (optionally followed by .gz), or pass --input-format"
    )
    assert error_of(tmp_path / "nope.tsv") == f"{tmp_path / 'nope.tsv'}: no such file"


def test_empty_file_is_reported_not_dropped(tmp_path: Path) -> None:
    posts = read_posts(write(tmp_path / "empty.tsv", b""))
    assert len(posts) == 0
    assert [str(p) for p in posts.problems] == [f"{tmp_path / 'empty.tsv'}: the file holds no posts"]


def test_duplicates_reported_with_label_conflict(tmp_path: Path) -> None:
    a = write(tmp_path / "a.tsv", "comment\tmyLabel\n好累\t1\n想死\t4\n".encode())
    b = write(tmp_path / "b.tsv", "comment\tmyLabel\n好累\t2\n".encode())
    joined = read_many([a, b], task="level")
    assert len(joined) == 3
    assert [str(p) for p in joined.problems] == [
        f"{a}:2: the same text appears again at {b}:2; labels disagree (risk_level [1, 2])"
    ]


def test_report_mode_keeps_going_and_lists_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "pool.tsv", "comment\tmyLabel\n好累\t1\n\t1\n想死\t4\n".encode())
    posts = read_posts(path, task="level", errors="report")
    assert posts.texts == ["好累", "想死"]
    assert [str(p) for p in posts.problems] == [
        f"{path}:3: left out: field 'text': the text is empty (only white space or invisible characters)"
    ]


def test_labels_error_names_the_first_unlabelled_post(tmp_path: Path) -> None:
    posts = read_posts(write(tmp_path / "t.txt", "好累\n".encode()))
    with pytest.raises(DataError) as info:
        posts.labels("level")
    assert str(info.value) == (
        f"{tmp_path / 't.txt'}:1: field 'risk_level': no level label; expected a 'risk_level' (or official "
        "'myLabel') value for every post (1 of 1 posts have none)"
    )


def test_leak_check(tmp_path: Path) -> None:
    train = read_posts(write(tmp_path / "train.tsv", "comment\tmyLabel\n好累 啊\t1\n想死\t4\n".encode()))
    evaluation = read_posts(write(tmp_path / "eval.tsv", "comment\tmyLabel\n好累啊\t1\n明天\t0\n".encode()))
    assert [str(p) for p in find_leaks(train, evaluation)] == [
        f"{tmp_path / 'eval.tsv'}:2: this evaluation text is also in the training data at {tmp_path / 'train.tsv'}:2"
    ]


def test_concat_of_nothing_is_empty() -> None:
    assert len(PostSet.concat([])) == 0
