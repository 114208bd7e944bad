"""The progress bar of a scoring run: posts done, posts per second, and the time left (from bytes read)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class ScoreProgress:
    """Counts posts and bytes; renders a rich bar on stderr when enabled, else only counts."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task
        self._start = time.perf_counter()
        self.posts = 0
        self.new_posts = 0

    def update(self, *, posts: int = 0, new_posts: int = 0, read_bytes: int | None = None) -> None:
        """Add finished posts (``new_posts`` of them scored in this session) and set the bytes read."""
        self.posts += posts
        self.new_posts += new_posts
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        fields: dict[str, Any] = {"posts": f"{self.posts:,}", "rate": f"{self.new_posts / elapsed:,.0f}"}
        if read_bytes is not None:
            self._progress.update(self._task, completed=read_bytes, **fields)
        else:
            self._progress.update(self._task, **fields)


@contextlib.contextmanager
def score_progress(total_bytes: int | None, description: str, *, enabled: bool) -> Iterator[ScoreProgress]:
    """A :class:`ScoreProgress`; the bar (rich, stderr, transient) only when ``enabled``."""
    if not enabled:
        yield ScoreProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[posts]} posts"),
        TextColumn("{task.fields[rate]} posts/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total_bytes, posts="0", rate="0")
        yield ScoreProgress(progress, task)
