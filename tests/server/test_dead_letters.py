"""Dead letters: kinds, caps per source and by age, list/replay/purge (API and CLI, audited);
the line registry (API and CLI, audited); /metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from serialtrace.cli import main
from server import audit
from server.dead_letters import reason_kind
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from server.store import create_store_engine, read_transaction, upgrade
from server.store.schema import audit_trail, dead_letters, units
from tests.server import factory as f
from tests.server.conftest import DEVICE_SITE, register_line

MQTT2 = Origin("mqtt", "site1", "line2")
TOPIC2 = "serialtrace/v1/site1/line2/events"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("payload: expected at most 1024 bytes, got 2000 bytes", "size"),
        ("payload: expected UTF-8 JSON, got invalid UTF-8 at byte 0", "decode"),
        ("payload: expected JSON, got a syntax error: x", "decode"),
        ("payload: expected at most 32 levels of nesting, got more", "limit"),
        ("payload: expected finite numbers, got NaN", "limit"),
        ("EPCIS schema: $.type: bad", "schema"),
        ("type: expected 'EPCISDocument' or 'EPCISQueryDocument', got null", "schema"),
        ("epcisBody.eventList: expected at least one event, got none", "schema"),
        ("eventList[0].eventTime: expected a time", "content"),
        ("eventList[0].readPoint: expected a location of line a/b, got 'x'", "location"),
        ("line: a/b is not registered (serialtrace server lines add)", "location"),
        ("store refused a value: x", "store"),
        ("internal error while applying: KeyError", "internal"),
    ],
)
def test_each_reason_has_its_kind(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def kept(store: Engine) -> list[tuple[str | None, bytes]]:
    with read_transaction(store) as conn:
        rows = conn.execute(
            select(dead_letters.c.topic, dead_letters.c.payload).order_by(dead_letters.c.id)
        )
        return [(topic, bytes(payload)) for topic, payload in rows]


def test_dead_letters_are_capped_per_source_and_by_age(store: Engine) -> None:
    """The issue: 300 invalid 1 MB messages added 18 MB of dead letters in 4 s."""
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ingestor = Ingestor(
        store,
        max_payload_bytes=4096,
        clock=lambda: now[0],
        dead_letter_max_per_source=5,
        dead_letter_max_age=timedelta(days=2),
        dead_letter_keep_bytes=100,
    )
    for index in range(8):
        ingestor.ingest_payload(b"flood %d " % index + b"x" * 5000, MQTT2, topic=TOPIC2)
    ingestor.ingest_payload(b"other", Origin("http"), topic="device1")
    rows = kept(store)
    flood = [payload for topic, payload in rows if topic == TOPIC2]
    assert [payload[:7] for payload in flood] == [b"flood %d" % i for i in range(3, 8)]
    assert all(len(payload) == 100 for payload in flood)  # kept truncated
    assert (("device1", b"other")) in rows
    ingestor._age_pruned_at = float("-inf")  # the next dead letter may prune by age
    now[0] += timedelta(days=3)
    ingestor.ingest_payload(b"late", Origin("http"), topic="device2")
    assert kept(store) == [("device2", b"late")]
    assert dict(ingestor.stats.dead_letters) == {"size": 8, "decode": 2}


def test_replay_and_purge_through_the_api_are_audited(
    store: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    ingestor = Ingestor(store, max_payload_bytes=64 * 1024)
    payload = f.payload([f.commissioning(["RP1"])]).replace(
        f.READ_POINT.encode(), b"urn:epc:id:sgln:0614141.07346.2"
    )
    refused = ingestor.ingest_payload(payload, MQTT2, topic=TOPIC2)
    assert refused.reason == "line: site1/line2 is not registered (serialtrace server lines add)"
    ingestor.ingest_payload(b"junk", MQTT2, topic=TOPIC2)
    listed = client.get("/dead-letters", params={"kind": "location"}, headers=tokens["qa"])
    assert [row["id"] for row in listed.json()] == [refused.dead_letter_id]
    assert listed.json()[0]["replayable"] is True
    # Still not registered: the replay is refused again, the dead letter stays.
    again = client.post(
        f"/dead-letters/{refused.dead_letter_id}/replay",
        json={"reason": "line fixed?"},
        headers=tokens["qa"],
    ).json()
    assert again["applied"] is False and again["reason"].startswith("line: site1/line2")
    put = client.put(
        "/lines/site1/line2",
        json={"locations": ["urn:epc:id:sgln:0614141.07346.2"], "reason": "line 2 installed"},
        headers=tokens["admin"],
    )
    assert put.status_code == 200, put.text
    assert (
        client.put(
            "/lines/site1/line2", json={"locations": ["x"], "reason": "r"}, headers=tokens["qa"]
        ).status_code
        == 403
    )
    done = client.post(
        f"/dead-letters/{refused.dead_letter_id}/replay",
        json={"reason": "line registered"},
        headers=tokens["qa"],
    ).json()
    assert done == {"id": refused.dead_letter_id, "applied": True, "reason": None, "stored": 1}
    with read_transaction(store) as conn:
        assert conn.execute(select(units.c.status).where(units.c.serial == "RP1")).scalar() == (
            "active"
        )
    purged = client.post(
        "/dead-letters/purge", json={"reason": "junk", "kind": "decode"}, headers=tokens["qa"]
    ).json()
    assert purged == {"removed": 1}
    assert client.get("/dead-letters", headers=tokens["qa"]).json() == []
    assert (
        client.post("/dead-letters/purge", json={"reason": "r"}, headers=tokens["qa"]).status_code
        == 422
    )
    with read_transaction(store) as conn:
        actions = list(
            conn.execute(select(audit_trail.c.action).order_by(audit_trail.c.id)).scalars()
        )
        assert audit.verify_chain(conn) is None
    assert actions[-4:] == [
        "dead_letter.replay",
        "line.register",
        "dead_letter.replay",
        "dead_letter.purge",
    ]
    lines = client.get("/lines", headers=tokens["operator"]).json()
    assert [
        (line["site"], line["line"], line["locations"])
        for line in lines
        if line["site"] != DEVICE_SITE  # the line the fixtures' device account is bound to
    ] == [("site1", "line2", ["urn:epc:id:sgln:0614141.07346.2"])]


def test_metrics_count_ingest_and_dead_letters_by_kind(
    store: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    good = client.post(
        "/epcis/capture", content=f.payload([f.commissioning(["M1"])]), headers=tokens["device"]
    )
    assert good.status_code == 202
    bad = client.post("/epcis/capture", content=b'{"a": NaN}', headers=tokens["device"])
    assert bad.status_code == 400
    text = client.get("/metrics").text
    assert 'serialtrace_ingest_messages_total{outcome="applied"} 1.0' in text
    assert 'serialtrace_ingest_messages_total{outcome="dead_lettered"} 1.0' in text
    assert "serialtrace_ingest_events_total 1.0" in text
    assert 'serialtrace_dead_letters_total{kind="limit"} 1.0' in text
    assert 'serialtrace_dead_letters_stored{kind="limit"} 1.0' in text
    assert "serialtrace_mqtt_connected" not in text  # no MQTT ingest configured


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_manages_lines_and_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'trace.db'}"
    engine = create_store_engine(db)
    upgrade(engine)
    ingestor = Ingestor(engine, max_payload_bytes=64 * 1024)
    refused = ingestor.ingest_payload(f.payload([f.commissioning(["CL1"])]), MQTT2, topic=TOPIC2)
    ingestor.ingest_payload(b"junk", MQTT2, topic=TOPIC2)
    code, out, _ = run(capsys, "server", "dead-letters", "list", "--db", db)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(row["kind"], row["topic"]) for row in rows] == [
        ("location", TOPIC2),
        ("decode", TOPIC2),
    ]
    code, out, _ = run(
        capsys, "server", "lines", "add", "site1", "line2", "--db", db,
        "--location", f.READ_POINT, "--reason", "commissioned",
    )  # fmt: skip
    assert (code, out) == (0, f"line site1/line2: {f.READ_POINT}\n")
    code, out, err = run(
        capsys, "server", "lines", "add", "site1", "line2", "--db", db, "--location", "nope"
    )
    assert code == 2
    assert err == (
        "serialtrace: error: locations[0]: expected an SGLN (urn:epc:id:sgln:…) or a GS1 "
        "Digital Link with /414/, got 'nope'\n"
    )
    code, out, _ = run(
        capsys, "server", "dead-letters", "replay", str(refused.dead_letter_id), "--db", db,
        "--reason", "line registered",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {"id": refused.dead_letter_id, "applied": True, "reason": None}
    code, _, err = run(capsys, "server", "dead-letters", "purge", "--db", db, "--reason", "x")
    assert code == 2 and "expected --kind, --source, --before, --id or --all" in err
    code, out, _ = run(
        capsys, "server", "dead-letters", "purge", "--db", db, "--all", "--reason", "cleanup"
    )
    assert (code, out) == (0, "1 dead letter(s) purged\n")
    code, out, _ = run(capsys, "server", "lines", "list", "--db", db)
    assert json.loads(out) == {"site": "site1", "line": "line2", "locations": [f.READ_POINT]}
    code, out, _ = run(
        capsys, "server", "lines", "remove", "site1", "line2", "--db", db, "--reason", "gone"
    )
    assert code == 0
    with read_transaction(engine) as conn:
        entries = conn.execute(
            select(audit_trail.c.actor, audit_trail.c.action).order_by(audit_trail.c.id)
        ).all()
    assert [action for _, action in entries] == [
        "line.register",
        "dead_letter.replay",
        "dead_letter.purge",
        "line.remove",
    ]
    assert all(actor.startswith("cli:") for actor, _ in entries)
    engine.dispose()


def test_register_line_is_checked(store: Engine) -> None:
    register_line(store, "site1", "line1", f.READ_POINT, "urn:epc:id:sgln:0614141.07346.0")
    register_line(store, "site1", "line3", "urn:epc:id:sgln:0614141.07346.3",
                  "urn:epc:id:sgln:0614141.07346.0")  # fmt: skip
    from server.errors import RejectedDocument
    from server.lines import list_lines

    with pytest.raises(RejectedDocument, match="site: expected 1-64 characters"):
        register_line(store, "a/b", "line1")
    with read_transaction(store) as conn:
        found = {(line.site, line.line): line.locations for line in list_lines(conn)}
    assert found[("site1", "line3")] == (
        "urn:epc:id:sgln:0614141.07346.0",
        "urn:epc:id:sgln:0614141.07346.3",
    )
