"""CBV term and EPCIS time helpers shared by ingest and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.errors import RejectedDocument


def cbv_term(value: Any) -> str | None:
    """The bare CBV term of a bizStep/disposition (``commissioning``), whatever its form
    (bare word, ``urn:epcglobal:cbv:bizstep:…`` or ``https://ref.gs1.org/cbv/BizStep-…``)."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("https://ref.gs1.org/cbv/"):
        return value.rsplit("-", 1)[-1]
    if value.startswith("urn:epcglobal:cbv:"):
        return value.rsplit(":", 1)[-1]
    return value


def parse_time(value: Any, field_name: str) -> datetime:
    if not isinstance(value, str):
        raise RejectedDocument(f"{field_name}: expected an ISO 8601 date-time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedDocument(
            f"{field_name}: expected an ISO 8601 date-time with offset, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise RejectedDocument(f"{field_name}: expected a time zone offset, got {value!r}")
    return parsed
