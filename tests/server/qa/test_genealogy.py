"""Genealogy both ways and the completeness check."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server import factory as f
from tests.server.qa.builders import CUSTOMER, Headers, build_batch, capture, record_batch


def test_backward_from_unit_case_pallet_and_batch(client: TestClient, tokens: Headers) -> None:
    built = build_batch(client, tokens, pallets=1, shipped=1, raw_lots=("RM1",))
    record_batch(client, tokens, "LOT1", units=4)
    unit = client.get(
        "/qa/genealogy/backward",
        params={"code": f"https://id.gs1.org/01/{f.GTIN}/21/{built.serials[0]}"},
        headers=tokens["operator"],
    ).json()
    assert unit["kind"] == "unit"
    assert [c["sscc"] for c in unit["containers"]] == [built.cases[0], built.pallets[0]]
    batch = unit["batches"][0]
    assert batch["lot"] == "LOT1"
    assert batch["material_lots"][0]["supplier_lot"] == "API-77"
    assert batch["epcis_inputs"][0]["input"].endswith("RM1")
    assert batch["inspections"][0]["approved_by"] == "qa1"
    for code, kind in ((built.pallets[0], "pallet"), (f"(00){built.cases[0]}", "case")):
        answer = client.get(
            "/qa/genealogy/backward", params={"code": code}, headers=tokens["qa"]
        ).json()
        assert (answer["kind"], [b["lot"] for b in answer["batches"]]) == (kind, ["LOT1"])
    by_lot = client.get(
        "/qa/genealogy/backward", params={"code": f"{f.GTIN}/LOT1"}, headers=tokens["qa"]
    ).json()
    assert by_lot["kind"] == "batch"
    bad = client.get("/qa/genealogy/backward", params={"code": "hello"}, headers=tokens["qa"])
    assert (bad.status_code, bad.json()["detail"]) == (
        422,
        "code: expected a unit code (GTIN + serial), an SSCC or GTIN/LOT, got 'hello'",
    )


def test_forward_from_supplier_lot_and_from_epcis_input(
    client: TestClient, tokens: Headers
) -> None:
    build_batch(client, tokens, pallets=2, shipped=1, raw_lots=("RM1",))
    record_batch(client, tokens, "LOT1", units=8, supplier_lot="API-5")
    trace = client.get(
        "/qa/genealogy/forward", params={"material_lot": "API-5"}, headers=tokens["qa"]
    ).json()
    batch = trace["batches"][0]
    assert (batch["lot"], batch["units"], batch["shipped_units"]) == ("LOT1", 8, 4)
    assert (batch["cases"], batch["pallets"]) == (4, 2)
    assert batch["customers"] == [CUSTOMER]
    assert [s["units"] for s in batch["shipments"]] == [4]
    from_event = client.get(
        "/qa/genealogy/forward", params={"material_lot": "RM1"}, headers=tokens["qa"]
    ).json()
    assert [b["lot"] for b in from_event["batches"]] == ["LOT1"]


def test_completeness_lists_the_gaps(client: TestClient, tokens: Headers) -> None:
    build_batch(client, tokens, pallets=1, shipped=1)
    record_batch(client, tokens, "LOT1", units=4)
    capture(client, tokens, [f.commissioning(["LOOSE1", "LOOSE2"], lot="LOT2")])
    report = client.get("/qa/completeness", headers=tokens["qa"]).json()
    assert report == [
        {
            "gtin": f.GTIN,
            "lot": "LOT2",
            "units": 2,
            "gaps": [
                "no raw-material lots recorded",
                "no production record",
                "no inspection results",
                "2 active units have neither a parent container nor a shipment",
            ],
        }
    ]
    one = client.get(f"/qa/batches/{f.GTIN}/LOT1/completeness", headers=tokens["qa"]).json()
    assert one["gaps"] == []
