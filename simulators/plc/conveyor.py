"""The PLC simulator: a conveyor with a photo-eye trigger and a fail-safe reject gate.

It speaks the PLC topics of a line over MQTT, like a real PLC with an MQTT gateway:

* sends ``plc/trigger`` ``{"id": "<n>", "deadline_ms": <gate delay>}`` for each unit reaching
  the printer, at a set rate while the line runs (``deadline_ms``: how long the gate waits
  for this unit's verdict; left out when the gate is right at the printer);
* listens on ``plc/accept`` and ``plc/reject`` for the verdict on each unit, and on
  ``plc/command`` for ``stop`` / ``start`` (``start`` resumes a belt the agent stopped, or
  runs it again, without limit, once a :meth:`Conveyor.run` sent all its units) and
  ``{"command": "rate", "rate_per_minute": …}`` (the agent slows the belt when its verdicts
  come close to the gate's deadline);
* the reject gate is ``gate_delay_s`` downstream of the printer: a unit passes only if an
  accept for its id arrived before it reached the gate; a reject, or no verdict at all
  (the agent crashed, the network dropped), sends it to the reject bin;
* reports what the gate did with each unit on ``plc/gate`` (QoS 1):
  ``{"id": "<n>", "outcome": "passed" | "rejected", "reason": null | "rejected" |
  "no_verdict"}``, and ``{"id": "<n>", "outcome": "rejected", "reason": "late"}`` again when an
  accept arrives for a unit that is already in the bin.

:class:`Gate` is the pure bookkeeping (testable without a broker); :class:`Conveyor` adds the
MQTT client and the clock. Nothing here imports the edge agent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from epcis import PayloadLimitError, loads_bounded, topics
from epcis.broker import BrokerLink, refusal, tls_problem
from simulators.errors import ConfigError

log = logging.getLogger(__name__)

MAX_PAYLOAD = 64 * 1024


@dataclass
class GateCounts:
    triggered: int = 0
    passed: int = 0
    rejected: int = 0
    no_verdict: int = 0
    late_verdicts: int = 0
    unknown_verdicts: int = 0
    invalid_messages: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GateReport:
    """What the reject gate did with one unit, as published on ``plc/gate``."""

    id: str
    outcome: str  # passed | rejected
    reason: str | None  # None when passed; rejected | no_verdict | late

    def payload(self) -> str:
        return json.dumps({"id": self.id, "outcome": self.outcome, "reason": self.reason})


@dataclass
class _Unit:
    id: str
    at_gate: float
    verdict: str | None = None
    serial: str | None = None
    reason: str | None = None


@dataclass
class Gate:
    """Units between the printer and the reject gate, and what happened at the gate."""

    gate_delay_s: float
    counts: GateCounts = field(default_factory=GateCounts)
    outcomes: dict[str, str] = field(default_factory=dict)
    serials: dict[str, str] = field(default_factory=dict)
    _moving: OrderedDict[str, _Unit] = field(default_factory=OrderedDict)

    def triggered(self, unit_id: str, now: float) -> None:
        self.counts.triggered += 1
        self._moving[unit_id] = _Unit(unit_id, now + self.gate_delay_s)

    def verdict(
        self, unit_id: str, verdict: str, serial: str | None, reason: str | None
    ) -> GateReport | None:
        """Note the agent's verdict; a report if it came too late (an accept for a unit that
        is already in the reject bin)."""
        unit = self._moving.get(unit_id)
        if unit is None:
            if unit_id not in self.outcomes:
                self.counts.unknown_verdicts += 1
                return None
            self.counts.late_verdicts += 1
            if verdict == "accept" and self.outcomes[unit_id] != "passed":
                return GateReport(unit_id, "rejected", "late")
            return None
        if unit.verdict != "reject":  # a reject is final
            unit.verdict, unit.serial, unit.reason = verdict, serial, reason
        return None

    def advance(self, now: float) -> list[GateReport]:
        """Units that reached the gate by ``now`` pass or drop; what the gate did with each."""
        reports: list[GateReport] = []
        while self._moving:
            unit = next(iter(self._moving.values()))
            if unit.at_gate > now:
                break
            del self._moving[unit.id]
            if unit.verdict == "accept":
                self.counts.passed += 1
                self.outcomes[unit.id] = "passed"
                if unit.serial:
                    self.serials[unit.id] = unit.serial
                reports.append(GateReport(unit.id, "passed", None))
            elif unit.verdict == "reject":
                self.counts.rejected += 1
                self.outcomes[unit.id] = "rejected"
                reports.append(GateReport(unit.id, "rejected", "rejected"))
            else:
                self.counts.no_verdict += 1
                self.outcomes[unit.id] = "no_verdict"
                reports.append(GateReport(unit.id, "rejected", "no_verdict"))
        return reports

    @property
    def on_belt(self) -> int:
        return len(self._moving)


class Conveyor:
    """The simulated line PLC on an MQTT broker."""

    def __init__(
        self,
        broker_url: str | BrokerLink,
        site: str,
        line: str,
        *,
        rate_per_minute: float = 600.0,
        gate_delay_s: float = 1.0,
        client_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        secrets_file: str | None = None,
    ) -> None:
        """``broker_url`` is a URL (``mqtts://…``; credentials from ``secrets_file``, as
        ``serialtrace broker add-plc`` writes it) or a ready :class:`BrokerLink`."""
        link = (
            broker_url
            if isinstance(broker_url, BrokerLink)
            else BrokerLink.parse(broker_url, secrets_file=secrets_file, field_name="broker")
        )
        if rate_per_minute <= 0:
            raise ConfigError(f"rate_per_minute: expected more than 0, got {rate_per_minute!r}")
        self.link = link
        self.host, self.port = link.host, link.port
        self.refused: str | None = None  # why the broker refuses us, for good
        self.trigger_topic = topics.plc_trigger_topic(site, line)
        self.command_topic = topics.plc_command_topic(site, line)
        self.reject_topic = topics.plc_reject_topic(site, line)
        self.accept_topic = topics.line_topic(site, line, topics.TopicKind.PLC_ACCEPT)
        self.batch_topic = topics.line_topic(site, line, topics.TopicKind.PLC_BATCH)
        self.batch_reply_topic = topics.line_topic(site, line, topics.TopicKind.PLC_BATCH_REPLY)
        self.gate_topic = topics.line_topic(site, line, topics.TopicKind.PLC_GATE)
        self.interval = 60.0 / rate_per_minute
        self.rate_changes: list[float] = []  # rates the agent asked for, in order
        self.gate = Gate(gate_delay_s)
        self.clock = clock
        self.running = threading.Event()
        self.stop_reason: str | None = None
        self.replies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._next_id = 1
        self._limit: int | None = None
        self._stopped_by_agent = False
        self._ran_out = False  # the last run() sent all its units
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._link_news = threading.Condition()  # connected or refused: wait_connected
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"serialtrace-plc-sim-{site}-{line}",
            protocol=paho.MQTTv5,
        )
        link.configure(self._client)
        self._client.suppress_exceptions = True  # a bad message never ends paho's thread
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> Conveyor:
        self._client.connect_async(self.host, self.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="plc-conveyor", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        """True once connected; False after ``timeout``, or as soon as the broker refused
        the connection for good (:attr:`refused` says why)."""
        with self._link_news:
            self._link_news.wait_for(
                lambda: self._connected.is_set() or self.refused is not None, timeout
            )
        return self._connected.is_set()

    def run(self, units: int | None = None) -> None:
        """Start the belt: ``units`` more triggers (None: until stopped)."""
        with self._lock:
            self._limit = None if units is None else self._next_id - 1 + units
            self.stop_reason = None
            self._ran_out = False
        self.running.set()

    def halt(self, reason: str = "operator") -> None:
        self.stop_reason = reason
        self.running.clear()

    def wait_done(self, timeout: float) -> bool:
        """Wait until the belt stopped (limit reached or a stop) and no unit is on it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self.running.is_set() and self.gate.on_belt == 0:
                    return True
            time.sleep(0.02)
        return False

    def send_batch(self, command: dict[str, Any]) -> None:
        """Publish a batch command (``{"command": "start", …}``) as the PLC HMI would."""
        self._client.publish(self.batch_topic, json.dumps(command), qos=1)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return self.gate.counts.as_dict()

    # -- belt ---------------------------------------------------------------------------------

    def _run(self) -> None:
        next_at = self.clock()
        while not self._closing.is_set():
            now = self.clock()
            with self._lock:
                reports = self.gate.advance(now)
            for report in reports:
                self._report(report)
            if not self.running.is_set() or not self._connected.is_set():
                next_at = now + self.interval
                self._closing.wait(0.01)
                continue
            if now < next_at:
                self._closing.wait(min(next_at - now, 0.01))
                continue
            next_at = max(next_at + self.interval, now - 1.0)  # no burst after a stall
            with self._lock:
                unit_id = str(self._next_id)
                self._next_id += 1
                self.gate.triggered(unit_id, now)
                if self._limit is not None and self._next_id - 1 >= self._limit:
                    self.running.clear()
                    self._ran_out = True
            trigger: dict[str, Any] = {"id": unit_id}
            if self.gate.gate_delay_s > 0:
                trigger["deadline_ms"] = round(self.gate.gate_delay_s * 1000, 1)
            self._client.publish(self.trigger_topic, json.dumps(trigger), qos=1)

    def _report(self, report: GateReport) -> None:
        self._client.publish(self.gate_topic, report.payload(), qos=1)

    # -- MQTT ---------------------------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self.refused = refusal(reason)
            log.warning("PLC sim: broker refused the connection: %s", reason)
            self._link_changed()
            return
        self.refused = None
        client.subscribe(
            [
                (self.accept_topic, 1),
                (self.reject_topic, 1),
                (self.command_topic, 1),
                (self.batch_reply_topic, 1),
            ]
        )
        self._connected.set()
        self._link_changed()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        problem = tls_problem(self.link)
        if problem is not None and problem.startswith("TLS"):
            self.refused = problem
            self._link_changed()

    def _link_changed(self) -> None:
        with self._link_news:
            self._link_news.notify_all()

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        data = _object(bytes(message.payload))
        late: GateReport | None = None
        with self._lock:
            if data is None:
                self.gate.counts.invalid_messages += 1
                log.warning("PLC sim: not a JSON object on %s", message.topic)
                return
            if message.topic == self.batch_reply_topic:
                self.replies.append(data)
            elif message.topic == self.command_topic:
                self._command(data)
            else:
                verdict = "accept" if message.topic == self.accept_topic else "reject"
                unit_id = data.get("id")
                if unit_id is None:  # a refused trigger without id, or a unit we never sent
                    self.gate.counts.unknown_verdicts += 1
                    return
                serial, reason = data.get("serial"), data.get("reason")
                late = self.gate.verdict(str(unit_id), verdict, serial, reason)
        if late is not None:
            self._report(late)

    def _command(self, data: dict[str, Any]) -> None:
        command = data.get("command")
        if command == "stop":
            self.stop_reason = str(data.get("reason"))
            self._stopped_by_agent = self.running.is_set()
            self.running.clear()
            log.warning("PLC sim: line stopped by the agent: %s", self.stop_reason)
        elif command == "start":
            if self._stopped_by_agent:  # the fault was cleared: the belt goes on
                self._stopped_by_agent = False
                self.stop_reason = None
                self.running.set()
            elif self._ran_out and not self.running.is_set():
                # a new batch after the last run's units were all sent (e.g. started from
                # the HMI after the demo): the belt runs again, until stopped
                self._ran_out = False
                self._limit = None
                self.stop_reason = None
                self.running.set()
                log.warning("PLC sim: belt started by the agent")
        elif command == "rate":
            rate = data.get("rate_per_minute")
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
                self.gate.counts.invalid_messages += 1
                return
            self.interval = 60.0 / rate
            self.rate_changes.append(float(rate))
            log.warning("PLC sim: belt rate set to %.1f units/min by the agent", rate)
        else:
            self.gate.counts.invalid_messages += 1


def _object(payload: bytes) -> dict[str, Any] | None:
    try:
        value = loads_bounded(payload, max_bytes=MAX_PAYLOAD, max_depth=8)
    except PayloadLimitError:
        return None
    return value if isinstance(value, dict) else None
