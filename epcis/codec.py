"""EPCIS 2.0 JSON-LD codec: events and documents to and from JSON-ready dicts.

``decode_*`` check the structure they need and name the offending field in an
:class:`~epcis.errors.EventFieldError`; they do not validate against the JSON Schema (see
:mod:`epcis.validation` for that). Fields the model does not know are kept in ``extensions``
and written back unchanged, so ``encode(decode(x)) == x`` up to these normalisations:

* timestamps are written as RFC 3339 with milliseconds, in the offset they were given in
  (``2005-07-11T11:30:47.0Z`` becomes ``2005-07-11T11:30:47.000Z``: the same instant);
* CBV vocabulary values given as URNs or GS1 Web URIs are written as bare words
  (``urn:epcglobal:cbv:bizstep:shipping`` becomes ``shipping``);
* an empty ``epcList`` is dropped when ``quantityList`` or ``sensorElementList`` is present, and
  other empty lists are dropped (they carry no data and do not change the event hash).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, cast

from epcis._time import TIME_ZONE_OFFSET, format_time, parse_time
from epcis.errors import EventFieldError
from epcis.model import (
    AggregationEvent,
    AssociationEvent,
    BizTransaction,
    Destination,
    ErrorDeclaration,
    Event,
    JsonObject,
    JsonValue,
    Location,
    ObjectEvent,
    PersistentDisposition,
    QuantityElement,
    Source,
    TransactionEvent,
    TransformationEvent,
)
from epcis.vocabulary import (
    Action,
    BizStep,
    BizTransactionType,
    Disposition,
    ErrorReason,
    SourceDestType,
    parse_term,
)

EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
SCHEMA_VERSION: Final = "2.0"
#: Prefix and namespace of serialtrace's own extension fields (e.g. ``serialtrace:reason``).
SERIALTRACE_PREFIX: Final = "serialtrace"
SERIALTRACE_NAMESPACE: Final = "urn:serialtrace:epcis:"
#: Namespaces every document serialtrace writes declares in its ``@context``.
PROJECT_NAMESPACES: Final[Mapping[str, str]] = {SERIALTRACE_PREFIX: SERIALTRACE_NAMESPACE}


def default_context() -> list[JsonValue]:
    """``@context`` of the documents serialtrace writes: the EPCIS context + our prefix."""
    return [EPCIS_CONTEXT, dict(PROJECT_NAMESPACES)]


_COMMON_KEYS: Final = frozenset(
    {"type", "eventTime", "eventTimeZoneOffset", "eventID", "recordTime", "errorDeclaration"}
)
_DOCUMENT_KEYS: Final = frozenset(
    {"@context", "type", "schemaVersion", "creationDate", "epcisBody"}
)


def _term(value: StrEnum | str) -> str:
    return value.value if isinstance(value, StrEnum) else value


# --------------------------------------------------------------------------- encoding


def _encode_quantities(items: Sequence[QuantityElement]) -> list[JsonValue]:
    out: list[JsonValue] = []
    for item in items:
        element: JsonObject = {"epcClass": item.epc_class}
        if item.quantity is not None:
            element["quantity"] = item.quantity
        if item.uom is not None:
            element["uom"] = item.uom
        out.append(element)
    return out


def _encode_location(location: Location) -> JsonObject:
    return {"id": location.id, **location.extensions}


def encode_event(event: Event) -> JsonObject:
    """The EPCIS 2.0 JSON-LD object of one event (no ``@context``: it lives on the document)."""
    out: JsonObject = {"type": type(event).__name__}
    if event.event_id is not None:
        out["eventID"] = event.event_id
    out["eventTime"] = format_time(event.event_time)
    out["eventTimeZoneOffset"] = event.event_time_zone_offset
    if event.record_time is not None:
        out["recordTime"] = format_time(event.record_time)
    if event.error_declaration is not None:
        out["errorDeclaration"] = _encode_error_declaration(event.error_declaration)
    sensors = "sensorElementList" in event.extensions
    if isinstance(event, ObjectEvent):
        if event.epc_list or not (event.quantity_list or sensors):
            out["epcList"] = list(event.epc_list)
        if event.quantity_list:
            out["quantityList"] = _encode_quantities(event.quantity_list)
    elif isinstance(event, AggregationEvent | AssociationEvent):
        if event.parent_id is not None:
            out["parentID"] = event.parent_id
        if event.child_epcs:
            out["childEPCs"] = list(event.child_epcs)
        if event.child_quantity_list:
            out["childQuantityList"] = _encode_quantities(event.child_quantity_list)
    elif isinstance(event, TransactionEvent):
        if event.parent_id is not None:
            out["parentID"] = event.parent_id
        if event.epc_list or not (event.quantity_list or sensors):
            out["epcList"] = list(event.epc_list)
        if event.quantity_list:
            out["quantityList"] = _encode_quantities(event.quantity_list)
    else:
        if event.input_epc_list:
            out["inputEPCList"] = list(event.input_epc_list)
        if event.input_quantity_list:
            out["inputQuantityList"] = _encode_quantities(event.input_quantity_list)
        if event.output_epc_list:
            out["outputEPCList"] = list(event.output_epc_list)
        if event.output_quantity_list:
            out["outputQuantityList"] = _encode_quantities(event.output_quantity_list)
        if event.transformation_id is not None:
            out["transformationID"] = event.transformation_id
    if not isinstance(event, TransformationEvent):
        out["action"] = event.action.value
    if event.biz_step is not None:
        out["bizStep"] = _term(event.biz_step)
    if event.disposition is not None:
        out["disposition"] = _term(event.disposition)
    if isinstance(event, ObjectEvent | TransformationEvent) and event.persistent_disposition:
        persistent: JsonObject = {}
        if event.persistent_disposition.set:
            persistent["set"] = [_term(d) for d in event.persistent_disposition.set]
        if event.persistent_disposition.unset:
            persistent["unset"] = [_term(d) for d in event.persistent_disposition.unset]
        out["persistentDisposition"] = persistent
    if event.read_point is not None:
        out["readPoint"] = _encode_location(event.read_point)
    if event.biz_location is not None:
        out["bizLocation"] = _encode_location(event.biz_location)
    if event.biz_transactions:
        out["bizTransactionList"] = [
            {"type": _term(bt.type), "bizTransaction": bt.id}
            if bt.type is not None
            else {"bizTransaction": bt.id}
            for bt in event.biz_transactions
        ]
    if event.sources:
        out["sourceList"] = [{"type": _term(s.type), "source": s.id} for s in event.sources]
    if event.destinations:
        out["destinationList"] = [
            {"type": _term(d.type), "destination": d.id} for d in event.destinations
        ]
    if isinstance(event, ObjectEvent | TransformationEvent) and event.ilmd is not None:
        out["ilmd"] = dict(event.ilmd)
    out.update(event.extensions)
    return out


def _encode_error_declaration(declaration: ErrorDeclaration) -> JsonObject:
    out: JsonObject = {"declarationTime": format_time(declaration.declaration_time)}
    if declaration.reason is not None:
        out["reason"] = _term(declaration.reason)
    if declaration.corrective_event_ids:
        out["correctiveEventIDs"] = list(declaration.corrective_event_ids)
    out.update(declaration.extensions)
    return out


# --------------------------------------------------------------------------- decoding


class _Fields:
    """Reads the fields of one JSON object, remembering which keys were used."""

    __slots__ = ("obj", "path", "used")

    def __init__(self, obj: object, path: str, root: str = "event") -> None:
        if not isinstance(obj, dict):
            raise EventFieldError(path or root, f"expected a JSON object, got {_preview(obj)}")
        self.obj: dict[str, Any] = obj
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> object:
        self.used.add(key)
        return self.obj.get(key)

    def has(self, key: str) -> bool:
        return key in self.obj

    def required(self, key: str) -> object:
        if key not in self.obj:
            raise EventFieldError(self.at(key), "required field is missing")
        return self.get(key)

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.required(key) if required else self.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise EventFieldError(
                self.at(key), f"expected a non-empty string, got {_preview(value)}"
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise EventFieldError(
                self.at(key), f"expected a list of strings, got {_preview(value)}"
            )
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise EventFieldError(
                    f"{self.at(key)}[{index}]", f"expected a non-empty string, got {_preview(item)}"
                )
        return tuple(value)

    def time(self, key: str, *, required: bool = False) -> datetime | None:
        if not required and key not in self.obj:
            return None
        return parse_time(self.required(key), self.at(key))

    def objects(self, key: str) -> list[tuple[str, object]]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise EventFieldError(self.at(key), f"expected a list, got {_preview(value)}")
        return [(f"{self.at(key)}[{i}]", item) for i, item in enumerate(value)]

    def rest(self) -> dict[str, JsonValue]:
        return {k: v for k, v in self.obj.items() if k not in self.used}


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quantities(fields: _Fields, key: str) -> tuple[QuantityElement, ...]:
    out = []
    for path, item in fields.objects(key):
        element = _Fields(item, path)
        epc_class = element.string("epcClass", required=True)
        assert epc_class is not None
        quantity = element.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int | float)
        ):
            raise EventFieldError(element.at("quantity"), f"expected a number, got {quantity!r}")
        uom = element.string("uom")
        if extra := element.rest():
            raise EventFieldError(path, f"unexpected field(s) {sorted(extra)}")
        out.append(QuantityElement(epc_class, quantity, uom))
    return tuple(out)


def _location(fields: _Fields, key: str) -> Location | None:
    if not fields.has(key):
        return None
    location = _Fields(fields.get(key), fields.at(key))
    location_id = location.string("id", required=True)
    assert location_id is not None
    return Location(location_id, location.rest())


def _biz_transactions(fields: _Fields) -> tuple[BizTransaction, ...]:
    out = []
    for path, item in fields.objects("bizTransactionList"):
        entry = _Fields(item, path)
        ident = entry.string("bizTransaction", required=True)
        assert ident is not None
        raw_type = entry.get("type")
        kind = (
            None if raw_type is None else parse_term(BizTransactionType, raw_type, entry.at("type"))
        )
        out.append(BizTransaction(ident, kind))
    return tuple(out)


def _parties(fields: _Fields, key: str, id_key: str) -> list[tuple[str, SourceDestType | str]]:
    out = []
    for path, item in fields.objects(key):
        entry = _Fields(item, path)
        ident = entry.string(id_key, required=True)
        assert ident is not None
        kind = parse_term(SourceDestType, entry.required("type"), entry.at("type"))
        out.append((ident, kind))
    return out


def _persistent_disposition(fields: _Fields) -> PersistentDisposition | None:
    if not fields.has("persistentDisposition"):
        return None
    persistent = _Fields(fields.get("persistentDisposition"), fields.at("persistentDisposition"))
    parts: dict[str, tuple[Disposition | str, ...]] = {}
    for key in ("set", "unset"):
        values = persistent.strings(key)
        parts[key] = tuple(
            parse_term(Disposition, v, f"{persistent.at(key)}[{i}]") for i, v in enumerate(values)
        )
    return PersistentDisposition(parts["set"], parts["unset"])


def _ilmd(fields: _Fields) -> dict[str, JsonValue] | None:
    if not fields.has("ilmd"):
        return None
    value = fields.get("ilmd")
    if not isinstance(value, dict):
        raise EventFieldError(fields.at("ilmd"), f"expected a JSON object, got {_preview(value)}")
    return dict(value)


def _error_declaration(fields: _Fields) -> ErrorDeclaration | None:
    if not fields.has("errorDeclaration"):
        return None
    declaration = _Fields(fields.get("errorDeclaration"), fields.at("errorDeclaration"))
    declared = declaration.time("declarationTime", required=True)
    assert declared is not None
    raw_reason = declaration.get("reason")
    reason = (
        None
        if raw_reason is None
        else parse_term(ErrorReason, raw_reason, declaration.at("reason"))
    )
    corrective = declaration.strings("correctiveEventIDs")
    return ErrorDeclaration(declared, reason, corrective, declaration.rest())


def _action(fields: _Fields) -> Action:
    value = fields.required("action")
    try:
        return Action(value if isinstance(value, str) else "")
    except ValueError:
        raise EventFieldError(
            fields.at("action"),
            f"expected one of 'ADD', 'OBSERVE', 'DELETE', got {_preview(value)}",
        ) from None


def _optional_term(fields: _Fields, key: str, vocabulary: type[Any]) -> Any:
    value = fields.get(key)
    return None if value is None else parse_term(vocabulary, value, fields.at(key))


def decode_event(obj: object, *, path: str = "") -> Event:
    """Decode one EPCIS 2.0 JSON-LD event object (as produced by ``json.loads``)."""
    fields = _Fields(obj, path)
    event_type = fields.required("type")
    offset = fields.required("eventTimeZoneOffset")
    if not isinstance(offset, str) or TIME_ZONE_OFFSET.match(offset) is None:
        raise EventFieldError(
            fields.at("eventTimeZoneOffset"),
            f"expected '+hh:mm' or '-hh:mm', got {_preview(offset)}",
        )
    event_time = fields.time("eventTime", required=True)
    assert event_time is not None
    common: dict[str, Any] = {
        "event_time": event_time,
        "event_time_zone_offset": offset,
        "event_id": fields.string("eventID"),
        "record_time": fields.time("recordTime"),
        "error_declaration": _error_declaration(fields),
    }
    located: dict[str, Any] = {
        "biz_step": _optional_term(fields, "bizStep", BizStep),
        "disposition": _optional_term(fields, "disposition", Disposition),
        "read_point": _location(fields, "readPoint"),
        "biz_location": _location(fields, "bizLocation"),
        "sources": tuple(Source(i, t) for i, t in _parties(fields, "sourceList", "source")),
        "destinations": tuple(
            Destination(i, t) for i, t in _parties(fields, "destinationList", "destination")
        ),
    }
    event: Event
    if event_type == "ObjectEvent":
        event = ObjectEvent(
            **common,
            **located,
            action=_action(fields),
            epc_list=fields.strings("epcList"),
            quantity_list=_quantities(fields, "quantityList"),
            persistent_disposition=_persistent_disposition(fields),
            biz_transactions=_biz_transactions(fields),
            ilmd=_ilmd(fields),
            extensions=fields.rest(),
        )
    elif event_type in ("AggregationEvent", "AssociationEvent"):
        cls = AggregationEvent if event_type == "AggregationEvent" else AssociationEvent
        event = cls(
            **common,
            **located,
            action=_action(fields),
            parent_id=fields.string("parentID"),
            child_epcs=fields.strings("childEPCs"),
            child_quantity_list=_quantities(fields, "childQuantityList"),
            biz_transactions=_biz_transactions(fields),
            extensions=fields.rest(),
        )
    elif event_type == "TransactionEvent":
        fields.required("bizTransactionList")
        event = TransactionEvent(
            **common,
            **located,
            action=_action(fields),
            biz_transactions=_biz_transactions(fields),
            parent_id=fields.string("parentID"),
            epc_list=fields.strings("epcList"),
            quantity_list=_quantities(fields, "quantityList"),
            extensions=fields.rest(),
        )
    elif event_type == "TransformationEvent":
        event = TransformationEvent(
            **common,
            **located,
            input_epc_list=fields.strings("inputEPCList"),
            input_quantity_list=_quantities(fields, "inputQuantityList"),
            output_epc_list=fields.strings("outputEPCList"),
            output_quantity_list=_quantities(fields, "outputQuantityList"),
            transformation_id=fields.string("transformationID"),
            persistent_disposition=_persistent_disposition(fields),
            biz_transactions=_biz_transactions(fields),
            ilmd=_ilmd(fields),
            extensions=fields.rest(),
        )
    else:
        raise EventFieldError(
            fields.at("type"),
            "expected one of 'ObjectEvent', 'AggregationEvent', 'AssociationEvent', "
            f"'TransactionEvent', 'TransformationEvent', got {_preview(event_type)}",
        )
    return event


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class EPCISDocument:
    """An ``EPCISDocument``: the envelope that carries events on the wire and in files.

    ``header`` holds the optional document fields (``id``, ``sender``, ``receiver``,
    ``instanceIdentifier``, ``epcisHeader``, namespaced extensions) verbatim.
    """

    events: tuple[Event, ...]
    creation_date: datetime
    context: JsonValue = field(default_factory=default_context)
    schema_version: str = SCHEMA_VERSION
    header: Mapping[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        """The JSON-LD document as a dict ready for ``json.dumps``."""
        out: JsonObject = {
            "@context": self.context,
            "type": "EPCISDocument",
            "schemaVersion": self.schema_version,
            "creationDate": format_time(self.creation_date),
        }
        out.update(self.header)
        out["epcisBody"] = {"eventList": [encode_event(event) for event in self.events]}
        return out

    @property
    def namespaces(self) -> dict[str, str]:
        """Prefix -> namespace IRI declared in this document's ``@context``."""
        return namespaces_from_context(self.context)


def namespaces_from_context(context: object) -> dict[str, str]:
    """The prefix definitions (``{"example": "https://ns.example.com/epcis/"}``) of a context."""
    out: dict[str, str] = {}
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, dict):
            out.update(
                (k, v) for k, v in entry.items() if isinstance(v, str) and not k.startswith("@")
            )
    return out


def parse_document(obj: object) -> EPCISDocument:
    """Decode an ``EPCISDocument`` (as produced by ``json.loads``)."""
    fields = _Fields(obj, "", root="document")
    doc_type = fields.required("type")
    if doc_type != "EPCISDocument":
        raise EventFieldError("type", f"expected 'EPCISDocument', got {_preview(doc_type)}")
    context = fields.required("@context")
    version = fields.string("schemaVersion", required=True)
    assert version is not None
    created = fields.time("creationDate", required=True)
    assert created is not None
    body = _Fields(fields.required("epcisBody"), "epcisBody")
    body.required("eventList")
    events = tuple(decode_event(item, path=path) for path, item in body.objects("eventList"))
    header = {k: v for k, v in fields.obj.items() if k not in _DOCUMENT_KEYS}
    return EPCISDocument(events, created, cast(JsonValue, context), version, header)


def decode_document(obj: object) -> list[Event]:
    """The events of an ``EPCISDocument``."""
    return list(parse_document(obj).events)


def encode_document(
    events: Iterable[Event],
    *,
    creation_date: datetime | None = None,
    context: JsonValue | None = None,
) -> JsonObject:
    """An ``EPCISDocument`` dict carrying ``events``.

    ``creationDate`` defaults to now (UTC) and ``@context`` to :func:`default_context`.
    """
    created = creation_date if creation_date is not None else datetime.now(UTC)
    chosen = default_context() if context is None else context
    return EPCISDocument(tuple(events), created, chosen).to_json()
