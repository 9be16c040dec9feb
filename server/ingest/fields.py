"""The query index rows of an event: what SimpleEventQuery asks beyond the events columns.

:func:`field_rows` turns an event (JSON-LD dict) into ``(field, text, num, time)`` rows of the
``event_fields`` table; :mod:`server.store.event_query` asks the same names. Field names:

=====================  ==============================================================
``bt:{type}``          a business transaction id (text), by its type (``po``, ``""``)
``src:{type}``         a source id by its type (``owning_party``, ``location``, …)
``dst:{type}``         a destination id by its type
``pds`` / ``pdu``      a persistent disposition set / unset (CBV term)
``tid``                the transformationID
``q`` / ``q:{uom}``    a quantity of a quantity element (num), with its unit if any
``x:{name}``           a top-level extension field of the event; ``xi:{name}`` nested
``il:{name}``          a top-level ILMD field; ``ili:{name}`` nested
``rp:{name}``          an extension field of the readPoint (``bl:`` bizLocation), nested
                       ones with ``rpi:`` / ``bli:``
``s`` …                the event has sensor data; ``s:{attribute}`` a sensor metadata or
                       report attribute (``s:type``, ``s:deviceID``, ``s:time``, …);
                       ``s:{value field}:{uom}`` a reported number with its unit
``ed:{name}``          an extension field of an error declaration (``edi:`` nested);
                       ``edc`` a corrective eventID
=====================  ==============================================================

Extension field names are kept expanded (``urn:epcglobal:cbv:mda:lotNumber``) when their
prefix is declared in the document's ``@context`` or is one of the standard ones, else as
written (``ex:field``). Text and names longer than :data:`MAX_TEXT` characters are stored as
a SHA-256 digest (``#`` + hex), which the query computes the same way: equality stays exact
and index rows stay bounded whatever a document carries.

Pure (no store access): the MQTT receiver process runs it ahead of the writer.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from server.cbv import cbv_term

FieldRow = tuple[str, str | None, float | None, datetime | None]

MAX_TEXT = 300
MAX_DEPTH = 8  # nested extension fields indexed down to this depth
MAX_ROWS = 2000  # index rows per event at most (a hostile event cannot flood the index)

STANDARD_PREFIXES: Mapping[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
    "serialtrace": "urn:serialtrace:epcis:",
}
EVENT_KEYS = frozenset(
    {
        "@context",
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "errorDeclaration",
        "certificationInfo",
        "action",
        "epcList",
        "quantityList",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "ilmd",
        "sensorElementList",
    }
)
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
SENSOR_TEXT = (
    "type",
    "deviceID",
    "dataProcessingMethod",
    "microorganism",
    "chemicalSubstance",
    "bizRules",
    "stringValue",
    "hexBinaryValue",
    "uriValue",
    "booleanValue",
    "component",
    "coordinateReferenceSystem",
    "exception",
)
SENSOR_TIMES = ("time", "startTime", "endTime")
SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percValue")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
MEASUREMENT_PREFIXES = ("gs1:", "https://gs1.org/voc/", "http://gs1.org/voc/")


def bounded(text: str) -> str:
    """``text`` as stored in an index column: itself, or ``#`` + its SHA-256 if too long."""
    if len(text) <= MAX_TEXT:
        return text
    return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def term(value: Any) -> str:
    """The bare CBV term of a vocabulary value (``po`` for ``urn:epcglobal:cbv:btt:po`` or
    ``https://ref.gs1.org/cbv/BTT-po``); other values as given; ``""`` for none."""
    return cbv_term(value) or ""


def measurement_type(value: str) -> str:
    """A sensor measurement type as a bare word (``Temperature`` for ``gs1:Temperature``)."""
    for prefix in MEASUREMENT_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def namespaces(context: Any) -> dict[str, str]:
    """The prefixes a JSON-LD ``@context`` declares (with the standard ones)."""
    found = dict(STANDARD_PREFIXES)
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, dict):
            for prefix, namespace in item.items():
                if isinstance(prefix, str) and isinstance(namespace, str):
                    found[prefix] = namespace
    return found


def expand(name: str, prefixes: Mapping[str, str]) -> str:
    """The expanded name of an extension field: ``{namespace}{local}`` for a declared prefix,
    else ``name`` as written."""
    prefix, colon, local = name.partition(":")
    if colon and prefix in prefixes and not local.startswith("//"):
        return prefixes[prefix] + local
    return name


def names(name: str, prefixes: Mapping[str, str]) -> tuple[str, ...]:
    """The names an extension field is indexed under: expanded; with a prefix the document
    declared itself (not a standard one), also as written, so that a query that names it with
    that prefix finds it without declaring the prefix again (GS1-Extensions)."""
    expanded = expand(name, prefixes)
    if expanded == name:
        return (name,)
    prefix = name.partition(":")[0]
    if STANDARD_PREFIXES.get(prefix) == prefixes.get(prefix):
        return (expanded,)
    return (expanded, name)


def parse_moment(value: str) -> datetime | None:
    """An aware datetime for an RFC 3339 date-time string, else None."""
    if len(value) > 40 or RFC3339.match(value) is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float (JSON allows 4300 digits)
        return None
    return number if math.isfinite(number) else None


def _value_row(field: str, value: Any) -> FieldRow:
    """One row for a scalar ``value`` (or an existence row for an object or list)."""
    field = bounded(field)
    if isinstance(value, bool):
        return field, "true" if value else "false", None, None
    number = _number(value)
    if number is not None:
        return field, None, number, None
    if isinstance(value, str):
        return field, bounded(value), None, parse_moment(value)
    return field, None, None, None


def _extension_rows(
    top: str, inner: str, items: Any, prefixes: Mapping[str, str], skip: frozenset[str]
) -> Iterator[FieldRow]:
    """Rows for the extension fields of an object: top-level ones under ``top``, nested ones
    (at any depth, down to MAX_DEPTH) under ``inner``."""
    if not isinstance(items, dict):
        return
    for key, value in items.items():
        if key in skip or not isinstance(key, str) or key.startswith("@"):
            continue
        for name in names(key, prefixes):
            yield from _scalar_rows(top + name, value)
        yield from _nested_rows(inner, value, prefixes, 1)


def _scalar_rows(field: str, value: Any) -> Iterator[FieldRow]:
    if isinstance(value, list):
        yield _value_row(field, None)
        for item in value:
            if not isinstance(item, dict | list):
                yield _value_row(field, item)
    elif isinstance(value, dict):
        yield _value_row(field, None)
        text = value.get("#text", value.get("@value"))
        if text is not None and not isinstance(text, dict | list):
            yield _value_row(field, text)
    else:
        yield _value_row(field, value)


def _nested_rows(
    inner: str, value: Any, prefixes: Mapping[str, str], depth: int
) -> Iterator[FieldRow]:
    if depth > MAX_DEPTH:
        return
    children = value if isinstance(value, list) else [value]
    for child in children:
        if not isinstance(child, dict):
            continue
        for key, item in child.items():
            if not isinstance(key, str) or key.startswith(("@", "#")):
                continue
            for name in names(key, prefixes):
                yield from _scalar_rows(inner + name, item)
            yield from _nested_rows(inner, item, prefixes, depth + 1)


# The line sequence number is a delivery field (server/delivery.py), like recordTime: not
# indexed for queries (it would add two rows to every event).
_NOT_INDEXED = EVENT_KEYS | {"serialtrace:seq"}


def field_rows(event: dict[str, Any], context: Any = None) -> list[FieldRow]:
    """The ``event_fields`` rows of ``event``; ``context`` is the document's ``@context``
    (the event's own, if it has one, is read too)."""
    prefixes = namespaces(context)
    if "@context" in event:
        prefixes.update(namespaces(event["@context"]))
    rows: list[FieldRow] = []
    for entry in _list(event.get("bizTransactionList")):
        if isinstance(entry.get("bizTransaction"), str):
            rows.append(_value_row("bt:" + term(entry.get("type")), entry["bizTransaction"]))
    for list_name, field, key in (
        ("sourceList", "src:", "source"),
        ("destinationList", "dst:", "destination"),
    ):
        for entry in _list(event.get(list_name)):
            if isinstance(entry.get(key), str):
                rows.append(_value_row(field + term(entry.get("type")), entry[key]))
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for key, field in (("set", "pds"), ("unset", "pdu")):
            for value in persistent.get(key) or ():
                if isinstance(value, str):
                    rows.append((field, bounded(term(value)), None, None))
    if isinstance(event.get("transformationID"), str):
        rows.append(_value_row("tid", event["transformationID"]))
    for list_name in QUANTITY_LISTS:
        for element in _list(event.get(list_name)):
            quantity = _number(element.get("quantity"))
            if quantity is not None:
                rows.append(("q", None, quantity, None))
                uom = element.get("uom")
                if isinstance(uom, str):
                    rows.append((bounded("q:" + uom), None, quantity, None))
    rows += _extension_rows("x:", "xi:", event, prefixes, _NOT_INDEXED)
    rows += _extension_rows("il:", "ili:", event.get("ilmd"), prefixes, frozenset())
    for key, top, inner in (("readPoint", "rp:", "rpi:"), ("bizLocation", "bl:", "bli:")):
        rows += _extension_rows(top, inner, event.get(key), prefixes, frozenset({"id"}))
    rows += _sensor_rows(event.get("sensorElementList"))
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        rows += declaration_rows(declaration, prefixes)
    return rows[:MAX_ROWS]


def declaration_rows(declaration: dict[str, Any], prefixes: Mapping[str, str]) -> list[FieldRow]:
    """The rows of an errorDeclaration: its corrective eventIDs and extension fields."""
    rows = [
        _value_row("edc", event_id)
        for event_id in declaration.get("correctiveEventIDs") or ()
        if isinstance(event_id, str)
    ]
    skip = frozenset({"declarationTime", "reason", "correctiveEventIDs"})
    rows += _extension_rows("ed:", "edi:", declaration, prefixes, skip)
    return rows[:MAX_ROWS]


def _sensor_rows(elements: Any) -> list[FieldRow]:
    rows: list[FieldRow] = []
    for element in _list(elements):
        rows.append(("s", None, None, None))
        metadata = element.get("sensorMetadata")
        parts = [metadata] if isinstance(metadata, dict) else []
        parts += _list(element.get("sensorReport"))
        for part in parts:
            for key in SENSOR_TEXT:
                value = part.get(key)
                if isinstance(value, str | bool):
                    if key == "type" and isinstance(value, str):
                        value = measurement_type(value)
                    rows.append(_value_row("s:" + key, value))
            for key in SENSOR_TIMES:
                value = part.get(key)
                if isinstance(value, str):
                    rows.append(_value_row("s:" + key, value))
            uom = part.get("uom")
            for key in SENSOR_NUMBERS:
                number = _number(part.get(key))
                if number is not None:
                    rows.append(
                        (
                            bounded(f"s:{key}:{uom if isinstance(uom, str) else ''}"),
                            None,
                            number,
                            None,
                        )
                    )
            rank = _number(part.get("percRank"))
            if rank is not None:
                rows.append(("s:percRank", None, rank, None))
    return rows


def _list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]
