"""EPCIS 2.0 REST bindings (GS1's OpenAPI document): every resource under the configured base
path (``epcis_base_path``, ``/epcis`` by default).

:func:`install` mounts the routes, answers ``OPTIONS`` on each with the standard discovery
headers, adds the standard headers to every EPCIS answer, turns every error under the base
path into ``application/problem+json`` with an ``epcisException:`` type, and runs the
subscription dispatcher in the app's lifespan.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.api.routes.epcis import capture, events, queries
from server.api.routes.epcis.common import EpcisProblem, problem, standard_headers
from server.api.routes.epcis.documents import query_document
from server.config import ServerSettings
from server.errors import RejectedDocument, StoreError
from server.subscriptions import Dispatcher

ROUTERS = (capture.router, events.router, queries.router)
SECURITY = {401: "SecurityException", 403: "SecurityException"}


def _allowed_methods(path: str) -> list[str]:
    """The methods the EPCIS routes answer at ``path`` (relative to the base path)."""
    methods: set[str] = set()
    for router in ROUTERS:
        for route in router.routes:
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(path):
                methods.update(getattr(route, "methods", None) or ())
    methods.discard("HEAD")
    return sorted(methods)


def install(app: FastAPI, settings: ServerSettings) -> None:
    """Add the EPCIS resources, their error handling, OPTIONS and the dispatcher to ``app``."""
    base = settings.epcis_base_path
    for router in ROUTERS:
        app.include_router(router, prefix=base)
    app.state.epcis_sockets = {}

    def is_epcis(request: Request) -> bool:
        path = request.url.path
        return path == base or path.startswith(base + "/")

    @app.middleware("http")
    async def epcis_options(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "OPTIONS" and is_epcis(request):
            methods = _allowed_methods(request.url.path[len(base) :] or "/")
            if not methods:
                return problem(
                    404, "NoSuchNameException", f"no EPCIS resource at {request.url.path!r}"
                )
            headers = {**standard_headers(), "Allow": ", ".join(["OPTIONS", *methods])}
            # Discovery: any EPC and CBV format is taken and can be asked for (formats.py).
            headers["GS1-EPC-Format"] = "No_Preference"
            headers["GS1-CBV-XML-Format"] = "No_Preference"
            if request.url.path.rstrip("/").endswith("/capture"):
                headers["GS1-EPCIS-Capture-Limit"] = str(settings.epcis_capture_limit)
                headers["GS1-EPCIS-Capture-File-Size-Limit"] = str(settings.max_payload_bytes)
                headers["GS1-Capture-Error-Behaviour"] = "all"
            return Response(status_code=204, headers=headers)
        response = await call_next(request)
        if is_epcis(request):
            for name, value in standard_headers().items():
                response.headers.setdefault(name, value)
        return response

    previous: dict[Any, Any] = dict(app.exception_handlers)

    async def delegate(request: Request, exc: Exception, kind: Any) -> Response:
        handler = previous.get(kind)
        if handler is None:
            raise exc
        result: Response = await handler(request, exc)
        return result

    @app.exception_handler(EpcisProblem)
    async def _problem(_request: Request, exc: EpcisProblem) -> Response:
        return problem(exc.status, exc.kind, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_epcis(request):
            if StarletteHTTPException in previous:
                return await delegate(request, exc, StarletteHTTPException)
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        kind = SECURITY.get(exc.status_code, "ValidationException")
        if exc.status_code == 404:
            kind = "NoSuchNameException"
        elif exc.status_code == 405:
            kind = "ValidationException"
        elif exc.status_code >= 500:
            kind = "ImplementationException"
        return problem(exc.status_code, kind, str(exc.detail), getattr(exc, "headers", None) or {})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if not is_epcis(request):
            return await delegate(request, exc, RequestValidationError)
        parts = [
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg')}"
            for error in exc.errors()
        ]
        return problem(400, "QueryParameterException", "; ".join(parts))

    @app.exception_handler(RejectedDocument)
    async def _rejected(request: Request, exc: RejectedDocument) -> Response:
        if not is_epcis(request):
            return await delegate(request, exc, RejectedDocument)
        return problem(400, "ValidationException", exc.reason)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        if not is_epcis(request):
            return await delegate(request, exc, StoreError)
        return problem(500, "ImplementationException", str(exc))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        if not is_epcis(request):
            return await delegate(request, exc, DataError)
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        return problem(400, "ValidationException", f"value not storable: {reason}")

    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with original(application) as state:
            dispatcher = Dispatcher(
                application.state.services.engine,
                poll_seconds=settings.epcis_subscription_poll_seconds,
                query_document=query_document,
                retry_seconds=settings.epcis_webhook_retry_seconds,
            )
            application.state.epcis_dispatcher = dispatcher
            task = asyncio.create_task(dispatcher.run())
            try:
                yield state
            finally:
                dispatcher.stop()
                await task

    app.router.lifespan_context = lifespan
