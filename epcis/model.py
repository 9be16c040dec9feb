"""EPCIS 2.0 event model: immutable values, one class per event type.

Field names are the EPCIS names in snake case. Vocabulary fields hold the enum member for a
CBV 2.0 term, or the URI string of a private vocabulary term. Anything the model has no field
for (user extensions with namespaced keys, ``sensorElementList``, ``certificationInfo``, a
standalone event's ``@context``, ...) is kept verbatim in ``extensions`` so that a decoded
event encodes back to what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from epcis.vocabulary import (
    Action,
    BizStep,
    BizTransactionType,
    Disposition,
    ErrorReason,
    SourceDestType,
)

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = dict[str, JsonValue]
Extensions: TypeAlias = Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True)
class QuantityElement:
    """A quantity of a class of objects (``epcClass``, e.g. an LGTIN class URI)."""

    epc_class: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A ``readPoint`` or ``bizLocation``: an identifier plus optional extension fields."""

    id: str
    extensions: Extensions = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BizTransaction:
    """A business transaction reference (``bizTransactionList`` entry)."""

    id: str
    type: BizTransactionType | str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A ``sourceList`` entry: the party or location goods come from."""

    id: str
    type: SourceDestType | str


@dataclass(frozen=True, slots=True)
class Destination:
    """A ``destinationList`` entry: the party or location goods go to."""

    id: str
    type: SourceDestType | str


@dataclass(frozen=True, slots=True)
class PersistentDisposition:
    """Dispositions set and unset by an event until another event changes them."""

    set: tuple[Disposition | str, ...] = ()
    unset: tuple[Disposition | str, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    """Declares that an earlier event was in error (EPCIS 2.0 section 7.4.1.4)."""

    declaration_time: datetime
    reason: ErrorReason | str | None = None
    corrective_event_ids: tuple[str, ...] = ()
    extensions: Extensions = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBase:
    """Fields common to every EPCIS event type."""

    event_time: datetime
    event_time_zone_offset: str
    event_id: str | None = None
    record_time: datetime | None = None
    error_declaration: ErrorDeclaration | None = None
    extensions: Extensions = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectEvent(EventBase):
    """Something happened to objects named by EPC or by class and quantity."""

    action: Action
    epc_list: tuple[str, ...] = ()
    quantity_list: tuple[QuantityElement, ...] = ()
    biz_step: BizStep | str | None = None
    disposition: Disposition | str | None = None
    persistent_disposition: PersistentDisposition | None = None
    read_point: Location | None = None
    biz_location: Location | None = None
    biz_transactions: tuple[BizTransaction, ...] = ()
    sources: tuple[Source, ...] = ()
    destinations: tuple[Destination, ...] = ()
    ilmd: Extensions | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregationEvent(EventBase):
    """Objects were physically aggregated to (ADD) or removed from (DELETE) a parent."""

    action: Action
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    child_quantity_list: tuple[QuantityElement, ...] = ()
    biz_step: BizStep | str | None = None
    disposition: Disposition | str | None = None
    read_point: Location | None = None
    biz_location: Location | None = None
    biz_transactions: tuple[BizTransaction, ...] = ()
    sources: tuple[Source, ...] = ()
    destinations: tuple[Destination, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationEvent(EventBase):
    """Objects were associated with a parent (not a physical aggregation)."""

    action: Action
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    child_quantity_list: tuple[QuantityElement, ...] = ()
    biz_step: BizStep | str | None = None
    disposition: Disposition | str | None = None
    read_point: Location | None = None
    biz_location: Location | None = None
    biz_transactions: tuple[BizTransaction, ...] = ()
    sources: tuple[Source, ...] = ()
    destinations: tuple[Destination, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEvent(EventBase):
    """Objects were associated with (ADD) or disassociated from (DELETE) business transactions."""

    action: Action
    biz_transactions: tuple[BizTransaction, ...]
    parent_id: str | None = None
    epc_list: tuple[str, ...] = ()
    quantity_list: tuple[QuantityElement, ...] = ()
    biz_step: BizStep | str | None = None
    disposition: Disposition | str | None = None
    read_point: Location | None = None
    biz_location: Location | None = None
    sources: tuple[Source, ...] = ()
    destinations: tuple[Destination, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformationEvent(EventBase):
    """Inputs were consumed and outputs produced (e.g. bulk product filled into units)."""

    input_epc_list: tuple[str, ...] = ()
    input_quantity_list: tuple[QuantityElement, ...] = ()
    output_epc_list: tuple[str, ...] = ()
    output_quantity_list: tuple[QuantityElement, ...] = ()
    transformation_id: str | None = None
    biz_step: BizStep | str | None = None
    disposition: Disposition | str | None = None
    persistent_disposition: PersistentDisposition | None = None
    read_point: Location | None = None
    biz_location: Location | None = None
    biz_transactions: tuple[BizTransaction, ...] = ()
    sources: tuple[Source, ...] = ()
    destinations: tuple[Destination, ...] = ()
    ilmd: Extensions | None = None


Event: TypeAlias = (
    ObjectEvent | AggregationEvent | AssociationEvent | TransactionEvent | TransformationEvent
)
EVENT_TYPES: tuple[type[EventBase], ...] = (
    ObjectEvent,
    AggregationEvent,
    AssociationEvent,
    TransactionEvent,
    TransformationEvent,
)
