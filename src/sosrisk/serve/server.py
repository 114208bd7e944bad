"""Running the app with uvicorn, with connection limits that hold when clients misbehave.

uvicorn alone closes a connection only after a response (``timeout_keep_alive``): one that connects and
sends nothing, or sends its request head a byte at a time, stays open for ever, and its
``limit_concurrency`` counts those connections, so a few hundred idle sockets made every endpoint,
``/healthz`` included, answer 503. Here instead:

- a connection must send a complete request head within ``header_timeout_s`` of connecting (or of its
  first byte after a response); otherwise it is closed (with a 408 if it had sent part of a head);
- at most ``max_connections`` connections are open; one more is answered 503 with ``Retry-After`` and
  closed at once;
- in-flight work is bounded by the service's own work pool (``max_pending``, 503 with ``Retry-After``),
  not by a connection count, so ``/healthz`` answers as long as a connection can be opened.

For many slow or idle clients (the open internet), put a reverse proxy in front (docs/serve.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from fastapi import FastAPI


def protocol_class(*, header_timeout_s: float, max_connections: int, retry_after_s: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools when installed, else h11) with the limits above."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol
    refusal = _raw_response(
        503,
        "Service Unavailable",
        f"The service has {max_connections} open connections, its limit. Retry after {retry_after_s} s.",
        retry_after_s,
    )
    timed_out = _raw_response(
        408,
        "Request Timeout",
        f"The request head did not arrive within {header_timeout_s:g} s. Send it again.",
        None,
    )

    class GuardedHTTPProtocol(base):
        """Closes connections that send no complete request head in time; refuses those over the limit."""

        def connection_made(self, transport: asyncio.Transport) -> None:
            self._head_timer: asyncio.TimerHandle | None = None
            self._head_bytes = 0
            self._refused = False
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # read and dropped until the connection closes
            waiting = self._waiting_for_head()
            if waiting:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._waiting_for_head():
                if self._head_timer is None:
                    self._arm()  # the first bytes of the next request on a kept-alive connection
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _waiting_for_head(self) -> bool:
            return self.cycle is None or bool(self.cycle.response_complete)

        def _arm(self) -> None:
            self._disarm()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self._waiting_for_head() or self.transport.is_closing():
                return
            if self._head_bytes:
                self.transport.write(timed_out)
            self.transport.close()

        def _refuse(self) -> None:
            """Answer 503 and close: the connection no longer counts, and its request (if any) is dropped."""
            self._refused = True
            self.connections.discard(self)
            self.transport.write(refusal)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            # keep reading a moment, so that a request already on its way does not turn the close into a reset
            # that would destroy the 503 before the client reads it
            self.loop.call_later(1.0, self.transport.close)

    return GuardedHTTPProtocol


def _raw_response(status: int, reason: str, detail: str, retry_after_s: int | None) -> bytes:
    body = json.dumps({"detail": detail}).encode("utf-8")
    headers = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after_s is not None:
        headers.append(f"retry-after: {retry_after_s}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + body


def server_config(
    app: FastAPI, *, host: str, port: int, log_level: str = "info", forwarded_allow_ips: str | None = None
) -> uvicorn.Config:
    """The uvicorn configuration ``sosrisk serve`` runs ``app`` with (its limits come from the app's settings).

    ``forwarded_allow_ips``: addresses of reverse proxies whose ``X-Forwarded-For`` names the client (the
    login limits count per client); ``None`` keeps uvicorn's default (``$FORWARDED_ALLOW_IPS`` or 127.0.0.1).
    """
    settings = app.state.sosrisk.settings
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol_class(
            header_timeout_s=settings.header_timeout_s,
            max_connections=settings.max_connections,
            retry_after_s=settings.retry_after_s,
        ),
        limit_concurrency=None,
        timeout_keep_alive=5,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def run_server(config: uvicorn.Config) -> None:
    """Serve until interrupted."""
    uvicorn.Server(config).run()
