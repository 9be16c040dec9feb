"""Schema validation: messages name the JSON path; the compiled validators agree, and the
certain (jsonschema-rs) check never accepts what the authority refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import epcis
from epcis import validation

T = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def _document() -> dict[str, Any]:
    event = epcis.commissioning_event(
        ["urn:epc:id:sgtin:0950600.013435.A1B2C3"],
        event_time=T,
        read_point="urn:epc:id:sgln:0950600.00001.1",
        biz_location="urn:epc:id:sgln:0950600.00001.0",
        lot="LOT1",
    )
    return epcis.encode_document([event], creation_date=T)


EVENT = "$.epcisBody.eventList[0]"
Mutation = Callable[[dict[str, Any], dict[str, Any]], object]

CASES: list[tuple[str, Mutation, list[str]]] = [
    (
        "no eventTime",
        lambda d, e: e.pop("eventTime"),
        [f"{EVENT}: 'eventTime' is a required property"],
    ),
    (
        "bad action",
        lambda d, e: e.update(action="MOVE"),
        [
            f"{EVENT}.action: 'MOVE' is not one of ['OBSERVE', 'ADD', 'DELETE']",
            f"{EVENT}: {{'type': 'ObjectEvent', 'eventID': 'ni:///sha-256;a2ef3e003e...}}"
            " is not valid under any of the given schemas",
        ],
    ),
    (
        "CBV URN bizStep",
        lambda d, e: e.update(bizStep="urn:epcglobal:cbv:bizstep:shipping"),
        [
            f"{EVENT}.bizStep: 'urn:epcglobal:cbv:bizstep:shipping' is not valid under any of the "
            "given schemas",
        ],
    ),
    (
        "offset",
        lambda d, e: e.update(eventTimeZoneOffset="+2"),
        [
            f"{EVENT}.eventTimeZoneOffset: '+2' does not match "
            "'^([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$'",
        ],
    ),
    (
        "month 13",
        lambda d, e: e.update(eventTime="2024-13-01T00:00:00Z"),
        [
            f"{EVENT}.eventTime: '2024-13-01T00:00:00Z' is not a 'date-time'",
        ],
    ),
    (
        "EPC with a space",
        lambda d, e: e.update(epcList=["urn:epc:id:sgtin:0950600.013435.A B"]),
        [
            f"{EVENT}.epcList[0]: 'urn:epc:id:sgtin:0950600.013435.A B' is not a 'uri'",
        ],
    ),
    (
        "un-namespaced field",
        lambda d, e: e.update(lot="L1"),
        [
            f"{EVENT}: field name 'lot' is not allowed here (expected a standard EPCIS field or a "
            "namespaced extension such as 'ex:name')",
        ],
    ),
    (
        "no schemaVersion",
        lambda d, e: d.pop("schemaVersion"),
        ["$: 'schemaVersion' is a required property"],
    ),
    (
        "readPoint without id",
        lambda d, e: e["readPoint"].pop("id"),
        [
            f"{EVENT}.readPoint: 'id' is a required property",
        ],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, x, id=i) for i, m, x in CASES])
def test_errors_name_the_json_path(mutate: Mutation, expected: list[str]) -> None:
    doc = _document()
    mutate(doc, doc["epcisBody"]["eventList"][0])
    assert epcis.validate_document(doc) == expected


def test_valid_document_has_no_errors() -> None:
    assert epcis.validate_document(_document()) == []
    epcis.check_document(_document())


def test_check_document_raises_with_every_error() -> None:
    doc = _document()
    del doc["schemaVersion"], doc["creationDate"]
    with pytest.raises(epcis.SchemaValidationError) as caught:
        epcis.check_document(doc)
    assert caught.value.errors == [
        "$: 'schemaVersion' is a required property",
        "$: 'creationDate' is a required property",
    ]
    assert str(caught.value) == (
        "EPCIS document does not validate: $: 'schemaVersion' is a required property; "
        "$: 'creationDate' is a required property"
    )


@pytest.mark.parametrize("payload", [[], "text", 3, None, {"type": 7}])
def test_non_documents_are_refused_not_crashed(payload: object) -> None:
    assert epcis.validate_document(payload)


def test_validators_are_compiled_once() -> None:
    assert validation._fast_validator() is validation._fast_validator()
    assert validation._explaining_validator() is validation._explaining_validator()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2018", True),
        ("https://id.gs1.org/01/09506000134352/21/A%2FB", True),
        ("cbvmda:lotNumber", True),
        ("ni:///sha-256;abc?ver=CBV2.0", True),
        ("no-scheme", False),
        ("urn:epc:id:sgtin:0614141.107346.A B", False),
        ("https://example.com/%zz", False),
        ("https://example.com/ü", False),
    ],
)
def test_uri_format(value: str, ok: bool) -> None:
    assert validation.is_uri(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-05-01T08:30:00Z", True),
        ("2024-05-01T08:30:00.123456789+14:00", True),
        ("2024-05-01 08:30:00Z", False),
        ("2024-05-01T08:30:00", False),
        ("2024-02-30T08:30:00Z", False),
    ],
)
def test_date_time_format(value: str, ok: bool) -> None:
    assert validation.is_date_time(value) is ok


def test_fast_and_explaining_validators_agree_on_mutations() -> None:
    for _, mutate, _ in CASES:
        doc = copy.deepcopy(_document())
        mutate(doc, doc["epcisBody"]["eventList"][0])
        fast_ok = _fast_ok(doc)
        explained = list(validation._explaining_validator().iter_errors(doc))
        assert fast_ok is (not explained)


def _fast_ok(doc: object) -> bool:
    try:
        validation._fast_validator()(doc)
    except Exception:
        return False
    return True


# -- the certain (jsonschema-rs) check never accepts what the authority refuses ----------------


def _examples(refdata: Path) -> list[dict[str, Any]]:
    documents = []
    for path in sorted((refdata / "epcis" / "examples").glob("*.jsonld")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and document.get("type") == "EPCISDocument":
            documents.append(document)
    return documents


def _event_mutations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Broken copies of ``document``: each breaks one rule of the schema in one event."""
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda e: e.pop("eventTime"),
        lambda e: e.__setitem__("eventTime", "202.-03-01T08:00:00Z"),
        lambda e: e.__setitem__("eventTime", "2024-05-01T08:30:00Z\n"),
        lambda e: e.__setitem__("eventTimeZoneOffset", "+25:00"),
        lambda e: e.__setitem__("eventTimeZoneOffset", "+01:00\n"),
        lambda e: e.__setitem__("action", "MAYBE"),
        lambda e: e.__setitem__("action", "ADD\n"),
        lambda e: e.__setitem__("bizStep", "urn:epcglobal:cbv:bizstep:nonsense"),
        lambda e: e.__setitem__("disposition", "https://ns.gs1.org/cbv/Disp-nonsense"),
        lambda e: e.__setitem__("epcList", "not a list"),
        lambda e: e.__setitem__("epcList", ["urn:a:same", "urn:a:same"]),
        lambda e: e.__setitem__("epcList", ["urn:epc:id:sgtin:0614141.107346.A B"]),
        lambda e: e.__setitem__("epcList", ["http://[zz]/"]),
        lambda e: e.__setitem__("epcList", ["a:b#c#d"]),
        lambda e: e.__setitem__("childEPCs", [1, 2]),
        lambda e: e.__setitem__("readPoint", {"id": "no scheme"}),
        lambda e: e.__setitem__("unknownField", 1),
        lambda e: e.__setitem__("type", "NoSuchEvent"),
        lambda e: e.pop("type"),
    ]
    broken = []
    for index in range(len(document["epcisBody"]["eventList"])):
        for change in changes:
            mutated = copy.deepcopy(document)
            change(mutated["epcisBody"]["eventList"][index])
            broken.append(mutated)
    return broken


def test_valid_documents_take_the_certain_path(refdata: Path) -> None:
    documents = [*_examples(refdata), _document()]
    assert len(documents) > 10
    for document in documents:
        assert _fast_ok(document)
        assert validation.certainly_valid(document), document["epcisBody"]["eventList"][0]


def test_the_certain_check_accepts_nothing_the_authority_refuses(refdata: Path) -> None:
    checked = refused = 0
    for document in [*_examples(refdata), _document()]:
        for mutated in _event_mutations(document):
            if validation.certainly_valid(mutated):
                assert _fast_ok(mutated), mutated
            else:
                refused += 1
                # The verdict is then the authority's.
                assert (validation.validate_document(mutated) == []) is _fast_ok(mutated)
            checked += 1
    assert checked > 500 and refused > checked // 2


@pytest.mark.parametrize("document", [{"type": "EPCISDocument"}, {"epcisBody": []}, {}, [], 3])
def test_malformed_envelopes_are_refused(document: object) -> None:
    assert not validation.certainly_valid(document)
    assert validation.validate_document(document) != []


URI_CHARS = "abcAZ09:/?#[]@!$&'()*+,;=%-._~ \"<>\\^`{|}é\n\t"


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["urn:", "http://", "a:", "x-y.z+1:", ""]),
    st.text(alphabet=URI_CHARS, max_size=14),
)
def test_uri_values_the_certain_check_takes_are_uris(scheme: str, rest: str) -> None:
    value = scheme + rest
    doc = _document()
    doc["epcisBody"]["eventList"][0]["epcList"] = [value]
    if validation.certainly_valid(doc):
        assert validation.is_uri(value)
        assert _fast_ok(doc)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 24), st.sampled_from("0123456789-:TZtz.+ "), st.booleans()),
        max_size=3,
    )
)
def test_date_times_the_certain_check_takes_are_date_times(
    edits: list[tuple[int, str, bool]],
) -> None:
    value = list("2024-05-01T08:30:00Z")
    for position, char, insert in edits:
        if insert:
            value.insert(min(position, len(value)), char)
        elif value:
            value[min(position, len(value) - 1)] = char
    text = "".join(value)
    doc = _document()
    doc["epcisBody"]["eventList"][0]["eventTime"] = text
    if validation.certainly_valid(doc):
        assert validation.is_date_time(text)
        assert _fast_ok(doc)
