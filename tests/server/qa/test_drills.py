"""Mock-recall drills: run, stored, listed, reports in HTML and PDF."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.qa.clock import ManualClock
from tests.server import factory as f
from tests.server.qa.builders import CUSTOMER, Headers, build_batch, record_batch


def test_drill_reports_gaps_then_passes_and_is_kept(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=2, shipped=1)
    first = client.post(
        "/qa/drills", json={"gtin": f.GTIN, "lot": "LOT1"}, headers=tokens["qa"]
    ).json()
    assert first["complete"] is False
    assert first["gaps"] == [
        "no raw-material lots recorded",
        "no production record",
        "no inspection results",
    ]
    assert first["counts"] == {
        "units": 8,
        "shipped_units": 4,
        "cases": 4,
        "pallets": 2,
        "shipments": 1,
        "customers": 1,
        "material_lots": 0,
        "inspections": 0,
    }
    assert set(first["timings"]) == {"backward", "forward", "completeness", "report"}
    assert first["seconds"] >= sum(first["timings"].values()) * 0.99

    record_batch(client, tokens, "LOT1", units=8)
    second = client.post("/qa/drills", json={"random": True}, headers=tokens["qa"]).json()
    assert (second["lot"], second["complete"], second["gaps"]) == ("LOT1", True, [])
    assert second["customers"] == [CUSTOMER]

    listed = client.get("/qa/drills", headers=tokens["qa"]).json()
    assert [(d["id"], d["complete"]) for d in listed] == [
        (second["id"], True),
        (first["id"], False),
    ]
    assert client.get(f"/qa/drills/{first['id']}", headers=tokens["qa"]).json() == first

    html = client.get(f"/qa/drills/{first['id']}/report.html", headers=tokens["qa"])
    assert html.headers["content-type"].startswith("text/html")
    assert "gaps found" in html.text and "no production record" in html.text
    assert f"(01){f.GTIN}(10)LOT1" in html.text
    pdf = client.get(f"/qa/drills/{second['id']}/report.pdf", headers=tokens["qa"])
    assert pdf.content.startswith(b"%PDF-")


def test_drill_report_escapes_recorded_text(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=4, supplier_lot="<script>x</script>")
    drill = client.post(
        "/qa/drills", json={"gtin": f.GTIN, "lot": "LOT1"}, headers=tokens["qa"]
    ).json()
    html = client.get(f"/qa/drills/{drill['id']}/report.html", headers=tokens["qa"]).text
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    pdf = client.get(f"/qa/drills/{drill['id']}/report.pdf", headers=tokens["qa"])
    assert pdf.status_code == 200


def test_drill_input_errors(client: TestClient, tokens: Headers) -> None:
    both = client.post(
        "/qa/drills", json={"gtin": f.GTIN, "lot": "L", "random": True}, headers=tokens["qa"]
    )
    assert both.status_code == 422
    assert "expected gtin and lot, or random true" in both.json()["detail"]
    none = client.post("/qa/drills", json={"random": True}, headers=tokens["qa"])
    assert (none.status_code, none.json()["detail"]) == (
        404,
        "batch: no batch with units on record to drill",
    )
