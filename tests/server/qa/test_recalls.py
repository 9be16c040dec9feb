"""Recalls end to end: open (frozen reach), returns, live effectiveness, notification list."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server import audit
from server.qa.clock import ManualClock
from server.store import read_transaction
from tests.server import factory as f
from tests.server.qa.builders import CUSTOMER, Headers, build_batch, capture, record_batch


def test_recall_freezes_reach_counts_returns_and_lists_customers(
    store: Engine, client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=2, shipped=1)
    other = build_batch(client, tokens, lot="LOT2", pallets=1, shipped=0, prefix="T", first_sscc=50)
    opened = client.post(
        "/qa/recalls",
        json={
            "batches": [{"gtin": f.GTIN, "lot": "LOT1"}],
            "recall_class": "II",
            "reason": "out-of-specification assay",
        },
        headers=tokens["qa"],
    )
    assert opened.status_code == 201, opened.text
    recall = opened.json()
    assert {k: recall[k] for k in ("units", "cases", "pallets", "shipped_units")} == {
        "units": 8,
        "cases": 4,
        "pallets": 2,
        "shipped_units": 4,
    }
    assert recall["effectiveness"] == 0.0
    assert [c["customer"] for c in recall["customers"]] == [CUSTOMER]
    assert recall["customers"][0]["ssccs"] == [built.pallets[0]]

    # Events after opening do not change the frozen reach.
    capture(
        client, tokens, [f.shipping([built.pallets[1]], customer="urn:epc:id:pgln:4000002.00000")]
    )
    codes = [
        f"(01){f.GTIN}(21){built.shipped_serials[0]}",
        f.sgtin(built.shipped_serials[1]),
        f"(01){f.GTIN}(21){built.shipped_serials[0]}",
        "not a code",
        f"(01){f.GTIN}(21){other.serials[0]}",
        f"(01){f.GTIN}(21){built.serials[-1]}",  # in the recall, never shipped
    ]
    outcomes = client.post(
        f"/qa/recalls/{recall['id']}/returns", json={"codes": codes}, headers=tokens["qa"]
    ).json()
    assert [o["result"] for o in outcomes] == [
        "counted",
        "counted",
        "already_returned",
        "unreadable",
        "not_in_recall",
        "counted",
    ]
    status = client.get(f"/qa/recalls/{recall['id']}", headers=tokens["qa"]).json()
    assert (status["shipped_units"], status["returned_units"]) == (4, 3)
    assert status["returned_shipped_units"] == 2
    assert status["effectiveness"] == 0.5
    assert status["customers"][0]["returned"] == 2

    verdict = client.get(
        "/verify", params={"gtin": f.GTIN, "serial": built.serials[0]}, headers=tokens["operator"]
    ).json()
    assert verdict["result"] == "recalled"

    notification = client.get(f"/qa/recalls/{recall['id']}/notifications.csv", headers=tokens["qa"])
    rows = list(csv.DictReader(io.StringIO(notification.text)))
    assert [(r["customer"], r["units"], r["returned"]) for r in rows] == [(CUSTOMER, "4", "2")]
    pdf = client.get(f"/qa/recalls/{recall['id']}/notifications.pdf", headers=tokens["qa"])
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    closed = client.post(
        f"/qa/recalls/{recall['id']}/close",
        json={"reason": "all customers answered"},
        headers=tokens["qa"],
    )
    assert closed.json()["status"] == "closed"
    late = client.post(
        f"/qa/recalls/{recall['id']}/returns", json={"codes": codes[:1]}, headers=tokens["qa"]
    )
    assert (late.status_code, late.json()["detail"]) == (
        409,
        f"recall: {recall['id']} is closed, returns need it open",
    )
    with read_transaction(store) as conn:
        actions = [e.action for e in audit.entries(conn, entity="recall")]
        batch_actions = [e.action for e in audit.entries(conn, entity="batch")]
        assert audit.verify_chain(conn) is None
    assert actions == ["recall_open", "recall_return", "recall_close"]
    assert batch_actions == ["recall"]


def test_recall_by_raw_material_lot_reaches_every_batch_made_from_it(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=1)
    build_batch(client, tokens, lot="LOT2", pallets=1, shipped=0, prefix="T", first_sscc=50)
    build_batch(client, tokens, lot="LOT3", pallets=1, shipped=0, prefix="U", first_sscc=90)
    record_batch(client, tokens, "LOT1", units=4, supplier_lot="API-9")
    record_batch(client, tokens, "LOT2", units=4, supplier_lot="API-9")
    record_batch(client, tokens, "LOT3", units=4, supplier_lot="API-10")
    recall = client.post(
        "/qa/recalls",
        json={"material_lot": "API-9", "recall_class": "I", "reason": "supplier notice"},
        headers=tokens["qa"],
    ).json()
    assert recall["scope"]["batches"] == [f"(01){f.GTIN}(10)LOT1", f"(01){f.GTIN}(10)LOT2"]
    assert (recall["units"], recall["shipped_units"]) == (8, 4)


def test_recall_input_errors(client: TestClient, tokens: Headers) -> None:
    empty = client.post(
        "/qa/recalls", json={"recall_class": "II", "reason": "why not"}, headers=tokens["qa"]
    )
    assert empty.status_code == 422
    assert "batches: expected at least one batch or a material_lot, got none" in empty.text
    unknown = client.post(
        "/qa/recalls",
        json={"material_lot": "NOPE", "recall_class": "II", "reason": "why not"},
        headers=tokens["qa"],
    )
    assert (unknown.status_code, unknown.json()["detail"]) == (
        404,
        "material_lot: 'NOPE' is not recorded for any batch",
    )
    assert client.get("/qa/recalls/99", headers=tokens["qa"]).status_code == 404
    assert client.get("/qa/recalls", headers=tokens["operator"]).status_code == 403
