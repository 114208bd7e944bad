"""Moving verified bytes: stream a download or a local file into place only if its sha256 matches.

Shared by the fetchers of SOS-1K (:mod:`sosrisk.data.fetch`) and of the ordinary-text corpora
(:mod:`sosrisk.scope.corpora`). Bytes are streamed into a temporary file beside the target and hashed
while written; only a file whose sha256 matches is renamed into place, so a target is never half-written
and a checksum mismatch never lands. Outcomes other than success are raised as the small exceptions below,
which each fetcher turns into lines of its report.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .. import __version__
from ..atomic import atomic_write

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16


@dataclass(frozen=True)
class Mismatch:
    """A file whose bytes do not have the expected sha256; it was not written to the destination."""

    path: str
    expected: str
    actual: str
    origin: str
    """Where the rejected bytes came from: a URL, a source file, or the stale file already at the target."""


@dataclass(frozen=True)
class Failure:
    """A file that could not be fetched (network error after all retries, HTTP error, unwritable target)."""

    path: str
    reason: str


@dataclass
class TransferReport:
    """What a fetcher did with the files or sources it was asked for: the fields every fetcher's report has.

    Each fetcher's report (:class:`sosrisk.data.fetch.FetchReport`,
    :class:`sosrisk.scope.corpus_fetch.OrdinaryFetchReport`) adds what is absent from its source, its verdict
    and its summary.
    """

    dest: Path
    origin: str
    requested: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


class SourceAbsent(Exception):
    """The source does not have the file (missing locally, HTTP 404)."""


class ChecksumMismatch(Exception):
    """The bytes arrived whole but their sha256 is ``actual``, not the expected one; nothing was written."""

    def __init__(self, actual: str, origin: str):
        super().__init__(actual)
        self.actual = actual
        self.origin = origin


class TransferFailed(Exception):
    """Giving up on one file; the message is the reason shown in the report."""


class Retryable(Exception):
    """A transient failure of one attempt (connection error, timeout, 5xx, truncated body)."""


def write_verified(
    chunks: Iterable[bytes], target: Path, expected: str, origin: str, expected_length: int | None = None
) -> None:
    """Stream ``chunks`` into a temporary file beside ``target``; rename it into place only if it verifies.

    Raises :class:`Retryable` if fewer or more bytes than ``expected_length`` arrived and
    :class:`ChecksumMismatch` if the sha256 differs; in both cases the temporary file is removed and
    ``target`` is untouched.
    """
    digest = hashlib.sha256()
    received = 0
    with atomic_write(target, "wb") as handle:
        for chunk in chunks:
            digest.update(chunk)
            handle.write(chunk)
            received += len(chunk)
        if expected_length is not None and received != expected_length:
            raise Retryable(f"connection closed after {received} of {expected_length} bytes")
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(actual, origin)


def read_chunks(
    stream: IO[bytes], timeout: float | None = None, on_chunk: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """Chunks of a file or HTTP response; errors while reading become :class:`Retryable`.

    ``on_chunk(n)`` is called with the size of every chunk (a progress bar's ``advance``).
    """
    while True:
        try:
            chunk = stream.read(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as error:
            raise Retryable(describe_network_error(error, timeout)) from error
        if not chunk:
            return
        if on_chunk is not None:
            on_chunk(len(chunk))
        yield chunk


def describe_network_error(error: BaseException, timeout: float | None = None) -> str:
    """A short stable description of a connection problem."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s" if timeout is not None else "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, http.client.IncompleteRead):
        return f"connection closed after {len(error.partial)} bytes"
    if isinstance(error, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    return str(error) or type(error).__name__


def copy_verified(origin: Path, target: Path, expected: str, *, on_chunk: Callable[[int], None] | None = None) -> None:
    """Copy the local file ``origin`` to ``target`` if its sha256 matches.

    Raises :class:`SourceAbsent` if ``origin`` does not exist, :class:`TransferFailed` if it cannot be read
    and :class:`ChecksumMismatch` if its sha256 differs.
    """
    if not origin.exists():
        raise SourceAbsent
    if not origin.is_file():
        raise TransferFailed(f"{origin} is not a file")
    try:
        handle = open(origin, "rb")  # noqa: SIM115 - closed below; a read error must not look like a write error
    except OSError as error:
        raise TransferFailed(f"cannot read {origin}: {error.strerror or error}") from error
    with handle:
        try:
            write_verified(read_chunks(handle, on_chunk=on_chunk), target, expected, str(origin))
        except Retryable as error:
            raise TransferFailed(f"cannot read {origin}: {error}") from error


def download_verified(
    url: str,
    target: Path,
    expected: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Download ``url`` to ``target`` if its sha256 matches, retrying transient errors ``retries`` times.

    The first retry waits ``backoff`` seconds, each next one twice as long. Raises :class:`SourceAbsent` on
    HTTP 404, :class:`ChecksumMismatch` if the bytes differ and :class:`TransferFailed` when giving up.
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"sosrisk/{__version__}"})
    attempts = retries + 1
    reason = ""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            delay = backoff * 2 ** (attempt - 2)
            logger.warning("%s: %s; retry %d of %d in %g s", url, reason, attempt - 1, retries, delay)
            time.sleep(delay)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                raise SourceAbsent from error
            reason = f"HTTP {error.code} {error.reason}"
            if error.code >= 500 or error.code in {408, 429}:
                continue
            raise TransferFailed(f"{reason} from {url}") from error
        except (OSError, http.client.HTTPException) as error:
            reason = describe_network_error(error, timeout)
            continue
        with response:
            length_header = response.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            try:
                write_verified(read_chunks(response, timeout, on_chunk), target, expected, url, length)
            except Retryable as error:
                reason = str(error)
                continue
        return
    noun = "attempt" if attempts == 1 else "attempts"
    raise TransferFailed(f"{reason} ({attempts} {noun}) from {url}")
