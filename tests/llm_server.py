"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for the tests, answering from a script.

Each request takes the next step of the script (or asks ``responder(body)`` when the script is empty):

- ``reply(content)``: 200 with a chat completion whose message is ``content``;
- ``status(code, retry_after=None, message="")``: that HTTP status with an OpenAI-style error body;
- ``stall(seconds)``: answer only after ``seconds`` (longer than the client's timeout = a timeout);
- ``drop()``: close the connection without a response (a dropped connection);
- ``raw(body)``: 200 with ``body`` as it is (e.g. not JSON).

Every request's headers and JSON body are kept in ``server.requests``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    kind: str
    content: str = ""
    code: int = 200
    retry_after: str | None = None
    seconds: float = 0.0


def reply(content: str) -> Step:
    return Step("reply", content=content)


def status(code: int, retry_after: str | None = None, message: str = "") -> Step:
    return Step("status", code=code, retry_after=retry_after, content=message)


def stall(seconds: float, content: str = "late") -> Step:
    return Step("stall", seconds=seconds, content=content)


def drop() -> Step:
    return Step("drop")


def raw(body: str) -> Step:
    return Step("raw", content=body)


def completion(content: str, model: str = "scripted-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@dataclass
class ScriptedServer:
    script: list[Step] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], Step] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next_step(self, body: dict[str, Any]) -> Step:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return status(500, message="script exhausted")

    def start(self) -> ScriptedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length)
                try:
                    body = json.loads(raw_body)
                except ValueError:
                    body = {"unparsed": raw_body.decode("utf-8", "replace")}
                with owner._lock:
                    owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                step = owner.next_step(body)
                if step.kind == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if step.kind == "stall":
                    time.sleep(step.seconds)
                    self._send(200, json.dumps(completion(step.content)).encode())
                    return
                if step.kind == "status":
                    payload = json.dumps({"error": {"message": step.content or "error", "type": "test"}})
                    extra = {"Retry-After": step.retry_after} if step.retry_after is not None else {}
                    self._send(step.code, payload.encode(), extra)
                    return
                if step.kind == "raw":
                    self._send(200, step.content.encode())
                    return
                self._send(200, json.dumps(completion(step.content), ensure_ascii=False).encode())

            def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
