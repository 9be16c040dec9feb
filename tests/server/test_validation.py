"""The server's check of a payload: what it accepts is exactly what the EPCIS schema check
accepts (``epcis.validate_document``), for GS1's examples and broken copies of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import epcis
from server.errors import RejectedDocument
from server.ingest.validation import decode_payload, schema_errors
from tests.server import factory as f


def examples(refdata: Path) -> list[dict[str, Any]]:
    documents = []
    for path in sorted((refdata / "epcis" / "examples").glob("*.jsonld")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("type") == "EPCISDocument":
            documents.append(document)
    return documents


def mutations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Broken copies of ``document``: each breaks one rule of the schema in an event."""
    broken = []
    for index in range(len(document["epcisBody"]["eventList"])):
        for change in (
            lambda e: e.pop("eventTime"),
            lambda e: e.__setitem__("eventTime", "202.-03-01T08:00:00Z"),
            lambda e: e.__setitem__("eventTimeZoneOffset", "+25:00"),
            lambda e: e.__setitem__("action", "MAYBE"),
            lambda e: e.__setitem__("epcList", ["urn:a:same", "urn:a:same"]),
            lambda e: e.__setitem__("childEPCs", [1, 2]),
            lambda e: e.__setitem__("unknownField", 1),
            lambda e: e.__setitem__("type", "NoSuchEvent"),
        ):
            mutated = copy.deepcopy(document)
            change(mutated["epcisBody"]["eventList"][index])
            broken.append(mutated)
    return broken


def test_valid_documents_are_accepted(refdata: Path) -> None:
    documents = [*examples(refdata), f.document([f.commissioning(["F1", "F2"])])]
    assert len(documents) > 10
    for document in documents:
        assert schema_errors(document) == []
        assert decode_payload(json.dumps(document).encode(), max_bytes=1 << 20) == document


def test_broken_documents_are_refused_as_the_schema_check_refuses_them(refdata: Path) -> None:
    refused = 0
    for document in [*examples(refdata), f.document([f.commissioning(["F1"])])]:
        for mutated in mutations(document):
            errors = schema_errors(mutated)
            assert errors == epcis.validate_document(mutated)
            if errors:
                refused += 1
                with pytest.raises(RejectedDocument, match=r"^EPCIS schema: "):
                    decode_payload(json.dumps(mutated).encode(), max_bytes=1 << 20)
    assert refused > 100


@pytest.mark.parametrize("document", [{"type": "EPCISDocument"}, {"epcisBody": []}, {}])
def test_malformed_envelopes_are_refused(document: dict[str, Any]) -> None:
    assert schema_errors(document) != []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * 11, "payload: expected at most 10 bytes, got 11 bytes"),
        (b"\xff", "payload: expected UTF-8 JSON, got invalid UTF-8 at byte 0"),
        (b"[1,", "payload: expected JSON, got a syntax error"),
        (b"[]", "document: expected a JSON object, got list"),
    ],
)
def test_payload_problems_are_named(payload: bytes, reason: str) -> None:
    with pytest.raises(RejectedDocument) as caught:
        decode_payload(payload, max_bytes=10)
    assert caught.value.reason.startswith(reason)
