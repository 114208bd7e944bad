"""The FastAPI application: the JSON API, the triage pages and their static files.

``create_app(settings)`` loads the models, opens (and by default migrates) the database and returns the
app; ``sosrisk serve`` runs it with uvicorn (:mod:`sosrisk.serve.server`). Every asset is served from this
package (no CDN), and pages are sent with a strict Content-Security-Policy.

The rooms of ``sosrisk.serve``, each using only those below it (``tests/test_serve_imports.py`` checks):
``server`` > ``app`` > ``pages``, ``api`` > ``state`` > ``settings`` > ``explain``, ``limits`` >
``review`` > ``accounts`` > ``store`` > ``schema``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('The service needs FastAPI. Install it with: pip install "sosrisk[serve]"') from exc

import sqlalchemy as sa

from .. import __version__
from . import api, pages
from .limits import BodyLimitMiddleware, WorkPool
from .settings import ServedModels, ServeSettings
from .state import ServiceState
from .store import describe_database_error, get_engine, is_unavailable

logger = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeadersMiddleware:
    """Headers that keep pages from being framed, sniffed or leaking addresses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ErrorShieldMiddleware:
    """The last resort for an exception no handler took: a 500 answer, and a log entry with the exception's
    type and stack but never its message, which may quote a post (Starlette and uvicorn would log it whole).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error(
                "unexpected %s in %s %s (messages not logged: they may quote a post)\n%s",
                _exception_chain(exc),
                scope.get("method"),
                scope.get("path"),
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            if not started:
                await JSONResponse(
                    {"detail": "Internal error; it was logged for the service's administrator (without post text)."},
                    status_code=500,
                )(scope, receive, send)


def _exception_chain(exc: BaseException) -> str:
    """``TypeA <- TypeB``: the exception and the ones it was raised from, by type only."""
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 5:
        names.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(names)


def _location(parts: Sequence[Any]) -> str:
    """A pydantic error location as the client wrote it: ``("body", "posts", 0, "text")`` -> ``posts[0].text``."""
    text = ""
    for part in parts:
        if part == "body" and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text or "body"


def _validation_message(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        reason = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return 400, {
            "detail": f"The request body is not valid JSON ({reason}). Send a JSON object like "
            '{"posts": [{"id": "1", "text": "..."}], "queue": true}.'
        }
    listed = [{"loc": _location(error.get("loc", ())), "message": error.get("msg", "invalid")} for error in errors]
    shown = "; ".join(f"{item['loc']}: {item['message']}" for item in listed[:5])
    more = f" (and {len(listed) - 5} more)" if len(listed) > 5 else ""
    # the offending values are never echoed back (they may be post text)
    return 422, {"detail": f"Invalid request: {shown}{more}.", "errors": listed}


def create_app(settings: ServeSettings) -> FastAPI:
    """Build the service for ``settings``: load models, open the database, wire the routes."""
    from fastapi.middleware.cors import CORSMiddleware

    models = ServedModels.load(settings)
    engine = get_engine(settings.db_url, migrate_schema=settings.migrate)
    pool = WorkPool(workers=settings.workers, max_pending=settings.max_pending, retry_after_s=settings.retry_after_s)
    state = ServiceState(settings, models, engine, pool, models.info())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logger.info("serving %s models", ", ".join(sorted(models.models())))
        yield
        pool.shutdown()

    app = FastAPI(
        title="sosrisk",
        version=__version__,
        description=(
            "Suicide-risk assessment of Chinese social-media posts on the 11-level SOS-1K scale, and a "
            "review queue for trained people. Decision support, never a diagnosis or an automatic action."
        ),
        docs_url=None,  # FastAPI's Swagger page loads from a CDN; /docs is served locally instead
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.sosrisk = state

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, content = _validation_message(exc)
        return JSONResponse(content, status_code=status)

    app.add_exception_handler(pages.LoginRequired, pages.login_redirect)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Any:
        if exc.status_code in (401, 403) and pages.is_page(request):
            return pages.error_page(request, exc)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def _database_error(request: Request, exc: sa.exc.SQLAlchemyError) -> Any:
        # handled here, not by Starlette's error middleware: uvicorn would log the driver's message, which
        # can quote rows ("Failing row contains (...)"); the description never holds a value
        described = describe_database_error(exc)
        if is_unavailable(exc):
            logger.warning("database unavailable in %s %s: %s", request.method, request.url.path, described)
            state.database_failed()
            wait = settings.retry_after_s
            error = HTTPException(
                503,
                f"The review-queue database is unavailable; the request was not completed. Retry after {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        else:
            logger.error(
                "database error in %s %s: %s\n%s",
                request.method,
                request.url.path,
                described,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            error = HTTPException(
                500,
                "Internal error: the review-queue database refused the operation. It was logged for the "
                "service's administrator (without post text).",
            )
        if pages.is_page(request):
            return pages.error_page(request, error)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    # outermost last: CORS (only when configured), then body limits, then the security headers, then the
    # shield that turns an unhandled exception into a 500 without logging its message
    app.add_middleware(ErrorShieldMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.request_timeout_s)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
