"""Access to the per-app services (kept apart so routes never import the app module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from server.api.app import Services


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
