"""Print-quality grading on the line: every unit is graded with its verification, the grade
travels with the commissioning event, a minimum grade rejects, and a falling grade raises
the alarm before rejects start (simulated printer and camera, real agent and Mosquitto)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import gs1
from edge.batch import BatchAction
from edge.devices import UnitGrade
from edge.epcis_events import EpcisEvents
from edge.ledger import BatchStart
from edge.wiring import build_agent
from epcis.codec import encode_document
from simulators.camera.optics import Optics
from tests.edge.agent.line import GTIN, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker

EVENTS = "serialtrace/v1/plant1/line3/events"
GRADE = UnitGrade(
    overall=3.0,
    iso="3.0/08/660",
    parameters={"DEC": 4, "SC": 4, "MOD": 3, "RM": 3, "FPD": 4, "AN": 4, "GN": 4, "UEC": 4},
    limiting=("MOD", "RM"),
)


def wait(condition: Callable[[], object], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_the_commissioning_event_carries_the_grade_and_is_valid_epcis(refdata: Path) -> None:
    events = EpcisEvents("urn:epc:id:sgln:9506000.00000.3", "urn:epc:id:sgln:9506000.00000.0")
    code = gs1.UnitCode.create(gtin=GTIN, serial="A1B2C3", lot="L1", expiry="281130")
    graded = json.loads(events.unit_commissioned(code, 7, GRADE))
    plain = json.loads(events.unit_commissioned(code, 7))
    assert graded["serialtrace:grade"] == {
        "overall": 3.0,
        "letter": "B",
        "iso": "3.0/08/660",
        "parameters": {"DEC": 4, "SC": 4, "MOD": 3, "RM": 3, "FPD": 4, "AN": 4, "GN": 4, "UEC": 4},
        "limiting": ["MOD", "RM"],
    }
    assert "serialtrace:grade" not in plain
    assert graded["eventID"] != plain["eventID"]  # the hash covers the grade
    document = encode_document([])
    document["epcisBody"]["eventList"] = [graded]
    schema = json.loads((refdata / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    jsonschema.validate(document, schema)


@pytest.mark.mqtt
@pytest.mark.slow
def test_units_are_graded_and_a_falling_grade_alarms_before_rejects(
    tmp_path: Path, mosquitto: Broker
) -> None:
    line = start_line()
    camera_settings: dict[str, Any] = {
        "url": "unused",
        "timeout_s": 2.0,
        "trend_window": 10,
        "trend_drop": 0.5,
        "min_grade": 0.5,
        "min_symbol_contrast": 0.0,  # only the grade rule rejects here
    }
    config = config_for(
        tmp_path / "edge",
        mosquitto,
        line,
        trigger="timer",
        rate_per_minute=600,
        extra={"devices": {"camera": camera_settings}},
    )
    subscriber = Subscriber(mosquitto, [EVENTS], client_id="grade-sub")
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    try:
        assert agent.publisher.wait_connected(10)
        agent.start_batch(BatchStart(GTIN, "GRADE1", "281130", 400))
        assert wait(lambda: agent.status()["grade"]["full"], 30)
        assert wait(lambda: agent.status()["grade"]["baseline"] is not None, 10)
        good = agent.status()["grade"]
        assert (
            good["moving"] >= 3.0
            and good["alarm"] is None
            and "grade" not in agent.status()["alarms"]
        )
        # the ink fades by up to half: symbol contrast 43-85 % (grades C to A), far above
        # the reject limit of 0.5, and the alarm names it
        line.camera.optics = Optics(max_low_contrast=0.5)
        assert wait(lambda: "grade" in agent.status()["alarms"], 60)
        status = agent.status()
        assert status["grade"]["falling"] == "symbol_contrast"
        assert "falling: symbol_contrast" in status["alarms"]["grade"]
        assert status["counts"].get("rejected", 0) == 0  # no rejects yet: the early warning
        # the ink fades by up to 85 %: units below 20 % contrast are rejected for their grade
        line.camera.optics = Optics(max_low_contrast=0.85)
        assert wait(lambda: agent.status()["counts"].get("rejected", 0) >= 3, 60)
        agent.transition(BatchAction.STOP)
        assert agent.pipeline.wait_idle(20)
    finally:
        agent.stop()
        line.close()

    db = sqlite3.connect(config.data_path / "edge.sqlite")
    rows = db.execute("SELECT state, grade, reason FROM units WHERE grade IS NOT NULL").fetchall()
    commissioned = [json.loads(g) for state, g, _ in rows if state == "commissioned"]
    rejected = [(json.loads(g), reason) for state, g, reason in rows if state == "rejected"]
    assert len(commissioned) >= 20 and rejected
    assert all(set(g["parameters"]) == set(GRADE.parameters) for g in commissioned)
    grade, reason = rejected[0]
    assert grade["overall"] < 0.5
    assert reason.startswith("poor_quality: grade: expected at least 0.5 (D), got 0.0 (F)")
    assert "; read (01)09506000134352" in reason  # what was read, for the operator

    def graded_events() -> list[dict[str, Any]]:
        return [
            e
            for e in subscriber.events(EVENTS)
            if e.get("bizStep") == "commissioning" and "serialtrace:grade" in e
        ]

    assert subscriber.wait_for(lambda: len(graded_events()) >= len(commissioned), 20)
    overall = sorted(e["serialtrace:grade"]["overall"] for e in graded_events())
    assert overall == sorted(g["overall"] for g in commissioned)
    subscriber.close()


def test_a_unit_verified_late_is_not_graded_unless_a_minimum_grade_rules() -> None:
    import queue

    import numpy as np

    from edge.vision import DecodingLadder, Grader, QueueSource, Verifier
    from edge.wiring import CameraVerifier
    from simulators.camera import render_label

    code = gs1.UnitCode.create(gtin=GTIN, serial="LATE1", lot="L1", expiry="281130")
    label = render_label(code.hri())
    frame = np.full((1024, 1280), 70, np.uint8)
    frame[300 : 300 + label.shape[0], 400 : 400 + label.shape[1]] = label

    class Shot:
        def __init__(self, at: float) -> None:
            self.image, self.timestamp = frame, at

    def verdict(min_grade: float | None, printed: float, now: float) -> tuple[bool, int]:
        frames: queue.Queue[Shot] = queue.Queue()
        frames.put(Shot(printed + 0.01))
        camera = CameraVerifier(
            QueueSource(frames),
            Verifier(DecodingLadder(), grader=Grader(), min_grade=min_grade),
            timeout_s=1.0,
            grade_backlog_s=0.25,
            clock=lambda: now,
        )
        result = camera.verify(code, printed)
        assert result.ok
        return result.grade is not None, camera.ungraded

    assert verdict(None, 100.0, 100.1) == (True, 0)  # on time: graded
    assert verdict(None, 100.0, 100.5) == (False, 1)  # behind the belt: not graded, counted
    assert verdict(1.0, 100.0, 100.5) == (True, 0)  # a minimum grade: always graded
