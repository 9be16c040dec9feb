"""The schema check's fast path never accepts what GS1's schema rejects, and is taken for
valid documents (checked against the full jsonschema validator, the authority)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from server.ingest.validation import (
    _fast_valid,
    _fast_validator,
    _full_validator,
    schema_errors,
)
from tests.server import factory as f


def full_errors(document: Any) -> list[str]:
    return [error.message for error in _full_validator().iter_errors(document)]


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
            lambda e: e.__setitem__("eventTimeZoneOffset", "+25:00"),
            lambda e: e.__setitem__("action", "MAYBE"),
            lambda e: e.__setitem__("epcList", "not a list"),
            lambda e: e.__setitem__("epcList", ["same", "same"]),
            lambda e: e.__setitem__("childEPCs", [1, 2]),
            lambda e: e.__setitem__("unknownField", 1),
            lambda e: e.__setitem__("type", "NoSuchEvent"),
            lambda e: e.pop("type"),
        ):
            mutated = copy.deepcopy(document)
            change(mutated["epcisBody"]["eventList"][index])
            broken.append(mutated)
    return broken


def test_valid_documents_take_the_fast_path(refdata: Path) -> None:
    documents = [*examples(refdata), f.document([f.commissioning(["F1", "F2"])])]
    assert len(documents) > 10
    for document in documents:
        assert full_errors(document) == []
        assert _fast_valid(document), document.get("epcisBody", {}).get("eventList", [{}])[0]
        assert schema_errors(document) == []


def test_the_fast_path_accepts_nothing_the_schema_rejects(refdata: Path) -> None:
    checked = rejected = 0
    for document in [*examples(refdata), f.document([f.commissioning(["F1"])])]:
        for mutated in mutations(document):
            if _fast_valid(mutated):
                assert full_errors(mutated) == [], mutated
                _fast_validator()(mutated)  # the whole-document check agrees
            else:
                rejected += 1
            checked += 1
    assert checked > 100 and rejected > checked // 2


@pytest.mark.parametrize("document", [{"type": "EPCISDocument"}, {"epcisBody": []}, {}])
def test_malformed_envelopes_leave_the_fast_path(document: dict[str, Any]) -> None:
    assert not _fast_valid(document)
    assert schema_errors(document) != []
