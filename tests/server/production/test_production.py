"""Products, lot rules and lots, batch orders over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server import audit
from server.auth import issue_token
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction, write_transaction
from server.store.schema import batches
from tests.server import factory as f
from tests.server.serials.conftest import add_device

GTIN = "09506000134352"
OTHER = "09506000134369"
PRODUCT = {
    "company_prefix_length": 7,
    "name": "Paracetamol 500 mg tablets",
    "strength": "500 mg",
    "markets": ["de", "AT"],
    "shelf_life_months": 24,
    "expiry_rule": "end_of_month",
    "units_per_case": 20,
    "cases_per_pallet": 10,
    "reason": "new product",
}


def device_line(
    store: Engine, client: TestClient, admin: dict[str, str], name: str, line: str
) -> dict[str, str]:
    user = add_device(store, name)
    answer = client.post(
        "/serials/lines",
        json={"username": name, "site": "plant1", "line": line, "reason": "line PC"},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    with write_transaction(store) as conn:
        token = issue_token(conn, user, now=datetime.now(UTC), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def setup(client: TestClient, tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    qa = tokens["qa"]
    assert client.put(f"/production/products/{GTIN}", json=PRODUCT, headers=qa).status_code == 200
    rule = {"pattern": "{LINE}{YY}{JJJ}{SEQ:2}", "line_code": "L3", "timezone": "Europe/Berlin",
            "reason": "line 3 rule"}  # fmt: skip
    answer = client.put("/production/lot-rules/plant1/line3", json=rule, headers=qa)
    assert answer.status_code == 200, answer.text
    return tokens


def test_products_are_validated_audited_and_imported(
    client: TestClient, store: Engine, tokens: dict[str, dict[str, str]]
) -> None:
    qa = tokens["qa"]
    bad = client.put(
        f"/production/products/{GTIN}",
        json={**PRODUCT, "markets": ["Germany"], "shelf_life_months": 0, "serial_length": 4},
        headers=qa,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "product: markets: expected ISO 3166-1 alpha-2 country codes such as DE, got ['GERMANY']"
    )
    created = client.put(f"/production/products/{GTIN}", json=PRODUCT, headers=qa).json()
    assert (created["markets"], created["changed"]) == (["AT", "DE"], True)
    again = client.put(f"/production/products/{GTIN}", json=PRODUCT, headers=qa).json()
    assert again["changed"] is False
    changed = {**PRODUCT, "shelf_life_months": 36, "reason": "stability data extended"}
    client.put(f"/production/products/{GTIN}", json=changed, headers=qa)
    operator = client.put(f"/production/products/{GTIN}", json=PRODUCT, headers=tokens["operator"])
    assert operator.status_code == 403
    with read_transaction(store) as conn:
        trail = [
            (e.action, e.old_value, e.new_value, e.reason)
            for e in audit.entries(conn, entity="product")
        ]
    assert trail[1] == (
        "product_change",
        {"shelf_life_months": 24},
        {"shelf_life_months": 36},
        "stability data extended",
    )
    csv = (
        "gtin,company_prefix_length,name,shelf_life_months,expiry_rule,markets\n"
        f"{OTHER},7,Ibuprofen 400 mg,36,exact,DE;FR\n"
    )
    imported = client.post(
        "/production/products/import", params={"format": "csv"}, content=csv, headers=qa
    )
    assert imported.json() == {"products": 1, "changed": [OTHER]}
    master = {
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2025-03-01T08:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": [{
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [{
                "id": "urn:epc:idpat:sgtin:4012345.012345.*",
                "attributes": [
                    {"id": "urn:epcglobal:cbv:mda#regulatedProductName", "attribute": "Aspirin"},
                    {"id": "urn:epcglobal:cbv:mda#strengthDescription", "attribute": "100 mg"},
                    {"id": "urn:serialtrace:mda:shelfLifeMonths", "attribute": 60},
                    {"id": "urn:serialtrace:mda:targetMarket", "attribute": "US"},
                ],
            }],
        }]}},
        "epcisBody": {"eventList": []},
    }  # fmt: skip
    imported = client.post(
        "/production/products/import",
        params={"format": "epcis"},
        content=json.dumps(master),
        headers=qa,
    )
    assert imported.status_code == 200, imported.text
    aspirin = client.get("/production/products/04012345123456", headers=qa).json()
    fields = ("name", "strength", "company_prefix_length", "shelf_life_months", "markets")
    assert [aspirin[f] for f in fields] == ["Aspirin", "100 mg", 7, 60, ["US"]]
    broken = client.post(
        "/production/products/import", params={"format": "csv"},
        content=f"gtin,company_prefix_length,name\n{GTIN[:-1]}0,7,X\n", headers=qa,
    )  # fmt: skip
    assert broken.json()["problems"] == [
        f"line 2: gtin: expected check digit 2, got 0 in '{GTIN[:-1]}0'"
    ]


MASTER_DATA_XML = """<?xml version="1.0" encoding="UTF-8"?>
<epcismd:EPCISMasterDataDocument xmlns:epcismd="urn:epcglobal:epcis-masterdata:xsd:{major}"
    schemaVersion="{version}" creationDate="2025-03-01T08:00:00Z">
  <EPCISBody>
    <VocabularyList>
      <Vocabulary type="urn:epcglobal:epcis:vtype:EPCClass">
        <VocabularyElementList>
          <VocabularyElement id="urn:epc:idpat:sgtin:4012345.012345.*">
            <attribute id="urn:epcglobal:cbv:mda#regulatedProductName">Aspirin</attribute>
            <attribute id="urn:epcglobal:cbv:mda#strengthDescription">100 mg</attribute>
            <attribute id="urn:serialtrace:mda:shelfLifeMonths">36</attribute>
            <attribute id="urn:serialtrace:mda:expiryRule">exact</attribute>
            <attribute id="urn:serialtrace:mda:targetMarket">FR</attribute>
            <attribute id="urn:serialtrace:mda:targetMarket">BE</attribute>
          </VocabularyElement>
        </VocabularyElementList>
      </Vocabulary>
    </VocabularyList>
  </EPCISBody>
</epcismd:EPCISMasterDataDocument>
"""


@pytest.mark.parametrize(("major", "version"), [(2, "2.0"), (1, "1.2")])
def test_products_are_imported_from_epcis_xml_master_data(
    client: TestClient, tokens: dict[str, dict[str, str]], major: int, version: str
) -> None:
    """Issue 23: product master data from an EPCISMasterDataDocument (XML, 2.0 and 1.2)."""
    qa = tokens["qa"]
    document = MASTER_DATA_XML.format(major=major, version=version)
    imported = client.post(
        "/production/products/import", params={"format": "epcis"}, content=document, headers=qa
    )
    assert imported.json() == {"products": 1, "changed": ["04012345123456"]}, imported.text
    aspirin = client.get("/production/products/04012345123456", headers=qa).json()
    fields = ("name", "strength", "company_prefix_length", "shelf_life_months", "expiry_rule",
              "markets")  # fmt: skip
    assert [aspirin[f] for f in fields] == ["Aspirin", "100 mg", 7, 36, "exact", ["BE", "FR"]]
    broken = client.post(
        "/production/products/import",
        params={"format": "epcis"},
        content=document.replace("<EPCISBody>", "<EPCISBody><Nonsense/>"),
        headers=qa,
    )
    assert broken.status_code == 422
    assert "expected a document valid against GS1's XSD" in broken.json()["detail"]


def test_an_order_by_rule_from_creation_to_close(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]]
) -> None:
    qa = setup["qa"]
    line = device_line(store, client, setup["admin"], "line3-pc", "line3")
    order = client.post(
        "/production/orders",
        json={"gtin": GTIN, "planned": 5000, "manufacturing_date": "2025-03-15",
              "site": "plant1", "line": "line3"},
        headers=qa,
    ).json()  # fmt: skip
    assert (order["lot"], order["expiry"], order["expiry_computed"], order["state"]) == (
        None, "270200", "270200", "created",
    )  # fmt: skip
    assert client.get("/production/line/orders", headers=line).json() == []  # not released yet
    released = client.post(f"/production/orders/{order['id']}/release", headers=qa).json()
    assert released["lot"] == "L32507401"  # line code, 2025, day 074 (15 March), sequence 01
    mine = client.get("/production/line/orders", headers=line).json()
    assert [o["id"] for o in mine] == [order["id"]]
    assert (
        client.post(
            f"/production/orders/{order['id']}/started", json={"operator": "Anna"}, headers=line
        ).json()["state"]
        == "started"
    )
    rec = {"printed": 10, "commissioned": 9, "rejected": 1, "sampled": 0, "scrapped": 0,
           "in_flight": 0, "difference": 0, "balanced": True}  # fmt: skip
    closed = client.post(
        f"/production/orders/{order['id']}/closed", json={"reconciliation": rec}, headers=line
    ).json()
    assert (closed["state"], closed["reconciliation"]) == ("closed", rec)
    detail = client.get(f"/production/orders/{order['id']}", headers=qa).json()
    assert (detail["planned"], detail["reconciliation"]["commissioned"]) == (5000, 9)
    other_line = device_line(store, client, setup["admin"], "line4-pc", "line4")
    assert (
        client.post(
            f"/production/orders/{order['id']}/started", json={"operator": "x"}, headers=other_line
        ).status_code
        == 404
    )


def test_orders_from_csv_all_or_none(client: TestClient, setup: dict[str, dict[str, str]]) -> None:
    qa = setup["qa"]
    csv = (
        "number,gtin,planned,lot,manufacturing_date,site,line,release\n"
        f"CSV-1,{GTIN},1000,,2025-03-15,plant1,line3,yes\n"
        f"CSV-2,{GTIN},500,LOT-CSV,2025-03-16,plant1,line3,\n"
    )
    created = client.post("/production/orders/import", content=csv, headers=qa)
    assert created.status_code == 201, created.text
    assert [
        (o["number"], o["lot"], o["lot_source"], o["expiry"], o["state"])
        for o in created.json()["orders"]
    ] == [
        ("CSV-1", "L32507401", "rule", "270200", "released"),
        ("CSV-2", "LOT-CSV", "manual", "270200", "created"),
    ]
    bad = (
        "number,gtin,planned,site,line\n"
        f"CSV-3,{GTIN},10,plant1,line3\n"
        f"CSV-4,{GTIN},zero,plant1,line3\n"
    )
    refused = client.post("/production/orders/import", content=bad, headers=qa)
    assert refused.status_code == 422
    assert refused.json()["problems"][0].startswith("line 3: planned: ")
    numbers = [o["number"] for o in client.get("/production/orders", headers=qa).json()]
    assert "CSV-3" not in numbers  # all or none


def test_an_expiry_override_needs_a_reason_and_is_audited(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]]
) -> None:
    qa = setup["qa"]
    body = {"gtin": GTIN, "planned": 10, "manufacturing_date": "2024-02-29", "expiry": "260227",
            "site": "plant1", "line": "line3"}  # fmt: skip
    refused = client.post("/production/orders", json=body, headers=qa)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "expiry: computed 260200 from manufacturing date 2024-02-29 and a shelf life of 24 "
        "months (end_of_month); 260227 needs expiry_reason"
    )
    created = client.post(
        "/production/orders", json={**body, "expiry_reason": "QA decision QD-12: exact date"},
        headers=qa,
    ).json()  # fmt: skip
    assert (created["expiry"], created["expiry_computed"]) == ("260227", "260200")
    with read_transaction(store) as conn:
        entry = audit.entries(conn, entity="batch_order")[-1]
    assert (entry.action, entry.reason, entry.new_value["expiry"]) == (
        "order_create", "QA decision QD-12: exact date", "260227",
    )  # fmt: skip


def test_a_reused_lot_is_refused_from_the_api_csv_and_a_line(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]]
) -> None:
    qa = setup["qa"]
    line = device_line(store, client, setup["admin"], "line3-pc", "line3")
    body = {"gtin": GTIN, "planned": 10, "lot": "LOT-7", "site": "plant1", "line": "line3"}
    assert client.post("/production/orders", json=body, headers=qa).status_code == 201
    again = client.post("/production/orders", json=body, headers=qa)
    assert again.status_code == 409
    assert again.json()["detail"].startswith(
        f"lot: 'LOT-7' was already used for GTIN {GTIN} (manual, line plant1/line3, "
    )
    csv = f"gtin,planned,lot,site,line\n{GTIN},5,LOT-7,plant1,line3\n"
    from_csv = client.post("/production/orders/import", content=csv, headers=qa)
    assert from_csv.status_code == 409
    claim = client.post(
        "/production/lots/claim", json={"gtin": GTIN, "lot": "LOT-7", "source": "plc"}, headers=line
    )
    assert claim.status_code == 409
    with write_transaction(store) as conn:  # a batch the trace server saw in events
        conn.execute(batches.insert(), {"gtin": GTIN, "lot": "SEEN-1", "site": "plant2",
                                        "line": "l9", "first_seen": datetime.now(UTC)})  # fmt: skip
    seen = client.post("/production/lots/claim", json={"gtin": GTIN, "lot": "SEEN-1"}, headers=line)
    assert (
        seen.status_code == 409 and "already on record at the trace server" in seen.json()["detail"]
    )
    other_gtin = client.post(
        "/production/lots/claim", json={"gtin": OTHER, "lot": "LOT-7"}, headers=line
    )
    assert other_gtin.status_code == 200  # unique per GTIN


def test_rule_lots_skip_taken_codes_and_the_reserve_is_the_lines(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]]
) -> None:
    line = device_line(store, client, setup["admin"], "line3-pc", "line3")
    first = client.post(
        "/production/lots", json={"gtin": GTIN, "manufacturing_date": "2025-03-15"}, headers=line
    ).json()
    assert first["lot"] == "L32507401"
    # an operator typed the next code by hand before the rule reached it
    assert (
        client.post(
            "/production/lots/claim", json={"gtin": GTIN, "lot": "L32507402"}, headers=line
        ).status_code
        == 200
    )
    second = client.post(
        "/production/lots", json={"gtin": GTIN, "manufacturing_date": "2025-03-15"}, headers=line
    ).json()
    assert second["lot"] == "L32507403"
    reserve = client.post(
        "/production/lots/reserve", json={"days": 2, "per_period": 2}, headers=line
    ).json()
    assert reserve["rule"]["pattern"] == "{LINE}{YY}{JJJ}{SEQ:2}"
    assert len(reserve["lots"]) == 4 and len({r["period"] for r in reserve["lots"]}) == 2
    again = client.post(
        "/production/lots/reserve", json={"days": 2, "per_period": 2}, headers=line
    ).json()
    assert again["lots"] == reserve["lots"]  # topped up, not doubled
    used = reserve["lots"][0]["lot"]
    bound = client.post(
        "/production/lots/claim", json={"gtin": GTIN, "lot": used, "source": "rule"}, headers=line
    )
    assert bound.status_code == 200
    other = device_line(store, client, setup["admin"], "line4-pc", "line4")
    stolen = client.post(
        "/production/lots/claim",
        json={"gtin": OTHER, "lot": reserve["lots"][1]["lot"]},
        headers=other,
    )
    assert (
        stolen.status_code == 409
        and "reserved by rule for line plant1/line3" in stolen.json()["detail"]
    )


def test_a_lines_expiry_override_is_on_the_batch_history(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]]
) -> None:
    """Issue 23: an expiry override at the line (a batch without an order) is audited."""
    line = device_line(store, client, setup["admin"], "line3-pc", "line3")
    body = {"gtin": GTIN, "lot": "HAND-1", "expiry": "301231", "expiry_computed": "270200",
            "manufacturing_date": "2025-03-15", "reason": "QA decision QD-7"}  # fmt: skip
    assert (
        client.post("/production/expiry-overrides", json=body, headers=setup["qa"]).status_code
        == 403
    )  # a line's word only
    same = client.post(
        "/production/expiry-overrides", json={**body, "expiry": "270200"}, headers=line
    )
    assert same.status_code == 422 and same.json()["detail"].startswith("expiry: expected")
    answer = client.post("/production/expiry-overrides", json=body, headers=line)
    assert answer.status_code == 201, answer.text
    seen = {"gtin": GTIN, "lot": "HAND-1", "site": "plant1", "line": "line3",
            "first_seen": datetime.now(UTC)}  # fmt: skip
    with write_transaction(store) as conn:  # the batch's first unit reached the trace server
        conn.execute(batches.insert(), seen)
    history = client.get(f"/qa/batches/{GTIN}/HAND-1/history", headers=setup["qa"]).json()
    entry = next(e for e in history if e["action"] == "batch_expiry_override")
    assert (entry["actor"], entry["old_value"], entry["new_value"], entry["reason"]) == (
        "line:plant1/line3",
        {"expiry": "270200"},
        {"expiry": "301231", "manufacturing_date": "2025-03-15", "line": "plant1/line3"},
        "QA decision QD-7",
    )


def test_the_authority_takes_the_serial_scheme_from_the_master_data(
    store: Engine, tokens: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    from server.api.app import create_app
    from tests.server.conftest import settings_for
    from tests.support.authority import key_file

    qa = tokens["qa"]
    settings = settings_for(store, serials_key_file=key_file(tmp_path))
    with TestClient(create_app(settings, engine=store)) as client:
        product = {**PRODUCT, "serial_alphabet": "safe", "serial_length": 10}
        assert (
            client.put(f"/production/products/{GTIN}", json=product, headers=qa).status_code == 200
        )
        registered = client.post(
            "/serials/scopes",
            json={"kind": "sgtin", "gtin": GTIN, "volume": 1_000_000, "reason": "new product"},
            headers=qa,
        )
    assert registered.status_code == 201, registered.text
    assert registered.json()["scheme"].startswith("ff3-1/safe/10/key:")


def test_the_batch_record_shows_the_order_beside_the_reconciliation(
    client: TestClient, store: Engine, setup: dict[str, dict[str, str]], ingestor: Ingestor
) -> None:
    """Issue 23: the batch record on the server starts from the order, so the plan and the
    reconciliation sit side by side."""
    qa = setup["qa"]
    order = client.post(
        "/production/orders",
        json={"gtin": GTIN, "planned": 300, "manufacturing_date": "2025-03-15",
              "site": "plant1", "line": "line3", "expiry": "270131",
              "expiry_reason": "stability study S-12 allows 22 months"},
        headers=qa,
    ).json()  # fmt: skip
    lot = client.post(f"/production/orders/{order['id']}/release", headers=qa).json()["lot"]
    event = f.commissioning(["SER1", "SER2"], lot=lot, expiry="2027-01-31")
    event["epcList"] = [f"urn:epc:id:sgtin:9506000.013435.SER{i}" for i in (1, 2)]
    line1 = Origin("mqtt", "site1", "line1")
    outcome = ingestor.ingest_payload(f.payload([event]), line1)
    assert outcome.accepted, outcome.reason
    record = client.get(f"/qa/batches/{GTIN}/{lot}/record", headers=qa).json()
    assert record["order"]["number"] == order["number"]
    assert (record["order"]["planned"], record["order"]["lot_source"]) == (300, "rule")
    assert (record["order"]["expiry"], record["order"]["expiry_computed"]) == ("270131", "270200")
    assert record["order"]["expiry_reason"] == "stability study S-12 allows 22 months"
    assert record["order"]["state"] == "released"
    other = f.commissioning(["SER3"], lot="NO-ORDER", expiry="2027-01-31")
    other["epcList"] = ["urn:epc:id:sgtin:9506000.013435.SER3"]
    assert ingestor.ingest_payload(f.payload([other]), line1).accepted
    assert client.get(f"/qa/batches/{GTIN}/NO-ORDER/record", headers=qa).json()["order"] is None
