"""The events serialtrace emits, one small function each.

The edge agent calls these on its hot path (one commissioning event per unit), so they take
identifiers as ready-made URI strings (build them with the ``gs1`` package once per batch or
unit) and do no parsing. Every result carries its CBV 2.0 event hash as ``eventID``, so the
same business event always gets the same ID and the server can ingest idempotently.

``event_time`` must be timezone-aware; it is truncated to milliseconds (the precision of
the event hash), and ``eventTimeZoneOffset`` is taken from its offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Final, TypeVar

from epcis._time import format_offset
from epcis.codec import PROJECT_NAMESPACES, SERIALTRACE_PREFIX
from epcis.hashing import event_hash
from epcis.model import (
    AggregationEvent,
    AssociationEvent,
    BizTransaction,
    Destination,
    ErrorDeclaration,
    Event,
    JsonValue,
    Location,
    ObjectEvent,
    QuantityElement,
    Source,
    TransactionEvent,
    TransformationEvent,
)
from epcis.vocabulary import Action, BizStep, Disposition, ErrorReason

#: ILMD keys (CBV 2.0 master data attributes, ``cbvmda`` prefix of the EPCIS context).
ILMD_LOT: Final = "cbvmda:lotNumber"
ILMD_EXPIRY: Final = "cbvmda:itemExpirationDate"
#: Extension field carrying the free-text reason of a decommissioning or destruction.
REASON_KEY: Final = f"{SERIALTRACE_PREFIX}:reason"

E = TypeVar(
    "E", ObjectEvent, AggregationEvent, AssociationEvent, TransactionEvent, TransformationEvent
)


def _when(event_time: datetime) -> tuple[datetime, str]:
    if event_time.tzinfo is None:
        raise ValueError(f"event_time: expected a timezone-aware datetime, got {event_time!r}")
    trimmed = event_time.replace(microsecond=event_time.microsecond // 1000 * 1000)
    return trimmed, format_offset(trimmed)


def _location(uri: str | None) -> Location | None:
    return None if uri is None else Location(uri)


def with_event_id(event: E) -> E:
    """``event`` with its CBV 2.0 event hash as ``eventID``."""
    return replace(event, event_id=event_hash(event, namespaces=PROJECT_NAMESPACES))


def commissioning_event(
    epcs: Sequence[str],
    *,
    event_time: datetime,
    read_point: str,
    biz_location: str,
    lot: str | None = None,
    expiry: date | None = None,
    biz_transactions: Iterable[BizTransaction] = (),
) -> ObjectEvent:
    """Units were verified and commissioned: ObjectEvent ADD, commissioning, active.

    ``lot`` and ``expiry`` go to the ILMD as ``cbvmda:lotNumber`` and
    ``cbvmda:itemExpirationDate`` (``YYYY-MM-DD``). A GS1 expiry with day ``00`` means the
    last day of the month; pass that date.
    """
    moment, offset = _when(event_time)
    ilmd: dict[str, JsonValue] = {}
    if lot is not None:
        ilmd[ILMD_LOT] = lot
    if expiry is not None:
        ilmd[ILMD_EXPIRY] = expiry.isoformat()
    return with_event_id(
        ObjectEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.ADD,
            epc_list=tuple(epcs),
            biz_step=BizStep.COMMISSIONING,
            disposition=Disposition.ACTIVE,
            read_point=Location(read_point),
            biz_location=Location(biz_location),
            biz_transactions=tuple(biz_transactions),
            ilmd=ilmd or None,
        )
    )


def packing_event(
    parent_id: str,
    child_epcs: Sequence[str],
    *,
    event_time: datetime,
    read_point: str,
    biz_location: str | None = None,
) -> AggregationEvent:
    """Children were packed into a case or pallet (SSCC): AggregationEvent ADD, packing."""
    moment, offset = _when(event_time)
    return with_event_id(
        AggregationEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.ADD,
            parent_id=parent_id,
            child_epcs=tuple(child_epcs),
            biz_step=BizStep.PACKING,
            disposition=Disposition.IN_PROGRESS,
            read_point=Location(read_point),
            biz_location=_location(biz_location),
        )
    )


def unpacking_event(
    parent_id: str,
    child_epcs: Sequence[str] = (),
    *,
    event_time: datetime,
    read_point: str,
    biz_location: str | None = None,
) -> AggregationEvent:
    """Children were taken out of a parent: AggregationEvent DELETE, unpacking.

    With no ``child_epcs`` the parent is emptied completely.
    """
    moment, offset = _when(event_time)
    return with_event_id(
        AggregationEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.DELETE,
            parent_id=parent_id,
            child_epcs=tuple(child_epcs),
            biz_step=BizStep.UNPACKING,
            read_point=Location(read_point),
            biz_location=_location(biz_location),
        )
    )


def shipping_event(
    epcs: Sequence[str],
    *,
    event_time: datetime,
    read_point: str,
    sources: Iterable[Source] = (),
    destinations: Iterable[Destination] = (),
    biz_transactions: Iterable[BizTransaction] = (),
) -> ObjectEvent:
    """Cases or pallets left the site: ObjectEvent OBSERVE, shipping, in_transit."""
    moment, offset = _when(event_time)
    return with_event_id(
        ObjectEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.OBSERVE,
            epc_list=tuple(epcs),
            biz_step=BizStep.SHIPPING,
            disposition=Disposition.IN_TRANSIT,
            read_point=Location(read_point),
            biz_transactions=tuple(biz_transactions),
            sources=tuple(sources),
            destinations=tuple(destinations),
        )
    )


def _retire(
    epcs: Sequence[str],
    event_time: datetime,
    read_point: str,
    biz_step: BizStep,
    disposition: Disposition,
    reason: str | None,
) -> ObjectEvent:
    moment, offset = _when(event_time)
    return with_event_id(
        ObjectEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.DELETE,
            epc_list=tuple(epcs),
            biz_step=biz_step,
            disposition=disposition,
            read_point=Location(read_point),
            extensions={} if reason is None else {REASON_KEY: reason},
        )
    )


def decommissioning_event(
    epcs: Sequence[str], *, event_time: datetime, read_point: str, reason: str | None = None
) -> ObjectEvent:
    """Serials were taken out of use (sampled, damaged): ObjectEvent DELETE, inactive.

    ``reason`` is kept as the ``serialtrace:reason`` extension field.
    """
    return _retire(
        epcs, event_time, read_point, BizStep.DECOMMISSIONING, Disposition.INACTIVE, reason
    )


def destroying_event(
    epcs: Sequence[str], *, event_time: datetime, read_point: str, reason: str | None = None
) -> ObjectEvent:
    """Units or labels were destroyed: ObjectEvent DELETE, destroying, destroyed."""
    return _retire(epcs, event_time, read_point, BizStep.DESTROYING, Disposition.DESTROYED, reason)


def inspecting_event(
    epcs: Sequence[str],
    *,
    event_time: datetime,
    read_point: str,
    disposition: Disposition | None = None,
) -> ObjectEvent:
    """Units were inspected (e.g. a QA sample or a verification scan): OBSERVE, inspecting."""
    moment, offset = _when(event_time)
    return with_event_id(
        ObjectEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            action=Action.OBSERVE,
            epc_list=tuple(epcs),
            biz_step=BizStep.INSPECTING,
            disposition=disposition,
            read_point=Location(read_point),
        )
    )


def transformation_event(
    inputs: Sequence[QuantityElement],
    outputs: Sequence[QuantityElement],
    *,
    event_time: datetime,
    read_point: str,
    biz_location: str | None = None,
    transformation_id: str | None = None,
    output_epcs: Sequence[str] = (),
    ilmd: dict[str, JsonValue] | None = None,
    biz_step: BizStep = BizStep.COMMISSIONING,
) -> TransformationEvent:
    """Bulk inputs (LGTIN classes and quantities) became outputs: TransformationEvent.

    Used for a filling/packaging step that consumes a bulk batch and produces a finished
    batch (``outputs``) and, when known, the serialised units (``output_epcs``).
    """
    moment, offset = _when(event_time)
    return with_event_id(
        TransformationEvent(
            event_time=moment,
            event_time_zone_offset=offset,
            input_quantity_list=tuple(inputs),
            output_quantity_list=tuple(outputs),
            output_epc_list=tuple(output_epcs),
            transformation_id=transformation_id,
            biz_step=biz_step,
            disposition=Disposition.ACTIVE,
            read_point=Location(read_point),
            biz_location=_location(biz_location),
            ilmd=ilmd,
        )
    )


def error_declaration(
    event: Event,
    *,
    declaration_time: datetime,
    reason: ErrorReason = ErrorReason.INCORRECT_DATA,
    corrective_event_ids: Sequence[str] = (),
) -> Event:
    """A copy of ``event`` declared in error (EPCIS 2.0 section 7.4.1.4).

    The copy keeps the original's ``eventID``: ``errorDeclaration`` is outside the event
    hash, which is how a receiver finds the event being declared in error.
    """
    if declaration_time.tzinfo is None:
        raise ValueError(
            f"declaration_time: expected a timezone-aware datetime, got {declaration_time!r}"
        )
    declared = ErrorDeclaration(declaration_time, reason, tuple(corrective_event_ids))
    event_id = event.event_id or event_hash(event, namespaces=PROJECT_NAMESPACES)
    return replace(event, event_id=event_id, error_declaration=declared)
