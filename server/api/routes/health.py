"""``GET /health``: liveness and store reachability (no token needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from server.api.app_state import services_of
from server.store import read_transaction

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    services = services_of(request)
    with read_transaction(services.engine) as conn:
        conn.execute(text("SELECT 1"))
    mqtt = services.mqtt
    return {
        "status": "ok",
        "store": services.engine.dialect.name,
        "mqtt": None
        if mqtt is None
        else {
            "connected": mqtt.connected.is_set(),
            "applied": mqtt.applied,
            "dead_lettered": mqtt.dead_lettered,
        },
    }
