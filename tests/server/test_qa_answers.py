"""QA answers over HTTP on both engines (issue 17): search by bare serial, SSCC and lot;
names from master data; shipment status inherited from the pallet; the recall CSV; paged,
sorted and filtered batch units and audit trail."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

import gs1
from tests.server import factory as f
from tests.server.test_api import Headers, capture, shipped_pallet

OTHER_GTIN_REF = "107347"  # a second product of the same company
OTHER_GTIN = gs1.Gtin.parse(
    "1" + f.COMPANY_PREFIX + "07347" + gs1.check_digit("1" + f.COMPANY_PREFIX + "07347")
).value
CUSTOMER = "urn:epc:id:pgln:4012345.00000"  # the factory's shipping customer
SHIP_TO = "urn:epc:id:sgln:4012345.00001.0"


def commission_other_product(client: TestClient, tokens: Headers, serials: list[str]) -> None:
    event = f.commissioning(serials, lot="LOT9")
    event["epcList"] = [
        f"urn:epc:id:sgtin:{f.COMPANY_PREFIX}.{OTHER_GTIN_REF}.{serial}" for serial in serials
    ]
    capture(client, tokens, [event])


def search(client: TestClient, tokens: Headers, q: str) -> dict[str, Any]:
    response = client.get("/search", params={"q": q}, headers=tokens["operator"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_bare_numeric_serial_lists_its_units_across_gtins(
    client: TestClient, tokens: Headers
) -> None:
    # A serial of digits only, as the demo prints: read as a GS1 key it is a GTIN with a
    # wrong check digit, which the old search answered with.
    serial = "1000000000017"
    capture(client, tokens, [f.commissioning([serial])])
    commission_other_product(client, tokens, [serial])
    answer = search(client, tokens, serial)
    units = [(m["gtin"], m["serial"], m["how"]) for m in answer["matches"]]
    assert sorted(units) == sorted([(f.GTIN, serial, "serial"), (OTHER_GTIN, serial, "serial")])
    assert all(m["kind"] == "unit" for m in answer["matches"])
    assert answer["matches"][0]["page"].startswith("/ui/unit/")
    assert "check digit" in answer["note"]  # why it is not a GS1 code, said, not an error


def test_search_by_sscc_lot_and_code(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    [match] = search(client, tokens, pallet)["matches"]
    assert (match["kind"], match["sscc"], match["level"], match["how"]) == (
        "container",
        pallet,
        "pallet",
        "code",  # 18 digits with a valid check digit read as an SSCC
    )
    assert match["page"] == f"/ui/container/{pallet}"
    [match] = search(client, tokens, f"(00){cases[0]}")["matches"]
    assert (match["sscc"], match["level"], match["how"]) == (cases[0], "case", "code")
    [match] = search(client, tokens, "LOT1")["matches"]
    assert (match["kind"], match["gtin"], match["lot"], match["how"]) == (
        "batch",
        f.GTIN,
        "LOT1",
        "lot",
    )
    [match] = search(client, tokens, f"(01){f.GTIN}(21){serials[0]}")["matches"]
    assert (match["kind"], match["serial"], match["how"]) == ("unit", serials[0], "code")
    assert search(client, tokens, "NOTHING-HERE")["matches"] == []
    assert client.get("/search", params={"q": "x"}).status_code == 401


def test_cases_and_units_inherit_the_pallets_shipment(client: TestClient, tokens: Headers) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    case = client.get(f"/containers/{cases[0]}", headers=tokens["operator"]).json()
    assert case["shipment"] is not None, "a case on a shipped pallet is shipped"
    assert case["shipped_with"] == pallet
    assert case["shipment"]["customer"] == CUSTOMER
    top = client.get(f"/containers/{pallet}", headers=tokens["operator"]).json()
    assert top["shipment"] is not None and top["shipped_with"] is None
    assert top["containers"][0]["shipped_with"] == pallet
    unit = client.get(f"/units/{f.GTIN}/{serials[0]}", headers=tokens["operator"]).json()
    assert unit["shipment"]["id"] == top["shipment"]["id"]
    assert unit["shipped_with"] == pallet


def test_unshipped_case_is_not_shipped(client: TestClient, tokens: Headers) -> None:
    line = f.Line(units_per_case=2, cases_per_pallet=1)
    _pallet, cases, _ = line.pallet()
    for document in line.documents:
        capture(client, tokens, document)
    case = client.get(f"/containers/{cases[0]}", headers=tokens["operator"]).json()
    assert case["shipment"] is None and case["shipped_with"] is None


def name(client: TestClient, tokens: Headers, urn: str, text: str) -> None:
    response = client.put(
        "/master-data/item",
        params={"urn": urn},
        json={"name": text, "reason": "customer master data from ERP"},
        headers=tokens["qa"],
    )
    assert response.status_code == 200, response.text


def test_names_from_master_data_where_urns_are_shown(client: TestClient, tokens: Headers) -> None:
    _pallet, cases, serials = shipped_pallet(client, tokens)
    name(client, tokens, CUSTOMER, "Pharma Wholesale GmbH")
    name(client, tokens, SHIP_TO, "Pharma Wholesale, Berlin DC")
    unit = client.get(f"/units/{f.GTIN}/{serials[0]}", headers=tokens["operator"]).json()
    assert unit["shipment"]["customer"] == CUSTOMER  # the URN stays in the answer
    assert unit["names"][CUSTOMER] == "Pharma Wholesale GmbH"
    assert unit["names"][SHIP_TO] == "Pharma Wholesale, Berlin DC"
    case = client.get(f"/containers/{cases[0]}", headers=tokens["operator"]).json()
    assert case["names"][CUSTOMER] == "Pharma Wholesale GmbH"
    reach = client.get(f"/batches/{f.GTIN}/LOT1/recall", headers=tokens["qa"]).json()
    assert reach["customers"] == ["Pharma Wholesale GmbH"]
    # The product is named by its product master data, under its GTIN.
    product = {
        "company_prefix_length": 7,
        "name": "Paracetamol tablets",
        "strength": "500 mg",
        "shelf_life_months": 24,
        "reason": "new product",
    }
    created = client.put(f"/production/products/{f.GTIN}", json=product, headers=tokens["qa"])
    assert created.status_code == 200, created.text
    unit = client.get(f"/units/{f.GTIN}/{serials[0]}", headers=tokens["operator"]).json()
    assert unit["names"][f.GTIN] == "Paracetamol tablets 500 mg"
    assert reach["shipments"][0]["customer_name"] == "Pharma Wholesale GmbH"


def test_recall_csv_has_unit_case_pallet_shipment_and_customer(
    client: TestClient, tokens: Headers
) -> None:
    pallet, cases, serials = shipped_pallet(client, tokens)
    name(client, tokens, CUSTOMER, "=HYPERLINK(evil)")  # a formula never reaches a sheet
    response = client.get(
        f"/batches/{f.GTIN}/LOT1/recall", params={"format": "csv"}, headers=tokens["qa"]
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "unit",
        "gtin",
        "serial",
        "status",
        "case",
        "pallet",
        "shipment",
        "shipped_at",
        "customer",
        "customer_name",
        "ship_to",
        "ship_to_name",
    ]
    assert sorted(row["serial"] for row in rows) == sorted(serials)
    by_serial = {row["serial"]: row for row in rows}
    first = by_serial[serials[0]]
    assert first["unit"] == f"(01){f.GTIN}(21){serials[0]}"
    assert first["case"] == cases[0] and first["pallet"] == pallet
    assert first["shipment"] != "" and first["shipped_at"].startswith("2025-03-03")
    assert first["customer"] == CUSTOMER and first["ship_to"] == SHIP_TO
    assert first["customer_name"] == "'=HYPERLINK(evil)"
    assert {row["case"] for row in rows} == set(cases)


def test_batch_units_are_paged_sorted_and_filtered(client: TestClient, tokens: Headers) -> None:
    line = f.Line(units_per_case=3, cases_per_pallet=2)
    pallet, cases, serials = line.pallet()
    for document in line.documents:
        capture(client, tokens, document)
    capture(client, tokens, [f.decommissioning([serials[4]])])
    base = f"/batches/{f.GTIN}/LOT1/units"
    page = client.get(base, params={"limit": 4}, headers=tokens["operator"]).json()
    assert page["total"] == 6 and len(page["items"]) == 4
    assert [u["serial"] for u in page["items"]] == sorted(serials)[:4]
    second = client.get(base, params={"limit": 4, "offset": 4}, headers=tokens["operator"]).json()
    assert [u["serial"] for u in second["items"]] == sorted(serials)[4:]
    down = client.get(
        base, params={"sort": "case", "order": "desc"}, headers=tokens["operator"]
    ).json()
    assert [u["case"] for u in down["items"]] == [cases[1]] * 3 + [cases[0]] * 3
    assert {u["pallet"] for u in down["items"]} == {pallet}
    only = client.get(base, params={"status": "decommissioned"}, headers=tokens["operator"])
    assert [u["serial"] for u in only.json()["items"]] == [serials[4]]
    in_case = client.get(base, params={"q": cases[0]}, headers=tokens["operator"]).json()
    assert in_case["total"] == 3
    bad = client.get(base, params={"sort": "colour"}, headers=tokens["operator"])
    assert bad.status_code == 422 and "sort" in bad.text
    assert client.get(base, params={"limit": 501}, headers=tokens["operator"]).status_code == 422


def test_audit_trail_is_readable_paged_and_filtered(client: TestClient, tokens: Headers) -> None:
    name(client, tokens, CUSTOMER, "Old Name AG")
    name(client, tokens, CUSTOMER, "New Name AG")
    page = client.get(
        "/qa/audit", params={"entity": "master_data", "limit": 1}, headers=tokens["qa"]
    ).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    [newest] = page["items"]
    assert newest["entry"]["actor"] == "qa1"
    assert newest["changes"] == [{"field": "name", "old": "Old Name AG", "new": "New Name AG"}]
    assert "name Old Name AG → New Name AG" in newest["summary"]
    assert "master_data" in page["entities"]
    oldest = client.get(
        "/qa/audit",
        params={"entity": "master_data", "order": "asc", "limit": 1},
        headers=tokens["qa"],
    ).json()["items"][0]
    assert oldest["changes"] == [{"field": "name", "old": None, "new": "Old Name AG"}]
    found = client.get("/qa/audit", params={"q": "ERP"}, headers=tokens["qa"]).json()
    assert found["total"] == 2
    none = client.get("/qa/audit", params={"actor": "nobody"}, headers=tokens["qa"]).json()
    assert none["total"] == 0 and none["items"] == []
    assert client.get("/qa/audit", headers=tokens["operator"]).status_code == 403
