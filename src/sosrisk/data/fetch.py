"""Download SOS-1K at the authors' pinned commit, or copy it from a local folder, checking every sha256.

Every file of the shipped manifest (``sos1k.sha256``) is looked for in the destination first and kept if
its sha256 matches ("present"); otherwise it is copied from a local folder with the repository's layout
(``source``) or downloaded over HTTPS from the raw files of the pinned commit. Bytes are streamed into a
temporary file beside the target and hashed while written; only a file whose sha256 matches the manifest is
renamed into place, so a target is never half-written and a checksum mismatch never lands (the streaming
and verifying is :mod:`sosrisk.data.transfer`, shared with the ordinary-text fetcher).

A file the source does not have (missing from a local copy, HTTP 404) is reported as "absent", which is not
an error by itself: local copies for development deliberately lack the official test set. What is wrong is
reported in the :class:`FetchReport` (``ok`` is False), never raised; :class:`FetchError` is raised only for
arguments that cannot work (a source folder that does not exist, a URL that is not http(s)).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..atomic import sha256_file
from ..home import sos1k_dir
from .transfer import (
    ChecksumMismatch,
    Failure,
    Mismatch,
    SourceAbsent,
    TransferFailed,
    TransferReport,
    copy_verified,
    download_verified,
)

logger = logging.getLogger(__name__)

SOS1K_REPO = "HongzhiQ/FineGrainedSuicideDetection"
SOS1K_COMMIT = "1322c3b09bb9cc283eb840fe3b27a03d775894f4"
SOS1K_URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
DEFAULT_BASE_URL = SOS1K_URL_TEMPLATE.format(repo=SOS1K_REPO, commit=SOS1K_COMMIT, path="")
BASE_URL_ENV_VAR = "SOSRISK_SOS1K_BASE_URL"
MANIFEST_RESOURCE = "sos1k.sha256"

FINE_GRAINED_FOLDS: tuple[str, ...] = tuple(f"suicideDataProcessing/data/fine-grained/fold{k}.tsv" for k in range(1, 6))
BINARY_FOLDS: tuple[str, ...] = tuple(f"suicideDataProcessing/data/binary/fold{k}_twoClass.tsv" for k in range(1, 6))
REQUIRED_FILES: tuple[str, ...] = FINE_GRAINED_FOLDS + BINARY_FOLDS
"""The development files without which nothing can be trained: five fine-grained and five binary folds."""

_MANIFEST_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OTHER_ABSENT_SHOWN = 10
# Groups of files a source may lack on purpose: (label, file names, or a file-name suffix as a str).
_ABSENT_GROUPS: tuple[tuple[str, frozenset[str] | str], ...] = (
    ("the official 250-post test set", frozenset({"test_data.tsv", "testdata_twoClass.tsv"})),
    ("the *_after.tsv training sets", "_after.tsv"),
    ("all 1,249 posts with the LLM-assisted annotations", frozenset({"suicide_all_LLM.csv"})),
)


class FetchError(ValueError):
    """Arguments of :func:`fetch_sos1k` or a manifest that cannot work; the message says what to fix."""


@dataclass
class FetchReport(TransferReport):
    """What :func:`fetch_sos1k` did with each requested file of the manifest (relative paths)."""

    absent: list[str] = field(default_factory=list)
    """Files the source does not have (not an error by itself, see the module description)."""

    @property
    def missing_required(self) -> list[str]:
        """Requested development folds (:data:`REQUIRED_FILES`) that are neither fetched nor present."""
        have = set(self.fetched) | set(self.present)
        requested = set(self.requested)
        return [path for path in REQUIRED_FILES if path in requested and path not in have]

    @property
    def ok(self) -> bool:
        """True when nothing mismatched, nothing failed and no requested development fold is missing."""
        return not self.mismatched and not self.failed and not self.missing_required

    def summary(self) -> list[str]:
        """Readable lines: where, the counts, absent files by group, every problem, and the verdict."""
        lines = [
            f"SOS-1K ({SOS1K_REPO} at {SOS1K_COMMIT[:7]}) in {self.dest} from {self.origin}",
            f"{len(self.requested)} files: {len(self.fetched)} fetched, {len(self.present)} already present, "
            f"{len(self.absent)} absent from the source, {len(self.mismatched)} mismatched, "
            f"{len(self.failed)} failed",
        ]
        lines.extend(_absent_lines(self.absent))
        lines.extend(
            f"mismatched: {item.path}: expected sha256 {item.expected}, got {item.actual} from {item.origin}"
            for item in self.mismatched
        )
        lines.extend(f"failed: {item.path}: {item.reason}" for item in self.failed)
        lines.extend(f"missing required: {path}" for path in self.missing_required)
        if self.ok:
            lines.append("ok: every fetched or present file matches its sha256")
        else:
            problems = []
            if self.mismatched:
                problems.append(f"{len(self.mismatched)} mismatched (rejected, not written)")
            if self.failed:
                problems.append(f"{len(self.failed)} failed")
            if self.missing_required:
                count = len(self.missing_required)
                problems.append(f"{count} required development {'file' if count == 1 else 'files'} missing")
            lines.append(
                f"not ok: {', '.join(problems)}; run the fetch again to retry, and if a sha256 mismatch "
                f"persists the source does not hold the files of commit {SOS1K_COMMIT[:7]}"
            )
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary())


def _absent_lines(absent: list[str]) -> list[str]:
    """Absent files grouped: the test set, the *_after.tsv sets, the all-posts CSV, then the others."""
    lines = []
    remaining = list(absent)
    for label, names in _ABSENT_GROUPS:
        group = [path for path in remaining if _in_group(path, names)]
        if not group:
            continue
        remaining = [path for path in remaining if path not in group]
        file_names = sorted({PurePosixPath(path).name for path in group})
        noun = "file" if len(group) == 1 else "files"
        lines.append(f"absent: {label} ({len(group)} {noun}: {', '.join(file_names)})")
    lines.extend(f"absent: {path}" for path in remaining[:_OTHER_ABSENT_SHOWN])
    if len(remaining) > _OTHER_ABSENT_SHOWN:
        lines.append(f"absent: ... and {len(remaining) - _OTHER_ABSENT_SHOWN} more files")
    return lines


def _in_group(path: str, names: frozenset[str] | str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(names) if isinstance(names, str) else name in names


# --------------------------------------------------------------------------------------------- manifest


def parse_manifest(text: str, origin: str = "manifest") -> dict[str, str]:
    """Parse ``sha256sum`` output (``<sha256>  <relative path>`` lines, ``#`` comments) into path -> sha256.

    Raises :class:`FetchError` naming ``origin`` and the line for a malformed line, an unsafe path
    (absolute, ``..``) or a path listed twice.
    """
    return _parse_manifest(text, origin)[1]


def _parse_manifest(text: str, origin: str) -> tuple[list[str], dict[str, str]]:
    comments: list[str] = []
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            continue
        match = _MANIFEST_LINE.match(line)
        if match is None:
            raise FetchError(
                f"{origin}:{number}: expected a line '<64 hex digits of sha256>  <relative path>', "
                f"got {line!r}; restore the manifest (reinstall sosrisk if it is the shipped one)"
            )
        digest, path = match.group(1).lower(), match.group(2)
        problem = _unsafe_path_problem(path)
        if problem is not None:
            raise FetchError(
                f"{origin}:{number}: expected a relative path inside the repository, got {path!r} "
                f"({problem}); restore the manifest (reinstall sosrisk if it is the shipped one)"
            )
        if path in entries:
            raise FetchError(
                f"{origin}:{number}: expected each path once, got {path!r} a second time; "
                "restore the manifest (reinstall sosrisk if it is the shipped one)"
            )
        entries[path] = digest
    if not entries:
        raise FetchError(
            f"{origin}: expected '<sha256>  <relative path>' lines, got none; "
            "restore the manifest (reinstall sosrisk if it is the shipped one)"
        )
    return comments, entries


def _unsafe_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be joined to the destination safely, or None."""
    if "\\" in path:
        return "it contains a backslash"
    if path.startswith("/"):
        return "it is absolute"
    parts = path.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        return "it has an empty, '.' or '..' segment"
    return None


def load_manifest() -> dict[str, str]:
    """The shipped sha256 manifest of SOS-1K at :data:`SOS1K_COMMIT`: relative path -> sha256 (hex).

    Checks that it parses and that its header names :data:`SOS1K_REPO` and :data:`SOS1K_COMMIT`.
    """
    resource = resources.files("sosrisk") / "data" / MANIFEST_RESOURCE
    comments, entries = _parse_manifest(resource.read_text(encoding="utf-8"), MANIFEST_RESOURCE)
    header = " ".join(comments)
    if SOS1K_REPO not in header or SOS1K_COMMIT not in header:
        raise FetchError(
            f"{MANIFEST_RESOURCE}: expected a '#' header naming {SOS1K_REPO} and commit {SOS1K_COMMIT}, "
            f"got {header!r}; the shipped manifest and the pinned commit disagree, reinstall sosrisk"
        )
    return entries


def _check_manifest(manifest: Mapping[str, str]) -> dict[str, str]:
    """Validate a manifest given as a mapping (tests, mirrors); return it with lower-case hashes."""
    checked = {}
    for path, digest in manifest.items():
        problem = _unsafe_path_problem(path)
        if problem is not None:
            raise FetchError(
                f"expected manifest paths relative to the repository, got {path!r} ({problem}); fix the manifest"
            )
        if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
            raise FetchError(
                f"expected manifest values to be 64 hex digits of sha256, got {digest!r} for {path!r}; fix the manifest"
            )
        checked[path] = digest.lower()
    return checked


# ------------------------------------------------------------------------------------------------ URLs


def sos1k_url(path: str, base_url: str | None = None) -> str:
    """URL of one repository file: ``base_url`` (default: raw files of the pinned commit) + quoted path.

    Each path segment is percent-quoted, so spaces become ``%20``.
    """
    base = _check_base_url(base_url, "base_url") if base_url is not None else DEFAULT_BASE_URL
    return base + _quote_path(path)


def _quote_path(path: str) -> str:
    return "/".join(urllib.parse.quote(segment, safe="") for segment in path.split("/"))


def _check_base_url(url: str, name: str) -> str:
    """Return ``url`` ending in ``/``, or raise :class:`FetchError` if it is not an http(s) folder URL."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(
            f"expected {name} to be an http(s) URL of the folder that holds the repository's files, "
            f"such as {DEFAULT_BASE_URL!r}, got {url!r}; fix the URL or leave it out for the default"
        )
    if parts.query or parts.fragment:
        raise FetchError(
            f"expected {name} without a query or fragment, got {url!r}; "
            "pass only the folder URL, file paths are appended to it"
        )
    if parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1", "::1"}:
        logger.warning("downloading SOS-1K over plain http from %s; sha256 checks still guard it", url)
    return url if url.endswith("/") else url + "/"


# -------------------------------------------------------------------------------------------- fetching


def _select(manifest: dict[str, str], files: Iterable[str] | str | None) -> list[str]:
    """Manifest paths named by ``files`` (exact paths or glob patterns), in manifest order."""
    if files is None:
        return list(manifest)
    if isinstance(files, str):
        files = [files]
    chosen: set[str] = set()
    for pattern in files:
        if any(char in pattern for char in "*?["):
            matches = {path for path in manifest if fnmatch.fnmatchcase(path, pattern)}
        else:
            matches = {pattern} if pattern in manifest else set()
        if not matches:
            example = next(iter(manifest))
            raise FetchError(
                f"expected files to be paths of the SOS-1K manifest or glob patterns matching some "
                f"(for example {example!r}), got {pattern!r}, which matches none; "
                "see load_manifest() for the paths"
            )
        chosen |= matches
    return [path for path in manifest if path in chosen]


def _check_source(source: str | os.PathLike[str], selected: list[str]) -> Path:
    """The source folder as a Path, or :class:`FetchError` if it cannot hold the files."""
    if isinstance(source, str) and "://" in source:
        raise FetchError(f"expected source to be a local folder, got the URL {source!r}; pass URLs as base_url instead")
    folder = Path(source).expanduser()
    fix = "pass the folder that holds suicideDataProcessing/ and ModelTrain/"
    if not folder.exists():
        raise FetchError(
            f"expected source to be a folder with the SOS-1K files, got {str(source)!r}, which does not exist; {fix}"
        )
    if not folder.is_dir():
        raise FetchError(
            f"expected source to be a folder with the SOS-1K files, got {str(source)!r}, which is not a folder; {fix}"
        )
    tops = sorted({path.split("/", 1)[0] for path in selected if "/" in path})
    if tops and not any((folder / top).is_dir() for top in tops):
        raise FetchError(
            f"expected source to hold the repository layout ({', '.join(t + '/' for t in tops)} at its top), "
            f"got {str(source)!r}, which has none of them; {fix}"
        )
    return folder


def _check_numbers(timeout: float, retries: int, backoff: float) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise FetchError(f"expected timeout to be a positive number of seconds, got {timeout!r}; pass e.g. 30")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise FetchError(f"expected retries to be an integer >= 0, got {retries!r}; pass e.g. 3")
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or not backoff >= 0:
        raise FetchError(f"expected backoff to be a number of seconds >= 0, got {backoff!r}; pass e.g. 1")


def fetch_sos1k(
    dest: str | os.PathLike[str] | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    files: Iterable[str] | str | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    show_progress: bool = True,
    manifest: Mapping[str, str] | None = None,
) -> FetchReport:
    """Make ``dest`` hold the SOS-1K files of the manifest, each verified by sha256; report what happened.

    Parameters
    ----------
    dest
        Destination folder (same relative layout as the repository); default :func:`sosrisk.home.sos1k_dir`,
        that is ``$SOSRISK_HOME/sos1k``.
    source
        A local folder with the repository's layout (a mirror or a partial copy) to copy from instead of
        downloading. Files it lacks are reported as absent.
    base_url
        Folder URL to download from; default ``$SOSRISK_SOS1K_BASE_URL`` or the raw files of
        :data:`SOS1K_REPO` at :data:`SOS1K_COMMIT`. Cannot be combined with ``source``.
    files
        Only these manifest paths (exact, or glob patterns such as ``"suicideDataProcessing/data/*"``).
    timeout, retries, backoff
        Seconds to wait for the server; retries after a connection error, timeout, HTTP 5xx/408/429 or a
        truncated body; the first retry waits ``backoff`` seconds, each next one twice as long.
    show_progress
        Show a progress bar on stderr.
    manifest
        Path -> sha256 to use instead of the shipped one (tests, other mirrors).

    Returns
    -------
    FetchReport
        ``report.ok`` is False if a file mismatched its sha256, failed, or a requested development fold is
        missing; ``report.summary()`` gives readable lines. Problems with files are reported, not raised.

    Raises
    ------
    FetchError
        For unusable arguments: a missing source folder, a non-http(s) URL, both ``source`` and ``base_url``,
        ``files`` naming no manifest path, a destination that is not a writable folder.
    """
    _check_numbers(timeout, retries, backoff)
    if source is not None and base_url is not None:
        raise FetchError(
            f"expected source or base_url, got both (source={str(source)!r}, base_url={base_url!r}); pass only one"
        )
    entries = load_manifest() if manifest is None else _check_manifest(manifest)
    selected = _select(entries, files)

    source_folder: Path | None = None
    base = ""
    if source is not None:
        source_folder = _check_source(source, selected)
        origin = str(source_folder)
    elif base_url is not None:
        base = origin = _check_base_url(base_url, "base_url")
    elif os.environ.get(BASE_URL_ENV_VAR):
        base = origin = _check_base_url(os.environ[BASE_URL_ENV_VAR], f"${BASE_URL_ENV_VAR}")
    else:
        base = origin = DEFAULT_BASE_URL

    folder = Path(dest).expanduser() if dest is not None else sos1k_dir()
    if folder.exists() and not folder.is_dir():
        raise FetchError(f"expected dest to be a folder, got {str(folder)!r}, which is a file; pass another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FetchError(
            f"expected dest to be a folder that can be created, got {str(folder)!r} "
            f"({error.strerror or error}); pass another folder or set SOSRISK_HOME"
        ) from error

    report = FetchReport(dest=folder, origin=origin, requested=selected)
    logger.info("fetching %d SOS-1K files into %s from %s", len(selected), folder, origin)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("SOS-1K", total=len(selected))
        for path in selected:
            progress.update(task, description=f"SOS-1K {PurePosixPath(path).name}")
            _fetch_one(path, entries[path], folder, report, source_folder, base, timeout, retries, backoff)
            progress.advance(task)
    for line in report.summary():
        logger.info("%s", line)
    return report


def _fetch_one(
    path: str,
    expected: str,
    folder: Path,
    report: FetchReport,
    source: Path | None,
    base_url: str,
    timeout: float,
    retries: int,
    backoff: float,
) -> None:
    """Fetch one file into ``folder`` and record the outcome in ``report``."""
    target = folder / path
    stale: str | None = None
    if target.is_file():
        stale = sha256_file(target)
        if stale == expected:
            logger.debug("%s: present, sha256 matches", path)
            report.present.append(path)
            return
        logger.warning("%s: %s has sha256 %s, expected %s; fetching it again", path, target, stale, expected)
    elif target.exists():
        report.failed.append(Failure(path, f"{target} exists and is not a file; remove it"))
        return
    try:
        if source is not None:
            copy_verified(source / path, target, expected)
        else:
            url = base_url + _quote_path(path)
            download_verified(url, target, expected, timeout=timeout, retries=retries, backoff=backoff)
    except SourceAbsent:
        if stale is not None:
            report.mismatched.append(Mismatch(path, expected, stale, str(target)))
        else:
            logger.info("%s: absent from the source", path)
            report.absent.append(path)
    except ChecksumMismatch as error:
        logger.error(
            "%s: sha256 %s from %s, expected %s; rejected, not written",
            path,
            error.actual,
            error.origin,
            expected,
        )
        report.mismatched.append(Mismatch(path, expected, error.actual, error.origin))
    except TransferFailed as error:
        logger.error("%s: %s", path, error)
        report.failed.append(Failure(path, str(error)))
    except OSError as error:
        reason = f"cannot write {target}: {error.strerror or error}"
        logger.error("%s: %s", path, reason)
        report.failed.append(Failure(path, reason))
    else:
        logger.info("%s: fetched and verified", path)
        report.fetched.append(path)
