"""Signatures that belong to one person and records that stay as signed: the printed name
from the user record, meanings from a fixed list, QA-only decisions, the producer may not
release, and a released batch's record is locked until a signed hold and a signed change."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.api.app import create_app
from server.api.routes.qa_common import get_clock
from server.qa.clock import ManualClock
from tests.server import factory as f
from tests.server.conftest import PASSWORD, settings_for
from tests.server.qa.builders import Headers, build_batch, record_batch
from tests.server.qa.conftest import START

BASE = f"/qa/batches/{f.GTIN}/LOT1"
KEY = f"(01){f.GTIN}(10)LOT1"


def status(client: TestClient, headers: dict[str, str], target: str, **extra: object) -> object:
    body = {"status": target, "password": PASSWORD, "reason": "QA decision", **extra}
    return client.post(f"{BASE}/status", json=body, headers=headers)


@pytest.fixture
def ready(client: TestClient, tokens: Headers, clock: ManualClock) -> TestClient:
    build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=4)
    return client


def test_the_printed_name_comes_from_the_user_record(ready: TestClient, tokens: Headers) -> None:
    forged = status(ready, tokens["qa"], "released", full_name="Dr. Jane Doe (Qualified Person)")
    assert (forged.status_code, forged.json()["detail"]) == (
        422,
        "full_name: the printed name comes from your user record ('Quinn QA'), got "
        "'Dr. Jane Doe (Qualified Person)'; an admin changes it",
    )
    signed = status(ready, tokens["qa"], "released")
    assert signed.status_code == 200, signed.text
    assert (signed.json()["full_name"], signed.json()["meaning"]) == (
        "Quinn QA",
        "Release for sale",
    )


def test_meanings_come_from_a_fixed_list(ready: TestClient, tokens: Headers) -> None:
    free = status(ready, tokens["qa"], "released", meaning="Looks fine to me")
    assert free.status_code == 422
    assert free.json()["detail"].startswith("meaning: expected one of 'Release for sale', ")
    wrong = status(ready, tokens["qa"], "released", meaning="Reject batch")
    assert wrong.json()["detail"] == (
        "meaning: a move to released is signed as 'Release for sale', got 'Reject batch'"
    )
    listed = ready.get("/qa/batches/signature-meanings", headers=tokens["qa"]).json()
    assert [m["meaning"] for m in listed] == [
        "Release for sale",
        "Reject batch",
        "Place batch on hold",
        "Approve change to a released batch record",
    ]
    assert status(ready, tokens["qa"], "released", meaning="Release for sale").status_code == 200


def test_only_qa_decides(ready: TestClient, tokens: Headers) -> None:
    for role in ("admin", "operator"):
        refused = status(ready, tokens[role], "released")
        assert (refused.status_code, refused.json()["detail"]) == (
            403,
            f"role: expected one of qa, got {role!r}",
        )
    inspection = ready.post(
        f"{BASE}/inspections",
        json={
            "test": "assay",
            "specification": "95-105 %",
            "result": "99 %",
            "passed": True,
            "tested_at": "2025-03-02T10:00:00Z",
        },
        headers=tokens["admin"],
    )
    assert inspection.status_code == 403


def test_the_producer_may_not_release(
    store: Engine, client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=0)
    record_batch(client, tokens, "LOT1", units=4)
    production = {
        "line": "L1",
        "started_at": "2025-03-01T06:00:00Z",
        "planned": 4,
        "produced": 7,
        "rejected": 2,
        "sampled": 1,
        "reason": "QA corrected the line name",
    }
    assert (
        client.put(f"{BASE}/production", json=production, headers=tokens["qa"]).status_code == 200
    )
    refused = status(client, tokens["qa"], "released")
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        f"segregation of duties: user 'qa1' recorded the production record of batch {KEY}, "
        "so another QA user must release it",
    )
    # The rule is configurable.
    with TestClient(create_app(settings_for(store, producer_may_release=True), engine=store)) as c:
        c.app.dependency_overrides[get_clock] = lambda: ManualClock(START)  # type: ignore[attr-defined]
        assert status(c, tokens["qa"], "released").status_code == 200


def test_a_released_record_is_locked_until_a_signed_hold_and_change(
    ready: TestClient, tokens: Headers
) -> None:
    assert status(ready, tokens["qa"], "released").status_code == 200
    production = {
        "line": "L1",
        "started_at": "2025-03-01T06:00:00Z",
        "planned": 4,
        "produced": 7,
        "rejected": 2,
        "sampled": 1,
        "deviations": [{"reference": "DEV-2", "description": "late finding"}],
        "reason": "deviation found after release",
    }
    locked = ready.put(f"{BASE}/production", json=production, headers=tokens["operator"])
    assert (locked.status_code, locked.json()["detail"]) == (
        409,
        f"record: batch {KEY} is released, so its record is locked; place the batch on hold "
        "(signed) to change it",
    )
    material = {
        "material": "x",
        "supplier": "y",
        "supplier_lot": "Z-1",
        "received_at": "2025-02-20T09:00:00Z",
    }
    assert ready.post(f"{BASE}/materials", json=material, headers=tokens["qa"]).status_code == 409
    record = ready.get(f"{BASE}/record", headers=tokens["qa"]).json()
    assert record["locked"] is True

    assert status(ready, tokens["qa"], "quarantine").status_code == 200
    unsigned = ready.put(f"{BASE}/production", json=production, headers=tokens["operator"])
    assert (unsigned.status_code, unsigned.json()["detail"]) == (
        403,
        f"password: batch {KEY} was released before, so a change to its record needs a reason "
        "and your electronic signature (password)",
    )
    wrong = ready.put(
        f"{BASE}/production", json={**production, "password": "nope"}, headers=tokens["operator"]
    )
    assert wrong.status_code == 403
    changed = ready.put(
        f"{BASE}/production", json={**production, "password": PASSWORD}, headers=tokens["operator"]
    )
    assert changed.status_code == 200, changed.text
    assert status(ready, tokens["qa"], "released").status_code == 200

    entries = ready.get(f"{BASE}/history", headers=tokens["operator"]).json()
    versions = [e for e in entries if e["action"] == "production_record"]
    assert len(versions) == 2
    assert versions[1]["old_value"]["deviations"] == versions[0]["new_value"]["deviations"]
    assert versions[1]["new_value"]["deviations"][-1]["reference"] == "DEV-2"
    assert versions[1]["new_value"]["signature"]["meaning"] == (
        "Approve change to a released batch record"
    )
    assert versions[1]["new_value"]["signature"]["name"] == "Olga Operator"
    assert versions[1]["reason"] == "deviation found after release"
    assert [e["action"] for e in entries if e["action"].startswith("batch_")] == [
        "batch_released",
        "batch_quarantine",
        "batch_released",
    ]


def test_a_rejected_record_is_final(ready: TestClient, tokens: Headers) -> None:
    assert status(ready, tokens["qa"], "rejected").status_code == 200
    refused = ready.post(
        f"{BASE}/inspections",
        json={
            "test": "assay",
            "specification": "95-105 %",
            "result": "99 %",
            "passed": True,
            "tested_at": "2025-03-02T10:00:00Z",
        },
        headers=tokens["qa"],
    )
    assert refused.json()["detail"] == (
        f"record: batch {KEY} is rejected, so its record is locked; a rejected batch is final"
    )
