"""Limits that hold under abuse: request body size and time, and a bounded pool of assessment work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")


class BodyTooLarge(HTTPException):
    """413: the request body is over the limit (raised while it is read, before anything is parsed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than the limit of {limit} bytes. Send fewer or shorter posts per request.",
        )


class BodyTimeout(HTTPException):
    """408: the request body did not arrive in time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"The request body was not received within {seconds:g} s. Send it again.")


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (by Content-Length at once, or while streaming) and bodies that
    take longer than ``timeout_s`` to arrive. Pure ASGI, so nothing is buffered beyond the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await _send_json(send, 413, str(BodyTooLarge(self.max_bytes).detail))
                    return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        state = {"received": 0, "complete": False}

        async def limited_receive() -> Message:
            if state["complete"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise BodyTimeout(self.timeout_s) from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                state["complete"] = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send: Send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Busy(Exception):
    """The work pool is full; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy, retry after {retry_after} s")
        self.retry_after = retry_after


class WorkPool:
    """A fixed number of threads for model work and a bound on the requests admitted to it.

    :meth:`run` raises :class:`Busy` at once when ``max_pending`` calls are already running or waiting,
    and :class:`TimeoutError` when a call takes longer than ``timeout_s`` (a call that has not started yet
    is cancelled; one that has keeps its slot until it ends, so the bound stays true).
    """

    def __init__(self, *, workers: int, max_pending: int, retry_after_s: int) -> None:
        self.max_pending = max_pending
        self.retry_after_s = retry_after_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sosrisk-assess")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Calls running or waiting now."""
        return self._pending

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, function: Callable[..., T], *args: Any, timeout_s: float) -> T:
        """Run ``function(*args)`` on a worker thread and wait for it, bounded as described above."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(self.retry_after_s)
            self._pending += 1
        try:
            future = self._executor.submit(function, *args)
        except BaseException:
            with self._lock:
                self._pending -= 1
            raise
        future.add_done_callback(self._done)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)

    def shutdown(self) -> None:
        """Stop the threads (waiting calls are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
