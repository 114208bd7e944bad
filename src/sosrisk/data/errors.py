"""Errors and reported problems of post files: every one names the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


def location(path: str | Path, line: int | None = None, field: str | None = None) -> str:
    """``file:line: field 'x'`` as used at the start of every data message."""
    text = str(path)
    if line is not None:
        text += f":{line}"
    if field is not None:
        text += f": field '{field}'"
    return text


class DataError(ValueError):
    """A post file cannot be read as asked; the message starts with ``file:line: field 'x':``."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(f"{location(path, line, field)}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a worker process, it must arrive whole in the main one (the default pickling of an
        # exception calls the class with its message alone)
        return (_data_error, (self.path, self.detail, self.line, self.field))


def _data_error(path: str, message: str, line: int | None, field: str | None) -> DataError:
    return DataError(path, message, line=line, field=field)


@dataclass(frozen=True)
class Problem:
    """Something worth reporting that does not stop reading (a duplicate text, an empty file)."""

    kind: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{location(self.path, self.line)}: {self.message}"
