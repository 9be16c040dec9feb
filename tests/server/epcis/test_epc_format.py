"""GS1-EPC-Format and GS1-CBV-XML-Format on query answers, both engines: identifiers of
objects, classes and places translated between EPC URI and GS1 Digital Link as asked (JSON
and XML, by query and by eventID), what cannot be translated left as captured, the answer
saying what was applied, an undefined value refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

import epcis
from server.production.tables import products
from server.store import write_transaction
from tests.server import factory as f

Headers = dict[str, dict[str, str]]
DL = "https://id.gs1.org"
OTHER_GTIN = "04012345123456"  # company prefix 4012345: no EPC URI in the answer names it
OTHER_DL = f"{DL}/01/{OTHER_GTIN}/21/X9"
OTHER_URN = "urn:epc:id:sgtin:4012345.012345.X9"
PRIVATE = "urn:example:private:thing:1"
LOT_CLASS = "urn:epc:class:lgtin:0614141.107346.LOT1"
SITE = "urn:epc:id:sgln:0614141.00001.0"
SITE_DL = f"{DL}/414/0614141000012"
SOURCE = "urn:epc:id:pgln:0614141.00001"
DOCUMENT = "urn:epc:id:gdti:0614141.00001.1"


def ours_dl(serial: str) -> str:
    return f"{DL}/01/{f.GTIN}/21/{serial}"


RECEIVING = {
    "type": "ObjectEvent",
    "eventID": "urn:uuid:fmt-1",
    "eventTime": "2031-06-01T10:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "OBSERVE",
    "bizStep": "receiving",
    "disposition": "in_progress",
    "epcList": [f.sgtin("F1"), OTHER_DL, PRIVATE],
    "quantityList": [{"epcClass": LOT_CLASS, "quantity": 2}],
    "readPoint": {"id": SITE},
    "bizLocation": {"id": SITE_DL},
    "bizTransactionList": [{"type": "po", "bizTransaction": DOCUMENT}],
    "sourceList": [{"type": "owning_party", "source": SOURCE}],
}
PACKING = {
    "type": "AggregationEvent",
    "eventID": "urn:uuid:fmt-2",
    "eventTime": "2031-06-01T11:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "ADD",
    "parentID": f.sscc_uri(f.sscc(41)),
    "childEPCs": [ours_dl("F2"), "urn:epc:idpat:sgtin:0614141.107346.*"],
}


@pytest.fixture
def loaded(client: TestClient, tokens: Headers) -> TestClient:
    response = client.post(
        "/epcis/capture", json=f.document([RECEIVING, PACKING]), headers=tokens["admin"]
    )
    assert response.status_code == 202, response.text
    return client


def answer(
    client: TestClient, tokens: Headers, headers: dict[str, str], path: str = "/epcis/events"
) -> tuple[list[dict[str, Any]], Any]:
    response = client.get(
        path,
        params={"orderBy": "eventTime", "orderDirection": "ASC"},
        headers={**tokens["qa"], **headers},
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert not epcis.validate_document(document)
    found: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found, response.headers


def identifiers(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in event.items()
        if key
        in (
            "epcList",
            "childEPCs",
            "parentID",
            "quantityList",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
        )
    }


AS_DIGITAL_LINK = [
    {
        "epcList": [ours_dl("F1"), OTHER_DL, PRIVATE],
        "quantityList": [{"epcClass": f"{DL}/01/{f.GTIN}/10/LOT1", "quantity": 2}],
        "readPoint": {"id": SITE_DL},
        "bizLocation": {"id": SITE_DL},
        "bizTransactionList": [{"type": "po", "bizTransaction": f"{DL}/253/06141410000121"}],
        "sourceList": [{"type": "owning_party", "source": f"{DL}/417/0614141000012"}],
    },
    {
        "parentID": f"{DL}/00/{f.sscc(41)}",
        "childEPCs": [ours_dl("F2"), "urn:epc:idpat:sgtin:0614141.107346.*"],
    },
]
AS_CAPTURED = [identifiers(RECEIVING), identifiers(PACKING)]
AS_URN = [
    {**AS_CAPTURED[0], "bizLocation": {"id": SITE}},  # OTHER_DL: its prefix is not known
    {**AS_CAPTURED[1], "childEPCs": [f.sgtin("F2"), "urn:epc:idpat:sgtin:0614141.107346.*"]},
]


@pytest.mark.parametrize(
    ("asked", "applied", "expected"),
    [
        (None, "Always_GS1_Digital_Link", AS_DIGITAL_LINK),  # GS1's default
        ("Always_GS1_Digital_Link", "Always_GS1_Digital_Link", AS_DIGITAL_LINK),
        ("Always_EPC_URN", "Always_EPC_URN", AS_URN),
        ("Never_Translates", "Never_Translates", AS_CAPTURED),
        ("No_Preference", "Never_Translates", AS_CAPTURED),
    ],
)
def test_epc_format(
    loaded: TestClient,
    tokens: Headers,
    asked: str | None,
    applied: str,
    expected: list[dict[str, Any]],
) -> None:
    headers = {} if asked is None else {"GS1-EPC-Format": asked}
    found, answered = answer(loaded, tokens, headers)
    assert [identifiers(event) for event in found] == expected
    assert answered["GS1-EPC-Format"] == applied
    assert answered["GS1-CBV-XML-Format"] == "Never_Translates"  # JSON: never
    # The same by eventID.
    [one], by_id = answer(loaded, tokens, headers, "/epcis/events/urn%3Auuid%3Afmt-2")
    assert identifiers(one) == expected[1] and by_id["GS1-EPC-Format"] == applied


def test_a_product_on_record_gives_its_company_prefix(
    loaded: TestClient, tokens: Headers, store: Engine
) -> None:
    add_product(store, OTHER_GTIN)
    found, _ = answer(loaded, tokens, {"GS1-EPC-Format": "Always_EPC_URN"})
    assert found[0]["epcList"] == [f.sgtin("F1"), OTHER_URN, PRIVATE]


def test_listings(loaded: TestClient, tokens: Headers, store: Engine) -> None:
    def listing(path: str, asked: str | None) -> tuple[list[str], str]:
        headers = {} if asked is None else {"GS1-EPC-Format": asked}
        response = loaded.get(path, headers={**tokens["qa"], **headers})
        assert response.status_code == 200, response.text
        return response.json()["member"], response.headers["GS1-EPC-Format"]

    assert listing("/epcis/readPoints", None) == ([SITE_DL], "Always_GS1_Digital_Link")
    assert listing("/epcis/readPoints", "Never_Translates") == ([SITE], "Never_Translates")
    # Captured as a Digital Link; its company prefix is known from nothing yet.
    assert listing("/epcis/bizLocations", "Always_EPC_URN") == ([SITE_DL], "Always_EPC_URN")
    assert listing("/epcis/bizLocations", "No_Preference") == ([SITE_DL], "Never_Translates")
    epcs, applied = listing("/epcis/epcs", None)
    assert ours_dl("F1") in epcs and applied == "Always_GS1_Digital_Link"
    epcs, applied = listing("/epcis/epcs", "Always_EPC_URN")
    assert f.sgtin("F1") in epcs and applied == "Always_EPC_URN"
    assert OTHER_DL in epcs  # company prefix 4012345: known from nothing yet
    add_product(store, OTHER_GTIN)
    epcs, _ = listing("/epcis/epcs", "Always_EPC_URN")
    assert OTHER_URN in epcs
    add_product(store, f.GTIN)
    assert listing("/epcis/bizLocations", "Always_EPC_URN") == ([SITE], "Always_EPC_URN")


def add_product(store: Engine, gtin: str) -> None:
    with write_transaction(store) as conn:
        conn.execute(
            insert(products).values(
                gtin=gtin, company_prefix_length=7, name="Other", strength="1 mg",
                markets="[]", shelf_life_months=12, shelf_life_days=0, expiry_rule="exact",
                units_per_case=10, cases_per_pallet=10, unit_template="u", case_template="c",
                pallet_template="p", serial_alphabet="numeric", serial_length=12, active=1,
                updated_at=datetime.now(UTC), updated_by="test",
            )
        )  # fmt: skip


def test_xml_answers_translate_identifiers_and_cbv_values(
    loaded: TestClient, tokens: Headers
) -> None:
    def xml(headers: dict[str, str]) -> tuple[str, Any]:
        response = loaded.get(
            "/epcis/events",
            params={"EQ_eventID": "urn:uuid:fmt-1"},
            headers={**tokens["qa"], "Accept": "application/xml", **headers},
        )
        assert response.status_code == 200, response.text
        return response.text, response.headers

    text, headers = xml({"GS1-EPC-Format": "Always_EPC_URN"})
    assert f"<epc>{f.sgtin('F1')}</epc>" in text and f"<id>{SITE}</id>" in text
    assert "<bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>" in text
    assert headers["GS1-CBV-XML-Format"] == "Never_Translates"
    text, headers = xml({"GS1-CBV-XML-Format": "Always_Web_URI"})
    assert f"<epc>{ours_dl('F1')}</epc>" in text
    assert "<bizStep>https://ref.gs1.org/cbv/BizStep-receiving</bizStep>" in text
    assert "<disposition>https://ref.gs1.org/cbv/Disp-in_progress</disposition>" in text
    assert 'type="https://ref.gs1.org/cbv/BTT-po"' in text
    assert headers["GS1-CBV-XML-Format"] == "Always_Web_URI"
    text, headers = xml({"GS1-CBV-XML-Format": "Always_URN"})
    assert "<disposition>urn:epcglobal:cbv:disp:in_progress</disposition>" in text
    assert headers["GS1-CBV-XML-Format"] == "Always_URN"


def test_a_location_is_found_in_either_form(loaded: TestClient, tokens: Headers) -> None:
    """A read point or business location taken from an answer (a Digital Link by default)
    finds the events that captured it as an EPC URI, and the other way round."""

    def ids(**params: str) -> list[str]:
        response = loaded.get("/epcis/events", params=params, headers=tokens["qa"])
        assert response.status_code == 200, response.text
        found = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return [event["eventID"] for event in found]

    assert ids(EQ_readPoint=SITE_DL) == ["urn:uuid:fmt-1"]  # captured as EPC URI
    assert ids(EQ_bizLocation=SITE) == ["urn:uuid:fmt-1"]  # captured as Digital Link
    assert ids(EQ_bizLocation=SITE_DL) == ["urn:uuid:fmt-1"]
    assert ids(EQ_readPoint="https://id.gs1.org/414/0614141000029") == []
    for path in (f"/epcis/readPoints/{quote(SITE_DL, safe='')}", f"/epcis/bizLocations/{SITE}"):
        assert loaded.get(path, headers=tokens["qa"]).status_code == 200, path
        response = loaded.get(path + "/events", headers=tokens["qa"])
        assert response.status_code == 200, response.text
        found = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert [event["eventID"] for event in found] == ["urn:uuid:fmt-1"], path


@pytest.mark.parametrize(
    ("name", "value"),
    [("GS1-EPC-Format", "Sometimes"), ("GS1-CBV-XML-Format", "Always_EPC_URN")],
)
def test_undefined_format_is_refused(
    loaded: TestClient, tokens: Headers, name: str, value: str
) -> None:
    response = loaded.get("/epcis/events", headers={**tokens["qa"], name: value})
    assert response.status_code == 406, response.text
    assert response.json()["type"] == "epcisException:NotAcceptableException"
    assert response.json()["detail"].startswith(f"{name}: expected one of No_Preference, ")


def test_discovery_announces_any_format(client: TestClient, tokens: Headers) -> None:
    response = client.options("/epcis/events", headers=tokens["qa"])
    assert response.status_code == 204
    assert response.headers["GS1-EPC-Format"] == "No_Preference"
    assert response.headers["GS1-CBV-XML-Format"] == "No_Preference"
