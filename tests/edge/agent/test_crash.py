"""``kill -9`` the agent again and again during a batch; the invariants hold afterwards.

The agent runs as ``serialtrace edge run`` in its own process, driving the virtual printer on
TCP, reading camera frames from a folder and the case scanner on a pty, fed by the PLC
simulator over Mosquitto. After every kill it is started again and goes on with the batch.
At the end the batch must close (reconciled), no serial may have been printed twice, every
printed serial must be on record in a final state, and the broker side must have received,
after de-duplication by eventID, exactly one commissioning per commissioned unit. No unit may
be recorded active (commissioned) that the PLC's reject gate rejected: a kill between the
commissioning and the accept leaves it in the reject bin, and the gate's report
(``plc/gate``, delivered after the restart) has it decommissioned.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import gs1
from edge.api_auth import ensure_token
from edge.batch import IN_FLIGHT
from edge.config import load_config
from simulators.camera.camera import CameraSimulator
from simulators.camera.optics import Optics
from simulators.camera.transport import FolderWriter
from simulators.labels import PrintedLabel
from simulators.plc import Conveyor
from tests.edge.agent.line import GTIN, SimLine, line_config, start_line, write_config
from tests.edge.agent.subscriber import Subscriber
from tests.support.services import Broker, free_port
from tests.support.standby import Standby

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

KILLS = 12
EVENTS = "serialtrace/v1/plant1/line3/events"
STATE = "serialtrace/v1/plant1/line3/state"
# what ``serialtrace edge run`` imports before it reads its configuration
AGENT_MODULES = ("uvicorn", "edge.api", "edge.wiring", "serialtrace.preflight")


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[SimLine, Path, list[str]]]:
    frames = tmp_path / "frames"
    frames.mkdir()
    # the camera photographs into a folder the agent's process watches
    camera = CameraSimulator(Optics(frame_width=800, frame_height=600), [FolderWriter(frames)])
    sim = start_line(label_faults={"smudge": {"every": 53}}, camera=camera)
    printed: list[str] = []

    def record(label: PrintedLabel) -> None:
        hri = label.data.get("datamatrix_hri")
        if hri:
            code = gs1.parse(hri)
            if isinstance(code, gs1.UnitCode) and code.serial:
                printed.append(code.serial)

    sim.printer.subscribe(record)
    yield sim, frames, printed
    sim.close()


class AgentProcess:
    """``serialtrace edge run``; the next run waits as a standby, its imports done, so that a
    restart after a kill costs the agent's start-up, not the interpreter's (tests/support/
    standby.py)."""

    def __init__(self, config: Path, api: str, log: Path) -> None:
        self.config, self.api, self.log = config, api, log
        self.process: subprocess.Popen[bytes] | None = None
        self.standby: Standby | None = None

    def prepare(self) -> None:
        """Start the next run's standby (while this one runs)."""
        if self.standby is None:
            args = ["edge", "run", "--config", str(self.config)]
            self.standby = Standby(args, AGENT_MODULES, self.log)

    def start(self) -> None:
        self.prepare()
        assert self.standby is not None
        self.process, self.standby = self.standby.go(), None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.api + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError("agent did not come up:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.standby is not None:
            self.standby.cancel()
            self.standby = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def post(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        token = ensure_token(load_config(self.config))  # the agent's API token file
        response = httpx.post(
            self.api + path,
            json=body or {},
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def get(self, path: str) -> dict[str, object]:
        return httpx.get(self.api + path, timeout=10).json()  # type: ignore[no-any-return]


def wait_for_a_unit_in_flight(database: Path, timeout: float = 5.0) -> None:
    """Return as soon as the agent's store holds a unit in flight (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    marks = ", ".join(f"'{state.value}'" for state in IN_FLIGHT)
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(database, timeout=5)) as db:
            if db.execute(f"SELECT 1 FROM units WHERE state IN ({marks}) LIMIT 1").fetchone():
                return
        time.sleep(0.002)


def test_sigkill_at_random_points_keeps_every_invariant(
    tmp_path: Path, mosquitto: Broker, line: tuple[SimLine, Path, list[str]]
) -> None:
    sim, frames, printed = line
    port = free_port()
    raw = line_config(
        tmp_path / "edge",
        mosquitto,
        printer_url=sim.printer_tcp.url,
        case_printer_url=sim.case_printer_tcp.url,
        scanner_url=sim.scanner.port,
        camera_url=str(frames),
        units_per_case=10,
        cases_per_pallet=4,
        api_port=port,
    )
    # No trace server here: the broker's PUBACK settles the outbox (server-confirmed
    # delivery has its own tests, tests/edge/agent/test_delivery.py).
    raw.setdefault("outbox", {})["confirm_by"] = "broker"
    config = write_config(tmp_path / "edge.toml", raw)
    agent = AgentProcess(config, f"http://127.0.0.1:{port}", tmp_path / "agent.log")
    subscriber = Subscriber(mosquitto, [EVENTS, STATE], client_id="crash-sub")
    plc = Conveyor(
        mosquitto.link("plc", "plant1", "line3"),
        "plant1",
        "line3",
        rate_per_minute=900,
        gate_delay_s=0.8,
    )
    plc.start()
    rng = random.Random(20261124)
    try:
        agent.start()
        agent.post(
            "/batch/start", {"gtin": GTIN, "lot": "CRASH1", "expiry": "281130", "planned": 5000}
        )
        assert plc.wait_connected(10)
        plc.run()
        for kill in range(KILLS):
            # The restarted agent runs a while first (it was 0.3-2.0 s): at 900 units a
            # minute a unit is triggered every 67 ms, and the range is as wide as the gate's
            # delay (0.8 s), so the kills still fall at any point of a unit's way from the
            # trigger to the gate's report, the reports of the agent's previous run included.
            time.sleep(rng.uniform(0.2, 1.0))
            # Kill while a unit is in flight (its serial allocated, not yet decided), the case
            # the recovery exists for: a faster pipeline leaves fewer such moments to land on
            # by chance.
            wait_for_a_unit_in_flight(tmp_path / "edge" / "edge.sqlite")
            agent.kill()
            if kill == 0:  # the broker tells everyone the line went away (last will)
                assert subscriber.wait_for(
                    lambda: any(b'"offline"' in p for p in subscriber.on(STATE)), 10
                )
            for frame in frames.iterdir():  # a new camera session: old frames are gone
                frame.unlink(missing_ok=True)
            agent.start()
            status = agent.get("/status")
            assert status["batch"]["state"] == "running"  # type: ignore[index]
            agent.prepare()  # the next restart's standby imports while this run works
        # the line goes on after the last restart: it prints again, enough for the counts
        # below to mean something
        since = len(printed)
        deadline = time.monotonic() + 60
        while not (len(printed) >= since + 10 and len(set(printed)) > 50):
            assert time.monotonic() < deadline, (
                "printing after the last kill",
                since,
                len(printed),
            )
            time.sleep(0.05)
        plc.halt()
        assert plc.wait_done(30)
        outcomes = dict(plc.gate.outcomes)  # trigger id -> passed | rejected | no_verdict

        def active_but_rejected() -> set[str]:
            with sqlite3.connect(tmp_path / "edge" / "edge.sqlite") as db:
                rows = db.execute("SELECT trigger FROM units WHERE state = 'commissioned'")
                return {t for (t,) in rows if outcomes.get(t) != "passed"}

        deadline = time.monotonic() + 20  # the last gate reports are being recorded
        while active_but_rejected() and time.monotonic() < deadline:
            time.sleep(0.1)
        agent.post("/batch/stop")
        closed = agent.post("/batch/close")
        deadline = time.monotonic() + 30
        while agent.get("/status")["outbox"]["depth"] and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.1)
    finally:
        plc.close()
        agent.terminate()
    log = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in log, log[-3000:]

    db = sqlite3.connect(tmp_path / "edge" / "edge.sqlite")
    units = dict(db.execute("SELECT serial, state FROM units"))
    reconciliation = closed["reconciliation"]
    assert reconciliation["balanced"] is True  # type: ignore[index]
    assert set(units.values()) <= {"commissioned", "rejected", "scrapped", "decommissioned"}
    # the stronger invariant: no unit is active that the gate sent to the reject bin
    triggers = dict(db.execute("SELECT trigger, state FROM units"))
    assert not {t for t, state in triggers.items() if state == "commissioned"} - {
        t for t, outcome in outcomes.items() if outcome == "passed"
    }
    # no serial was ever printed twice, and each one printed was on record before printing
    assert len(printed) == len(set(printed)) > 50
    assert set(printed) <= set(units)
    recovered = sum(1 for _ in db.execute("SELECT 1 FROM units WHERE reason LIKE 'restart:%'"))
    assert recovered > 0  # the kills did catch units in flight

    # broker side: exactly one commissioning per unit ever commissioned, none for any other,
    # and a decommissioning for each unit the gate rejected after its commissioning
    commissioned = {s for s, state in units.items() if state == "commissioned"}
    retired = {s for s, state in units.items() if state == "decommissioned"}

    def received(step: str = "commissioning") -> dict[str, list[str]]:
        by_id = {e["eventID"]: e for e in subscriber.events(EVENTS)}
        epcs: dict[str, list[str]] = {}
        for event in by_id.values():
            if event.get("bizStep") == step:
                for epc in event.get("epcList", []):
                    epcs.setdefault(epc, []).append(event["eventID"])
        return epcs

    def sgtins(serials: set[str]) -> set[str]:
        return {gs1.UnitCode.create(gtin=GTIN, serial=s).sgtin_uri(7) for s in serials}

    expected = sgtins(commissioned | retired)
    deadline = time.monotonic() + 20
    while (
        set(received()) != expected or set(received("decommissioning")) != sgtins(retired)
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    epcs = received()
    assert set(epcs) == expected
    assert all(len(ids) == 1 for ids in epcs.values())
    assert set(received("decommissioning")) == sgtins(retired)
    # the gate let a unit pass only on an accept sent after its commissioning was durable
    assert set(plc.gate.serials.values()) <= commissioned
    subscriber.close()
    shutil.rmtree(frames, ignore_errors=True)
