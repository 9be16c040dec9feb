"""Master data: captured from EPCIS documents through POST /epcis/capture, edited by QA
(audited, QA role only), hostile vocabulary elements skipped without losing the others."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.masterdata import capture_master_data, names_for
from server.store import write_transaction
from tests.server import factory as f
from tests.server.test_api import Headers

WHOLESALER = "urn:epc:id:sgln:4098765.00010.0"
PARTY = "urn:epc:id:pgln:4098765.00000"


def master_data_document(vocabularies: list[Any], events: list[Any]) -> dict[str, Any]:
    document = f.document(events)
    document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return document


def location(urn: str, name: Any) -> dict[str, Any]:
    return {
        "id": urn,
        "attributes": [
            {"id": "urn:epcglobal:cbv:mda#name", "attribute": name},
            {"id": "urn:epcglobal:cbv:mda#city", "attribute": "Berlin"},
        ],
    }


def post(client: TestClient, tokens: Headers, document: dict[str, Any]) -> None:
    response = client.post(
        "/epcis/capture", content=json.dumps(document).encode(), headers=tokens["device"]
    )
    assert response.status_code == 202, response.text


def item(client: TestClient, tokens: Headers, urn: str) -> dict[str, Any]:
    response = client.get("/master-data/item", params={"urn": urn}, headers=tokens["operator"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_capture_stores_header_master_data(client: TestClient, tokens: Headers) -> None:
    document = master_data_document(
        [
            {
                "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                "vocabularyElementList": [
                    location(WHOLESALER, "Wholesale DC Berlin"),
                ],
            },
            {
                "type": "urn:epcglobal:epcis:vtype:Party",
                "vocabularyElementList": [location(PARTY, "Pharma Wholesale GmbH")],
            },
        ],
        [f.commissioning(["M1"])],
    )
    post(client, tokens, document)
    stored = item(client, tokens, WHOLESALER)
    assert stored["name"] == "Wholesale DC Berlin"
    assert stored["vocabulary"] == "urn:epcglobal:epcis:vtype:BusinessLocation"
    assert {"id": "urn:epcglobal:cbv:mda#city", "attribute": "Berlin"} in stored["attributes"]
    assert stored["source"] == "epcis" and stored["updated_by"] == "device1"
    assert item(client, tokens, PARTY)["name"] == "Pharma Wholesale GmbH"
    # The events of the document were captured as well.
    assert client.get(f"/units/{f.GTIN}/M1", headers=tokens["operator"]).status_code == 200
    listed = client.get("/master-data", params={"q": "wholesale"}, headers=tokens["operator"])
    assert listed.json()["total"] == 2


def test_qa_edits_a_name_audited_and_a_later_document_keeps_it(
    client: TestClient, tokens: Headers
) -> None:
    post(
        client,
        tokens,
        master_data_document(
            [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [location(WHOLESALER, "DC 10")],
                }
            ],
            [f.commissioning(["M2"])],
        ),
    )
    refused = client.put(
        "/master-data/item",
        params={"urn": WHOLESALER},
        json={"name": "Berlin DC", "reason": "typo in ERP"},
        headers=tokens["operator"],
    )
    assert refused.status_code == 403
    response = client.put(
        "/master-data/item",
        params={"urn": WHOLESALER},
        json={"name": "Berlin DC", "reason": "typo in ERP"},
        headers=tokens["qa"],
    )
    assert response.status_code == 200 and response.json()["source"] == "qa"
    [entry] = client.get("/audit", params={"entity": "master_data"}, headers=tokens["qa"]).json()
    assert (entry["actor"], entry["entity_key"], entry["reason"]) == (
        "qa1",
        WHOLESALER,
        "typo in ERP",
    )
    assert (entry["old_value"], entry["new_value"]) == ({"name": "DC 10"}, {"name": "Berlin DC"})
    post(
        client,
        tokens,
        master_data_document(
            [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [location(WHOLESALER, "DC 10 again")],
                }
            ],
            [f.commissioning(["M3"])],
        ),
    )
    assert item(client, tokens, WHOLESALER)["name"] == "Berlin DC"


def test_a_malformed_vocabulary_is_refused_naming_the_field(
    client: TestClient, tokens: Headers
) -> None:
    document = master_data_document(
        [{"vocabularyElementList": [location(WHOLESALER, "X")]}], [f.commissioning(["M4"])]
    )
    response = client.post(
        "/epcis/capture", content=json.dumps(document).encode(), headers=tokens["device"]
    )
    assert response.status_code == 400
    assert "vocabularyList[0]: 'type' is a required property" in response.json()["detail"]


def test_hostile_elements_are_skipped_and_the_others_kept(store: Engine) -> None:
    document = master_data_document(
        [
            {
                "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                "vocabularyElementList": [
                    "not an element",
                    {"attributes": []},  # no id
                    {"id": "urn:x:" + "x" * 600},  # too long
                    {"id": WHOLESALER, "attributes": "not a list"},
                    location(PARTY, {"@value": "Pharma Wholesale GmbH", "@language": "de"}),
                ],
            },
            {"vocabularyElementList": [location("urn:x:y", "Z")]},  # no type
            "not a vocabulary",
        ],
        [],
    )
    now = datetime.now(UTC)
    with write_transaction(store) as conn:
        count = capture_master_data(conn, document, user="device1", now=now)
        assert (count.stored, count.skipped) == (2, 5)
        assert names_for(conn, [WHOLESALER, PARTY, None, "urn:x:y"]) == {
            PARTY: "Pharma Wholesale GmbH"
        }
        assert capture_master_data(conn, "not a document", user="x", now=now).stored == 0


def test_bad_edits_name_the_field(client: TestClient, tokens: Headers) -> None:
    bad_urn = client.put(
        "/master-data/item",
        params={"urn": "no-colon-here"},
        json={"name": "X", "reason": "why not"},
        headers=tokens["qa"],
    )
    assert bad_urn.status_code == 422 and bad_urn.json()["detail"].startswith("urn: expected")
    no_reason = client.put(
        "/master-data/item",
        params={"urn": WHOLESALER},
        json={"name": "X", "reason": "  "},
        headers=tokens["qa"],
    )
    assert no_reason.status_code == 422
    missing = client.get("/master-data/item", params={"urn": PARTY}, headers=tokens["operator"])
    assert missing.status_code == 404 and "urn:" in missing.json()["detail"]
