"""The serial authority on its own (``serialtrace serials serve``): health, login and the
``/serials`` routes on the trace store, without ingest or the QA API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from server.api.app_state import Services
from server.api.routes import auth_routes, health
from server.config import ServerSettings
from server.ingest.service import Ingestor
from server.production import routes as production_routes
from server.serials import authority_for, routes
from server.store import create_store_engine, upgrade


def create_authority_app(settings: ServerSettings, *, engine: Engine | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = engine if engine is not None else create_store_engine(settings.db_url)
        if settings.migrate_on_start:
            upgrade(store)
        app.state.services = Services(
            settings, store, Ingestor(store, max_payload_bytes=settings.max_payload_bytes), None
        )
        app.state.serial_authority = authority_for(settings, store)
        try:
            yield
        finally:
            journal = app.state.serial_authority.journal
            if journal is not None:
                journal.close()
            if engine is None:
                store.dispose()

    app = FastAPI(
        title="serialtrace serial authority",
        version="1",
        summary="Pools of GS1 serials and SSCCs for packaging lines, and their books.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(auth_routes.router)
    routes.install(app)
    production_routes.install(app)  # lots by rule are handed out by the authority too
    return app
