"""Turn a payload (bytes) into a checked EPCIS 2.0 document, or reject it with a reason.

Checks, in order: size limit, UTF-8 JSON within the bounded decoder's limits
(:func:`epcis.loads_bounded`: nesting depth, no NaN/Infinity, integer digits), a JSON
object, ``type`` EPCISDocument (or EPCISQueryDocument, whose events are captured the same
way), GS1's EPCIS 2.0 JSON Schema (``epcis/schema/EPCIS-JSON-Schema.json``), at least one
event.

The schema check is :func:`epcis.validate_document`: a compiled Rust validator
(jsonschema-rs) accepts a valid document in about half a microsecond per unit; a document
it refuses goes to the authority (fastjsonschema) and, if that refuses it too, to the
explaining validator that names every problem with its JSON path.
"""

from __future__ import annotations

import json
from typing import Any

import epcis
from server.errors import RejectedDocument

MAX_MESSAGES = 5


def schema_errors(document: Any) -> list[str]:
    """Every EPCIS schema violation in ``document`` as ``"path: message"`` (empty if valid)."""
    return epcis.validate_document(document)


def decode_payload(
    payload: bytes, *, max_bytes: int, master_data_only: bool = False
) -> dict[str, Any]:
    """The EPCIS document in ``payload``; raises :class:`RejectedDocument` with the reason."""
    try:
        document = epcis.loads_bounded(payload, max_bytes=max_bytes)
    except epcis.PayloadLimitError as exc:
        raise RejectedDocument(str(exc)) from None
    return check_document(document, master_data_only=master_data_only)


def warm_up() -> None:
    """Compile the schema validators (the MQTT consumer does this before its first message)."""
    epcis.validate_document({})  # all three: the certain check refuses {}, so the others run


def check_document(document: Any, *, master_data_only: bool = False) -> dict[str, Any]:
    """``document`` if it is a valid EPCIS document with events, else :class:`RejectedDocument`.
    ``master_data_only``: an EPCISDocument without events is valid too when its header
    carries master data (what an EPCISMasterDataDocument becomes)."""
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
    if not event_list(document) and not (master_data_only and has_master_data(document)):
        raise RejectedDocument("epcisBody.eventList: expected at least one event, got none")
    return document


def has_master_data(document: dict[str, Any]) -> bool:
    """Whether a (schema-checked) document's header carries vocabularies."""
    header = document.get("epcisHeader") or {}
    return bool((header.get("epcisMasterData") or {}).get("vocabularyList"))


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
