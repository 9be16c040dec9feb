"""Gate timing with the PLC simulator (issue 17 item 1): every verdict is timed against the
deadline the PLC announces with its trigger; verdicts that miss it raise the alarm and stop
the line (policy ``stop``), verdicts that come close to it slow the belt (policy ``slow``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.agent import Agent
from edge.batch import BatchAction
from edge.ledger import BatchStart
from edge.wiring import build_agent
from simulators.plc import Conveyor
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.support.services import Broker

pytestmark = [pytest.mark.mqtt]


def wait(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def line() -> Iterator[SimLine]:
    sim = start_line()
    yield sim
    sim.close()


def run(
    tmp_path: Path,
    mosquitto: Broker,
    line: SimLine,
    policy: dict[str, Any],
    *,
    rate: float,
    gate_delay_s: float,
) -> tuple[Agent, Conveyor]:
    config = config_for(tmp_path / "edge", mosquitto, line, extra={"line": policy})
    agent = build_agent(config, sim_devices(config, line))
    agent.start()
    conveyor = Conveyor(
        mosquitto.link("plc", "plant1", "line3"),
        "plant1",
        "line3",
        rate_per_minute=rate,
        gate_delay_s=gate_delay_s,
    ).start()
    assert agent.plc.wait_connected(10) and agent.publisher.wait_connected(10)
    assert conveyor.wait_connected(10)
    agent.start_batch(BatchStart(GTIN, "T1", "281100", 1000))
    return agent, conveyor


def test_verdicts_missing_the_announced_deadline_alarm_and_stop_the_line(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    # the harness configures 10 s; the PLC announces a gate 5 ms after the trigger
    policy = {"policy": "stop"}  # the default; the test harness sets "alarm"
    agent, conveyor = run(tmp_path, mosquitto, line, policy, rate=300, gate_delay_s=0.005)
    try:
        conveyor.run(60)
        assert wait(lambda: conveyor.stop_reason is not None), agent.status()["gate"]
        assert "missed the reject gate's 5 ms deadline" in str(conveyor.stop_reason)
        assert wait(lambda: agent.current_batch().state.value == "paused")  # type: ignore[union-attr]
        alarm = agent.status()["alarms"]["gate timing"]
        assert "missed the reject gate's 5 ms deadline" in alarm
        gate = agent.status()["gate"]
        assert gate["deadline_ms"] == 5.0 and gate["last_margin_ms"] < 0
        # stopped on the third miss, not after the whole run
        assert 3 <= gate["total_missed"] < 20, gate
        assert conveyor.counts()["triggered"] < 60
        assert agent.pipeline.wait_idle(20)
        agent.transition(BatchAction.RESUME)  # the operator acknowledges
        assert "gate timing" not in agent.status()["alarms"]
    finally:
        conveyor.close()
        agent.stop()


def test_verdicts_close_to_the_deadline_slow_the_belt_before_units_are_lost(
    tmp_path: Path, mosquitto: Broker, line: SimLine
) -> None:
    # a gate 5 s downstream, a guard of 4.99 s: every verdict is in time but at risk
    policy = {"policy": "slow", "guard_ms": 4990.0, "window": 20, "min_rate_per_minute": 30.0}
    agent, conveyor = run(tmp_path, mosquitto, line, policy, rate=600, gate_delay_s=5.0)
    try:
        conveyor.run()
        assert wait(lambda: bool(conveyor.rate_changes)), agent.status()["gate"]
        assert 30.0 <= conveyor.rate_changes[0] < 600.0
        assert conveyor.interval == pytest.approx(60.0 / conveyor.rate_changes[0])
        assert "line slowed to" in agent.status()["alarms"]["gate timing"]
        assert agent.current_batch().state.value == "running"  # type: ignore[union-attr]
        assert agent.status()["gate"]["total_missed"] == 0  # nothing lost: slowed in time
    finally:
        conveyor.close()
        agent.stop()
