"""EPCIS XML (2.0, and 1.2 through :mod:`epcis.xml12`) to and from EPCIS 2.0 JSON-LD dicts.

Decoding checks the document against GS1's XSD (shipped in ``epcis/schema/xsd-*``) and turns
it into the JSON-LD document the rest of the project speaks; encoding writes an
``EPCISQueryDocument`` or ``EPCISDocument`` that validates against the same XSD. The mapping
is the one of the EPCIS 2.0 standard (JSON-LD and XML bindings):

* CBV values are bare words in JSON (``receiving``) and URNs in XML
  (``urn:epcglobal:cbv:bizstep:receiving``): business steps, dispositions, business
  transaction types, source/destination types, error reasons; sensor measurement types are
  ``Temperature`` in JSON and ``gs1:Temperature`` in XML;
* lists (``epcList``, ``quantityList``, ``bizTransactionList``, ...) are wrapper elements with
  one child per item; sensor metadata and reports are attributes;
* extension fields are namespaced elements; their JSON name is ``prefix:local`` with the
  prefix declared in the document's ``@context`` (``cbvmda`` and ``gs1`` are the standard's
  own); a value with ``xsi:type`` boolean or numeric becomes a JSON boolean or number and
  back, an element with children an object, repeated elements a list.

EPCIS 1.2 (``urn:epcglobal:epcis:xsd:1``) differs in where fields sit: ``eventID`` and
``errorDeclaration`` in ``baseExtension``; quantity lists, sources, destinations and ILMD of
an ObjectEvent (and their peers) in ``extension``; TransformationEvent inside the event
list's ``extension``. What EPCIS 1.2 has no element for (``sensorElementList``,
``persistentDisposition``, ``certificationInfo``, AssociationEvent) is written as an
extension element in the EPCIS 2.0 XML namespace and read back from it.

Parsing is hardened: no DTD loading, no entity expansion (a document declaring entities is
refused), no network, a size limit of the caller's and lxml's default tree limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, Final

from lxml import etree

from epcis.errors import EventFieldError

NS2: Final = "urn:epcglobal:epcis:xsd:2"
NS1: Final = "urn:epcglobal:epcis:xsd:1"
QUERY2: Final = "urn:epcglobal:epcis-query:xsd:2"
QUERY1: Final = "urn:epcglobal:epcis-query:xsd:1"
MASTERDATA2: Final = "urn:epcglobal:epcis-masterdata:xsd:2"
MASTERDATA1: Final = "urn:epcglobal:epcis-masterdata:xsd:1"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
CBVMDA_XML: Final = "urn:epcglobal:cbv:mda"
CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Namespaces the standard's JSON-LD context declares, as (prefix, XML namespace, JSON IRI).
STANDARD_NAMESPACES: Final = (
    ("cbvmda", CBVMDA_XML, "urn:epcglobal:cbv:mda:"),
    ("gs1", "https://gs1.org/voc/", "https://gs1.org/voc/"),
    ("epcis", "https://ref.gs1.org/epcis/", "https://ref.gs1.org/epcis/"),
    ("cbv", "https://ref.gs1.org/cbv/", "https://ref.gs1.org/cbv/"),
)
EVENT_TYPES: Final = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
VOCABULARIES: Final = {
    "bizStep": "urn:epcglobal:cbv:bizstep:",
    "disposition": "urn:epcglobal:cbv:disp:",
    "set": "urn:epcglobal:cbv:disp:",
    "unset": "urn:epcglobal:cbv:disp:",
    "reason": "urn:epcglobal:cbv:er:",
    "bizTransaction": "urn:epcglobal:cbv:btt:",
    "source": "urn:epcglobal:cbv:sdt:",
    "destination": "urn:epcglobal:cbv:sdt:",
}
WEB_VOCABULARIES: Final = {
    "urn:epcglobal:cbv:bizstep:": "https://ref.gs1.org/cbv/BizStep-",
    "urn:epcglobal:cbv:disp:": "https://ref.gs1.org/cbv/Disp-",
    "urn:epcglobal:cbv:er:": "https://ref.gs1.org/cbv/ER-",
    "urn:epcglobal:cbv:btt:": "https://ref.gs1.org/cbv/BTT-",
    "urn:epcglobal:cbv:sdt:": "https://ref.gs1.org/cbv/SDT-",
}
EPC_LISTS: Final = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS: Final = (
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
)
NUMERIC_SENSOR: Final = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
# Child order of each event type in EPCIS 2.0 XML (after the common fields).
COMMON: Final = (
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
)
ORDER_2: Final[Mapping[str, Sequence[str]]] = {
    "ObjectEvent": [
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "quantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "ilmd",
    ],
    "AggregationEvent": [
        "parentID",
        "childEPCs",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "childQuantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
    ],
    "AssociationEvent": [
        "parentID",
        "childEPCs",
        "childQuantityList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
    ],
    "TransactionEvent": [
        "bizTransactionList",
        "parentID",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "quantityList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
    ],
    "TransformationEvent": [
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "persistentDisposition",
        "ilmd",
    ],
}
# EPCIS 1.2: (fields in the event, fields in its <extension>); the rest are 2.0 extensions.
ORDER_1: Final[Mapping[str, tuple[Sequence[str], Sequence[str]]]] = {
    "ObjectEvent": (
        tuple(
            [
                "epcList",
                "action",
                "bizStep",
                "disposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
            ]
        ),
        ("quantityList", "sourceList", "destinationList", "ilmd"),
    ),
    "AggregationEvent": (
        tuple(
            [
                "parentID",
                "childEPCs",
                "action",
                "bizStep",
                "disposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
            ]
        ),
        ("childQuantityList", "sourceList", "destinationList"),
    ),
    "TransactionEvent": (
        tuple(
            [
                "bizTransactionList",
                "parentID",
                "epcList",
                "action",
                "bizStep",
                "disposition",
                "readPoint",
                "bizLocation",
            ]
        ),
        ("quantityList", "sourceList", "destinationList"),
    ),
    "TransformationEvent": (
        tuple(
            [
                "inputEPCList",
                "inputQuantityList",
                "outputEPCList",
                "outputQuantityList",
                "transformationID",
                "bizStep",
                "disposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "ilmd",
            ]
        ),
        (),
    ),
}
# EPC lists EPCIS 1.2 requires (written empty when the event has none, dropped when read).
REQUIRED_12: Final[Mapping[str, str]] = {
    "ObjectEvent": "epcList",
    "AggregationEvent": "childEPCs",
    "TransactionEvent": "epcList",
}
STANDARD_FIELDS: Final = frozenset(
    {"type", "@context", *COMMON, *(name for order in ORDER_2.values() for name in order)}
)


class XmlError(EventFieldError):
    """An EPCIS XML document that cannot be read (not XML, not valid against the XSD, or a
    structure the mapping does not know)."""


# -- parsing -------------------------------------------------------------------------------------


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )


@cache
def _schema(version: str, name: str) -> Any:
    folder = resources.files("epcis").joinpath("schema", f"xsd-{version}")
    path = folder.joinpath(name)
    with resources.as_file(path) as file:
        return etree.XMLSchema(etree.parse(str(file), _parser()))


def schema_for(namespace: str) -> Any:
    """The compiled XSD of a root element namespace."""
    table = {
        NS2: ("2.0", "EPCglobal-epcis-2_0.xsd"),
        QUERY2: ("2.0", "EPCglobal-epcis-query-2_0.xsd"),
        NS1: ("1.2", "EPCglobal-epcis-1_2.xsd"),
        QUERY1: ("1.2", "EPCglobal-epcis-query-1_2.xsd"),
        MASTERDATA2: ("2.0", "EPCglobal-epcis-masterdata-2_0.xsd"),
        MASTERDATA1: ("1.2", "EPCglobal-epcis-masterdata-1_2.xsd"),
    }
    if namespace not in table:
        raise XmlError(
            "document",
            "expected an EPCIS 2.0 or 1.2 document (namespace urn:epcglobal:epcis:xsd:2 or :1, "
            "or their query or master-data namespaces), "
            f"got namespace {namespace[:100]!r}",
        )
    return _schema(*table[namespace])


def parse(payload: bytes) -> Any:
    """The root element of an EPCIS XML document, checked against GS1's XSD."""
    if b"<!ENTITY" in payload:
        raise XmlError("document", "expected XML without entity declarations, got some")
    try:
        root = etree.fromstring(payload, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError("document", f"expected well-formed XML, got: {exc}") from None
    namespace = etree.QName(root).namespace or ""
    schema = schema_for(namespace)
    if not schema.validate(root):
        errors = [f"line {error.line}: {error.message}" for error in list(schema.error_log)[:5]]
        raise XmlError(
            "document", "expected a document valid against GS1's XSD, got " + "; ".join(errors)
        )
    return root


def decode_any(payload: bytes) -> dict[str, Any]:
    """An EPCIS 2.0 or 1.2 XML ``EPCISDocument`` (or ``EPCISQueryDocument``) as an EPCIS 2.0
    JSON-LD ``EPCISDocument``, the master data of its header included. An
    ``EPCISMasterDataDocument`` (which EPCIS 2.0 JSON has no document type for) becomes an
    ``EPCISDocument`` with its vocabularies in the header and no events."""
    root = parse(payload)
    namespace = etree.QName(root).namespace
    local = etree.QName(root).localname
    if local not in ("EPCISDocument", "EPCISQueryDocument", "EPCISMasterDataDocument"):
        raise XmlError(
            "document",
            f"expected EPCISDocument, EPCISQueryDocument or EPCISMasterDataDocument, got {local!r}",
        )
    version = "1.2" if namespace in (NS1, QUERY1, MASTERDATA1) else "2.0"
    return _Decoder(version=version).document(root)


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _children(element: Any) -> Iterator[Any]:
    for child in element:
        if isinstance(child.tag, str):
            yield child


def _text(element: Any) -> str:
    return str(element.text or "").strip()


def _number(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise XmlError("quantity", f"expected a finite number, got {text!r}")
    return (
        int(value) if value.is_integer() and "e" not in text.lower() and "." not in text else value
    )


def bare(value: str, prefix: str) -> str:
    """A CBV URN (or GS1 web URI) of the vocabulary ``prefix`` as the bare JSON word."""
    if value.startswith(prefix):
        return value[len(prefix) :]
    web = WEB_VOCABULARIES.get(prefix)
    if web is not None and value.startswith(web):
        return value[len(web) :]
    return value


def urn(value: str, prefix: str) -> str:
    """A bare CBV word as its URN; URIs and CURIEs as they are."""
    if ":" in value:
        return value
    return prefix + value


class _Decoder:
    def __init__(self, version: str) -> None:
        self.version = version
        self.context: dict[str, str] = {}

    def name(self, element_or_qname: Any, is_attribute: bool = False) -> str:
        qname = etree.QName(element_or_qname)
        namespace, local = qname.namespace, qname.localname
        if namespace is None:
            return str(local)
        for standard, xml_ns, _ in STANDARD_NAMESPACES:
            if namespace == xml_ns:
                return f"{standard}:{local}"
        prefix: str | None = None
        if not is_attribute and hasattr(element_or_qname, "prefix"):
            prefix = element_or_qname.prefix
        if not prefix:
            known = {ns: p for p, ns in self.context.items()}
            prefix = known.get(namespace) or f"ns{len(self.context) + 1}"
        self.context.setdefault(prefix, namespace)
        return f"{prefix}:{local}"

    def document(self, root: Any) -> dict[str, Any]:
        for prefix, namespace in (root.nsmap or {}).items():
            if (
                prefix
                and namespace not in (NS1, NS2, QUERY1, QUERY2, MASTERDATA1, MASTERDATA2, XSI)
                and not any(namespace == xml_ns for _, xml_ns, _ in STANDARD_NAMESPACES)
            ):
                self.context.setdefault(prefix, namespace)
        events: list[dict[str, Any]] = []
        vocabularies: list[dict[str, Any]] = []
        for part in _children(root):
            if _local(part) == "EPCISHeader" or (
                _local(part) == "EPCISBody" and _local(root) == "EPCISMasterDataDocument"
            ):
                # EPCISHeader/extension/EPCISMasterData/VocabularyList (2.0 and 1.2), or the
                # body of a master-data document
                for item in part.iter():
                    if isinstance(item.tag, str) and _local(item) == "VocabularyList":
                        vocabularies.extend(self.vocabulary_list(item))
            elif _local(part) == "EPCISBody":
                for item in part.iter():
                    if isinstance(item.tag, str) and _local(item) == "EventList":
                        events.extend(self.event_list(item))
        used = {name.split(":", 1)[0] for item in [*events, *vocabularies] for name in _keys(item)}
        context: list[Any] = [CONTEXT]
        declared = {p: ns for p, ns in self.context.items() if p in used}
        if declared:
            context.append(declared)
        document: dict[str, Any] = {
            "@context": context,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": root.get("creationDate"),
        }
        if vocabularies:
            document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
        document["epcisBody"] = {"eventList": events}
        return document

    def vocabulary_list(self, element: Any) -> Iterator[dict[str, Any]]:
        for vocabulary in _children(element):
            if _local(vocabulary) != "Vocabulary":
                continue
            entry: dict[str, Any] = {"type": vocabulary.get("type")}
            items = [
                self.vocabulary_element(item)
                for holder in _children(vocabulary)
                if _local(holder) == "VocabularyElementList"
                for item in _children(holder)
                if _local(item) == "VocabularyElement"
            ]
            if items:
                entry["vocabularyElementList"] = items
            yield entry

    def vocabulary_element(self, element: Any) -> dict[str, Any]:
        """``{"id", "attributes": [{"id", "attribute"}], "children": [...]}`` (the JSON
        binding's form); an attribute's value is its text, a number by its ``xsi:type``, or
        an object of its elements."""
        item: dict[str, Any] = {"id": element.get("id")}
        attributes: list[dict[str, Any]] = []
        children: list[str] = []
        for child in _children(element):
            local = _local(child)
            if local == "attribute":
                attribute: dict[str, Any] = {"id": child.get("id")}
                value = self.extension_value(child)
                if isinstance(value, bool):  # the JSON binding: a number, a string or an object
                    value = str(value).lower()
                if value != "":
                    attribute["attribute"] = value
                attributes.append(attribute)
            elif local == "children":
                children.extend(_text(k).strip() for k in _children(child) if _local(k) == "id")
        if attributes:
            item["attributes"] = attributes
        if children:
            item["children"] = children
        return item

    def event_list(self, element: Any) -> Iterator[dict[str, Any]]:
        for child in _children(element):
            local = _local(child)
            if local == "extension":
                yield from self.event_list(child)
            elif local in EVENT_TYPES:
                yield self.event(child, local)
            elif local == "QuantityEvent":
                raise XmlError(
                    "EventList", "expected EPCIS 2.0 event types, got a QuantityEvent (EPCIS 1.0)"
                )

    def event(self, element: Any, kind: str) -> dict[str, Any]:
        event: dict[str, Any] = {"type": kind}
        self.fields(element, event)
        return event

    def fields(self, element: Any, event: dict[str, Any]) -> None:
        for child in _children(element):
            qname = etree.QName(child)
            local = qname.localname
            if qname.namespace in (NS2,) and self.version == "1.2":
                # A 2.0 field carried as an extension element of a 1.2 document.
                if local in EVENT_TYPES:
                    continue
                self.field(local, child, event)
            elif qname.namespace is not None:
                _put(event, self.name(child), self.extension_value(child))
            elif local in ("baseExtension", "extension"):
                self.fields(child, event)
            else:
                self.field(local, child, event)

    def field(self, local: str, child: Any, event: dict[str, Any]) -> None:
        if local in EPC_LISTS:
            epcs = [_text(epc) for epc in _children(child)]
            if epcs or self.version == "2.0":  # 1.2 requires some lists: empty means none
                event[local] = epcs
        elif local in QUANTITY_LISTS:
            event[local] = [self.quantity(item) for item in _children(child)]
        elif local in ("bizStep", "disposition"):
            event[local] = bare(_text(child), VOCABULARIES[local])
        elif local in ("readPoint", "bizLocation"):
            event[local] = self.location(child)
        elif local == "bizTransactionList":
            event[local] = [self.typed(item, "bizTransaction") for item in _children(child)]
        elif local in ("sourceList", "destinationList"):
            key = local[: -len("List")]
            event[local] = [self.typed(item, key) for item in _children(child)]
        elif local == "sensorElementList":
            event[local] = [
                self.sensor_element(item)
                for item in _children(child)
                if _local(item) == "sensorElement"
            ]
        elif local == "persistentDisposition":
            disposition: dict[str, list[str]] = {}
            for item in _children(child):
                disposition.setdefault(_local(item), []).append(
                    bare(_text(item), VOCABULARIES["set"])
                )
            event[local] = disposition
        elif local == "ilmd":
            event[local] = self.extension_object(child)
        elif local == "errorDeclaration":
            event[local] = self.declaration(child)
        elif local in (
            "eventTime",
            "recordTime",
            "eventTimeZoneOffset",
            "eventID",
            "action",
            "parentID",
            "transformationID",
            "certificationInfo",
        ):
            event[local] = _text(child)
        else:
            raise XmlError(local, f"expected an EPCIS event field, got element {local!r}")

    def quantity(self, element: Any) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for child in _children(element):
            local = _local(child)
            if local == "quantity":
                if _text(child):
                    item["quantity"] = _number(_text(child))
            else:
                item[local] = _text(child)
        return item

    def location(self, element: Any) -> dict[str, Any]:
        location: dict[str, Any] = {}
        for child in _children(element):
            if etree.QName(child).namespace is None and _local(child) == "id":
                location["id"] = _text(child)
            elif etree.QName(child).namespace is None and _local(child) == "extension":
                location.update(self.extension_object(child))
            else:
                _put(location, self.name(child), self.extension_value(child))
        return location

    def typed(self, element: Any, key: str) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if element.get("type") is not None:
            item["type"] = bare(element.get("type"), VOCABULARIES[key])
        item[key] = _text(element)
        return item

    def sensor_element(self, element: Any) -> dict[str, Any]:
        sensor: dict[str, Any] = {}
        for child in _children(element):
            local = _local(child)
            if etree.QName(child).namespace is None and local == "sensorMetadata":
                sensor["sensorMetadata"] = self.attributes(child)
            elif etree.QName(child).namespace is None and local == "sensorReport":
                sensor.setdefault("sensorReport", []).append(self.attributes(child))
            elif etree.QName(child).namespace is None and local == "extension":
                sensor.update(self.extension_object(child))
            else:
                _put(sensor, self.name(child), self.extension_value(child))
        return sensor

    def attributes(self, element: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in element.attrib.items():
            name = self.name(key, is_attribute=True)
            if name in NUMERIC_SENSOR:
                values[name] = _number(value)
            elif name == "booleanValue":
                values[name] = value.strip().lower() in ("true", "1")
            elif name == "type" and value.startswith("gs1:"):
                values[name] = value[len("gs1:") :]
            else:
                values[name] = value
        if _text(element):
            values["@value"] = _text(element)
        return values

    def declaration(self, element: Any) -> dict[str, Any]:
        declaration: dict[str, Any] = {}
        for child in _children(element):
            local = _local(child)
            if etree.QName(child).namespace is not None:
                _put(declaration, self.name(child), self.extension_value(child))
            elif local == "reason":
                declaration["reason"] = bare(_text(child), VOCABULARIES["reason"])
            elif local == "correctiveEventIDs":
                declaration["correctiveEventIDs"] = [_text(item) for item in _children(child)]
            elif local == "extension":
                declaration.update(self.extension_object(child))
            else:
                declaration[local] = _text(child)
        return declaration

    def extension_object(self, element: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for child in _children(element):
            if etree.QName(child).namespace is None and _local(child) == "extension":
                values.update(self.extension_object(child))
                continue
            _put(values, self.name(child), self.extension_value(child))
        return values

    def extension_value(self, element: Any) -> Any:
        if any(True for _ in _children(element)):
            return self.extension_object(element)
        text = element.text or ""
        kind = element.get(f"{{{XSI}}}type") or ""
        kind = kind.split(":")[-1]
        if kind == "boolean":
            return text.strip().lower() in ("true", "1")
        if kind in ("integer", "int", "long", "short", "decimal", "double", "float"):
            try:
                return _number(text.strip())
            except (ValueError, XmlError):
                return text
        return text.strip()


def _put(values: dict[str, Any], name: str, value: Any) -> None:
    """Set ``values[name]``; a name seen before becomes a list of its values."""
    if name in values:
        previous = values[name]
        values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    else:
        values[name] = value


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and ":" in key and not key.startswith(("http", "urn")):
                yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


# -- encoding ------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self, version: str, context: Any) -> None:
        self.version = version
        self.namespaces: dict[str, str] = {}
        for prefix, xml_ns, _ in STANDARD_NAMESPACES:
            self.namespaces[prefix] = xml_ns
        for item in context if isinstance(context, list) else [context]:
            if isinstance(item, dict):
                for prefix, namespace in item.items():
                    if (
                        isinstance(prefix, str)
                        and isinstance(namespace, str)
                        and prefix.isidentifier()
                    ):
                        self.namespaces[prefix] = (
                            CBVMDA_XML if namespace == "urn:epcglobal:cbv:mda:" else namespace
                        )

    def qname(self, name: str) -> str:
        prefix, colon, local = name.partition(":")
        if not colon:
            raise XmlError(name, f"expected an extension field name 'prefix:name', got {name!r}")
        namespace = self.namespaces.get(prefix)
        if namespace is None:
            namespace = f"urn:x-undeclared-prefix:{prefix}"
            self.namespaces[prefix] = namespace
        if not local or not _xml_name(local):
            raise XmlError(name, f"expected an XML element name after the prefix, got {name!r}")
        return f"{{{namespace}}}{local}"

    def sub(self, parent: Any, tag: str, text: Any = None) -> Any:
        element = etree.SubElement(parent, tag)
        if text is not None:
            element.text = _xml_text(text)
        return element

    def event(self, parent: Any, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind not in ORDER_2:
            raise XmlError("type", f"expected an EPCIS event type, got {str(kind)[:60]!r}")
        if self.version == "1.2":
            self.event_12(parent, str(kind), event)
            return
        element = self.sub(parent, str(kind))
        for name in (*COMMON, *ORDER_2[str(kind)]):
            if name in event:
                self.field(element, name, event[name])
        self.extensions(element, event)

    def event_12(self, parent: Any, kind: str, event: Mapping[str, Any]) -> None:
        if kind == "AssociationEvent":
            # No 1.2 element: the event list's extension of extension takes any unqualified
            # element, which holds the event as in 2.0.
            holder = self.sub(self.sub(parent, "extension"), "extension")
            element = self.sub(holder, "AssociationEvent")
            for name in (*COMMON, *ORDER_2[kind]):
                if name in event:
                    self.field(element, name, event[name])
            self.extensions(element, event)
            return
        if kind == "TransformationEvent":
            parent = self.sub(parent, "extension")
        element = self.sub(parent, kind)
        for name in ("eventTime", "recordTime", "eventTimeZoneOffset"):
            if name in event:
                self.field(element, name, event[name])
        if "eventID" in event or "errorDeclaration" in event:
            base = self.sub(element, "baseExtension")
            for name in ("eventID", "errorDeclaration"):
                if name in event:
                    self.field(base, name, event[name])
        inline, extended = ORDER_1[kind]
        for name in inline:
            if name in event:
                self.field(element, name, event[name])
            elif REQUIRED_12.get(kind) == name:
                self.sub(element, name)
        present = [name for name in extended if name in event]
        if present:
            extension = self.sub(element, "extension")
            for name in present:
                self.field(extension, name, event[name])
        for name in ("certificationInfo", "sensorElementList", "persistentDisposition"):
            if name in event:
                self.field(element, name, event[name], namespace=NS2)
        self.extensions(element, event)

    def extensions(self, element: Any, event: Mapping[str, Any]) -> None:
        for name, value in event.items():
            if name not in STANDARD_FIELDS:
                self.extension(element, name, value)

    def field(self, parent: Any, name: str, value: Any, namespace: str | None = None) -> None:
        tag = f"{{{namespace}}}{name}" if namespace else name
        if name in EPC_LISTS:
            holder = self.sub(parent, tag)
            for epc in value:
                self.sub(holder, "epc", epc)
        elif name in QUANTITY_LISTS:
            holder = self.sub(parent, tag)
            for item in value:
                element = self.sub(holder, "quantityElement")
                self.sub(element, "epcClass", item.get("epcClass"))
                if "quantity" in item:
                    self.sub(element, "quantity", item["quantity"])
                if "uom" in item:
                    self.sub(element, "uom", item["uom"])
        elif name in ("bizStep", "disposition"):
            self.sub(parent, tag, urn(str(value), VOCABULARIES[name]))
        elif name in ("readPoint", "bizLocation"):
            element = self.sub(parent, tag)
            self.sub(element, "id", value.get("id"))
            for key, item in value.items():
                if key != "id":
                    self.extension(element, key, item)
        elif name == "bizTransactionList":
            holder = self.sub(parent, tag)
            for item in value:
                element = self.sub(holder, "bizTransaction", item.get("bizTransaction"))
                if item.get("type"):
                    element.set("type", urn(str(item["type"]), VOCABULARIES["bizTransaction"]))
        elif name in ("sourceList", "destinationList"):
            key = name[: -len("List")]
            holder = self.sub(parent, tag)
            for item in value:
                element = self.sub(holder, key, item.get(key))
                element.set("type", urn(str(item.get("type", "")), VOCABULARIES[key]))
        elif name == "sensorElementList":
            holder = self.sub(parent, tag)
            for item in value:
                self.sensor_element(holder, item)
        elif name == "persistentDisposition":
            element = self.sub(parent, tag)
            for key in ("unset", "set"):
                for item in value.get(key) or ():
                    self.sub(element, key, urn(str(item), VOCABULARIES["set"]))
        elif name == "ilmd":
            element = self.sub(parent, tag)
            for key, item in value.items():
                self.extension(element, key, item)
        elif name == "errorDeclaration":
            element = self.sub(parent, tag)
            if "declarationTime" in value:
                self.sub(element, "declarationTime", value["declarationTime"])
            if value.get("reason"):
                self.sub(element, "reason", urn(str(value["reason"]), VOCABULARIES["reason"]))
            if value.get("correctiveEventIDs"):
                holder = self.sub(element, "correctiveEventIDs")
                for event_id in value["correctiveEventIDs"]:
                    self.sub(holder, "correctiveEventID", event_id)
            for key, item in value.items():
                if key not in ("declarationTime", "reason", "correctiveEventIDs"):
                    self.extension(element, key, item)
        else:
            self.sub(parent, tag, value)

    def sensor_element(self, holder: Any, item: Mapping[str, Any]) -> None:
        element = self.sub(holder, "sensorElement")
        if isinstance(item.get("sensorMetadata"), dict):
            self.attributes(self.sub(element, "sensorMetadata"), item["sensorMetadata"])
        for report in item.get("sensorReport") or ():
            self.attributes(self.sub(element, "sensorReport"), report)
        for key, value in item.items():
            if key not in ("sensorMetadata", "sensorReport"):
                self.extension(element, key, value)

    def attributes(self, element: Any, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key == "@value":
                element.text = _xml_text(value)
                continue
            name = self.qname(key) if ":" in key else key
            if key == "type" and isinstance(value, str) and ":" not in value:
                value = "gs1:" + value
            element.set(name, _xml_text(value))

    def master_data(self, vocabularies: list[Any]) -> Any:
        """``EPCISHeader/extension/EPCISMasterData/VocabularyList`` (EPCIS 2.0), or None
        without vocabularies."""
        if not vocabularies:
            return None
        where = "epcisHeader.epcisMasterData.vocabularyList"
        header = etree.Element("EPCISHeader")
        master = self.sub(self.sub(header, "extension"), "EPCISMasterData")
        holder = self.sub(master, "VocabularyList")
        for index, vocabulary in enumerate(vocabularies):
            if not isinstance(vocabulary, Mapping) or not isinstance(vocabulary.get("type"), str):
                raise XmlError(f"{where}[{index}]", "expected an object with a type")
            element = self.sub(holder, "Vocabulary")
            element.set("type", _xml_text(vocabulary["type"]))
            items = vocabulary.get("vocabularyElementList") or []
            if not isinstance(items, list):
                raise XmlError(f"{where}[{index}].vocabularyElementList", "expected a list")
            if items:
                self.vocabulary_elements(self.sub(element, "VocabularyElementList"), items)
        return header

    def vocabulary_elements(self, holder: Any, items: list[Any]) -> None:
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise XmlError("vocabularyElementList", "expected objects with an id")
            element = self.sub(holder, "VocabularyElement")
            element.set("id", _xml_text(item["id"]))
            for attribute in item.get("attributes") or []:
                if not isinstance(attribute, Mapping) or not isinstance(attribute.get("id"), str):
                    raise XmlError("attributes", "expected objects with an id")
                node = self.sub(element, "attribute")
                node.set("id", _xml_text(attribute["id"]))
                value = attribute.get("attribute")
                if isinstance(value, Mapping):
                    for key, part in value.items():
                        self.extension(node, str(key), part, nested=True)
                elif value is not None:
                    node.text = _xml_text(value)
            children = item.get("children") or []
            if children:
                holder_of_children = self.sub(element, "children")
                for child in children:
                    self.sub(holder_of_children, "id", child)

    def extension(self, parent: Any, name: str, value: Any, nested: bool = False) -> None:
        if name.startswith("@"):
            return
        if isinstance(value, list):
            for item in value:
                self.extension(parent, name, item, nested)
            return
        tag = self.qname(name) if ":" in name or not nested else name
        if tag == name and not _xml_name(name):
            raise XmlError(name, f"expected an XML element name, got {name!r}")
        element = self.sub(parent, tag)
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("@value", "#text"):
                    element.text = _xml_text(item)
                else:
                    self.extension(element, key, item, nested=True)
        elif isinstance(value, bool):
            element.set(f"{{{XSI}}}type", "xsd:boolean")
            element.text = "true" if value else "false"
        elif isinstance(value, int | float):
            element.set(f"{{{XSI}}}type", "xsd:decimal")
            element.text = _xml_text(value)
        elif value is not None:
            element.text = _xml_text(value)


def _vocabularies_of(document: Mapping[str, Any]) -> list[Any]:
    """The master data of a JSON document's header (``epcisHeader.epcisMasterData``)."""
    header = document.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, Mapping) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, Mapping) else None
    return vocabularies if isinstance(vocabularies, list) else []


def _xml_name(text: str) -> bool:
    try:
        etree.QName(text)
    except ValueError:
        return False
    return True


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    # Characters XML 1.0 cannot carry are refused rather than written.
    for char in text:
        code = ord(char)
        if (
            (code < 0x20 and char not in "\t\n\r")
            or 0xD800 <= code <= 0xDFFF
            or code in (0xFFFE, 0xFFFF)
        ):
            raise XmlError("value", f"expected text XML can carry, got character U+{code:04X}")
    return text


def _namespace_map(encoder: _Encoder, root_prefix: str, root_ns: str) -> dict[str | None, str]:
    namespaces: dict[str | None, str] = {
        root_prefix: root_ns,
        "xsi": XSI,
        "xsd": "http://www.w3.org/2001/XMLSchema",
    }
    for prefix, namespace in encoder.namespaces.items():
        if prefix not in namespaces:
            namespaces[prefix] = namespace
    if encoder.version == "1.2":
        namespaces.setdefault("epcis2", NS2)
    return namespaces


def _events_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    body = document.get("epcisBody") or {}
    if document.get("type") == "EPCISQueryDocument":
        body = (body.get("queryResults") or {}).get("resultsBody") or {}
    events = body.get("eventList") or []
    return [event for event in events if isinstance(event, Mapping)]


def _context_of(document: Mapping[str, Any], events: list[Mapping[str, Any]]) -> list[Any]:
    context: list[Any] = []
    for item in [document.get("@context"), *(event.get("@context") for event in events)]:
        if isinstance(item, list):
            context.extend(item)
        elif item is not None:
            context.append(item)
    return context


def encode_query_document(document: Mapping[str, Any], version: str = "2.0") -> bytes:
    """A JSON-LD ``EPCISQueryDocument`` as EPCIS ``version`` XML (valid against the XSD)."""
    events = _events_of(document)
    encoder = _Encoder(version, _context_of(document, events))
    query_ns = QUERY2 if version == "2.0" else QUERY1
    # Build the events first: they declare the namespaces the root needs.
    holder = etree.Element("EventList")
    for event in events:
        encoder.event(holder, event)
    root = etree.Element(
        f"{{{query_ns}}}EPCISQueryDocument", nsmap=_namespace_map(encoder, "epcisq", query_ns)
    )
    root.set("schemaVersion", "2.0" if version == "2.0" else "1.2")
    root.set("creationDate", str(document.get("creationDate") or "1970-01-01T00:00:00Z"))
    body = etree.SubElement(root, "EPCISBody")
    results = etree.SubElement(body, f"{{{query_ns}}}QueryResults")
    query_results = (document.get("epcisBody") or {}).get("queryResults") or {}
    etree.SubElement(results, "queryName").text = str(
        query_results.get("queryName", "SimpleEventQuery")
    )
    if query_results.get("subscriptionID"):
        etree.SubElement(results, "subscriptionID").text = str(query_results["subscriptionID"])
    results_body = etree.SubElement(results, "resultsBody")
    results_body.append(holder)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def encode_document(document: Mapping[str, Any], version: str = "2.0") -> bytes:
    """A JSON-LD ``EPCISDocument`` as EPCIS ``version`` XML (valid against the XSD)."""
    events = _events_of(document)
    encoder = _Encoder(version, _context_of(document, events))
    namespace = NS2 if version == "2.0" else NS1
    holder = etree.Element("EventList")
    for event in events:
        encoder.event(holder, event)
    # EPCIS 1.2 carries master data in the header only beside a Standard Business Document
    # Header (sender, receiver, document identification), which a JSON document does not
    # have: a 1.2 document leaves the master data out.
    header = encoder.master_data(_vocabularies_of(document) if version == "2.0" else [])
    root = etree.Element(
        f"{{{namespace}}}EPCISDocument", nsmap=_namespace_map(encoder, "epcis", namespace)
    )
    root.set("schemaVersion", "2.0" if version == "2.0" else "1.2")
    root.set("creationDate", str(document.get("creationDate") or "1970-01-01T00:00:00Z"))
    if header is not None:
        root.append(header)
    body = etree.SubElement(root, "EPCISBody")
    body.append(holder)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def encode_capture_job(job: Mapping[str, Any]) -> bytes:
    """A capture job (``GET /capture/{id}``) as an ``epcis:EPCISCaptureJob`` element."""
    root = etree.Element(f"{{{NS2}}}EPCISCaptureJob", nsmap={"epcis": NS2})
    root.set("running", "true" if job.get("running") else "false")
    root.set("success", "true" if job.get("success") else "false")
    root.set("captureID", str(job.get("captureID", "")))
    etree.SubElement(root, "captureErrorBehaviour").text = str(
        job.get("captureErrorBehaviour", "rollback")
    )
    for name in ("createdAt", "finishedAt"):
        if job.get(name):
            etree.SubElement(root, name).text = str(job[name])
    errors = job.get("errors") or []
    if errors:
        holder = etree.SubElement(root, "errors")
        for error in errors:
            element = etree.SubElement(holder, "error")
            for name in ("type", "title", "status", "detail", "instance"):
                if name in error:
                    etree.SubElement(element, name).text = _xml_text(error[name])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
