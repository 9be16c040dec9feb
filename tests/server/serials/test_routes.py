"""``/serials`` over HTTP in the trace server: who may do what, pools, reports, imports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.api.app import create_app
from server.auth import issue_token
from server.serials.app import create_authority_app
from server.store import write_transaction
from tests.server.conftest import settings_for
from tests.server.serials.conftest import GTIN, KEY, add_device


def _headers(store: Engine, user: object) -> dict[str, str]:
    with write_transaction(store) as conn:
        token = issue_token(conn, user, now=datetime.now(UTC), ttl=timedelta(hours=1))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "authority.key"
    path.write_text(KEY.hex())
    os.chmod(path, 0o600)
    return path


@pytest.fixture(params=["trace server", "authority alone"])
def api(
    request: pytest.FixtureRequest, store: Engine, key_file: Path, tmp_path: Path
) -> Iterator[TestClient]:
    settings = settings_for(store, serials_key_file=key_file, serials_journal=tmp_path / "j")
    factory = create_app if request.param == "trace server" else create_authority_app
    with TestClient(factory(settings, engine=store)) as client:
        yield client


def test_register_take_report_and_read_the_books(
    api: TestClient, store: Engine, tokens: dict[str, dict[str, str]]
) -> None:
    qa, admin = tokens["qa"], tokens["admin"]
    created = api.post(
        "/serials/scopes",
        json={
            "kind": "sgtin",
            "gtin": GTIN,
            "length": 12,
            "volume": 1_000_000,
            "reason": "new product",
        },
        headers=qa,
    )
    assert created.status_code == 201, created.text
    line = add_device(store, "l1")
    refused = api.post(
        "/serials/pools",
        json={"kind": "sgtin", "gtin": GTIN, "count": 5, "request_token": "r1"},
        headers=_headers(store, line),
    )
    assert (refused.status_code, refused.json()["return_status"]) == (
        403,
        "InsufficientPrivilegeToExecute11",
    )
    bound = api.post(
        "/serials/lines",
        json={"username": "l1", "site": "plant1", "line": "line1", "reason": "commissioned PC"},
        headers=admin,
    )
    assert bound.status_code == 201, bound.text
    assert (
        api.post("/serials/lines", json=bound.json() | {"reason": "x" * 3}, headers=qa).status_code
        == 403
    )
    answer = api.post(
        "/serials/pools",
        json={"kind": "sgtin", "gtin": GTIN, "count": 5, "request_token": "r1"},
        headers=_headers(store, line),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["return_status"] == "NoError1"
    pool = body["pool"]
    assert (pool["start"], pool["stop"], pool["line"], len(pool["serial_numbers"])) == (
        0,
        5,
        "line1",
        5,
    )
    qa_pool = api.post(
        "/serials/pools",
        json={"kind": "sgtin", "gtin": GTIN, "count": 5, "request_token": "r2"},
        headers=qa,
    )
    assert qa_pool.status_code == 403  # QA is not a device
    report = api.post(
        "/serials/reports",
        json={
            "kind": "sgtin",
            "gtin": GTIN,
            "used": pool["serial_numbers"][:3],
            "returned": pool["serial_numbers"][3:],
        },
        headers=_headers(store, line),
    )
    assert report.json()["recorded"] == {"used": 3, "destroyed": 0, "returned": 2}
    books = api.get(f"/serials/scopes/sgtin/{GTIN}", headers=qa).json()
    assert (books["issued"], books["used"], books["returned"], books["outstanding"]) == (5, 3, 2, 0)
    status = api.get(
        f"/serials/scopes/sgtin/{GTIN}/status",
        params={"value": pool["serial_numbers"][0]},
        headers=qa,
    ).json()
    assert status["status"] == "used"
    assert api.get("/serials/scopes", headers=tokens["operator"]).status_code == 403


def test_import_over_http_and_usage_as_csv(
    api: TestClient, store: Engine, tokens: dict[str, dict[str, str]]
) -> None:
    qa = tokens["qa"]
    imported = api.post(
        "/serials/imports",
        params={"format": "csv", "supplier": "Brand AG", "reference": "PO-9"},
        content=b"gtin,serial\n04012345000009,A\n04012345000009,B\n",
        headers={**qa, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    import_id = imported.json()["imports"][0]["import_id"]
    usage = api.get(f"/serials/imports/{import_id}/usage", params={"format": "csv"}, headers=qa)
    assert usage.text == (
        "kind,scope,value,status,line\nsgtin,04012345000009,A,unissued,\n"
        "sgtin,04012345000009,B,unissued,\n"
    )
    bad = api.post(
        "/serials/imports",
        params={"format": "csv", "supplier": "Brand AG"},
        content=b"gtin,serial\n04012345000009,A\n",
        headers=qa,
    )
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": "import refused: 1 problem; first: GTIN 04012345000009: 'A' was already imported",
        "return_status": "InvalidSerialNumbersFormat4",
        "problems": ["GTIN 04012345000009: 'A' was already imported"],
    }


def test_an_oversize_import_is_refused_before_it_is_read_whole(
    api: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    big = b"gtin,serial\n" + b"04012345000009,X\n" * (64 * 1024 * 1024 // 17 + 1)
    answer = api.post(
        "/serials/imports",
        params={"format": "csv", "supplier": "x"},
        content=big,
        headers=tokens["qa"],
    )
    assert answer.status_code == 413
