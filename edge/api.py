"""The agent's local HTTP API (127.0.0.1 only): batch control, status, rework.

``serialtrace edge batch …`` and the operator HMI talk to it. Every state-changing route
needs a bearer token (the API token, or an operator's HMI session) and requests must come
to and from this agent's own address (see :mod:`edge.api_auth`). Errors are JSON
``{"error": "…"}`` with 401 (no valid token), 403 (foreign origin), 404 (unknown
serial/SSCC), 409 (not allowed in this state; a refused close also carries the
``reconciliation``), 421 (foreign host), 422 (malformed request) or 503 (agent stopping).
A serial or SSCC in a path is one percent-encoded segment (``/`` as ``%2F``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from edge.agent import Agent, parse_batch_start
from edge.api_auth import ApiAccess, ApiGuard, EncodedSlashes
from edge.batch import BatchAction
from edge.errors import (
    EdgeError,
    NotFoundError,
    PayloadError,
    ReconciliationError,
)
from edge.health import assess
from edge.metrics import render_metrics
from edge.writer import WriterStopped


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Material(_Body):
    gtin: str
    lot: str
    company_prefix_length: int
    quantity: float | None = None
    uom: str | None = None


class StartRequest(_Body):
    gtin: str
    lot: str | None = Field(
        default=None, description="omitted: by rule (needs [server]); else refused if used"
    )
    expiry: str | None = Field(
        default=None,
        description="YYMMDD (day 00: end of month); omitted: computed from the shelf life",
    )
    expiry_reason: Annotated[str | None, Field(max_length=500)] = None
    manufacturing_date: str | None = Field(default=None, description="YYYY-MM-DD; default today")
    planned: int
    materials: list[Material] = []


class ConfirmRequest(_Body):
    operator: Annotated[str, Field(min_length=1, max_length=64)]


class ReasonRequest(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class OptionalReason(_Body):
    reason: Annotated[str | None, Field(max_length=500)] = None


class InsertRequest(_Body):
    serial: str


def create_app(agent: Agent, *, manage_agent: bool = True) -> FastAPI:
    """The API of ``agent``; with ``manage_agent`` the app starts and stops the agent."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_agent:
            agent.start()
        try:
            yield
        finally:
            if manage_agent:
                agent.stop()

    app = FastAPI(
        title="serialtrace edge agent",
        description="Control of one packaging line's agent (local only).",
        lifespan=lifespan,
        docs_url=None,  # no CDN-loaded pages on the line PC; the API is in docs/edge.md
        redoc_url=None,
    )
    guard = ApiGuard(agent.config)
    app.state.guard = guard
    app.add_middleware(ApiAccess, guard=guard)
    app.add_middleware(EncodedSlashes)

    @app.exception_handler(EdgeError)
    async def edge_error(request: Request, exc: EdgeError) -> JSONResponse:
        body: dict[str, Any] = {"error": str(exc)}
        if isinstance(exc, ReconciliationError):
            body["reconciliation"] = exc.reconciliation.as_dict()
        status = 409
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, PayloadError):
            status = 422
        return JSONResponse(body, status_code=status)

    @app.exception_handler(WriterStopped)
    async def stopping(request: Request, exc: WriterStopped) -> JSONResponse:
        return JSONResponse({"error": "the agent is stopping"}, status_code=503)

    @app.get(
        "/health",
        responses={503: {"description": "a part is failing (each named in 'failing')"}},
    )
    def health() -> JSONResponse:
        """200 when every part works (broker link, PLC link, devices, workers, outbox age),
        else 503 naming each failing part (see :mod:`edge.health`); no token needed."""
        report = assess(agent)
        return JSONResponse(report.as_dict(), status_code=200 if report.ok else 503)

    @app.get("/status")
    def status() -> dict[str, Any]:
        return agent.status()

    @app.get("/metrics", response_class=Response)
    def metrics() -> Response:
        """Outbox, broker links, PLC, alarms and units (Prometheus text format)."""
        body, content_type = render_metrics(agent)
        return Response(content=body, media_type=content_type)

    @app.post("/batch/start")
    def start(request: StartRequest) -> dict[str, Any]:
        by_rule = agent.devices.production is not None
        batch = agent.start_batch(parse_batch_start(request.model_dump(), by_rule=by_rule))
        return {"batch": batch.as_dict()}

    @app.get("/orders")
    def orders() -> dict[str, Any]:
        """The batch orders released to this line (empty without ``[server]``)."""
        production = agent.devices.production
        return {"orders": [] if production is None else production.orders()}

    @app.post("/orders/{order_id}/confirm")
    def confirm(order_id: int, request: ConfirmRequest) -> dict[str, Any]:
        """The operator confirms an order: its batch starts with the order's lot and expiry."""
        batch = agent.start_order(order_id, request.operator)
        return {"batch": batch.as_dict(), "order": order_id}

    def _transition(action: BatchAction, reason: str | None) -> dict[str, Any]:
        return {"batch": agent.transition(action, reason).as_dict()}

    @app.post("/batch/pause")
    def pause(request: OptionalReason | None = None) -> dict[str, Any]:
        return _transition(BatchAction.PAUSE, request.reason if request else None)

    @app.post("/batch/resume")
    def resume(request: OptionalReason | None = None) -> dict[str, Any]:
        return _transition(BatchAction.RESUME, request.reason if request else None)

    @app.post("/batch/stop")
    def stop(request: OptionalReason | None = None) -> dict[str, Any]:
        return _transition(BatchAction.STOP, request.reason if request else None)

    @app.post("/batch/close")
    def close() -> dict[str, Any]:
        closed = agent.close_batch()
        return {
            "batch": closed.as_dict(),
            "reconciliation": agent.read(
                lambda conn: agent.ledger.reconciliation(conn, closed.id)
            ).as_dict(),
        }

    @app.post("/trigger")
    def trigger(request: Annotated[dict[str, Any] | None, Body()] = None) -> dict[str, Any]:
        """A manual unit trigger (as from the PLC), e.g. for a test print."""
        unit = None if request is None else request.get("id")
        if unit is not None and not isinstance(unit, str):
            raise PayloadError(f"id: expected a string, got {unit!r}")
        agent.trigger(unit)
        return {"triggered": unit}

    @app.post("/units/{serial:edgetext}/sample")
    def sample(serial: str, request: ReasonRequest) -> dict[str, Any]:
        agent.writer.call(lambda conn: agent.ledger.sample(conn, serial, request.reason))
        return {"serial": serial, "state": "sampled"}

    @app.post("/units/{serial:edgetext}/decommission")
    def decommission_unit(serial: str, request: ReasonRequest) -> dict[str, Any]:
        agent.writer.call(
            lambda conn: agent.aggregation.decommission_unit(conn, serial, request.reason)
        )
        return {"serial": serial, "state": "decommissioned"}

    @app.post("/units/{serial:edgetext}/unpack")
    def unpack(serial: str) -> dict[str, Any]:
        sscc = agent.writer.call(lambda conn: agent.aggregation.remove_unit(conn, serial))
        return {"serial": serial, "removed_from": sscc}

    @app.post("/cases/{sscc:edgetext}/units")
    def insert(sscc: str, request: InsertRequest) -> dict[str, Any]:
        agent.writer.call(lambda conn: agent.aggregation.insert_unit(conn, request.serial, sscc))
        return {"serial": request.serial, "packed_in": sscc}

    @app.post("/cases/{sscc:edgetext}/decommission")
    def decommission_case(sscc: str, request: ReasonRequest) -> dict[str, Any]:
        units = agent.writer.call(
            lambda conn: agent.aggregation.decommission_case(conn, sscc, request.reason)
        )
        return {"sscc": sscc, "state": "decommissioned", "units": units}

    @app.post("/containers/retry")
    def retry_held() -> dict[str, Any]:
        ids = agent.writer.call(agent.aggregation.retry_held)
        for container_id in ids:
            agent.packer.submit(container_id)
        return {"retried": len(ids)}

    from edge.hmi import hmi_router  # the operator HMI at /hmi/ (and / redirects there)

    app.include_router(hmi_router(agent, guard))
    return app
