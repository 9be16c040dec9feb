"""``GET /health`` (no token needed) and ``GET /metrics`` (Prometheus text format).

``/health`` answers 200 ``{"status": "ok"}`` only when every part it speaks for works: the
store answers, and, with MQTT ingest configured, the writer's commits go through (a full disk
fails health at the first refused commit), the broker connection is up, the reader,
writer and receiver run, the session was not taken over by another client lately (MQTT 5
reason 0x8E) and the oldest unacknowledged message is younger than ``mqtt_max_lag_seconds``.
``delivery`` names the lines with a delivery gap past its alert time (server/delivery.py):
a detail, not a failure (the line still holds those events and sends them again).
Otherwise 503 with ``"status": "failing"`` and one line per failing part in ``failing``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server import delivery
from server.api.app_state import services_of
from server.api.metrics import render_metrics
from server.store import read_transaction

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    responses={503: {"description": "a part is failing (named in 'failing')"}},
)
def health(request: Request) -> JSONResponse:
    services = services_of(request)
    failing: list[str] = []
    try:
        with read_transaction(services.engine) as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        failing.append(f"store: unavailable: {reason}")
    mqtt = services.mqtt
    body: dict[str, Any] = {
        "status": "ok",
        "store": services.engine.dialect.name,
        "mqtt": None,
    }
    if mqtt is not None:
        failing += mqtt.problems()
        body["mqtt"] = {
            "broker": mqtt.link.redacted(),
            "connected": mqtt.connected.is_set(),
            "applied": mqtt.applied,
            "dead_lettered": mqtt.dead_lettered,
            "lag_seconds": round(mqtt.lag_seconds(), 3),
            "workers": mqtt.workers_alive(),
            "receiver_starts": mqtt.receiver_starts,
            "takeovers": mqtt.takeovers,
        }
    body["delivery"] = _delivery_detail(services.engine)
    if failing:
        body["status"] = "failing"
        body["failing"] = failing
        return JSONResponse(status_code=503, content=body)
    return JSONResponse(status_code=200, content=body)


def _delivery_detail(engine: Any) -> dict[str, Any] | None:
    """Lines with a gap past its alert time (a detail: the line's events wait safely in its
    outbox, so it does not fail health)."""
    try:
        with read_transaction(engine) as conn:
            states = delivery.line_states(conn, closes=0)
    except DBAPIError:
        return None
    alerted = [
        f"{state.site}/{state.line}: {state.missing} event(s) missing"
        for state in states
        if any(gap.alerted for gap in state.gaps)
    ]
    return {"lines": len(states), "gap_alerts": alerted}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Ingest rate, lag, dead letters by kind, connection state (Prometheus text format)."""
    body, content_type = render_metrics(services_of(request))
    return Response(content=body, media_type=content_type)
