"""Writing files so that a failure never leaves a half-written file where a good one was."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


class WriteError(OSError):
    """A file could not be written (full disk, no permission, a bad path); the message names it and the fix.

    An :class:`OSError` (with the original ``errno``), so code that handles OS errors still does.
    """

    @classmethod
    def of(cls, target: Path, exc: OSError) -> WriteError:
        """The error for writing ``target`` that failed with ``exc``."""
        return cls(exc.errno, f"Cannot write {target}: {describe_os_error(exc)}")

    def __str__(self) -> str:
        return str(self.strerror)


def describe_os_error(exc: OSError, *, advice: bool = True) -> str:
    """What an OS error means for a file being written and, with ``advice``, what to do."""
    reason = exc.strerror or str(exc)
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        what, fix = f"the disk is full ({reason})", "Free space there, or write somewhere else, and run it again."
    elif exc.errno == errno.EFBIG:
        what, fix = f"the file grew past the size this process may write ({reason})", "Free space or raise the limit."
    elif exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS}:
        what, fix = reason, "Choose a location you can write to."
    elif exc.errno in {errno.ENOTDIR, errno.EEXIST}:
        what, fix = "a part of the path is a file, not a folder", "Check the path."
    else:
        what, fix = reason, "Check the path."
    return f"{what}. {fix}" if advice else what


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    On any exception the temporary file is removed and ``path`` keeps its earlier content. An OS error
    of the writing itself (a full disk, a read-only folder, a path through a file) becomes one
    :class:`WriteError` naming ``path``. ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding`` is given)
    or ``"wb"``.
    """
    if mode not in {"w", "wb"}:
        raise ValueError(f"atomic_write mode must be 'w' or 'wb'. Got {mode!r} instead.")
    target = Path(path)
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError.of(target, exc) from None
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        # closing a file after a failed write fails again (its buffer cannot be flushed either): one error
        # is enough. OS errors naming another file come from the caller's own work and pass through.
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) and exc.filename in {None, tmp_name}:
            raise WriteError.of(target, exc) from None
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes (read in chunks by :func:`hashlib.file_digest`)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
