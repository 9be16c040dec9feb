"""GS1's EPCIS 2.0 examples (shared/refdata/epcis/examples) against our schema check and codec.

Validation, with the ``uri`` and ``date-time`` formats checked (see epcis.validation):

===============================  =====  =============================================
example                          valid  decodes and round-trips
===============================  =====  =============================================
the 46 ``EPCISDocument`` files   yes    yes, modulo the normalisations below
(Object, Aggregation,
Association, Transaction and
Transformation events; Digital
Link IDs, error declarations,
sensor data, user extensions)
``EPCISQueryDocument.jsonld``    yes    refused with a clear EventFieldError: a query
                                        answer, not a capture document
===============================  =====  =============================================

Every example validates: none had to be excluded. Round-trip normalisations (see
epcis.codec): timestamps are compared as instants (``…47.0Z`` is written ``…47.000Z``), and an
empty ``epcList`` next to a ``sensorElementList`` or ``quantityList`` is dropped.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import epcis
from epcis.hashing import event_hash
from tests.epcis.examples import EXAMPLE_NAMES

QUERY_DOCUMENT = "EPCISQueryDocument.jsonld"


def _names(refdata: Path) -> list[str]:
    return sorted(p.name for p in (refdata / "epcis" / "examples").glob("*.jsonld"))


def _load(refdata: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (refdata / "epcis" / "examples" / name).read_text(encoding="utf-8")
    )
    return loaded


def test_the_table_covers_every_example(refdata: Path) -> None:
    assert _names(refdata) == EXAMPLE_NAMES
    assert len(EXAMPLE_NAMES) == 47


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_validates(refdata: Path, name: str) -> None:
    assert epcis.validate_document(_load(refdata, name)) == []


_TIME_KEYS = {"eventTime", "recordTime", "declarationTime", "creationDate"}


def _normalised(value: Any, key: str = "") -> Any:
    """The documented round-trip normalisations, applied to either side."""
    if isinstance(value, dict):
        out = {k: _normalised(v, k) for k, v in value.items()}
        if out.get("epcList") == [] and ("sensorElementList" in out or "quantityList" in out):
            del out["epcList"]
        return out
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if key in _TIME_KEYS and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if n != QUERY_DOCUMENT])
def test_examples_round_trip(refdata: Path, name: str) -> None:
    original = _load(refdata, name)
    document = epcis.parse_document(original)
    encoded = document.to_json()
    assert _normalised(encoded) == _normalised(original)
    assert epcis.validate_document(encoded) == []
    assert epcis.decode_document(encoded) == list(document.events)
    # the hash is a property of the event, not of its serialisation
    for before, after in zip(
        original["epcisBody"]["eventList"], encoded["epcisBody"]["eventList"], strict=True
    ):
        assert event_hash(after, namespaces=document.namespaces) == event_hash(
            before, namespaces=document.namespaces
        )


def test_query_document_is_refused_with_a_clear_error(refdata: Path) -> None:
    with pytest.raises(epcis.EventFieldError) as caught:
        epcis.decode_document(_load(refdata, QUERY_DOCUMENT))
    assert str(caught.value) == "type: expected 'EPCISDocument', got 'EPCISQueryDocument'"


def test_decoded_example_has_the_expected_values(refdata: Path) -> None:
    (event,) = epcis.decode_document(_load(refdata, "Example_9.6.2-ObjectEvent.jsonld"))
    assert isinstance(event, epcis.ObjectEvent)
    assert event.action is epcis.Action.OBSERVE
    assert event.biz_step is epcis.BizStep.RECEIVING
    assert event.disposition is epcis.Disposition.IN_PROGRESS
    assert event.quantity_list == (
        epcis.QuantityElement("urn:epc:class:lgtin:4012345.012345.998877", 200, "KGM"),
    )
    assert event.sources[0] == epcis.Source(
        "urn:epc:id:sgln:4012345.00001.0", epcis.SourceDestType.POSSESSING_PARTY
    )
    assert event.extensions == {"example:myField": "Example of a vendor/user extension"}
