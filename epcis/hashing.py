"""The CBV 2.0 EPCIS event hash ID: ``ni:///sha-256;<hex>?ver=CBV2.0``.

The event is written as a canonical *pre-hash string* (CBV 2.0 section 8.9; the rules are
also listed in the README of GS1's reference implementation, the PyPI package
``epcis-event-hash-generator``) whose SHA-256 digest is embedded in an RFC 6920 ``ni`` URI:

* fields in the canonical property order (:data:`PROPERTY_ORDER`), each ``key=value``,
  concatenated without separators; fields that are absent or empty add nothing;
* ``eventID``, ``recordTime``, ``errorDeclaration``, comments and the line sequence number
  ``serialtrace:seq`` (a delivery field, docs/mqtt.md) do not take part, so an error
  declaration leaves the hash of the event it declares unchanged;
* list members (EPCs, quantity elements, business transactions, sources, destinations, sensor
  elements and reports, ILMD and extension fields) are sorted by code point; a
  ``bizTransaction``/``source``/``destination`` writes ``type=…`` before its identifier;
* timestamps in UTC with milliseconds and ``Z``; numbers without trailing zeros; whitespace
  around values stripped; ``true``/``false`` for booleans;
* CBV terms (bare words and ``urn:epcglobal:cbv:…``) as GS1 Web URIs, CURIEs expanded, EPC
  URIs and GS1 Digital Link URIs as constrained canonical Digital Link URIs;
* ILMD and user extension keys as ``{namespace}localName``; extensions inside ``readPoint``,
  ``bizLocation`` and the sensor structures go at the end of their parent.

Where GS1's reference implementation (version 1.9.3) departs from the CBV text we follow the
text; ``tests/epcis/test_hashing.py`` lists each departure and checks everything else
against the reference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Final

from epcis._canonical_id import canonical_gs1_uri
from epcis._time import RFC3339, canonical_utc, parse_time
from epcis.codec import encode_event
from epcis.errors import EventFieldError
from epcis.model import Event, JsonValue
from epcis.vocabulary import (
    BizStep,
    BizTransactionType,
    Disposition,
    SourceDestType,
    expand_bare_word,
)

HASH_VERSION: Final = "CBV2.0"

#: Prefixes of the standard EPCIS 2.0 JSON-LD context, always known to the hash.
STANDARD_NAMESPACES: Final[Mapping[str, str]] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

PROPERTY_ORDER: Final = (
    "eventTime",
    "eventTimeZoneOffset",
    "certificationInfo",
    "parentID",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
)
_EPC_LISTS: Final = frozenset({"epcList", "inputEPCList", "childEPCs", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_NOT_HASHED: Final = frozenset(
    {
        "type",
        "eventID",
        "recordTime",
        "errorDeclaration",
        "@context",
        "rdfs:comment",
        "comment",
        # The line sequence number (server-confirmed delivery, docs/mqtt.md): where the
        # event sits in its line's stream, like recordTime not what happened.
        "serialtrace:seq",
    }
)
_SENSOR_METADATA_ORDER: Final = (
    "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
    "dataProcessingMethod", "bizRules",
)  # fmt: skip
_SENSOR_REPORT_ORDER: Final = (
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
    "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
    "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank",
    "percValue", "uom", "coordinateReferenceSystem", "bizRules",
)  # fmt: skip
_CBV_URNS: Final = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
_INTEGER = re.compile(r"[+-]?\d+\Z")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_CURIE = re.compile(r"([A-Za-z][\w.-]*):(?!//)(.*)\Z", re.DOTALL)


def _number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() else repr(value)


class _PreHash:
    """Renders one event's fields; holds the namespace prefixes in force."""

    __slots__ = ("namespaces",)

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self.namespaces = namespaces

    # values ---------------------------------------------------------------

    def value(self, value: JsonValue) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return _number(value)
        if isinstance(value, str):
            return self.string(value)
        return ""

    def string(self, text: str) -> str:
        text = text.strip()
        curie = _CURIE.match(text)
        if curie is not None and curie.group(1) in self.namespaces:
            text = self.namespaces[curie.group(1)] + curie.group(2)
        for urn, web in _CBV_URNS:
            if text.startswith(urn):
                return web + text[len(urn) :]
        if _INTEGER.match(text):
            return str(int(text))
        if _DECIMAL.match(text):
            return _number(float(text))
        if RFC3339.match(text):
            return canonical_utc(parse_time(text, "timestamp"))
        return canonical_gs1_uri(text) or text

    def term(self, vocabulary: type[StrEnum], value: JsonValue) -> str:
        if isinstance(value, str):
            return self.string(expand_bare_word(vocabulary, value.strip()))
        return self.value(value)

    def key(self, key: str) -> str:
        curie = _CURIE.match(key)
        if curie is not None and curie.group(1) in self.namespaces:
            return "{" + self.namespaces[curie.group(1)] + "}" + curie.group(2)
        return key

    # structures -----------------------------------------------------------

    def extension(self, key: str, value: JsonValue) -> Iterator[str]:
        """``{ns}name=value``; a list gives one entry per member; an object nests, sorted."""
        if isinstance(value, list):
            for item in value:
                yield from self.extension(key, item)
        elif isinstance(value, dict):
            yield self.key(key) + "".join(
                sorted(s for k, v in value.items() for s in self.extension(k, v))
            )
        else:
            text = self.value(value)
            yield self.key(key) + ("=" + text if text else "")

    def extensions_of(self, obj: Mapping[str, JsonValue], known: tuple[str, ...]) -> str:
        return "".join(
            sorted(s for k, v in obj.items() if k not in known for s in self.extension(k, v))
        )

    def quantity_element(self, element: JsonValue) -> str:
        if not isinstance(element, dict):
            return ""
        text = "quantityElement"
        if "epcClass" in element:
            text += "epcClass=" + self.value(element["epcClass"])
        if "quantity" in element:
            text += "quantity=" + self.value(element["quantity"])
        if "uom" in element:
            text += "uom=" + self.value(element["uom"])
        return text

    def typed_entry(self, entry: JsonValue, id_key: str, vocabulary: type[StrEnum]) -> str:
        if not isinstance(entry, dict):
            return ""
        text = ""
        if entry.get("type") is not None:
            text += "type=" + self.term(vocabulary, entry["type"])
        if id_key in entry:
            text += f"{id_key}=" + self.value(entry[id_key])
        return text

    def ordered(self, obj: JsonValue, name: str, order: tuple[str, ...]) -> str:
        if not isinstance(obj, dict):
            return ""
        text = name
        for key in order:
            if key in obj:
                value = obj[key]
                if name == "sensorReport" and key in ("type", "exception"):
                    rendered = self.string(_gs1_voc(value))
                elif name == "sensorReport" and key == "component":
                    rendered = self.string(_cbv_component(value))
                else:
                    rendered = self.value(value)
                text += f"{key}={rendered}" if rendered else ""
        return text + self.extensions_of(obj, order)

    def sensor_element(self, element: JsonValue) -> str:
        if not isinstance(element, dict):
            return ""
        text = "sensorElement"
        if "sensorMetadata" in element:
            text += self.ordered(
                element["sensorMetadata"], "sensorMetadata", _SENSOR_METADATA_ORDER
            )
        reports = element.get("sensorReport")
        if isinstance(reports, list):
            text += "".join(
                sorted(self.ordered(r, "sensorReport", _SENSOR_REPORT_ORDER) for r in reports)
            )
        return text + self.extensions_of(element, ("sensorMetadata", "sensorReport"))

    def field(self, name: str, value: JsonValue) -> str:
        """The pre-hash text of one standard top-level field ('' if it contributes nothing)."""
        items: list[str]
        if name in _EPC_LISTS:
            items = [f"epc={self.value(v)}" for v in _as_list(value)]
        elif name in _QUANTITY_LISTS:
            items = [self.quantity_element(v) for v in _as_list(value)]
        elif name == "certificationInfo":
            return "".join(sorted(f"{name}={self.value(v)}" for v in _as_list(value)))
        elif name == "eventTime":
            return f"{name}={canonical_utc(parse_time(value, name))}"
        elif name in ("bizStep", "disposition"):
            vocabulary = BizStep if name == "bizStep" else Disposition
            return f"{name}={self.term(vocabulary, value)}"
        elif name == "persistentDisposition":
            if not isinstance(value, dict):
                return ""
            items = [
                "".join(
                    sorted(f"{key}={self.term(Disposition, v)}" for v in _as_list(value.get(key)))
                )
                for key in ("set", "unset")
            ]
            return name + "".join(items) if any(items) else ""
        elif name in ("readPoint", "bizLocation"):
            return self.ordered(value, name, ("id",))
        elif name == "bizTransactionList":
            items = [
                self.typed_entry(v, "bizTransaction", BizTransactionType) for v in _as_list(value)
            ]
        elif name in ("sourceList", "destinationList"):
            id_key = name[: -len("List")]
            items = [self.typed_entry(v, id_key, SourceDestType) for v in _as_list(value)]
        elif name == "sensorElementList":
            items = [self.sensor_element(v) for v in _as_list(value)]
        elif name == "ilmd":
            return name + self.extensions_of(value, ()) if isinstance(value, dict) else ""
        else:
            text = self.value(value)
            return f"{name}={text}" if text else ""
        items = [i for i in items if i]
        return name + "".join(sorted(items)) if items else ""


def _as_list(value: JsonValue) -> list[JsonValue]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _gs1_voc(value: JsonValue) -> str:
    """Sensor measurement and alert types are GS1 Web Vocabulary terms when written bare."""
    text = value.strip() if isinstance(value, str) else ""
    return text if ":" in text or not text else "https://gs1.org/voc/" + text


def _cbv_component(value: JsonValue) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return text if ":" in text or not text else "https://ref.gs1.org/cbv/Comp-" + text


def prehash_segments(
    event: Mapping[str, JsonValue], namespaces: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The pre-hash string of a JSON-LD event as ``(field, text)`` pieces, in canonical order.

    Each user extension field is its own piece named ``"extension"``. Joining the texts gives
    :func:`prehash_string`. ``namespaces`` adds prefixes declared in the document's
    ``@context`` to :data:`STANDARD_NAMESPACES`.
    """
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise EventFieldError("type", f"expected an event type string, got {event_type!r}")
    render = _PreHash({**STANDARD_NAMESPACES, **(namespaces or {})})
    segments = [("eventType", f"eventType={event_type}")]
    for name in PROPERTY_ORDER:
        if name in event and (text := render.field(name, event[name])):
            segments.append((name, text))
    extensions = sorted(
        text
        for key, value in event.items()
        if key not in _NOT_HASHED and key not in PROPERTY_ORDER
        for text in render.extension(key, value)
    )
    segments.extend(("extension", text) for text in extensions)
    return segments


def prehash_string(
    event: Mapping[str, JsonValue], namespaces: Mapping[str, str] | None = None
) -> str:
    """The canonical CBV 2.0 pre-hash string of a JSON-LD event."""
    return "".join(text for _, text in prehash_segments(event, namespaces))


def hash_prehash(prehash: str) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` for a pre-hash string."""
    digest = hashlib.sha256(prehash.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"


def event_hash(
    event: Event | Mapping[str, JsonValue], *, namespaces: Mapping[str, str] | None = None
) -> str:
    """The CBV 2.0 event hash ID of a model event or of a JSON-LD event dict.

    ``namespaces`` are the prefixes declared in the enclosing document's ``@context``
    (:attr:`epcis.EPCISDocument.namespaces`); the standard EPCIS context's prefixes
    (``cbvmda``, ``gs1``, ...) are always known.
    """
    obj = event if isinstance(event, Mapping) else encode_event(event)
    return hash_prehash(prehash_string(obj, namespaces))
