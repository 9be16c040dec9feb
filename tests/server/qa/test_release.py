"""Batch record and signed release through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server import audit
from server.qa.clock import ManualClock
from server.qa.errors import NotShippable
from server.qa.release import assert_shippable
from server.store import read_transaction
from tests.server import factory as f
from tests.server.qa.builders import Headers, build_batch, record_batch, sign


def test_new_batch_is_in_quarantine_and_release_needs_records(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=0)
    record = client.get(f"/qa/batches/{f.GTIN}/LOT1/record", headers=tokens["operator"]).json()
    assert (record["status"], record["signature"], record["production"]) == (
        "quarantine",
        None,
        None,
    )
    response = sign(client, tokens, "LOT1", "released")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"release of batch (01){f.GTIN}(10)LOT1 refused: no production record; "
        "no inspection results"
    )


def test_unbalanced_counts_and_failed_test_block_release(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=5)  # 4 units were commissioned, not 5
    client.post(
        f"/qa/batches/{f.GTIN}/LOT1/inspections",
        json={
            "test": "appearance",
            "specification": "white round tablets",
            "result": "spots",
            "passed": False,
            "tested_at": "2025-03-02T11:00:00Z",
        },
        headers=tokens["qa"],
    )
    record = client.get(f"/qa/batches/{f.GTIN}/LOT1/record", headers=tokens["qa"]).json()
    assert record["reconciliation"] == {
        "produced": 8,
        "commissioned": 4,
        "rejected": 2,
        "sampled": 1,
        "scrapped": 0,
    }
    detail = sign(client, tokens, "LOT1", "released").json()["detail"]
    assert detail.endswith(
        "counts do not reconcile: produced 8 != commissioned 4 + rejected 2 + sampled 1 + "
        "scrapped 0; inspection 'appearance' failed: spots"
    )


def test_signed_release_is_audited_and_lets_the_batch_ship(
    store: Engine, client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=4)
    with read_transaction(store) as conn, pytest.raises(NotShippable) as refused:
        assert_shippable(conn, [built.pallets[0]])
    assert str(refused.value) == (
        f"ssccs: {built.pallets[0]} holds units of batch (01){f.GTIN}(10)LOT1, "
        "which is quarantine; expected released"
    )

    wrong = sign(client, tokens, "LOT1", "released", password="not my password")
    assert (wrong.status_code, wrong.json()["detail"]) == (
        403,
        "signature: password of user 'qa1' does not match",
    )
    signed = sign(client, tokens, "LOT1", "released")
    assert signed.status_code == 200, signed.text
    signature = signed.json()
    assert signature["meaning"] == "Release for sale"
    assert signature["full_name"] == "Quinn QA"
    assert signature["signed_at"].startswith("2025-03-10T08:00:00")

    record = client.get(f"/qa/batches/{f.GTIN}/LOT1/record", headers=tokens["qa"]).json()
    assert record["status"] == "released"
    assert record["signature"]["id"] == signature["id"]
    assert record["material_lots"][0]["supplier_lot"] == "API-77"
    assert record["production"]["deviations"][0]["reference"] == "DEV-1"
    with read_transaction(store) as conn:
        assert_shippable(conn, [built.pallets[0], built.cases[0]])
        trail = audit.entries(conn, entity="batch", entity_key=f"(01){f.GTIN}(10)LOT1")
        assert audit.verify_chain(conn) is None
    assert [e.action for e in trail] == [
        "production_record",
        "inspection",
        "material_lot",
        "batch_released",
    ]
    released = trail[-1]
    assert released.hash == signature["audit_hash"]
    assert released.old_value == {"status": "quarantine"}
    assert released.new_value["signature"]["id"] == signature["id"]
    assert released.new_value["signature"]["meaning"] == "Release for sale"

    shipped = client.post(
        "/shipments",
        json={"ssccs": [built.pallets[0]], "destination": "urn:epc:id:sgln:4012345.00001.0"},
        headers=tokens["operator"],
    )
    assert shipped.status_code == 201, shipped.text


def test_shipping_a_quarantined_batch_is_refused(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=1, shipped=0)
    response = client.post(
        "/shipments",
        json={"ssccs": [built.cases[0]], "destination": "urn:epc:id:sgln:4012345.00001.0"},
        headers=tokens["operator"],
    )
    assert (response.status_code, response.json()["detail"]) == (
        409,
        f"ssccs: {built.cases[0]} holds units of batch (01){f.GTIN}(10)LOT1, "
        "which is quarantine; expected released",
    )
    trace = client.get(f"/units/{f.GTIN}/{built.serials[0]}", headers=tokens["qa"]).json()
    assert trace["shipment"] is None


def test_rejected_batch_is_final_and_never_ships(
    store: Engine, client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=1, shipped=0)
    assert sign(client, tokens, "LOT1", "rejected").status_code == 200
    again = sign(client, tokens, "LOT1", "released")
    assert (again.status_code, again.json()["detail"]) == (
        409,
        f"status: batch (01){f.GTIN}(10)LOT1 is rejected, cannot become released",
    )
    with read_transaction(store) as conn, pytest.raises(NotShippable, match="is rejected"):
        assert_shippable(conn, [built.pallets[0]])


def test_release_needs_the_qa_role(client: TestClient, tokens: Headers) -> None:
    build_batch(client, tokens, pallets=1, shipped=0)
    response = client.post(
        f"/qa/batches/{f.GTIN}/LOT1/status",
        json={"status": "released", "password": "x", "reason": "because"},
        headers=tokens["operator"],
    )
    assert response.status_code == 403


def test_unknown_batch_and_bad_dates(client: TestClient, tokens: Headers) -> None:
    response = client.get(f"/qa/batches/{f.GTIN}/NOPE/record", headers=tokens["qa"])
    assert (response.status_code, response.json()["detail"]) == (
        404,
        f"batch: GTIN {f.GTIN} lot 'NOPE' unknown",
    )
    build_batch(client, tokens, pallets=1, shipped=0)
    response = client.put(
        f"/qa/batches/{f.GTIN}/LOT1/production",
        json={
            "line": "L1",
            "started_at": "2025-03-01T06:00:00Z",
            "finished_at": "2025-03-01T05:00:00Z",
            "planned": 1,
            "produced": 1,
        },
        headers=tokens["qa"],
    )
    assert response.status_code == 422
    assert "finished_at: expected at or after started_at" in response.json()["detail"]
