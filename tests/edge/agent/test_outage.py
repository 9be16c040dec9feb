"""The broker goes away mid-batch: the line keeps running and nothing is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import gs1
from edge.batch import BatchAction
from edge.ledger import BatchStart
from edge.wiring import build_agent
from tests.edge.agent.line import GTIN, config_for, sim_devices, start_line
from tests.edge.agent.subscriber import Subscriber, persistent_broker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

EVENTS = "serialtrace/v1/plant1/line3/events"


def test_broker_stopped_and_restarted_mid_batch_loses_nothing(tmp_path: Path) -> None:
    line = start_line()
    with persistent_broker() as broker:
        config = config_for(
            tmp_path / "edge",
            broker,
            line,
            trigger="timer",
            rate_per_minute=1200,
            # No trace server here: the broker's PUBACK settles the outbox (server-confirmed
            # delivery: tests/edge/agent/test_delivery.py).
            extra={"outbox": {"alarm_depth": 20, "confirm_by": "broker"}},
        )
        subscriber = Subscriber(broker, [EVENTS], client_id="outage-sub", persistent=True)
        agent = build_agent(config, sim_devices(config, line))

        def commissioned() -> set[str]:
            return {
                epc
                for e in subscriber.events(EVENTS)
                if e.get("bizStep") == "commissioning"
                for epc in e.get("epcList", [])
            }

        def made() -> int:
            return int(agent.status()["counts"].get("commissioned", 0))

        def offline() -> bool:
            status = agent.status()
            return (
                not status["outbox"]["connected"]
                and status["outbox"]["depth"] > 20
                and "outbox" in status["alarms"]
            )

        agent.start()
        try:
            assert agent.publisher.wait_connected(10)
            agent.start_batch(BatchStart(GTIN, "OUT1", "281130", 1000))
            # online: the line runs and its events reach the subscriber
            assert subscriber.wait_for(lambda: len(commissioned()) >= 20, 30)
            broker.stop()
            # offline: the line goes on (20 units more), the outbox grows past its alarm depth
            before = made()
            assert subscriber.wait_for(lambda: offline() and made() >= before + 20, 30), (
                agent.status()
            )
            status = agent.status()
            assert status["outbox"]["connected"] is False
            assert status["outbox"]["depth"] > 20
            assert status["alarms"]["outbox"].endswith("events waiting for the broker")
            broker.restart()
            # online again, and the line still producing: more than 80 units in all
            assert agent.publisher.wait_connected(30)
            after = made()
            assert subscriber.wait_for(lambda: made() > max(80, after), 30), made()
            agent.transition(BatchAction.STOP)
            agent.close_batch()
            deadline = time.monotonic() + 30
            while agent.publisher.stats.depth and time.monotonic() < deadline:
                time.sleep(0.1)
            assert agent.publisher.stats.depth == 0
            assert "outbox" not in agent.status()["alarms"]
        finally:
            agent.stop()
            line.close()
        db = sqlite3.connect(config.data_path / "edge.sqlite")
        serials = [s for (s,) in db.execute("SELECT serial FROM units WHERE state='commissioned'")]
        expected = {gs1.UnitCode.create(gtin=GTIN, serial=s).sgtin_uri(7) for s in serials}

        assert subscriber.wait_for(lambda: commissioned() == expected, 20)
        assert len(serials) > 80
        subscriber.close()
