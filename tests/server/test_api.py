"""The HTTP API on both engines: auth, EPCIS capture/query, trace, recall, verify, ship."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.ingest.validation import schema_errors
from server.store import write_transaction
from tests.server import factory as f
from tests.server.conftest import PASSWORD
from tests.server.qa.builders import record_batch, sign

Headers = dict[str, dict[str, str]]


def capture(client: TestClient, tokens: Headers, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/epcis/capture", content=f.payload(events), headers=tokens["device"])
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def shipped_pallet(client: TestClient, tokens: Headers) -> tuple[str, list[str], list[str]]:
    line = f.Line(units_per_case=2, cases_per_pallet=2)
    pallet, cases, serials = line.pallet()
    for document in line.documents:
        capture(client, tokens, document)
    capture(client, tokens, [f.shipping([pallet])])
    return pallet, cases, serials


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path", "role", "expected"),
    [
        ("get", "/batches", None, 401),
        ("get", "/batches", "device", 403),
        ("get", "/batches", "operator", 200),
        ("get", "/epcis/events", "operator", 403),
        ("get", "/epcis/events", "qa", 200),
        ("post", "/epcis/capture", "qa", 403),
        ("get", "/audit", "operator", 403),
        ("get", "/audit", "admin", 200),
        ("get", "/dead-letters", "qa", 200),
    ],
)
def test_roles(
    client: TestClient, tokens: Headers, method: str, path: str, role: str | None, expected: int
) -> None:
    headers = tokens[role] if role else {}
    assert getattr(client, method)(path, headers=headers).status_code == expected


def test_bad_token_and_bad_password(client: TestClient, tokens: Headers) -> None:
    response = client.get("/batches", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()["detail"]) == (
        401,
        "authorization: token unknown or expired",
    )
    response = client.post("/auth/token", data={"username": "qa1", "password": "wrong"})
    assert response.status_code == 401
    response = client.post("/auth/token", data={"username": "qa1", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["role"] == "qa"
    fresh = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/batches", headers=fresh).status_code == 200


def test_trace_by_path_and_by_any_code_form(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    by_path = client.get(f"/units/{f.GTIN}/{serials[0]}", headers=tokens["operator"]).json()
    assert by_path["lot"] == "LOT1"
    assert [p["sscc"] for p in by_path["parents"]] == [cases[0], pallet]
    assert by_path["shipment"]["destination"] == "urn:epc:id:sgln:4012345.00001.0"
    assert [e["biz_step"] for e in by_path["events"]] == [
        "commissioning",
        "packing",
        "packing",
        "shipping",
    ]
    forms = [
        f"01{f.GTIN}17270131" + f"10LOT1\x1d21{serials[0]}",
        f"(01){f.GTIN}(21){serials[0]}",
        f"https://id.gs1.org/01/{f.GTIN}/21/{serials[0]}",
        f.sgtin(serials[0]),
    ]
    for code in forms:
        response = client.get("/trace", params={"code": code}, headers=tokens["qa"])
        assert response.status_code == 200, (code, response.text)
        assert response.json() == by_path
    response = client.get("/trace", params={"code": "hello"}, headers=tokens["qa"])
    assert response.status_code == 422
    assert "code: expected a GS1 code with GTIN and serial" in response.json()["detail"]
    missing = client.get(f"/units/{f.GTIN}/NOPE", headers=tokens["qa"])
    assert missing.status_code == 404


def test_container_tree(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    tree = client.get(f"/containers/{pallet}", headers=tokens["operator"]).json()
    assert tree["level"] == "pallet"
    assert [c["sscc"] for c in tree["containers"]] == cases
    assert [u["serial"] for u in tree["containers"][0]["units"]] == serials[:2]
    bad = client.get("/containers/123", headers=tokens["operator"])
    assert bad.status_code == 422 and bad.json()["detail"].startswith("sscc: ")


def test_batches_recall_and_audit(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    batch = client.get(f"/batches/{f.GTIN}/LOT1", headers=tokens["operator"]).json()
    assert batch["counts"] == {"active": 4}
    assert batch["lines"][0]["commissioned"] == 4
    reach = client.get(f"/batches/{f.GTIN}/LOT1/recall", headers=tokens["qa"]).json()
    assert sorted(u["serial"] for u in reach["units"]) == sorted(serials)
    assert reach["shipments"][0]["customer"] == "urn:epc:id:pgln:4012345.00000"
    csv_text = client.get(
        f"/batches/{f.GTIN}/LOT1/recall", params={"format": "csv"}, headers=tokens["qa"]
    ).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 4
    assert {r["pallet"] for r in rows} == {pallet} and {r["case"] for r in rows} == set(cases)
    response = client.post(
        f"/batches/{f.GTIN}/LOT1/recall", json={"reason": "OOS assay"}, headers=tokens["qa"]
    )
    assert response.status_code == 200 and response.json()["disposition"] == "recalled"
    verdict = client.get(
        "/verify", params={"gtin": f.GTIN, "serial": serials[0]}, headers=tokens["operator"]
    ).json()
    assert verdict["result"] == "recalled"
    trail = client.get("/audit", headers=tokens["qa"]).json()
    assert [
        (e["actor"], e["action"], e["old_value"], e["new_value"], e["reason"])
        for e in trail
        if e["action"] == "recall"
    ] == [("qa1", "recall", {"disposition": "active"}, {"disposition": "recalled"}, "OOS assay")]
    assert client.get("/audit/verify", headers=tokens["qa"]).json()["intact"] is True
    assert (
        client.post(
            f"/batches/{f.GTIN}/LOT1/recall", json={"reason": "x y"}, headers=tokens["operator"]
        ).status_code
        == 403
    )


def test_audit_trail_cannot_be_changed(store: Engine, client: TestClient, tokens: Headers) -> None:
    shipped_pallet(client, tokens)
    client.post(f"/batches/{f.GTIN}/LOT1/recall", json={"reason": "drill"}, headers=tokens["qa"])
    for statement in ("UPDATE audit_trail SET reason = 'nothing'", "DELETE FROM audit_trail"):
        with pytest.raises(Exception, match="append-only"), write_transaction(store) as conn:
            conn.execute(text(statement))


@pytest.mark.parametrize(
    ("query", "result"),
    [
        ({}, "active"),
        ({"lot": "LOT1", "expiry": "270131"}, "active"),
        ({"lot": "LOT9"}, "suspect"),
        ({"expiry": "2027-02-28"}, "suspect"),
        ({"serial": "UNKNOWN"}, "unknown"),
    ],
)
def test_verify(client: TestClient, tokens: Headers, query: dict[str, str], result: str) -> None:
    capture(client, tokens, [f.commissioning(["VER1"])])
    params = {"gtin": f.GTIN, "serial": "VER1", **query}
    assert client.get("/verify", params=params, headers=tokens["device"]).json()["result"] == result


def test_verify_decommissioned_and_expired(client: TestClient, tokens: Headers) -> None:
    capture(
        client,
        tokens,
        [
            f.commissioning(["E1"], lot="OLD", expiry="2020-01-31"),
            f.commissioning(["E2"]),
            f.decommissioning(["E2"], "destroying"),
        ],
    )
    old = client.get("/verify", params={"gtin": f.GTIN, "serial": "E1"}, headers=tokens["qa"])
    assert old.json()["result"] == "expired"
    gone = client.get("/verify", params={"gtin": f.GTIN, "serial": "E2"}, headers=tokens["qa"])
    assert (gone.json()["result"], gone.json()["reason"]) == ("decommissioned", "destroying")


def test_post_shipments_produces_the_shipping_event(client: TestClient, tokens: Headers) -> None:
    line = f.Line(units_per_case=2, cases_per_pallet=1)
    pallet, _, serials = line.pallet()
    for document in line.documents:
        capture(client, tokens, document)
    body = {
        "ssccs": [pallet],
        "destination": "urn:epc:id:sgln:4012345.00002.0",
        "reason": "order 41",
    }
    quarantined = client.post("/shipments", json=body, headers=tokens["operator"])
    assert quarantined.status_code == 409, quarantined.text  # QA has not released the batch
    record_batch(client, tokens, line.lot, units=len(serials))
    assert sign(client, tokens, line.lot, "released").status_code == 200
    body = {
        "ssccs": [pallet],
        "destination": "urn:epc:id:sgln:4012345.00002.0",
        "customer": "urn:epc:id:pgln:4012345.00000",
        "read_point": "urn:epc:id:sgln:0614141.00009.4",
        "reason": "order 42",
    }
    response = client.post("/shipments", json=body, headers=tokens["operator"])
    assert response.status_code == 201, response.text
    trace = client.get(f"/units/{f.GTIN}/{serials[0]}", headers=tokens["qa"]).json()
    assert trace["shipment"]["destination"] == "urn:epc:id:sgln:4012345.00002.0"
    shipped = trace["events"][-1]
    assert shipped["event_id"] == response.json()["event_id"]
    # Site and line from the read point (not the user who posted it).
    assert (shipped["site"], shipped["line"]) == ("0614141.00009", "4")
    unknown = client.post(
        "/shipments", json={**body, "ssccs": [f.sscc(999)]}, headers=tokens["operator"]
    )
    assert unknown.status_code == 404 and f.sscc(999) in unknown.json()["detail"]


def test_capture_rejections(client: TestClient, tokens: Headers) -> None:
    bad = client.post("/epcis/capture", content=b"{", headers=tokens["device"])
    assert bad.status_code == 400 and bad.json()["detail"].startswith("payload: expected JSON")
    big = client.post("/epcis/capture", content=b" " * 300_000, headers=tokens["device"])
    assert big.status_code == 413
    letters = client.get("/dead-letters", headers=tokens["qa"]).json()
    assert [letter["source"] for letter in letters] == ["http", "http"]


def query(client: TestClient, tokens: Headers, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/epcis/events", params=params, headers=tokens["qa"])
    assert response.status_code == 200, response.text
    document = response.json()
    assert schema_errors(document) == []
    events: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def test_epcis_query_parameters_and_paging(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    assert len(query(client, tokens)) == 6
    assert {e["type"] for e in query(client, tokens, eventType="AggregationEvent")} == {
        "AggregationEvent"
    }
    assert len(query(client, tokens, EQ_bizStep="shipping")) == 1
    assert len(query(client, tokens, EQ_bizStep="urn:epcglobal:cbv:bizstep:packing")) == 3
    assert len(query(client, tokens, EQ_disposition="in_transit")) == 1
    assert len(query(client, tokens, MATCH_epc=f.sgtin(serials[0]))) == 2
    digital_link = f"https://id.gs1.org/01/{f.GTIN}/21/{serials[0]}"
    assert len(query(client, tokens, MATCH_epc=digital_link)) == 2
    assert len(query(client, tokens, MATCH_parentID=f.sscc_uri(pallet))) == 1
    assert len(query(client, tokens, MATCH_anyEPC=f.sscc_uri(cases[0]))) == 2
    assert len(query(client, tokens, MATCH_epc="urn:epc:idpat:sgtin:0614141.107346.*")) == 4
    assert len(query(client, tokens, GE_eventTime="2025-03-02T00:00:00Z")) == 1
    assert len(query(client, tokens, LT_eventTime="2025-03-01T08:00:30Z")) == 2
    first = client.get("/epcis/events", params={"perPage": 3}, headers=tokens["qa"])
    assert 'rel="next"' in first.headers["link"]
    next_url = first.headers["link"].split(";")[0].strip("<>")
    second = client.get(next_url, headers=tokens["qa"]).json()
    page_one = first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    page_two = second["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert {e["eventID"] for e in page_one}.isdisjoint({e["eventID"] for e in page_two})
    bad = client.get("/epcis/events", params={"EQ_colour": "red"}, headers=tokens["qa"])
    assert bad.status_code == 400 and bad.json()["detail"].startswith("EQ_colour: unsupported")
    bad_time = client.get(
        "/epcis/events", params={"GE_eventTime": "yesterday"}, headers=tokens["qa"]
    )
    assert bad_time.status_code == 400
    assert bad_time.json()["detail"] == (
        "GE_eventTime: expected an ISO 8601 date-time with offset, got 'yesterday'"
    )


def gs1_examples(refdata: Path) -> list[Path]:
    return sorted((refdata / "epcis" / "examples").glob("*.jsonld"))


def test_gs1_examples_are_captured_and_queried_back(
    client: TestClient, tokens: Headers, refdata: Path
) -> None:
    expected: dict[str, dict[str, Any]] = {}
    for path in gs1_examples(refdata):
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("type") == "EPCISQueryDocument":
            continue
        response = client.post(
            "/epcis/capture",
            content=path.read_bytes(),
            headers={**tokens["device"], "Content-Type": "application/ld+json"},
        )
        assert response.status_code == 202, (path.name, response.text)
        for event, event_id in zip(
            document["epcisBody"]["eventList"], response.json()["eventIDs"], strict=True
        ):
            expected.setdefault(event_id, event)  # GS1 reuses some IDs: first one wins
    returned: dict[str, dict[str, Any]] = {}
    token: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"perPage": 50}
        if token:
            params["nextPageToken"] = token
        response = client.get(
            "/epcis/events",
            params=params,
            # As captured: GS1's default answers EPC URIs as GS1 Digital Links.
            headers={**tokens["qa"], "GS1-EPC-Format": "Never_Translates"},
        )
        document = response.json()
        assert schema_errors(document) == []
        for event in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
            returned[event["eventID"]] = event
        link = response.headers.get("link")
        if not link:
            break
        token = link.split("nextPageToken=")[1].split(">")[0]
    assert set(returned) == set(expected)
    for event_id, event in expected.items():
        back = {k: v for k, v in returned[event_id].items() if k not in ("recordTime", "@context")}
        sent = {k: v for k, v in event.items() if k not in ("recordTime", "@context")}
        assert back == {**sent, "eventID": event_id}
