"""Turn a payload (bytes) into a checked EPCIS 2.0 document, or reject it with a reason.

Checks, in order: size limit, UTF-8 JSON object, ``type`` EPCISDocument (or
EPCISQueryDocument, whose events are captured the same way), GS1's EPCIS 2.0 JSON Schema
(``epcis/schema/EPCIS-JSON-Schema.json``), at least one event.

The schema check is on the hot path. The schema is compiled once with fastjsonschema (about
ten times faster than a jsonschema validator on a 100-unit document); only when that fast
check fails does the full validator run, which is the authority on the verdict and gives
every message with its JSON path. So a document is accepted exactly when jsonschema accepts
it, and a rejection names all the problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

import epcis
from server.errors import RejectedDocument

SCHEMA_PATH = Path(epcis.__file__).resolve().parent / "schema" / "EPCIS-JSON-Schema.json"
MAX_MESSAGES = 5


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@cache
def _fast_validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(_schema())


@cache
def _full_validator() -> jsonschema.protocols.Validator:
    schema = _schema()
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


# The schema checks each event of an eventList against every event type in turn (one
# if/then per type); a failed "if" costs fastjsonschema an exception, several per event.
# An event whose type is one of these is valid exactly when it is valid against that
# type's definition, so the fast path checks it against that definition alone.
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)


@cache
def _event_validators() -> dict[str, Callable[[Any], Any]]:
    schema = _schema()
    base = {key: schema[key] for key in ("$id", "$schema", "definitions")}
    return {
        name: fastjsonschema.compile({**base, "$ref": f"#/definitions/{name}"})
        for name in EVENT_TYPES
    }


def _fast_valid(document: dict[str, Any]) -> bool:
    """True if ``document`` is certainly valid; False means "ask the full check"."""
    body = document.get("epcisBody")
    if document.get("type") != "EPCISDocument" or not isinstance(body, dict):
        return False
    events = body.get("eventList")
    if not isinstance(events, list):
        return False
    validators = _event_validators()
    try:
        # The envelope with no events, then each event against its own type only.
        _fast_validator()({**document, "epcisBody": {**body, "eventList": []}})
        for event in events:
            kind = event.get("type") if isinstance(event, dict) else None
            check = validators.get(kind) if isinstance(kind, str) else None
            if check is None:
                return False
            check(event)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def schema_errors(document: Any) -> list[str]:
    """Every EPCIS schema violation in ``document`` as ``"path: message"`` (empty if valid)."""
    if isinstance(document, dict) and _fast_valid(document):
        return []
    try:
        _fast_validator()(document)
    except fastjsonschema.JsonSchemaException:
        pass
    else:
        return []
    validate_document = getattr(epcis, "validate_document", None)
    if validate_document is not None:
        return list(validate_document(document))
    messages = []
    for error in sorted(_full_validator().iter_errors(document), key=lambda e: e.path):
        path = "/".join(str(part) for part in error.absolute_path) or "(document)"
        messages.append(f"{path}: {error.message}")
    return messages


def decode_payload(payload: bytes, *, max_bytes: int) -> dict[str, Any]:
    """The EPCIS document in ``payload``; raises :class:`RejectedDocument` with the reason."""
    if len(payload) > max_bytes:
        raise RejectedDocument(
            f"payload: expected at most {max_bytes} bytes, got {len(payload)} bytes"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedDocument(
            f"payload: expected UTF-8 JSON, got invalid UTF-8 at byte {exc.start}"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RejectedDocument(f"payload: expected JSON, got a syntax error: {exc}") from exc
    except RecursionError as exc:
        raise RejectedDocument("payload: expected JSON, got nesting too deep") from exc
    return check_document(document)


def rejection(payload: bytes, max_bytes: int) -> str | None:
    """Why ``payload`` is not an acceptable EPCIS document; None if it is (picklable: the
    MQTT consumer runs it in a checker process)."""
    try:
        decode_payload(payload, max_bytes=max_bytes)
    except RejectedDocument as exc:
        return exc.reason
    return None


def warm_up() -> None:
    """Compile the schema validators (a checker process runs this once at start)."""
    _fast_validator()
    _event_validators()


def check_document(document: Any) -> dict[str, Any]:
    """``document`` if it is a valid EPCIS document with events, else :class:`RejectedDocument`."""
    if not isinstance(document, dict):
        raise RejectedDocument(f"document: expected a JSON object, got {type(document).__name__}")
    kind = document.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise RejectedDocument(
            f"type: expected 'EPCISDocument' or 'EPCISQueryDocument', got {_quote(kind)}"
        )
    errors = schema_errors(document)
    if errors:
        shown = "; ".join(errors[:MAX_MESSAGES])
        more = f" (and {len(errors) - MAX_MESSAGES} more)" if len(errors) > MAX_MESSAGES else ""
        raise RejectedDocument(f"EPCIS schema: {shown}{more}")
    if not event_list(document):
        raise RejectedDocument("epcisBody.eventList: expected at least one event, got none")
    return document


def event_list(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an EPCISDocument or EPCISQueryDocument (already schema-checked)."""
    body = document.get("epcisBody", {})
    if document.get("type") == "EPCISQueryDocument":
        body = body.get("queryResults", {}).get("resultsBody", {})
    events: list[dict[str, Any]] = body.get("eventList", [])
    return events


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 80 else text[:77] + "..."
