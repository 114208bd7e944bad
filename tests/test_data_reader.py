"""The batch readers: lines cut into segments with numpy, and the Arrow fast path for JSONL, checked
against plain line-by-line reading and parsing on inputs built to trip them."""

from __future__ import annotations

import codecs
import gzip
import pickle
import random
import sys
from pathlib import Path

import pytest

from sosrisk.data import reader
from sosrisk.data.errors import DataError
from sosrisk.data.reader import ReadSettings, Records, Segment, find_inputs, iter_segments, parse_segments

# JSONL lines where Arrow's reader and Python's json module could disagree, or a check could slip.
TRICKY_LINES: list[bytes] = [
    '{"id": "a", "text": "我想死。"}'.encode(),
    b'{"id": "b"}',  # no text
    b"",  # blank
    b"   \t ",  # blank (whitespace only)
    b"\x0c",  # blank for bytes.strip(), not JSON whitespace
    b"null",  # a JSON value that is not an object
    b'{"id": "c", "text": "   "}',  # empty text
    '{"id": "d", "text": "\u3000\u2003\n"}'.encode(),  # empty text: only Unicode spaces
    '{"id": "e", "text": "\u200b"}'.encode(),  # a zero-width space alone shows nothing: blank
    b'{"id": "e2", "text": "\\u2060\\ufe0f\\u3164 x"}',  # invisible characters around a letter: a text
    b'{"id": "r", "text": "a\\u0000b"}',  # a NUL in the text
    b'{"id": "s\\u0000", "text": "ok"}',  # a NUL in the id
    b'{"id": "f", "text": "\xff\xfe"}',  # undecodable bytes inside a string
    b'{"id": "g", "text": "\\ud800"}',  # an escaped lone surrogate
    b'{"id": 7, "text": "int id"}',
    b'{"id": "  ", "text": "blank id"}',
    b'{"id": "h", "text": 123}',  # not text
    b'{"id": "i", "text": "a"} {"id": "j", "text": "b"}',  # two objects on one line
    b'{"id": "k", "text": "\xe9\x95\xbf\xe9\x95\xbf\xe9\x95\xbf\xe9\x95\xbf\xe9\x95\xbf\xe9\x95\xbf"}',  # too long at 5
    b'{"id": "l", "comment": "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa5\xbd\xe7\xb4\xaf"}',  # the text under its alias
    b'{"id": "m", "text": "crlf"}\r',  # a CRLF line ending (the \n is added below)
    b'{"id": "n", "text": "dup", "text": "last"}',  # a repeated key: Python keeps the last
    b'{"te\\u0078t": "escaped key", "id": "o"}',
    b'{"id": "p", "text": "fine"',  # broken JSON
    b"[1, 2]",
    codecs.BOM_UTF8 + b'{"id": "q", "text": "bom inside"}',
]
PLAIN_LINES: list[bytes] = [f'{{"id": "x{i}", "text": "今天好累{i}"}}'.encode() for i in range(8)]


def lines_segment(lines: list[bytes | None], first: int = 1) -> Segment:
    """A lines segment holding ``lines`` (``None``: a line skipped as too long), as the reader builds it."""
    import numpy as np

    raw = [b"\n" if line is None else line + b"\n" for line in lines]
    return Segment(
        0,
        "lines",
        first,
        data=b"".join(raw),
        ends=np.cumsum([len(line) for line in raw]).astype(np.int64),
        too_long=tuple(i for i, line in enumerate(lines) if line is None),
    )


def slow_parse(segment: Segment, settings: ReadSettings) -> list[dict[str, object]]:
    records = Records()
    reader._parse_lines(segment, settings, records)
    return records.to_arrow().to_pylist()


@pytest.mark.parametrize("extra_columns", [False, True])
def test_the_fast_jsonl_path_reads_every_segment_exactly_like_the_line_parser(extra_columns: bool) -> None:
    settings = ReadSettings(max_chars=5, extra_columns=extra_columns)
    rng = random.Random(7)
    fast_segments = 0
    for trial in range(400):
        lines = rng.sample(PLAIN_LINES, rng.randint(0, 4)) + rng.sample(TRICKY_LINES, rng.randint(0, 2))
        rng.shuffle(lines)
        if not lines:
            continue
        segment = lines_segment(list(lines), first=trial + 1)
        fast = reader._parse_lines_fast(segment, settings)
        want = slow_parse(segment, settings)
        if fast is not None:
            fast_segments += 1
            assert fast.schema == Records().to_arrow().schema
            assert fast.to_pylist() == want, lines
        assert parse_segments([segment], settings).to_pylist() == want, lines
    assert fast_segments > 100  # the fast path is taken whenever it can be


def test_the_fast_jsonl_path_agrees_with_the_line_parser_on_damaged_lines() -> None:
    """Lines cut, spliced and salted with bad bytes: wherever the fast path answers, it answers the same."""
    rng = random.Random(11)
    pieces = [b"{", b"}", b'"', b":", b",", b" ", b"\\", b"null", b'"text"', b'"id"', b"1", b"\xe4\xbd\xa0", b"\xff"]
    pieces += [b"[", b"]", b"\r", b"\t", b"comment", b"true", b"-", b"\x00"]

    def damaged(line: bytes) -> bytes:
        out = bytearray(line)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(out))
            if rng.random() < 0.6:
                out[at:at] = rng.choice(pieces) * rng.randint(1, 2)
            else:
                del out[at : at + rng.randint(1, 3)]
        return bytes(out).replace(b"\n", b"")

    settings = [ReadSettings(max_chars=5), ReadSettings(max_chars=50, extra_columns=True)]
    answered = 0
    for _ in range(1500):
        lines = rng.sample(PLAIN_LINES, rng.randint(0, 3))
        lines += [damaged(rng.choice(PLAIN_LINES + TRICKY_LINES)) for _ in range(rng.randint(1, 2))]
        rng.shuffle(lines)
        segment = lines_segment(lines)
        for read in settings:
            fast = reader._parse_lines_fast(segment, read)
            if fast is not None:
                answered += 1
                assert fast.to_pylist() == slow_parse(segment, read), lines
    assert answered > 150  # and it answers often enough to be tested


def test_the_fast_path_keeps_rejects_and_ids_as_the_line_parser_writes_them() -> None:
    lines = [
        '{"id": 5, "text": "今天好累"}'.encode(),
        b'{"id": -6, "text": " a "}',
        b'{"id": 7, "text": "   "}',
        b"",
        b'{"id": 8}',
        b'{"id": 9, "text": "123456"}',
    ]
    segment = lines_segment(lines, first=10)
    table = reader._parse_lines_fast(segment, ReadSettings(max_chars=5))
    assert table is not None  # integer ids, read as integers and written as Python writes them
    rows = table.to_pylist()
    assert [(r["position"], r["id"], r["reason"]) for r in rows] == [
        (10, "5", None),
        (11, "-6", None),
        (12, "7", "empty_text"),
        (14, "8", "missing_text"),
        (15, "9", "too_long"),
    ]
    assert rows[3]["detail"] == "no text: expected a string in 'text' or 'comment'"
    assert rows[4]["detail"] == "the text has 6 characters; at most 5 are scored"
    assert all(r["text"] is None for r in rows[2:])


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt), which Python's unicodedata does not expose
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
]  # fmt: skip


def test_blank_texts_are_white_space_control_and_invisible_characters_in_python_and_in_arrow() -> None:
    import unicodedata

    import pyarrow as pa
    import pyarrow.compute as pc

    ignorable = {c for a, b in DEFAULT_IGNORABLE for c in range(a, b + 1)}
    points = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    blank = [chr(c).isspace() or unicodedata.category(chr(c)) == "Cc" or c in ignorable or c == 0x2800 for c in points]
    assert [reader.is_blank_text(chr(c)) for c in points] == blank
    visible_in_arrow = pc.match_substring_regex(pa.array([chr(c) for c in points]), reader._HAS_VISIBLE)
    assert visible_in_arrow.to_pylist() == [not b for b in blank]
    assert reader.is_blank_text(" \u200b\u200d\ufeff\u3000\u2800") and not reader.is_blank_text("\u200b好")


def test_whitespace_tables_match_python() -> None:
    every_space = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert every_space == reader._TEXT_SPACE
    assert sorted(reader._BLANK_BYTES) == [b for b in range(256) if not bytes([b]).strip()]


def reference_lines(path: Path, limit: int) -> list[bytes | None]:
    """What a line-by-line reader keeps: each line, ``None`` for one longer than ``limit`` bytes."""
    kept: list[bytes | None] = []
    for line in path.read_bytes().splitlines(keepends=True):
        content = line[:-1] if line.endswith(b"\n") else line
        kept.append(None if len(content) > limit else line)
    return kept


@pytest.mark.parametrize("block_bytes", [7, 64, 1000, 1 << 22])
@pytest.mark.parametrize("segment_units", [1, 3, 50])
def test_lines_are_cut_at_every_block_boundary_like_readline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int, segment_units: int
) -> None:
    monkeypatch.setattr(reader, "_READ_BLOCK_BYTES", block_bytes)
    rng = random.Random(block_bytes * 31 + segment_units)
    limit = 40
    lines = []
    for _ in range(120):
        size = rng.choice([0, 1, 5, 39, 40, 41, 80, 200])
        body = "".join(rng.choice("ab长c") for _ in range(size)).encode()[:size]
        lines.append(body + rng.choice([b"\n", b"\r\n"]))
    lines[-1] = lines[-1].rstrip(b"\r\n") + b"x" * rng.choice([0, 50])  # the last line has no newline
    path = tmp_path / "posts.txt"
    path.write_bytes(b"".join(lines))
    settings = ReadSettings(max_chars=5)
    monkeypatch.setattr(ReadSettings, "max_line_bytes", property(lambda self: limit))
    segments = list(iter_segments(find_inputs([path]), settings, segment_units=segment_units))
    got: list[bytes | None] = []
    for number, segment in enumerate(segments):
        assert segment.first == 1 + len(got)
        assert segment.units == segment_units or number == len(segments) - 1
        got += segment.raw_lines()
    want = reference_lines(path, limit)
    assert got == want
    # splitting a segment anywhere keeps every line and its number
    whole = segments[0]
    for n in range(1, whole.units):
        head, tail = whole.split(n)
        assert tail is not None and tail.first == whole.first + n
        assert head.raw_lines() + tail.raw_lines() == whole.raw_lines()


def same_segment(a: Segment, b: Segment) -> bool:
    fields = ("file_index", "first", "data", "too_long", "origin", "detached_bytes")
    return all(getattr(a, f) == getattr(b, f) for f in fields) and bool((a.ends == b.ends).all())


def test_a_worker_reads_a_detached_segment_back_from_the_file_and_notices_a_change(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    lines = [*PLAIN_LINES, b'{"id": "long", "text": "' + b"x" * 100 + b'"}', *PLAIN_LINES]
    path.write_bytes(b"\n".join(lines))  # no newline after the last line
    settings = ReadSettings()
    segments = list(iter_segments(find_inputs([path]), settings, segment_units=5))
    assert [s.origin is not None for s in segments] == [True, True, True, True]
    for segment in segments:
        assert segment.origin is not None
        offset = segment.origin[1]
        assert path.read_bytes()[offset : offset + len(segment.data)] == segment.data
        detached = segment.detached()
        assert detached.data == b"" and detached.detached_bytes == len(segment.data)
        assert same_segment(detached.attached(), segment)
        _, tail = segment.split(1)
        assert tail is not None and same_segment(tail.detached().attached(), tail)
    path.write_bytes(b"\n".join(lines[1:]))  # the file changes under a running scan
    with pytest.raises(DataError, match="changed while it was being scored") as caught:
        segments[1].detached().attached()
    assert str(caught.value).startswith(f"{path.resolve()}:6:")


def test_segments_holding_a_skipped_line_or_from_gzip_travel_with_their_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ReadSettings, "max_line_bytes", property(lambda self: 60))
    lines = [*PLAIN_LINES[:3], b'{"id": "long", "text": "' + b"x" * 100 + b'"}', *PLAIN_LINES[3:6]]
    plain = tmp_path / "posts.jsonl"
    plain.write_bytes(b"\n".join(lines) + b"\n")
    segments = list(iter_segments(find_inputs([plain]), ReadSettings(), segment_units=3))
    assert [s.too_long for s in segments] == [(), (0,), ()]
    # the block that held the skipped line is not the file's bytes any more: none of its segments is detached
    assert [s.origin for s in segments] == [None, None, None]
    assert all(s.detached() is s for s in segments)
    packed = tmp_path / "posts.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert all(s.origin is None for s in iter_segments(find_inputs([packed]), ReadSettings(), segment_units=3))


def test_a_data_error_raised_in_a_worker_arrives_whole() -> None:
    error = DataError("/data/posts.jsonl", "the file changed while it was being scored", line=6, field="text")
    arrived = pickle.loads(pickle.dumps(error))  # what a worker process sends back
    assert type(arrived) is DataError
    assert (str(arrived), arrived.path, arrived.line, arrived.field, arrived.detail) == (
        str(error),
        error.path,
        6,
        "text",
        "the file changed while it was being scored",
    )
