"""HTTP hardening of the trace server: security headers, one request-body limit, the API
documentation pages served from the package, and uvicorn's header and idle timeouts.

* :class:`SecurityHeaders` adds to every answer ``Content-Security-Policy`` (no inline
  script anywhere; ``frame-ancestors 'none'``), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
  ``Cross-Origin-Opener-Policy: same-origin``.
* :class:`BodyLimit` refuses a request whose body is larger than ``max_request_bytes`` with
  413 before reading it (from ``Content-Length``), or as soon as a chunked body passes it.
* :func:`docs_router`: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files in the
  installed ``fastapi-offline`` package and this one: no CDN, they work offline.
* :func:`guarded_http_protocol`: uvicorn's HTTP/1.1 protocol with a header timeout (a
  client that does not finish its request head in time, or opens a connection and sends
  nothing, is disconnected); the idle timeout is uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_STATIC = Path(__file__).resolve().parent / "docs_static"
DRILL_TEMPLATE = Path(__file__).resolve().parents[1] / "qa" / "templates" / "drill.html"


def _style_hashes(template: Path) -> list[str]:
    """CSP hash sources of the ``<style>`` blocks of a report template: the drill report
    opens in a window of the UI's origin and keeps the UI's policy, which allows these
    styles and nothing inline else."""
    text = template.read_text(encoding="utf-8")
    hashes = []
    for block in re.findall(r"<style>(.*?)</style>", text, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return hashes


def _policy(**directives: str) -> str:
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


REPORT_STYLES = " ".join(_style_hashes(DRILL_TEMPLATE)) if DRILL_TEMPLATE.exists() else ""
#: The QA web UI (and anything else the server renders as a page).
UI_POLICY = _policy(
    default_src="'self'",
    script_src="'self'",
    style_src=f"'self' {REPORT_STYLES}".strip(),
    img_src="'self' data: blob:",
    connect_src="'self'",
    font_src="'self'",
    object_src="'none'",
    base_uri="'none'",
    form_action="'self'",
    frame_ancestors="'none'",
)
#: Swagger UI and ReDoc inject style elements (ReDoc also a search worker): no inline
#: script, inline style allowed on these two pages only.
DOCS_POLICY = _policy(
    default_src="'self'",
    script_src="'self'",
    style_src="'self' 'unsafe-inline'",
    img_src="'self' data:",
    worker_src="'self' blob:",
    connect_src="'self'",
    object_src="'none'",
    base_uri="'none'",
    form_action="'self'",
    frame_ancestors="'none'",
)
#: JSON, CSV, PDF and report answers of the API: nothing runs, nothing frames them.
API_POLICY = _policy(
    default_src="'none'",
    style_src=REPORT_STYLES or "'none'",
    img_src="data:",
    base_uri="'none'",
    form_action="'none'",
    frame_ancestors="'none'",
)
COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=(), payment=()"),
)


def policy_for(path: str) -> str:
    if path == "/docs" or path == "/redoc" or path.startswith("/docs/"):
        return DOCS_POLICY
    if path == "/" or path == "/ui" or path.startswith("/ui/"):
        return UI_POLICY
    return API_POLICY


class SecurityHeaders:
    """ASGI middleware: the security headers above on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", "")).encode("ascii")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _OURS
                ]
                headers.extend(COMMON_HEADERS)
                headers.append((b"content-security-policy", policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = {name for name, _ in COMMON_HEADERS} | {b"content-security-policy"}


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``, before it is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(send, f"{declared} bytes declared", self.max_bytes)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(
                        413, _message(f"more than {received} bytes", self.max_bytes)
                    )
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _message(got: str, limit: int) -> str:
    return f"body: expected at most {limit} bytes (max_request_bytes), got {got}"


async def _too_large(send: Send, got: str, limit: int) -> None:
    body = json.dumps({"detail": _message(got, limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- API documentation pages ----------------------------------------------------------------


def _offline_assets() -> dict[str, Path]:
    folder = Path(str(files("fastapi_offline") / "static"))
    return {path.name: path for path in folder.iterdir() if path.is_file()}


_MEDIA = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


#: The one address on another host that ReDoc's script names (its footer logo).
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_script(path: Path) -> bytes:
    """ReDoc's script with its footer logo pointed at a file of ours, so the page asks no
    other host for anything (the CSP would block it, but the request would still leave)."""
    return path.read_bytes().replace(_REDOC_LOGO, b"/docs/static/redoc-logo.svg")


def docs_router() -> APIRouter:
    """``/docs`` and ``/redoc`` and their assets, all from installed files."""
    router = APIRouter(include_in_schema=False)
    assets = {
        **_offline_assets(),
        "swagger-init.js": DOCS_STATIC / "swagger-init.js",
        "redoc-logo.svg": DOCS_STATIC / "redoc-logo.svg",
    }

    @router.get("/docs")
    def swagger() -> FileResponse:
        return FileResponse(DOCS_STATIC / "swagger.html", media_type="text/html")

    @router.get("/redoc")
    def redoc() -> FileResponse:
        return FileResponse(DOCS_STATIC / "redoc.html", media_type="text/html")

    @router.get("/docs/static/redoc.standalone.js")
    def redoc_script() -> Response:
        return Response(_redoc_script(assets["redoc.standalone.js"]), media_type=_MEDIA[".js"])

    @router.get("/docs/static/{name}")
    def asset(name: str) -> FileResponse:
        path = assets.get(name)  # only the files listed: no path from the request
        if path is None:
            raise HTTPException(404, f"docs: no file {name!r}")
        return FileResponse(path, media_type=_MEDIA.get(path.suffix, "application/octet-stream"))

    return router


# -- uvicorn: header timeout --------------------------------------------------------------


def guarded_http_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is not complete
    ``header_timeout`` seconds after the connection opened or the head began."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                if self._header_timer is None and self.conn.trailing_data[0]:
                    self._arm()
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.info("closing a connection that sent no complete request head")
                self.transport.close()

    return GuardedH11Protocol


def uvicorn_config(app: Any, settings: Any, **overrides: Any) -> Any:
    """A uvicorn configuration for the trace server with its body, header and idle limits."""
    import uvicorn

    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": guarded_http_protocol(settings.header_timeout_seconds),
        "timeout_keep_alive": max(1, round(settings.idle_timeout_seconds)),
        "h11_max_incomplete_event_size": 64 * 1024,
        "log_level": "info",
    }
    values.update(overrides)
    return uvicorn.Config(app, **values)
