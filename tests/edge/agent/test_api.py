"""The agent's HTTP API: batch control with clear refusals, rework and decommissioning."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import gs1
from edge.agent import Agent
from edge.api import create_app
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from tests.edge.agent.line import (
    GTIN,
    OPERATOR,
    OPERATOR_PASSWORD,
    SimLine,
    api_headers,
    config_for,
    sim_devices,
    start_line,
)
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker, free_port

pytestmark = pytest.mark.mqtt

EVENTS = "serialtrace/v1/plant1/line3/events"


@pytest.fixture
def running(tmp_path: Path, mosquitto: Broker) -> Iterator[tuple[Agent, httpx.Client, SimLine]]:
    line = start_line()
    config = config_for(tmp_path / "edge", mosquitto, line, units_per_case=5, cases_per_pallet=10)
    agent = build_agent(config, sim_devices(config, line))
    app = create_app(agent)
    with (
        serve_asgi(app, free_port()) as url,
        httpx.Client(base_url=url, timeout=60, headers=api_headers(config)) as client,
    ):
        assert agent.publisher.wait_connected(10)
        assert agent.plc.wait_connected(10)  # /health is 200 only with both links up
        yield agent, client, line
    line.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def produce(agent: Agent, client: httpx.Client, count: int) -> list[str]:
    for i in range(count):
        ok(client.post("/trigger", json={"id": f"u{i}"}))
        time.sleep(0.02)
    assert agent.pipeline.wait_idle(20)
    assert agent.packer.wait_idle(20)
    rows = agent.read(lambda c: c.execute("SELECT serial FROM units ORDER BY id").fetchall())
    return [row[0] for row in rows]


def test_refusals_carry_status_codes_and_reasons(
    running: tuple[Agent, httpx.Client, SimLine],
) -> None:
    _, client, _ = running
    refused = client.post("/batch/close")
    assert refused.status_code == 409
    assert refused.json() == {"error": "batch: no batch is open on this line; start one first"}
    bad = client.post(
        "/batch/start", json={"gtin": "123", "lot": "L", "expiry": "2811", "planned": 5}
    )
    assert bad.status_code == 422
    assert "expiry" in bad.json()["error"] and "gtin" in bad.json()["error"]
    typo = client.post(
        "/batch/start", json={"gtin": GTIN, "lot": "L", "expiry": "281130", "planed": 5}
    )
    assert typo.status_code == 422
    ok(
        client.post(
            "/batch/start", json={"gtin": GTIN, "lot": "A1", "expiry": "281130", "planned": 5}
        )
    )
    running_close = client.post("/batch/close")
    assert running_close.status_code == 409
    assert running_close.json()["error"] == (
        "batch 'A1': cannot close a running batch; expected one of: pause, stop"
    )
    assert client.post("/units/nope/sample", json={"reason": "qa"}).status_code == 404
    assert ok(client.get("/health"))["status"] == "ok"


def test_close_refused_until_balanced_then_partial_case_is_packed(
    running: tuple[Agent, httpx.Client, SimLine],
) -> None:
    agent, client, _ = running
    ok(
        client.post(
            "/batch/start", json={"gtin": GTIN, "lot": "A2", "expiry": "281130", "planned": 7}
        )
    )
    produce(agent, client, 7)
    ok(client.post("/batch/stop", json={"reason": "end of shift"}))
    closed = ok(client.post("/batch/close"))
    assert closed["reconciliation"]["printed"] == 7 and closed["reconciliation"]["balanced"]
    cases = agent.read(
        lambda c: c.execute(
            "SELECT children FROM containers WHERE level='case' AND state='closed' ORDER BY id"
        ).fetchall()
    )
    assert [row[0] for row in cases] == [5, 2]  # the partial case was labelled and packed
    pallets = agent.read(
        lambda c: c.execute(
            "SELECT children, state FROM containers WHERE level='pallet'"
        ).fetchall()
    )
    assert [tuple(row) for row in pallets] == [(2, "closed")]


def test_rework_and_decommissioning_emit_their_events(
    running: tuple[Agent, httpx.Client, SimLine], mosquitto: Broker
) -> None:
    agent, client, _ = running
    watch = Subscriber(mosquitto, [EVENTS], client_id="rework-watch")
    ok(
        client.post(
            "/batch/start", json={"gtin": GTIN, "lot": "A3", "expiry": "281130", "planned": 15}
        )
    )
    serials = produce(agent, client, 15)
    # The packer learns of the last full case just after the pipeline goes idle: wait for it.
    deadline = time.monotonic() + 20
    while True:
        ssccs = [
            row[0]
            for row in agent.read(
                lambda c: c.execute(
                    "SELECT sscc FROM containers WHERE level='case' AND state='closed' ORDER BY id"
                ).fetchall()
            )
        ]
        if len(ssccs) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(ssccs) == 3
    a, b, c = serials[0], serials[5], serials[10]
    assert ok(client.post(f"/units/{a}/unpack"))["removed_from"] == ssccs[0]
    ok(client.post(f"/units/{a}/decommission", json={"reason": "damaged"}))
    ok(client.post(f"/units/{b}/unpack"))
    ok(client.post(f"/cases/{ssccs[0]}/units", json={"serial": b}))
    again = client.post(f"/cases/{ssccs[0]}/units", json={"serial": b})
    assert again.status_code == 409 and "already in a case" in again.json()["error"]
    in_case = client.post(f"/units/{c}/sample", json={"reason": "QA retain sample"})
    assert in_case.status_code == 409
    ok(client.post(f"/units/{c}/unpack"))
    ok(client.post(f"/units/{c}/sample", json={"reason": "QA retain sample"}))
    assert (
        ok(client.post(f"/cases/{ssccs[2]}/decommission", json={"reason": "water damage"}))["units"]
        == 4
    )
    ok(client.post("/batch/stop"))
    reconciliation = ok(client.post("/batch/close"))["reconciliation"]
    assert reconciliation == {
        "printed": 15,
        "commissioned": 9,
        "rejected": 0,
        "sampled": 1,
        "scrapped": 5,
        "in_flight": 0,
        "difference": 0,
        "balanced": True,
    }
    assert watch.wait_for(
        lambda: any(e.get("bizStep") == "inspecting" for e in watch.events(EVENTS)), 20
    )
    events = watch.events(EVENTS)
    unpacking = [e for e in events if e.get("bizStep") == "unpacking"]
    uris = [gs1.sscc_uri(gs1.Sscc.parse(sscc), 7) for sscc in ssccs]
    assert [(e["parentID"], e["action"]) for e in unpacking] == [(uri, "DELETE") for uri in uris]
    retired = [e for e in events if e.get("bizStep") == "decommissioning"]
    assert [e["serialtrace:reason"] for e in retired] == ["damaged", "sample", "water damage"]
    assert len(retired[2]["epcList"]) == 5  # the case SSCC and its four units
    packed_again = [e for e in events if e.get("bizStep") == "packing" and len(e["childEPCs"]) == 1]
    assert packed_again[0]["parentID"] == uris[0]
    watch.close()
    json.dumps(events)  # plain JSON all the way


# -- who may change the line, and from where ------------------------------------------------


def test_state_changes_need_a_token_and_the_agents_own_host_and_origin(
    running: tuple[Agent, httpx.Client, SimLine],
) -> None:
    _agent, client, _line = running
    base = str(client.base_url)
    anonymous = httpx.post(f"{base}/batch/pause", json={})
    assert (anonymous.status_code, anonymous.json()["error"]) == (
        401,
        "authorization: expected 'Bearer <token>' (the API token, or an operator signed in "
        "at the HMI)",
    )
    assert httpx.get(f"{base}/status").status_code == 200  # reading stays open locally
    rebound = client.get("/status", headers={"Host": "attacker.example:8710"})
    assert rebound.status_code == 421
    foreign = client.post("/batch/pause", json={}, headers={"Origin": "http://127.0.0.1:1"})
    assert (foreign.status_code, foreign.json()["error"]) == (
        403,
        "origin: requests from 'http://127.0.0.1:1' are not accepted",
    )
    for path in ("/hmi/", "/status"):  # the HMI and the API
        answer = client.get(path)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy, path
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
    assert foreign.headers["x-content-type-options"] == "nosniff"  # refusals too


def test_an_operator_signs_in_at_the_hmi(running: tuple[Agent, httpx.Client, SimLine]) -> None:
    _agent, client, _line = running
    base = str(client.base_url)
    wrong = httpx.post(f"{base}/hmi/api/login", json={"name": OPERATOR, "password": "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "login: name or password wrong")
    signed = httpx.post(
        f"{base}/hmi/api/login", json={"name": OPERATOR, "password": OPERATOR_PASSWORD}
    ).json()
    session = {"Authorization": f"Bearer {signed['token']}"}
    assert httpx.get(f"{base}/hmi/api/session", headers=session).json() == {"operator": OPERATOR}
    started = httpx.post(
        f"{base}/batch/start",
        json={"gtin": GTIN, "lot": "OP1", "expiry": "281130", "planned": 10},
        headers=session,
    )
    assert started.status_code == 200, started.text
    assert httpx.post(f"{base}/hmi/api/logout", headers=session).status_code == 200
    assert httpx.post(f"{base}/batch/pause", json={}, headers=session).status_code == 401
    for _ in range(5):
        httpx.post(f"{base}/hmi/api/login", json={"name": OPERATOR, "password": "nope"})
    locked = httpx.post(
        f"{base}/hmi/api/login", json={"name": OPERATOR, "password": OPERATOR_PASSWORD}
    )
    assert locked.json()["error"].startswith(f"login: operator {OPERATOR!r} is locked for")


def test_a_serial_with_a_slash_is_one_segment(
    running: tuple[Agent, httpx.Client, SimLine],
) -> None:
    _agent, client, _line = running
    missing = client.post("/units/A%2FB/sample", json={"reason": "qa"})
    assert missing.status_code == 404
    assert "'A/B'" in missing.json()["error"]


def test_status_shows_the_alarms_when_the_store_cannot_be_read(
    running: tuple[Agent, httpx.Client, SimLine],
) -> None:
    """A store that refuses reads (a full or broken disk) must not hide the alarms: /status
    answers with them and a ``store`` alarm, not a server error (a fault run under load saw
    no alarm while the data folder was full)."""
    agent, client, _ = running
    reader = agent._reader
    broken = sqlite3.connect(":memory:")
    broken.close()  # every query on it raises sqlite3.ProgrammingError
    agent._reader = broken
    try:
        body = ok(client.get("/status"))
    finally:
        agent._reader = reader
    assert body["alarms"]["store"].startswith("store: the records cannot be read")
    assert body["batch"] is None and "store_error" in body
    assert "store" not in ok(client.get("/status"))["alarms"]  # readable again: no alarm
