"""Complaints end to end with a controlled clock: intake, workflow, SLA, imports, dashboard."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.api.app import create_app
from server.api.routes.qa_common import get_clock
from server.qa.clock import ManualClock
from tests.server import factory as f
from tests.server.conftest import settings_for
from tests.server.qa.builders import Headers, build_batch

HOUR = timedelta(hours=1)


def complain(client: TestClient, tokens: Headers, **fields: object) -> int:
    body: dict[str, object] = {
        "channel": "hotline",
        "reporter": "Pharmacy Nord",
        "description": "broken seal",
    }
    body.update(fields)
    response = client.post("/complaints", json=body, headers=tokens["operator"])
    assert response.status_code == 201, response.text
    complaint_id: int = response.json()["id"]
    return complaint_id


def move(client: TestClient, tokens: Headers, complaint_id: int, status: str, **extra: object):  # type: ignore[no-untyped-def]
    return client.post(
        f"/complaints/{complaint_id}/status",
        json={"status": status, "note": f"now {status}", **extra},
        headers=tokens["qa"],
    )


def test_the_sla_clocks_follow_the_servers_qa_settings(
    store: Engine, tokens: Headers, clock: ManualClock
) -> None:
    """qa_first_response_hours and qa_at_risk_fraction of the server's settings set the
    clocks (here 4 h, at risk after half of it) instead of the 24 h default."""
    settings = settings_for(store, qa_first_response_hours=4, qa_at_risk_fraction=0.5)
    with TestClient(create_app(settings, engine=store)) as client:
        client.app.dependency_overrides[get_clock] = lambda: clock  # type: ignore[attr-defined]
        complaint_id = complain(client, tokens)
        clock.advance(2.5 * HOUR)
        item = client.get(f"/complaints/{complaint_id}", headers=tokens["qa"]).json()
        assert item["response_sla"]["state"] == "at_risk"
        clock.advance(2 * HOUR)
        item = client.get(f"/complaints/{complaint_id}", headers=tokens["qa"]).json()
        assert item["response_sla"]["state"] == "breached"
        assert item["resolution_sla"]["state"] == "on_track"


def test_any_code_form_identifies_unit_batch_and_shipment(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=1, shipped=1)
    by_link = complain(client, tokens, code=f"https://id.gs1.org/01/{f.GTIN}/21/{built.serials[0]}")
    by_lot = complain(client, tokens, code=f"(01){f.GTIN}(10)LOT1", channel="social")
    by_nothing = complain(client, tokens, code="smudged", channel="online")
    unit = client.get(f"/complaints/{by_link}", headers=tokens["qa"]).json()
    assert (unit["gtin"], unit["serial"], unit["lot"]) == (f.GTIN, built.serials[0], "LOT1")
    assert unit["shipment_id"] is not None
    lot = client.get(f"/complaints/{by_lot}", headers=tokens["qa"]).json()
    assert (lot["lot"], lot["serial"], lot["channel"]) == ("LOT1", None, "social")
    nothing = client.get(f"/complaints/{by_nothing}", headers=tokens["qa"]).json()
    assert (nothing["lot"], nothing["gtin"]) == (None, None)


def test_workflow_and_sla_clocks(client: TestClient, tokens: Headers, clock: ManualClock) -> None:
    complaint_id = complain(client, tokens)
    clock.advance(18 * HOUR)
    item = client.get(f"/complaints/{complaint_id}", headers=tokens["qa"]).json()
    assert item["response_sla"]["state"] == "at_risk"
    assert item["resolution_sla"]["state"] == "on_track"
    assert client.get("/complaints/dashboard", headers=tokens["qa"]).json()["at_risk"] == [
        complaint_id
    ]
    clock.advance(7 * HOUR)  # 25 h: first response overdue
    assert client.get("/complaints/dashboard", headers=tokens["qa"]).json()["breached"] == [
        complaint_id
    ]
    skipped = move(client, tokens, complaint_id, "resolved")
    assert (skipped.status_code, skipped.json()["detail"]) == (
        409,
        f"status: complaint {complaint_id} is received, expected one of acknowledged, "
        "got 'resolved'",
    )
    acknowledged = move(client, tokens, complaint_id, "acknowledged").json()
    assert acknowledged["response_sla"]["state"] == "breached"
    assert acknowledged["owner"] == "qa1"
    move(client, tokens, complaint_id, "investigating")
    clock.advance(20 * HOUR)  # 45 h
    resolved = move(client, tokens, complaint_id, "resolved").json()
    assert resolved["resolution_sla"]["state"] == "met"
    early_rating = move(client, tokens, complaint_id, "resolved", satisfaction=5)
    assert early_rating.status_code == 422
    closed = move(client, tokens, complaint_id, "closed", satisfaction=4).json()
    assert (closed["status"], closed["satisfaction"]) == ("closed", 4)
    assert [n["text"] for n in closed["notes"]] == [
        "[received → acknowledged] now acknowledged",
        "[acknowledged → investigating] now investigating",
        "[investigating → resolved] now resolved",
        "[resolved → closed] now closed",
    ]
    board = client.get("/complaints/dashboard", headers=tokens["qa"]).json()
    assert (board["response_attainment"], board["resolution_attainment"]) == (0.0, 1.0)
    assert (board["satisfaction"], board["satisfaction_met"]) == (1.0, True)
    assert board["open"] == 0 and board["breached"] == []


def test_notes_and_attachments(client: TestClient, tokens: Headers, clock: ManualClock) -> None:
    complaint_id = complain(client, tokens)
    note = client.post(
        f"/complaints/{complaint_id}/notes", json={"text": "called back"}, headers=tokens["qa"]
    )
    assert note.status_code == 201
    upload = client.post(
        f"/complaints/{complaint_id}/attachments",
        files={"file": ("photo.jpg", b"\xff\xd8jpeg-bytes", "image/jpeg")},
        data={"text": "photo of the pack"},
        headers=tokens["qa"],
    )
    assert upload.status_code == 201, upload.text
    note_id = upload.json()["id"]
    item = client.get(f"/complaints/{complaint_id}", headers=tokens["qa"]).json()
    assert [(n["text"], n["filename"], n["size"]) for n in item["notes"]] == [
        ("called back", None, None),
        ("photo of the pack", "photo.jpg", 12),
    ]
    download = client.get(f"/complaints/{complaint_id}/attachments/{note_id}", headers=tokens["qa"])
    assert download.content == b"\xff\xd8jpeg-bytes"
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["x-content-type-options"] == "nosniff"


def test_imports_surveys_and_batch_flags(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    build_batch(client, tokens, pallets=1, shipped=1)
    build_batch(client, tokens, lot="LOT2", pallets=1, shipped=0, prefix="T", first_sscc=50)
    build_batch(client, tokens, lot="LOT3", pallets=1, shipped=0, prefix="U", first_sscc=90)
    lines = ["channel,received_at,reporter,description,code,external_ref"]
    lines += [
        f"distributor,2025-03-10T07:00:00+00:00,Wholesaler {i},crushed,(01){f.GTIN}(10)LOT1,W-{i}"
        for i in range(3)
    ]
    lines += ["fax,,X,y,,", "online,yesterday,X,y,,", "online,,Web user,leaflet missing,,WEB-1"]
    csv_text = "\n".join(lines) + "\n"
    first = client.post(
        "/complaints/import",
        content=csv_text,
        headers={**tokens["qa"], "content-type": "text/csv"},
    ).json()
    assert first["imported"] == 4
    assert first["errors"] == [
        "line 5: channel: expected one of hotline, online, social, distributor, got 'fax'",
        "line 6: received_at: expected ISO 8601, got 'yesterday'",
    ]
    again = client.post(
        "/complaints/import", content=csv_text, headers={**tokens["qa"], "content-type": "text/csv"}
    ).json()
    assert (again["imported"], again["skipped"]) == (0, 4)  # known external_ref: skipped
    assert len(client.get("/complaints", headers=tokens["qa"]).json()) == 4

    ids = [c["id"] for c in client.get("/complaints", headers=tokens["qa"]).json()]
    survey = (
        "complaint_id,rating\n" + "".join(f"{i},5\n" for i in ids[:3]) + f"{ids[3]},2\n9999,5\n"
    )
    result = client.post(
        "/complaints/surveys", content=survey, headers={**tokens["qa"], "content-type": "text/csv"}
    ).json()
    assert result == {
        "imported": 4,
        "skipped": 0,
        "errors": ["line 6: complaint_id: 9999 unknown"],
    }

    board = client.get("/complaints/dashboard", headers=tokens["qa"]).json()
    assert board["satisfaction"] == 0.75 and board["satisfaction_met"] is False
    assert board["by_product"] == {f.GTIN: 3, "unidentified": 1}
    assert [(b["lot"], b["complaints"], b["flagged"]) for b in board["by_batch"]] == [
        ("LOT1", 3, True)
    ]
    assert board["open_by_age"] == {"under 24 h": 4, "24 to 48 h": 0, "over 48 h": 0}


def test_intake_validation(client: TestClient, tokens: Headers) -> None:
    response = client.post(
        "/complaints",
        json={"channel": "pigeon", "reporter": "x", "description": "y"},
        headers=tokens["operator"],
    )
    assert response.status_code == 422 and "channel" in response.json()["detail"]
    assert client.get("/complaints/dashboard", headers=tokens["operator"]).status_code == 403
    assert client.get("/complaints/12345", headers=tokens["qa"]).status_code == 404


def test_dashboard_over_time_by_week(
    client: TestClient, tokens: Headers, clock: ManualClock
) -> None:
    built = build_batch(client, tokens, pallets=1)
    now = clock.now()
    weeks_ago = (now - timedelta(weeks=3)).isoformat()
    late = complain(client, tokens, received_at=weeks_ago)
    complain(client, tokens, received_at=weeks_ago)
    complain(client, tokens)
    assert move(client, tokens, late, "acknowledged").status_code == 200
    board = client.get("/complaints/dashboard", headers=tokens["qa"]).json()
    periods = board["over_time"]
    assert len(periods) == 12
    assert [p["received"] for p in periods][-4:] == [2, 0, 0, 1]
    # Both first-response clocks of three weeks ago fell due unmet; this week's runs on.
    assert periods[-4]["response_attainment"] == 0.0
    assert periods[-1]["response_attainment"] is None
    assert periods[-1]["start"] <= now.date().isoformat()
    units = len(built.serials)
    assert periods[-1]["per_10k_units"] == round(10_000 * 1 / units, 3)
