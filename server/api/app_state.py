"""The per-app services and access to them (kept apart so routes never import the app
module, and an app that serves only some routers, such as the serial authority's, need not
import every route of the trace server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from server import audit
    from server.config import ServerSettings
    from server.ingest.mqtt import MqttIngest
    from server.ingest.service import Ingestor


@dataclass
class Services:
    """What the routes need, built once per app in the lifespan."""

    settings: ServerSettings
    engine: Engine
    ingestor: Ingestor
    mqtt: MqttIngest | None
    anchor: audit.Anchor | None = None  # signs audit checkpoints (None: not configured)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
