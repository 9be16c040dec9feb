"""App factory: settings, engine, ingest and MQTT are built in the lifespan, never at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError

from server import audit
from server.api.app_state import Services
from server.api.paths import EncodedSlashes
from server.api.routes import (
    audit_routes,
    auth_routes,
    batches,
    containers,
    dead_letter_routes,
    delivery_routes,
    epcis,
    health,
    line_routes,
    qa_audit,
    qa_complaints,
    qa_drills,
    qa_genealogy,
    qa_recalls,
    qa_release,
    shipments,
    units,
    users_routes,
    verify,
)
from server.api.security import BodyLimit, SecurityHeaders, docs_router
from server.config import ServerSettings, broker_link
from server.errors import RejectedDocument, StoreError
from server.ingest.mqtt import MqttIngest
from server.ingest.prepare import set_event_time_window
from server.ingest.service import Ingestor
from server.masterdata import routes as master_data_routes
from server.production import routes as production_routes
from server.production.mes import MesOrders
from server.serials import authority_for
from server.serials import routes as serial_routes
from server.store import create_store_engine, upgrade
from server.web import router as web_ui_router

log = logging.getLogger(__name__)


def create_app(settings: ServerSettings, *, engine: Engine | None = None) -> FastAPI:
    """The ASGI app; ``engine`` lets tests pass one (e.g. a PostgreSQL test schema)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        store = engine if engine is not None else create_store_engine(settings.db_url)
        if settings.migrate_on_start:
            upgrade(store)
        set_event_time_window(settings.event_time_max_age_days, settings.event_time_max_ahead_days)
        anchor = audit.anchor_from_settings(settings, store)
        anchor.install()
        checkpointer = audit.Checkpointer(anchor, settings.audit_checkpoint_seconds)
        checkpointer.start()
        ingestor = Ingestor(
            store,
            max_payload_bytes=settings.max_payload_bytes,
            dead_letter_max_per_source=settings.dead_letter_max_per_source,
            dead_letter_max_age=timedelta(days=settings.dead_letter_max_age_days),
            dead_letter_keep_bytes=settings.dead_letter_keep_bytes,
        )
        mqtt = None
        link = broker_link(settings)
        if link is not None:
            mqtt = MqttIngest(
                ingestor,
                link,
                client_id=settings.mqtt_client_id,
                share_group=settings.mqtt_share_group,
                max_inflight=settings.mqtt_max_inflight,
                session_expiry_seconds=settings.mqtt_session_expiry_seconds,
                max_lag_seconds=settings.mqtt_max_lag_seconds,
                takeover_alarm_seconds=settings.mqtt_takeover_alarm_seconds,
                gap_alert_seconds=settings.delivery_gap_alert_seconds,
                receiver_restart_seconds=settings.mqtt_receiver_restart_seconds,
            )
            mqtt.start()
            # A username of the server's own identity (``server/NAME/mes``): with
            # use_username_as_clientid, the ingest connection's would be taken over.
            mes_link = link.with_username(f"{link.username}/mes") if link.username else link
            mes = MesOrders(store, mes_link, client_id=f"{settings.mqtt_client_id}-mes")
            mes.start()
            app.state.mes_orders = mes
        app.state.services = Services(settings, store, ingestor, mqtt, anchor)
        app.state.serial_authority = serial_authority = authority_for(settings, store)
        try:
            yield
        finally:
            if serial_authority.journal is not None:
                serial_authority.journal.close()
            if mqtt is not None:
                app.state.mes_orders.stop()
                mqtt.stop()
            checkpointer.stop()
            anchor.uninstall()
            if own_engine:
                store.dispose()

    app = FastAPI(
        title="serialtrace trace server",
        version="1",
        summary="Unit trace, recall, verification and EPCIS 2.0 for serialised packs.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by docs_router (no CDN, no inline script)
        redoc_url=None,
    )
    # Outermost last: slashes kept in their segment before routing; the body limit before
    # anything reads; the security headers on every answer, errors included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(EncodedSlashes)
    app.include_router(docs_router())
    for module in (
        health,
        auth_routes,
        users_routes,
        units,
        containers,
        batches,
        verify,
        shipments,
        audit_routes,
        qa_release,
        qa_audit,
        qa_genealogy,
        qa_recalls,
        qa_drills,
        qa_complaints,
        dead_letter_routes,
        line_routes,
        delivery_routes,
    ):
        app.include_router(module.router)
    serial_routes.install(app)  # the serial authority, /serials/...
    production_routes.install(app)  # products, lot rules, batch orders: /production/...
    app.include_router(master_data_routes.router)  # names for URNs: /master-data
    app.include_router(web_ui_router)  # QA web UI under /ui/, and / redirects there

    @app.exception_handler(RejectedDocument)
    async def _rejected(_request: Request, exc: RejectedDocument) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": exc.reason})

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the request carried (a NUL byte in text, a number
        # beyond its column): the client's input, not a server fault.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        return JSONResponse(status_code=422, content={"detail": f"value not storable: {reason}"})

    @app.exception_handler(StoreError)
    async def _store_down(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()))
            messages.append(f"{where}: {error.get('msg')}")
        return JSONResponse(status_code=422, content={"detail": "; ".join(messages)})

    epcis.install(app, settings)  # EPCIS 2.0 REST bindings under settings.epcis_base_path
    return app
