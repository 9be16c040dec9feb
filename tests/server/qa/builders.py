"""Batches built through ``POST /epcis/capture`` (the edge's real path) and QA records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.server import factory as f
from tests.server.conftest import PASSWORD

Headers = dict[str, dict[str, str]]
CUSTOMER = "urn:epc:id:pgln:4012345.00000"


def capture(client: TestClient, tokens: Headers, events: list[dict[str, Any]]) -> None:
    response = client.post("/epcis/capture", content=f.payload(events), headers=tokens["device"])
    assert response.status_code == 202, response.text


@dataclass(frozen=True)
class Built:
    lot: str
    pallets: list[str]
    cases: list[str]
    serials: list[str]
    shipped_serials: list[str]


def build_batch(
    client: TestClient,
    tokens: Headers,
    *,
    lot: str = "LOT1",
    pallets: int = 2,
    shipped: int = 1,
    prefix: str = "S",
    first_sscc: int = 1,
    raw_lots: tuple[str, ...] = (),
) -> Built:
    """``pallets`` pallets of 2 cases of 2 units; the first ``shipped`` pallets shipped."""
    line = f.Line(
        lot=lot, units_per_case=2, cases_per_pallet=2, serial_prefix=prefix, next_sscc=first_sscc
    )
    if raw_lots:
        capture(client, tokens, [f.transformation(list(raw_lots), lot=lot)])
    made = [line.pallet() for _ in range(pallets)]
    for document in line.documents:
        capture(client, tokens, document)
    for pallet, _cases, _serials in made[:shipped]:
        capture(client, tokens, [f.shipping([pallet], customer=CUSTOMER)])
    return Built(
        lot=lot,
        pallets=[p for p, _c, _s in made],
        cases=[c for _p, cases, _s in made for c in cases],
        serials=[s for _p, _c, serials in made for s in serials],
        shipped_serials=[s for _p, _c, serials in made[:shipped] for s in serials],
    )


def record_batch(
    client: TestClient, tokens: Headers, lot: str, *, units: int, supplier_lot: str = "API-77"
) -> None:
    """A balanced production record and raw-material lot recorded by production (the
    operator), and one passed QC test by QA: so QA may release (segregation of duties)."""
    base = f"/qa/batches/{f.GTIN}/{lot}"
    production = {
        "line": "L1",
        "started_at": "2025-03-01T06:00:00Z",
        "finished_at": "2025-03-01T14:00:00Z",
        "planned": units,
        "produced": units + 3,
        "rejected": 2,
        "sampled": 1,
        "deviations": [{"reference": "DEV-1", "description": "label roll changed"}],
    }
    response = client.put(f"{base}/production", json=production, headers=tokens["operator"])
    assert response.status_code == 200, response.text
    inspection = {
        "test": "assay",
        "specification": "95.0-105.0 %",
        "result": "99.1 %",
        "passed": True,
        "tested_at": "2025-03-02T10:00:00Z",
    }
    response = client.post(f"{base}/inspections", json=inspection, headers=tokens["qa"])
    assert response.status_code == 201, response.text
    material = {
        "material": "paracetamol API",
        "supplier": "Acme Pharma",
        "supplier_lot": supplier_lot,
        "received_at": "2025-02-20T09:00:00Z",
        "quantity": 25,
        "uom": "KGM",
    }
    response = client.post(f"{base}/materials", json=material, headers=tokens["operator"])
    assert response.status_code == 201, response.text


def sign(
    client: TestClient, tokens: Headers, lot: str, status: str, password: str = PASSWORD
) -> Any:
    return client.post(
        f"/qa/batches/{f.GTIN}/{lot}/status",
        json={
            "status": status,
            "password": password,
            "reason": "QA decision",
        },
        headers=tokens["qa"],
    )
