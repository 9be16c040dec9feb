"""The agent with serials from the authority: it fills its buffer, keeps packing while the
authority is away, stops the line with an alarm when the buffer runs dry, goes on after a
refill, and at batch close the authority's books match the line's records exactly."""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from edge.agent import Agent
from edge.batch import BatchAction
from edge.config import parse_config
from edge.wiring import build_agent
from server.serials import ScopeKey, SerialAuthority
from simulators.plc import Conveyor
from tests.edge.agent.line import GTIN, SimLine, line_config, sim_devices, start_line
from tests.server.conftest import migrated_store
from tests.support.authority import KEY, ThreadedAuthority, prepare
from tests.support.services import Broker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

PASSWORD = "line three secret"
RATE = 600.0  # the line rate the buffer is sized for
TARGET, LOW = 150, 75  # serials: 0.25 and 0.125 minutes at 600/min


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_store("sqlite", tmp_path, request) as engine:
        yield engine


@pytest.fixture
def authority(store: Engine, tmp_path: Path) -> Iterator[ThreadedAuthority]:
    prepare(
        store,
        gtins=(GTIN,),
        sscc_prefixes=((0, "9506000"),),
        lines={"line3-pc": ("plant1", "line3")},
        password=PASSWORD,
    )
    served = ThreadedAuthority(store, tmp_path)
    served.start()
    yield served
    served.stop()


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line(label_faults={"smudge": {"every": 41}})
    yield sim
    sim.close()


def wait(condition: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def serial_scope(agent: Agent, kind: str) -> dict[str, Any]:
    scopes = agent.status()["serials"]["scopes"]
    return next(s for s in scopes if s["kind"] == kind)


def test_offline_until_empty_then_refill_and_the_books_balance(
    tmp_path: Path, mosquitto: Broker, line: SimLine, authority: ThreadedAuthority, store: Engine
) -> None:
    password = tmp_path / "authority.password"
    password.write_text(PASSWORD + "\n")
    os.chmod(password, 0o600)
    raw = line_config(
        tmp_path / "edge",
        mosquitto,
        printer_url=line.printer_tcp.url,
        case_printer_url=line.case_printer_tcp.url,
        scanner_url=line.scanner.port,
        units_per_case=20,
        cases_per_pallet=3,
        extra={
            "serials": {
                "authority_url": authority.url,
                "authority_user": "line3-pc",
                "authority_password_file": str(password),
                "buffer_hours": TARGET / RATE / 60,
                "low_water_hours": LOW / RATE / 60,
                "line_rate_per_minute": RATE,
                "pool_size": 100,
                "sscc_pool_size": 20,
                "authority_retry_s": 0.2,
                "authority_max_backoff_s": 1.0,
            }
        },
    )
    config = parse_config(raw)
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    plc = Conveyor(
        mosquitto.link("plc", "plant1", "line3"),
        "plant1",
        "line3",
        rate_per_minute=1200,
        gate_delay_s=0.8,
    )
    plc.start()
    try:
        assert agent.plc.wait_connected(10) and plc.wait_connected(10)
        # SSCCs: 0.25 min of 30 cases and 10 pallets a minute, a fifth more for relabels
        assert wait(
            lambda: (
                serial_scope(agent, "sgtin")["remaining"] == TARGET
                and serial_scope(agent, "sscc")["remaining"] == 12
            )
        )
        authority.stop()  # away before the batch starts: everything comes from the buffer
        from edge.ledger import BatchStart

        agent.start_batch(BatchStart(GTIN, "AUTH1", "281130", 1000))
        plc.run(250)
        # the buffer runs dry after 150 serials: the line stops with an alarm
        assert wait(lambda: plc.stop_reason is not None, 120), agent.status()["alarms"]
        assert "no serials left for GTIN" in plc.stop_reason
        assert wait(lambda: agent.current_batch().state.value == "paused", 10)
        alarms = agent.status()["alarms"]
        assert "no serials left for GTIN" in alarms["device"]
        assert "authority unreachable since" in alarms["serials"]
        assert plc.wait_done(60) and agent.pipeline.wait_idle(20)
        authority.start()  # back: the buffer is refilled, the alarm clears, the line goes on
        assert wait(lambda: serial_scope(agent, "sgtin")["remaining"] == TARGET, 60)
        assert wait(lambda: "serials" not in agent.status()["alarms"], 10)
        agent.transition(BatchAction.RESUME)
        plc.run(50)
        assert plc.wait_done(60) and agent.pipeline.wait_idle(20)
        agent.transition(BatchAction.STOP)
        closed = agent.close_batch()
        assert closed.state.value == "closed"
        assert wait(lambda: agent.status()["serials"]["reports_waiting"] == 0, 30)
        left = {s["kind"]: s["remaining"] for s in agent.status()["serials"]["scopes"]}
    finally:
        plc.close()
        agent.stop()
    db = sqlite3.connect(config.data_path / "edge.sqlite")
    units = Counter(dict(db.execute("SELECT state, count(*) FROM units GROUP BY state")))
    containers = Counter(dict(db.execute("SELECT state, count(*) FROM containers GROUP BY state")))
    books = SerialAuthority(store, key=KEY, journal=None)
    sgtin = books.summary(ScopeKey.sgtin(GTIN))
    assert sgtin.used == units["commissioned"]
    assert sgtin.destroyed == units["rejected"] + units["scrapped"] + units["decommissioned"]
    assert sgtin.destroyed > 0  # smudged labels were rejected
    # returned: voided units, and serials handed out but never recorded (none without a crash)
    assert sgtin.returned == units["voided"]
    assert sgtin.outstanding == left["sgtin"]  # what is still in the line's buffer
    sscc = books.summary(ScopeKey.sscc(0, "9506000"))
    assert sscc.used == containers["closed"]
    assert sscc.destroyed == containers["scrapped"] + containers["decommissioned"]
    assert sscc.outstanding == left["sscc"]
