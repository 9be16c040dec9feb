"""EPCIS 2.0 / CBV 2.0 for serialtrace: the wire contract between edge agent and server.

* :mod:`epcis.model` -- immutable event values (ObjectEvent, AggregationEvent, ...);
* :mod:`epcis.vocabulary` -- Action, BizStep, Disposition, ... enums;
* :mod:`epcis.codec` -- JSON-LD documents to and from events;
* :mod:`epcis.validation` -- GS1's EPCIS 2.0 JSON Schema, compiled once;
* :mod:`epcis.hashing` -- the CBV 2.0 event hash used as ``eventID``;
* :mod:`epcis.factories` -- the events the project emits;
* :mod:`epcis.topics` -- MQTT topic names;
* :mod:`epcis.jsonsafe` -- the bounded JSON decoder every payload goes through;
* :mod:`epcis.broker` -- broker links: URL, credentials, TLS files, secrets files.

Exceptions (all ``ValueError``)::

    EpcisError
    ├── EventFieldError        a field of an event or document is missing or malformed
    ├── SchemaValidationError  a document fails the EPCIS 2.0 JSON Schema
    ├── TopicError             a malformed MQTT topic or site/line id
    ├── PayloadLimitError      not UTF-8 JSON, or past a limit of the bounded decoder
    └── BrokerLinkError        an unusable broker URL, credential or secrets file
"""

from __future__ import annotations

from epcis import topics
from epcis.codec import (
    EPCIS_CONTEXT,
    PROJECT_NAMESPACES,
    EPCISDocument,
    decode_document,
    decode_event,
    default_context,
    encode_document,
    encode_event,
    namespaces_from_context,
    parse_document,
)
from epcis.errors import (
    BrokerLinkError,
    EpcisError,
    EventFieldError,
    PayloadLimitError,
    SchemaValidationError,
    TopicError,
)
from epcis.factories import (
    commissioning_event,
    decommissioning_event,
    destroying_event,
    error_declaration,
    inspecting_event,
    packing_event,
    shipping_event,
    transformation_event,
    unpacking_event,
    with_event_id,
)
from epcis.hashing import event_hash, prehash_string
from epcis.jsonsafe import loads_bounded
from epcis.model import (
    AggregationEvent,
    AssociationEvent,
    BizTransaction,
    Destination,
    ErrorDeclaration,
    Event,
    Location,
    ObjectEvent,
    PersistentDisposition,
    QuantityElement,
    Source,
    TransactionEvent,
    TransformationEvent,
)
from epcis.validation import check_document, validate_document
from epcis.vocabulary import (
    Action,
    BizStep,
    BizTransactionType,
    Disposition,
    ErrorReason,
    SourceDestType,
)

__all__ = [
    "EPCIS_CONTEXT",
    "PROJECT_NAMESPACES",
    "Action",
    "AggregationEvent",
    "AssociationEvent",
    "BizStep",
    "BizTransaction",
    "BizTransactionType",
    "BrokerLinkError",
    "Destination",
    "Disposition",
    "EPCISDocument",
    "EpcisError",
    "ErrorDeclaration",
    "ErrorReason",
    "Event",
    "EventFieldError",
    "Location",
    "ObjectEvent",
    "PayloadLimitError",
    "PersistentDisposition",
    "QuantityElement",
    "SchemaValidationError",
    "Source",
    "SourceDestType",
    "TopicError",
    "TransactionEvent",
    "TransformationEvent",
    "check_document",
    "commissioning_event",
    "decode_document",
    "decode_event",
    "decommissioning_event",
    "default_context",
    "destroying_event",
    "encode_document",
    "encode_event",
    "error_declaration",
    "event_hash",
    "inspecting_event",
    "loads_bounded",
    "namespaces_from_context",
    "packing_event",
    "parse_document",
    "prehash_string",
    "shipping_event",
    "topics",
    "transformation_event",
    "unpacking_event",
    "validate_document",
    "with_event_id",
]
