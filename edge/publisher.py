"""The outbox publisher: outbox rows to the broker at QoS 1, deleted only on PUBACK.

One paho client with a persistent MQTT 5 session (clean start off, a session expiry), so the
broker keeps the session across reconnects and paho re-sends what was in flight. The client
window (``max_inflight``) never exceeds the broker's ``max_inflight_messages``: above it,
messages were lost while paho reported success.

The publisher thread sends rows in ``seq`` order, packing consecutive events for one topic into
one EPCIS document (up to ``max_events_per_message``): when the broker is slow or was away,
messages grow and the backlog drains at full speed; when it keeps up, each event goes out at
once. A row is deleted when the PUBACK for the message that carried it arrives; a message
not acknowledged within ``resend_after_s`` while connected is sent again (duplicates are
harmless: the server ingests by eventID).

The retained line state goes to ``…/state`` with a last will saying ``offline``.

A broker that refuses the connection for a reason retrying cannot cure (bad credentials,
not authorised) or whose TLS certificate is not trusted is reported through
``on_link_problem`` (the agent raises an alarm and halts the line) and in
:attr:`PublisherStats.refused`; paho keeps trying in the background, so a fixed broker
set-up is picked up without a restart, and ``on_link_problem(None)`` clears the alarm.
"""

from __future__ import annotations

import collections
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge import outbox, store
from edge.config import MqttConfig, OutboxConfig
from edge.mqtt import connect_problem, make_client, tls_failure

log = logging.getLogger(__name__)


@dataclass
class PublisherStats:
    connected: bool = False
    messages_sent: int = 0
    events_sent: int = 0
    rows_acked: int = 0
    resends: int = 0
    depth: int = 0
    oldest_age_s: float = 0.0
    alarm: bool = False
    last_error: str | None = None
    connects: int = 0
    refused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _InFlight:
    first: int
    last: int
    rows: int
    sent_at: float
    topic: str
    payload: bytes = field(repr=False)


class Publisher:
    """Drains the outbox to the broker; thread-safe ``wake()`` and ``publish_state()``."""

    def __init__(
        self,
        db_path: Path,
        mqtt: MqttConfig,
        client_id: str,
        state_topic: str,
        envelope: Callable[[], tuple[bytes, bytes]],
        options: OutboxConfig,
        *,
        offline_payload: bytes = b'{"status":"offline"}',
        resend_after_s: float = 30.0,
        on_alarm: Callable[[bool, int], None] | None = None,
        on_link_problem: Callable[[str | None], None] | None = None,
    ) -> None:
        self._db_path = db_path
        self._mqtt = mqtt
        self._state_topic = state_topic
        self._envelope = envelope
        self._options = options
        self._resend_after_s = resend_after_s
        self._on_alarm = on_alarm
        self._on_link_problem = on_link_problem
        self.stats = PublisherStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: collections.deque[int] = collections.deque()
        self._inflight: dict[int, _InFlight] = {}
        self._last_sent_seq = 0
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._connected = threading.Event()
        self._client = make_client(mqtt, client_id)
        self._client.max_inflight_messages_set(mqtt.max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.will_set(state_topic, offline_payload, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_connect_fail = self._on_connect_fail

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._conn = store.connect(self._db_path)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._mqtt.session_expiry_s
        self._client.connect_async(
            self._mqtt.host,
            self._mqtt.port,
            keepalive=self._mqtt.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._thread.start()

    def stop(self, *, drain_timeout_s: float = 0.0, offline_payload: bytes | None = None) -> None:
        """Stop; first wait up to ``drain_timeout_s`` for the outbox to empty."""
        deadline = time.monotonic() + drain_timeout_s
        while drain_timeout_s and time.monotonic() < deadline and self.pending() > 0:
            self.wake()
            time.sleep(0.02)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if offline_payload is not None and self._connected.is_set():
            info = self._client.publish(self._state_topic, offline_payload, qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()
        if self._conn is not None:
            self._conn.close()

    def wake(self) -> None:
        """New rows were committed: look now rather than at the next poll."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def pending(self) -> int:
        """Rows not yet acknowledged (as of the last look)."""
        return self.stats.depth

    def publish_state(self, payload: bytes) -> None:
        """Publish the retained line state now if connected (the next update replaces it)."""
        if self._connected.is_set():
            self._client.publish(self._state_topic, payload, qos=1, retain=True)

    # -- paho callbacks (network thread) --------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self.stats.last_error = f"broker refused the connection: {reason}"
            log.warning("MQTT connect refused: %s", reason)
            self._link_problem(connect_problem(self._mqtt, reason))
            return
        self._link_problem(None)
        self.stats.connects += 1
        self.stats.connected = True
        self._connected.set()
        log.info("MQTT connected (session present: %s)", flags.session_present)
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        problem = tls_failure(self._mqtt)
        self.stats.last_error = problem or "cannot reach the broker"
        if problem is not None:
            self._link_problem(problem)

    def _link_problem(self, problem: str | None) -> None:
        """Report a problem retrying cannot cure (once per change), or its end."""
        if problem == self.stats.refused:
            return
        self.stats.refused = problem
        if problem is not None:
            log.error("MQTT: %s", problem)
        if self._on_link_problem is not None:
            try:
                self._on_link_problem(problem)
            except Exception:
                log.exception("link problem handling failed")

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        self.stats.connected = False
        if reason.is_failure:
            self.stats.last_error = f"disconnected: {reason}"
            log.warning("MQTT disconnected: %s", reason)

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:  # the broker refused the message: keep the rows, resend later
            self.stats.last_error = f"broker refused message {mid}: {reason}"
            return
        self._acks.append(mid)
        self._wake.set()

    # -- publisher thread -------------------------------------------------------------------

    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        next_depth_check = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=0.05)
            self._wake.clear()
            try:
                self._settle_acks(conn)
                if self._connected.is_set():
                    self._resend_stale()
                    self._send_more(conn)
                now = time.monotonic()
                if now >= next_depth_check:
                    next_depth_check = now + 1.0
                    self._check_depth(conn)
            except sqlite3.Error as exc:  # disk trouble: say so, keep trying
                self.stats.last_error = f"outbox: {exc}"
                log.error("outbox publisher: %s", exc)
                time.sleep(0.5)
        self._settle_acks(conn)

    def _settle_acks(self, conn: sqlite3.Connection) -> None:
        ranges: list[tuple[int, int]] = []
        rows = 0
        while self._acks:
            entry = self._inflight.pop(self._acks.popleft(), None)
            if entry is not None:
                ranges.append((entry.first, entry.last))
                rows += entry.rows
        if ranges:
            with store.transaction(conn):
                self.stats.rows_acked += outbox.delete(conn, ranges)
            self.stats.depth = max(0, self.stats.depth - rows)
            self._update_alarm()

    def _send_more(self, conn: sqlite3.Connection) -> None:
        limit = self._options.max_events_per_message
        while len(self._inflight) < self._mqtt.max_inflight and self._connected.is_set():
            rows = outbox.pending(conn, self._last_sent_seq, limit)
            if not rows:
                return
            group = [rows[0]]
            if rows[0].kind == "event":
                for row in rows[1:]:
                    if row.kind != "event" or row.topic != rows[0].topic:
                        break
                    group.append(row)
                payload = outbox.pack_events([row.payload for row in group], self._envelope())
            else:
                payload = rows[0].payload
            self._publish(rows[0].topic, payload, group[0].seq, group[-1].seq, len(group))
            self._last_sent_seq = group[-1].seq
            self.stats.events_sent += len(group) if rows[0].kind == "event" else 0

    def _publish(self, topic: str, payload: bytes, first: int, last: int, rows: int) -> None:
        info = self._client.publish(topic, payload, qos=1)
        # Even when not connected, paho keeps a QoS 1 message and sends it on reconnect.
        self._inflight[info.mid] = _InFlight(first, last, rows, time.monotonic(), topic, payload)
        self.stats.messages_sent += 1

    def _resend_stale(self) -> None:
        now = time.monotonic()
        stale = [mid for mid, e in self._inflight.items() if now - e.sent_at > self._resend_after_s]
        for mid in stale:
            entry = self._inflight.pop(mid)
            self.stats.resends += 1
            self._publish(entry.topic, entry.payload, entry.first, entry.last, entry.rows)

    def _check_depth(self, conn: sqlite3.Connection) -> None:
        self.stats.depth = outbox.depth(conn)
        self.stats.oldest_age_s = outbox.oldest_age_s(conn)
        self._update_alarm()

    def _update_alarm(self) -> None:
        raised = self.stats.depth >= self._options.alarm_depth
        cleared = self.stats.depth < self._options.alarm_depth * 0.9
        if raised and not self.stats.alarm:
            self.stats.alarm = True
            log.warning("outbox alarm: %d events waiting for the broker", self.stats.depth)
            if self._on_alarm:
                self._on_alarm(True, self.stats.depth)
        elif cleared and self.stats.alarm:
            self.stats.alarm = False
            log.info("outbox alarm cleared: %d events waiting", self.stats.depth)
            if self._on_alarm:
                self._on_alarm(False, self.stats.depth)


def state_payload(status: str, **fields: Any) -> bytes:
    """The retained line-state JSON."""
    return json.dumps({"status": status, **fields}, separators=(",", ":")).encode()
