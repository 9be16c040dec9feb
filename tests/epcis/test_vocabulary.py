"""CBV vocabularies and their three spellings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epcis import (
    BizStep,
    BizTransactionType,
    Disposition,
    ErrorReason,
    EventFieldError,
    SourceDestType,
)
from epcis.vocabulary import parse_term, web_uri


def _schema_enum(definition: str) -> set[str]:
    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "epcis/schema/EPCIS-JSON-Schema.json").read_text()
    )
    return set(schema["definitions"][definition]["anyOf"][1]["enum"])


@pytest.mark.parametrize(
    ("vocabulary", "definition"),
    [
        (BizStep, "bizStep"),
        (Disposition, "disposition"),
        (BizTransactionType, "bizTransaction-type"),
        (SourceDestType, "source-dest-type"),
        (ErrorReason, "error-reason"),
    ],
)
def test_enums_match_the_schema(vocabulary: type, definition: str) -> None:
    assert {member.value for member in vocabulary} == _schema_enum(definition)


@pytest.mark.parametrize(
    "value",
    [
        "receiving",
        "urn:epcglobal:cbv:bizstep:receiving",
        "https://ref.gs1.org/cbv/BizStep-receiving",
    ],
)
def test_three_spellings_of_one_term(value: str) -> None:
    assert parse_term(BizStep, value, "bizStep") is BizStep.RECEIVING


def test_web_uri() -> None:
    assert web_uri(Disposition.IN_TRANSIT) == "https://ref.gs1.org/cbv/Disp-in_transit"
    assert web_uri(SourceDestType.OWNING_PARTY) == "https://ref.gs1.org/cbv/SDT-owning_party"


@pytest.mark.parametrize(
    ("vocabulary", "value", "message"),
    [
        (BizStep, 5, "bizStep: expected a bizStep string, got 5"),
        (
            BizStep,
            "Receiving",
            "bizStep: expected a CBV bizStep such as 'accepting' or a URI, got 'Receiving'",
        ),
        (
            Disposition,
            "urn:epcglobal:cbv:disp:lost",
            "disposition: expected a CBV disposition, got unknown term "
            "'urn:epcglobal:cbv:disp:lost'",
        ),
        (
            Disposition,
            "urn:epcglobal:cbv:bizstep:shipping",
            "disposition: expected a CBV disposition such as "
            "'active' or a URI, got 'urn:epcglobal:cbv:bizstep:shipping'",
        ),
        (
            ErrorReason,
            "https://ref.gs1.org/cbv/ER-typo",
            "reason: expected a CBV error reason, got unknown term "
            "'https://ref.gs1.org/cbv/ER-typo'",
        ),
    ],
)
def test_bad_terms(vocabulary: type, value: object, message: str) -> None:
    field = message.split(":", 1)[0]
    with pytest.raises(EventFieldError) as caught:
        parse_term(vocabulary, value, field)
    assert str(caught.value) == message
