"""Complaints: channels, the workflow's states and steps, and the records (what the
other modules of the package pass around)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from server.qa.sla import SlaClock

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


class Channel(StrEnum):
    HOTLINE = "hotline"
    ONLINE = "online"
    SOCIAL = "social"
    DISTRIBUTOR = "distributor"


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CLOSED = "closed"


NEXT = {
    ComplaintStatus.RECEIVED: frozenset({ComplaintStatus.ACKNOWLEDGED}),
    ComplaintStatus.ACKNOWLEDGED: frozenset(
        {ComplaintStatus.INVESTIGATING, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.INVESTIGATING: frozenset({ComplaintStatus.RESOLVED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED, ComplaintStatus.INVESTIGATING}),
    ComplaintStatus.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class Identified:
    """What a code given by a customer names, as far as the store knows it."""

    gtin: str | None = None
    serial: str | None = None
    batch_id: int | None = None
    shipment_id: int | None = None


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    author: str
    text: str
    filename: str | None
    content_type: str | None
    size: int | None


@dataclass(frozen=True)
class Complaint:
    id: int
    channel: str
    received_at: datetime
    reporter: str
    contact: str | None
    description: str
    category: str | None
    code: str | None
    gtin: str | None
    serial: str | None
    lot: str | None
    shipment_id: int | None
    status: str
    owner: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: int | None
    external_ref: str | None
    response_sla: SlaClock
    resolution_sla: SlaClock
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Intake:
    channel: Channel
    reporter: str
    description: str
    contact: str | None = None
    category: str | None = None
    code: str | None = None
    external_ref: str | None = None
    received_at: datetime | None = None  # default: now
