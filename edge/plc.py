"""The PLC link over MQTT: triggers, batch commands and faults in; accept, reject, stop out.

Topics (under ``serialtrace/v1/{site}/{line}/``; payloads are JSON objects, documented with
examples in ``docs/mqtt.md``):

====================  =====  ===========================================================
``plc/trigger``       in     a unit reached the printer: ``{"id": "17"}``, optionally
                             ``"deadline_ms": 150`` (the gate's verdict deadline)
``plc/batch``         in     ``{"command": "start", "gtin": …, "lot": …, "expiry": …,
                             "planned": …}`` or pause / resume / stop / close
``plc/error``         in     the PLC reports a fault: the batch pauses
``plc/gate``          in     what the reject gate did with unit ``id``: ``{"id": "17",
                             "outcome": "rejected", "reason": "no_verdict"}``
``plc/batch/reply``   out    the outcome of a batch command
``plc/accept``        out    the unit of trigger ``id`` passed verification
``plc/reject``        out    take the unit of trigger ``id`` off the line, with the reason
``plc/command``       out    ``{"command": "stop", "reason": …}`` on a fault, ``start``
                             when resumed, ``{"command": "rate", "rate_per_minute": …}``
                             (gate timing's ``slow`` policy)
``plc/invalid``       out    a message on an in-topic was malformed: what and why
====================  =====  ===========================================================

This link uses its own MQTT session with clean start: a trigger is only meaningful while the
unit is at the printer, so triggers sent while the agent was down must not be delivered later.
Gate reports are the opposite: one sent while the agent was down must still reach it (it may
say that a unit the agent commissioned went to the reject bin), so ``plc/gate`` has a second
client with a persistent session (clean start off on every reconnect, a session expiry) and manual
acknowledgement: a report is acknowledged only once its outcome is committed, so a crash in
between gets it delivered again.
A malformed or unexpected message is logged and answered on ``plc/invalid``; it never stops
the agent. Payloads go through the bounded JSON decoder (:func:`epcis.loads_bounded`: size,
nesting depth, no NaN/Infinity, integer digits), every callback is guarded (an exception is
logged, counted in :attr:`PlcLink.errors` and answered; paho's network thread never sees
it), and a broker that refuses these connections for good (credentials, ACL, certificate)
is reported through ``on_link_problem``, as the publisher does.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import MqttConfig
from edge.errors import EdgeError, PayloadError
from edge.mqtt import connect_problem, guarded, make_client, tls_failure
from epcis import PayloadLimitError, loads_bounded
from epcis.topics import LineTopics

log = logging.getLogger(__name__)

MAX_PAYLOAD = 64 * 1024
MAX_ID = 64
MAX_DEPTH = 8  # PLC messages are flat objects (a batch start holds a list of materials)


def _show(value: Any) -> str:
    """``repr(value)`` clipped for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_object(payload: bytes) -> dict[str, Any]:
    """A JSON object from an MQTT payload, or PayloadError saying what was wrong."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload: expected at most {MAX_PAYLOAD} bytes, got {len(payload)}")
    try:
        value = loads_bounded(payload, max_depth=MAX_DEPTH)
    except PayloadLimitError as exc:
        raise PayloadError(str(exc)) from None
    if not isinstance(value, dict):
        raise PayloadError(f"payload: expected a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    """A ``plc/trigger``: the PLC's id of the unit (None if it has none) and, if the PLC
    announces it, how long after this trigger its reject gate waits for the verdict."""

    id: str | None
    deadline_ms: float | None = None


#: The longest verdict deadline a PLC may announce (a minute: no belt is that long).
MAX_DEADLINE_MS = 60_000.0


def parse_trigger_message(payload: bytes) -> TriggerMessage:
    """A trigger, or PayloadError naming the field: ``{"id": "17"}``, optionally with
    ``"ts"`` and ``"deadline_ms"`` (the gate's verdict deadline for this unit, > 0)."""
    if payload.strip() in (b"", b"{}"):
        return TriggerMessage(None)
    data = parse_object(payload)
    unknown = sorted(set(data) - {"id", "ts", "deadline_ms"})
    if unknown:
        raise PayloadError(
            f"trigger: unknown fields {unknown}; expected 'id' and optional 'ts', 'deadline_ms'"
        )
    deadline = data.get("deadline_ms")
    if deadline is not None and (
        isinstance(deadline, bool)
        or not isinstance(deadline, int | float)
        or not 0 < deadline <= MAX_DEADLINE_MS
    ):
        raise PayloadError(
            f"deadline_ms: expected a number of milliseconds in (0, {MAX_DEADLINE_MS:.0f}], "
            f"got {_show(deadline)}"
        )
    value = data.get("id")
    if value is None:
        return TriggerMessage(None, None if deadline is None else float(deadline))
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"id: expected a string or integer, got {_show(value)}")
    text = str(value)
    if not 0 < len(text) <= MAX_ID or not text.isprintable():
        raise PayloadError(f"id: expected 1..{MAX_ID} printable characters, got {text!r}")
    return TriggerMessage(text, None if deadline is None else float(deadline))


def parse_trigger(payload: bytes) -> str | None:
    """The PLC's id of the unit (a string of at most 64 characters), None if the PLC has none."""
    return parse_trigger_message(payload).id


GATE_REASONS = ("rejected", "no_verdict", "late")


@dataclass(frozen=True, slots=True)
class GateReport:
    """What the PLC's reject gate did with the unit of trigger ``id``."""

    id: str
    passed: bool
    reason: str | None  # None when passed; else one of GATE_REASONS


def parse_gate(payload: bytes) -> GateReport:
    """A gate report (``plc/gate``), or PayloadError naming the field."""
    data = parse_object(payload)
    unknown = sorted(set(data) - {"id", "outcome", "reason", "ts"})
    if unknown:
        raise PayloadError(
            f"gate: unknown fields {unknown}; expected 'id', 'outcome', 'reason' and optional 'ts'"
        )
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"id: expected a string or integer, got {_show(value)}")
    unit_id = str(value)
    if not 0 < len(unit_id) <= MAX_ID or not unit_id.isprintable():
        raise PayloadError(f"id: expected 1..{MAX_ID} printable characters, got {unit_id!r}")
    outcome, reason = data.get("outcome"), data.get("reason")
    if outcome == "passed":
        if reason is not None:
            raise PayloadError(f"reason: expected null for a passed unit, got {_show(reason)}")
        return GateReport(unit_id, True, None)
    if outcome != "rejected":
        raise PayloadError(f"outcome: expected 'passed' or 'rejected', got {_show(outcome)}")
    if reason not in GATE_REASONS:
        expected = ", ".join(repr(r) for r in GATE_REASONS)
        raise PayloadError(
            f"reason: expected one of {expected} for a rejected unit, got {_show(reason)}"
        )
    return GateReport(unit_id, False, reason)


#: Called with a gate report and ``answer``: call ``answer(None)`` once the outcome is
#: committed, or ``answer(error)`` to refuse the report on ``plc/invalid``; either acknowledges
#: the message. Not calling it leaves the report to be delivered again after a reconnect.
GateHandler = Callable[[GateReport, Callable[[str | None], None]], None]

BatchHandler = Callable[[dict[str, Any]], dict[str, Any]]


class PlcLink:
    """The agent's MQTT connection to the PLC topics."""

    def __init__(
        self,
        mqtt: MqttConfig,
        client_id: str,
        topics: LineTopics,
        *,
        on_trigger: Callable[[str | None, float | None], None],
        on_batch: BatchHandler,
        on_plc_fault: Callable[[str], None],
        on_gate: GateHandler,
        on_link_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self.topics = topics
        self.gate_topic = topics.plc_gate
        self._on_gate = on_gate
        self._mqtt = mqtt
        self._on_trigger = on_trigger
        self._on_batch = on_batch
        self._on_plc_fault = on_plc_fault
        self._on_link_problem = on_link_problem
        self.refused: dict[str, str] = {}  # connection -> why the broker refuses it
        self.broker = mqtt.link("/plc").redacted()  # URL and user, never the password
        self._connected = threading.Event()
        self._commands: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self.errors = 0
        count = self._count_error
        self._client = make_client(mqtt, client_id, "/plc")
        self._client.on_connect = guarded("PLC link connect", count)(self._on_connect)
        self._client.on_disconnect = guarded("PLC link disconnect", count)(self._on_disconnect)
        self._client.on_subscribe = guarded("PLC link subscribe", count)(self._on_subscribe)
        self._client.on_connect_fail = guarded("PLC link", count)(self._on_connect_fail)
        for topic, handler in (
            (topics.plc_trigger, self._trigger),
            (topics.plc_batch, self._batch),
            (topics.plc_error, self._plc_error),
        ):
            self._client.message_callback_add(topic, guarded(f"PLC {topic}", count)(handler))
        self._gate_client = make_client(mqtt, f"{client_id}-gate", "/gate")
        self._gate_client.manual_ack_set(True)
        self._gate_client.on_connect = guarded("PLC gate connect", count)(self._on_gate_connect)
        self._gate_client.on_disconnect = guarded("PLC gate disconnect", count)(
            self._on_gate_disconnect
        )
        self._gate_client.on_subscribe = guarded("PLC gate subscribe", count)(
            self._on_gate_subscribe
        )
        self._gate_client.on_connect_fail = guarded("PLC gate", count)(self._on_connect_fail)
        self._gate_client.message_callback_add(
            self.gate_topic, guarded("PLC gate report", count)(self._gate)
        )
        self._gate_connected = threading.Event()
        self._gate_session_present: bool | None = None

    def start(self, *, resume_gate_session: bool = True) -> None:
        """Connect; ``resume_gate_session=False`` drops gate reports queued for an earlier
        database (a new database has no unit they could be about): a clean start on the first
        connection only. Every reconnect resumes the gate session (clean start off), so reports
        the PLC sent while the link was away are delivered."""
        self._worker = threading.Thread(target=self._run_commands, name="plc-batch", daemon=True)
        self._worker.start()
        self._client.connect_async(
            self._mqtt.host, self._mqtt.port, keepalive=self._mqtt.keepalive_s, clean_start=True
        )
        self._client.loop_start()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._mqtt.session_expiry_s
        self._gate_client.connect_async(
            self._mqtt.host,
            self._mqtt.port,
            keepalive=self._mqtt.keepalive_s,
            clean_start=paho.MQTT_CLEAN_START_FIRST_ONLY if not resume_gate_session else False,
            properties=properties,
        )
        self._gate_client.loop_start()

    def stop(self) -> None:
        self._commands.put(None)
        if self._worker is not None:
            self._worker.join(timeout=30)
        # both told first: a client waiting to reconnect (broker away) sees it only between
        # its 1 s sleeps, and the two then wait at once rather than one after the other
        self._gate_client.disconnect()
        self._client.disconnect()
        self._gate_client.loop_stop()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout) and self._gate_connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set() and self._gate_connected.is_set()

    @property
    def worker_alive(self) -> bool:
        """Whether the batch/fault command worker runs (True before start)."""
        return self._worker is None or self._worker.is_alive()

    # -- out ------------------------------------------------------------------------------

    def _send(self, topic: str, body: dict[str, Any]) -> None:
        self._client.publish(topic, json.dumps(body, separators=(",", ":")), qos=1)

    def accept(self, trigger: str | None, serial: str) -> None:
        self._send(self.topics.plc_accept, {"id": trigger, "serial": serial})

    def reject(self, trigger: str | None, serial: str | None, reason: str) -> None:
        self._send(self.topics.plc_reject, {"id": trigger, "serial": serial, "reason": reason})

    def stop_line(self, reason: str) -> None:
        self._send(self.topics.plc_command, {"command": "stop", "reason": reason})

    def start_line(self) -> None:
        self._send(self.topics.plc_command, {"command": "start", "reason": None})

    def set_rate(self, rate_per_minute: float, reason: str) -> None:
        """Ask the PLC to run the belt at ``rate_per_minute`` (gate timing's ``slow`` policy)."""
        self._send(
            self.topics.plc_command,
            {"command": "rate", "rate_per_minute": round(rate_per_minute, 1), "reason": reason},
        )

    @property
    def gate_session_resumed(self) -> bool | None:
        """Whether the gate link's last connection resumed its session (None before one)."""
        return self._gate_session_present

    def _count_error(self, what: str) -> None:
        self.errors += 1

    def _link_problem(self, connection: str, problem: str | None) -> None:
        before = dict(self.refused)
        if problem is None:
            self.refused.pop(connection, None)
        else:
            self.refused[connection] = problem
        if self.refused != before and self._on_link_problem is not None:
            self._on_link_problem("; ".join(self.refused.values()) or None)

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        problem = tls_failure(self._mqtt)
        if problem is not None:
            name = "gate" if client is self._gate_client else "plc"
            self._link_problem(name, f"PLC link: {problem}")

    def _error(self, topic: str, payload: bytes, error: str) -> None:
        self.errors += 1
        log.warning("PLC message on %s refused: %s", topic, error)
        self._send(
            self.topics.plc_invalid,
            {"topic": topic, "error": error, "payload": payload[:256].decode("utf-8", "replace")},
        )

    # -- in (paho network thread: never block, never raise) --------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("PLC link: broker refused the connection: %s", reason)
            problem = connect_problem(self._mqtt, reason, "/plc")
            if problem is not None:
                self._link_problem("plc", f"PLC link: {problem}")
            return
        self._link_problem("plc", None)
        client.subscribe(
            [(self.topics.plc_trigger, 1), (self.topics.plc_batch, 1), (self.topics.plc_error, 1)]
        )

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if _refused(reasons, "PLC link"):
            return
        self._connected.set()  # connected means subscribed: nothing sent from now on is missed

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()

    def _on_gate_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("PLC gate link: broker refused the connection: %s", reason)
            problem = connect_problem(self._mqtt, reason, "/gate")
            if problem is not None:
                self._link_problem("gate", f"PLC gate link: {problem}")
            return
        self._link_problem("gate", None)
        self._gate_session_present = bool(getattr(flags, "session_present", False))
        client.subscribe([(self.gate_topic, 1)])

    def _on_gate_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        if _refused(reasons, "PLC gate link"):
            return
        self._gate_connected.set()

    def _on_gate_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._gate_connected.clear()

    def _gate(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload, mid, topic = bytes(message.payload), message.mid, message.topic
        qos = message.qos

        def answer(error: str | None) -> None:
            if error is not None:
                self._error(topic, payload, error)
            if qos:
                client.ack(mid, qos)

        try:
            report = parse_gate(payload)
        except PayloadError as exc:
            answer(str(exc))
            return
        try:
            self._on_gate(report, answer)
        except Exception as exc:
            log.exception("gate report handling failed")
            answer(f"gate report not handled: {exc}")

    def _trigger(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        try:
            trigger = parse_trigger_message(payload)
        except PayloadError as exc:
            self._error(message.topic, payload, str(exc))
            return
        try:
            self._on_trigger(trigger.id, trigger.deadline_ms)
        except Exception as exc:
            log.exception("trigger handling failed")
            self._error(message.topic, payload, f"trigger not handled: {exc}")

    def _batch(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._commands.put(("batch", bytes(message.payload)))  # may take seconds (close)

    def _plc_error(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        try:
            data = parse_object(payload)
            error = data.get("error")
            if not isinstance(error, str) or not error:
                raise PayloadError(f"error: expected a non-empty string, got {_show(error)}")
        except PayloadError as exc:
            self._error(message.topic, payload, str(exc))
            return
        self._commands.put(("fault", error[:500].encode()))

    def _run_commands(self) -> None:
        while True:
            item = self._commands.get()
            if item is None:
                return
            kind, payload = item
            if kind == "fault":
                self._fault(payload.decode())
                continue
            request_id: Any = None
            try:
                data = parse_object(payload)
                request_id = data.pop("request_id", None)
                result = self._on_batch(data)
                reply: dict[str, Any] = {"request_id": request_id, "ok": True, **result}
            except PayloadError as exc:
                self._error(self.topics.plc_batch, payload, str(exc))
                reply = {"request_id": request_id, "ok": False, "error": str(exc)}
            except EdgeError as exc:
                reply = {"request_id": request_id, "ok": False, "error": str(exc)}
            except Exception as exc:
                log.exception("batch command failed")
                reply = {"request_id": request_id, "ok": False, "error": f"internal error: {exc!r}"}
            self._send(self.topics.plc_batch_reply, reply)

    def _fault(self, error: str) -> None:
        try:
            self._on_plc_fault(f"PLC: {error}")
        except Exception:
            log.exception("PLC fault handling failed")


def _refused(reasons: list[Any], link: str) -> bool:
    """True (and logged) if the broker refused a subscription (e.g. an ACL)."""
    refused = [str(r) for r in reasons if r.is_failure]
    if refused:
        log.error("%s: the broker refused the subscription: %s", link, ", ".join(refused))
    return bool(refused)
