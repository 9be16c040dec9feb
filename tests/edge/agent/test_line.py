"""A whole simulated line: PLC, printers, camera, scanner, Mosquitto and the real agent.

A batch of 500 units with injected print defects (smudged, void, missed labels), camera
no-reads, a ribbon running out half way and case-label no-reads still reconciles exactly, and
what reached the broker matches the agent's records one for one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import gs1
from edge.agent import Agent
from edge.batch import BatchAction
from edge.wiring import build_agent
from simulators.plc import Conveyor
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

# 10 s of belt at 3,000 a minute (2,000 units took 42 s in CI, 1,000 20 s). What the batch is
# for is its mix, kept as it was with 1,000 units: defects every 48, 65 and 75 labels (about
# 10 smudged, 7 void and 6 missed labels), the ribbon out half way, cases of 5 (about 100
# cases and 20 pallets: more SSCCs than one lease of 100), serials leased UNITS at a time
UNITS = 500
EVENTS = "serialtrace/v1/plant1/line3/events"
STATE = "serialtrace/v1/plant1/line3/state"


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line(
        label_faults={"smudge": {"every": 48}, "void": {"every": 65}, "missed": {"every": 75}},
        scanner_no_read_rate=0.1,
    )
    yield sim
    sim.close()


def wait(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_a_batch_with_faults_reconciles_and_every_event_arrives_once(
    tmp_path: Path, mosquitto: Broker, line: SimLine, request: pytest.FixtureRequest
) -> None:
    config = config_for(
        tmp_path / "edge",
        mosquitto,
        line,
        units_per_case=5,
        cases_per_pallet=5,
        # A test subscriber, no trace server: the broker's PUBACK settles the outbox
        # (server-confirmed delivery: tests/edge/agent/test_delivery.py).
        extra={"outbox": {"confirm_by": "broker"}, "serials": {"lease_size": UNITS}},
    )
    subscriber = Subscriber(mosquitto, [EVENTS, STATE], client_id="line-sub")
    request.addfinalizer(subscriber.close)  # also when an assertion fails
    printed_labels: list[str] = []  # what came out of the unit printer, as its ZPL
    line.printer.subscribe(lambda label: printed_labels.append(label.zpl))
    agent: Agent = build_agent(config, sim_devices(config, line))
    agent.start()
    plc = Conveyor(
        mosquitto.link("plc", "plant1", "line3"),
        "plant1",
        "line3",
        rate_per_minute=3000,
        gate_delay_s=1.0,
    )
    plc.start()
    try:
        assert agent.publisher.wait_connected(10) and agent.plc.wait_connected(10)
        assert plc.wait_connected(10)
        plc.send_batch(
            {
                "command": "start",
                "gtin": GTIN,
                "lot": "LOT-A1",
                "expiry": "281130",
                "planned": UNITS,
                "request_id": "r1",
            }
        )
        assert wait(lambda: plc.replies, 10)
        assert plc.replies[0]["ok"] is True and plc.replies[0]["request_id"] == "r1"

        line.printer.fail_after("ribbon_out", UNITS // 2)
        plc.run(UNITS)
        # the ribbon runs out: the agent pauses the batch and stops the belt
        assert wait(lambda: plc.stop_reason is not None and "ribbon" in plc.stop_reason, 120)
        assert wait(lambda: agent.current_batch().state.value == "paused", 10)
        assert "device" in agent.status()["alarms"]
        assert agent.pipeline.wait_idle(10)
        line.printer.clear_faults()  # the operator changes the ribbon and resumes
        agent.transition(BatchAction.RESUME)
        assert plc.wait_done(120)
        assert agent.pipeline.wait_idle(20)

        agent.transition(BatchAction.STOP)
        closed = agent.close_batch()
        assert closed.state.value == "closed"
        assert wait(
            lambda: agent.publisher.stats.depth == 0 and agent.publisher.stats.rows_acked > 0
        )
        status = agent.status()
    finally:
        plc.close()
        agent.stop()

    db = sqlite3.connect(config.data_path / "edge.sqlite")
    states = Counter(dict(db.execute("SELECT state, count(*) FROM units GROUP BY state")))
    printed = db.execute("SELECT printed FROM batches").fetchone()[0]
    # serials allocated while the ribbon-out stopped the line were never printed: voided
    assert printed == sum(states.values()) - states["voided"]
    # a unit the gate rejected after its commissioning is decommissioned: scrapped in the books
    assert printed == (
        states["commissioned"] + states["rejected"] + states["scrapped"] + states["decommissioned"]
    )
    late = "verified, but the reject gate had already rejected it (no_verdict)"
    (late_rejected,) = db.execute(
        "SELECT count(*) FROM units WHERE state='rejected' AND reason LIKE ?",
        ("verified, but the reject gate had already rejected it%",),
    ).fetchone()
    # The camera's own faults (smudge, void, missed label) are about 2.5 % of the labels.
    # Units it read good but after the gate had given up on them (decommissioned, or rejected
    # as late) are a timing figure, not a print fault: on CI's busy machine they were half
    # the batch (tests/edge/agent/test_gate_timing.py covers the gate's timing).
    read_good = states["commissioned"] + states["decommissioned"] + late_rejected
    assert read_good > 0.9 * printed and states["rejected"] > late_rejected
    assert states["scrapped"] >= 1  # the label the ribbon ran out on
    # The labels sent before the ribbon ran out waited in the printer's buffer; their units
    # are scrapped, and the agent cancelled them (~JA): none came out when the ribbon was
    # changed, to be stuck on the next packs with a serial the records call scrapped.
    scrapped = [s for (s,) in db.execute("SELECT serial FROM units WHERE state='scrapped'")]
    out = "\n".join(printed_labels)
    assert [serial for serial in scrapped if serial in out] == []
    assert status["pipeline"]["cancelled_labels"] >= 1
    images = [i for (i,) in db.execute("SELECT image FROM units WHERE state='rejected'") if i]
    assert images and all(Path(image).is_file() for image in images)  # why, with the picture
    reasons = {
        r.split(":")[0] for (r,) in db.execute("SELECT reason FROM units WHERE state='rejected'")
    }
    # the camera's outcomes; on a busy machine also units whose verdict came after the gate
    # had already rejected them (gate timing only alarms here: test_gate_timing.py). Never
    # wrong_data: every label holds its own unit's code, and a frame paired with another
    # unit's label is the camera out of step (after the ribbon's resume it once was, for every
    # unit after it: tests/edge/test_wiring.py)
    assert reasons <= {"no_read", "not_gs1", "poor_quality", late}
    # the printer printed no label the agent does not count as printed
    assert line.printer.status().labels_printed <= printed
    gate = plc.counts()
    refused = status["pipeline"]["refused_triggers"]
    assert gate["triggered"] == UNITS
    assert gate["passed"] == states["commissioned"]
    # the gate's rejects: the agent's rejects, and on a busy machine units it commissioned
    # after the gate had rejected them for want of a verdict (decommissioned)
    assert gate["rejected"] + gate["no_verdict"] == (
        states["rejected"]
        + states["scrapped"]
        + states["voided"]
        + states["decommissioned"]
        + refused
    )

    # the broker side: after de-duplication by eventID, one event per recorded change
    assert wait(lambda: len(subscriber.events(EVENTS)) >= states["commissioned"], 20)
    events = {e["eventID"]: e for e in subscriber.events(EVENTS)}
    commissioned = [
        epc
        for e in events.values()
        if e["type"] == "ObjectEvent" and e.get("bizStep") == "commissioning"
        for epc in e.get("epcList", [])
    ]
    ever = states["commissioned"] + states["decommissioned"]  # every unit commissioned once
    assert len(commissioned) == len(set(commissioned)) == ever
    expected = {
        gs1.UnitCode.create(gtin=gtin, serial=serial).sgtin_uri(7)
        for gtin, serial in db.execute(
            "SELECT gtin, serial FROM units WHERE state IN ('commissioned', 'decommissioned')"
        )
    }
    assert set(commissioned) == expected
    packing = [e for e in events.values() if e["type"] == "AggregationEvent"]
    cases = db.execute(
        "SELECT count(*), sum(children) FROM containers WHERE level='case' AND state='closed'"
    ).fetchone()
    pallets = db.execute(
        "SELECT count(*) FROM containers WHERE level='pallet' AND state='closed'"
    ).fetchone()[0]
    assert len(packing) == cases[0] + pallets
    assert (
        sum(len(e["childEPCs"]) for e in packing if "sgtin" in e["childEPCs"][0])
        == (states["commissioned"])
        == cases[1]
    )
    assert db.execute("SELECT count(*) FROM containers WHERE state='scrapped'").fetchone()[0] > 0
    assert len({e["parentID"] for e in packing}) == len(packing)  # a voided SSCC is never reused
    closing = [e for e in events.values() if e.get("bizStep") == "inspecting"]
    assert closing[0]["serialtrace:reconciliation"]["printed"] == printed
    last_state = json.loads(subscriber.on(STATE)[-1])
    assert last_state["status"] == "offline"
