"""The outbox publisher: outbox rows to the broker at QoS 1, deleted only when the trace
server confirmed it stored them.

One paho client with a persistent MQTT 5 session (clean start off, a session expiry), so the
broker keeps the session across reconnects and paho re-sends what was in flight. The client
window (``max_inflight``) never exceeds the broker's ``max_inflight_messages``: above it,
messages were lost while paho reported success.

The publisher thread sends rows in ``seq`` order, packing consecutive events for one topic into
one EPCIS document (up to ``max_events_per_message``): when the broker is slow or was away,
messages grow and the backlog drains at full speed; when it keeps up, each event goes out at
once. A message not acknowledged by the broker (PUBACK) within ``resend_after_s`` while
connected is sent again (duplicates are harmless: the server ingests by eventID).

Server-confirmed delivery (``outbox.confirm_by = "server"``, the default; docs/mqtt.md): a
PUBACK only says the broker holds the message, and a broker that crashes loses what it held
in memory. So an event row stays in the outbox until the trace server says, on the line's
``acks`` topic, that it committed it: ``{"upTo": N, "seqs": [...], "missing": [[a, b]]}``
confirms every line sequence number up to ``N`` and each of ``seqs``. ``missing`` names the
ranges the server sees as gaps: the rows the edge still holds there are sent again at once
(at most once per ``confirm_timeout_s / 4``). And whatever was sent but not confirmed within
``confirm_timeout_s`` is sent again from the oldest unconfirmed row (the timeout doubles
while nothing is confirmed, up to ``confirm_timeout_max_s``, so a server that is away long
does not get the backlog again every 30 s). After a restart everything in the outbox is sent
again once. ``message`` rows (no line sequence number) still go on PUBACK.

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
import math
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
from edge.errors import EdgeError
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
    # Server-confirmed delivery (depth is then also the unconfirmed count).
    confirm_by: str = "server"
    last_confirmed_seq: int = 0  # the server holds every event up to this line seq
    last_line_seq: int = 0  # the last line seq handed out
    confirms: int = 0  # acknowledgements from the server taken
    rows_confirmed: int = 0  # outbox rows the server confirmed (deleted)
    confirm_resends: int = 0  # times unconfirmed events were sent again after the timeout
    missing_resends: int = 0  # events sent again because the server named them missing
    bad_acks: int = 0  # acknowledgements that could not be read (ignored)
    last_confirm_age_s: float | None = None  # seconds since the last confirmation
    # Another client took the session over (MQTT 5 reason 0x8E: same client id), or the
    # connection was closed FLAP_LOSSES times in FLAP_WINDOW_S (what that looks like on
    # Mosquitto 2.0.11, which closes the taken-over connection without the reason).
    takeovers: int = 0
    last_takeover: float | None = None  # time.time() of the last one
    takeover: str | None = None  # what was seen

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


SESSION_TAKEN_OVER = 0x8E  # MQTT 5 DISCONNECT reason: another client connected with our id
FLAP_LOSSES = 3  # connections lost within FLAP_WINDOW_S: taken over (or an unstable link)
FLAP_WINDOW_S = 60.0
MAX_ACK_BYTES = 256 * 1024
MAX_ACK_SEQS = 10_000
MAX_ACK_RANGES = 100
MAX_MISSING_RESEND_ROWS = 2_000


@dataclass(frozen=True)
class ServerAck:
    """One acknowledgement from the trace server (the ``acks`` topic payload)."""

    up_to: int
    seqs: tuple[int, ...] = ()
    missing: tuple[tuple[int, int], ...] = ()


class AckError(EdgeError, ValueError):
    """An ``acks`` payload that is not a server acknowledgement."""


def _seq(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AckError(f"{where}: expected a line sequence number >= 0, got {value!r:.40}")
    return value


def parse_ack(payload: bytes) -> ServerAck:
    """The acknowledgement in ``payload``; :class:`AckError` naming the field otherwise."""
    if len(payload) > MAX_ACK_BYTES:
        raise AckError(f"ack: expected at most {MAX_ACK_BYTES} bytes, got {len(payload)}")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise AckError(f"ack: expected JSON, got {payload[:40]!r} ({exc})") from None
    if not isinstance(data, dict):
        raise AckError(f"ack: expected a JSON object, got {type(data).__name__}")
    up_to = _seq(data.get("upTo"), "ack upTo")
    seqs = data.get("seqs", [])
    if not isinstance(seqs, list) or len(seqs) > MAX_ACK_SEQS:
        raise AckError(f"ack seqs: expected a list of at most {MAX_ACK_SEQS} numbers")
    missing = data.get("missing", [])
    if not isinstance(missing, list) or len(missing) > MAX_ACK_RANGES:
        raise AckError(f"ack missing: expected a list of at most {MAX_ACK_RANGES} ranges")
    ranges: list[tuple[int, int]] = []
    for item in missing:
        if not isinstance(item, list) or len(item) != 2:
            raise AckError(f"ack missing: expected [first, last] ranges, got {item!r:.40}")
        first, last = _seq(item[0], "ack missing"), _seq(item[1], "ack missing")
        if last < first:
            raise AckError(f"ack missing: expected first <= last, got {item!r:.40}")
        ranges.append((first, last))
    return ServerAck(up_to, tuple(_seq(one, "ack seqs") for one in seqs), tuple(ranges))


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
        acks_topic: str | None = None,
    ) -> None:
        self._db_path = db_path
        # Server-confirmed only with a topic to hear the server on.
        self._acks_topic = acks_topic if options.confirm_by == "server" else None
        self._server_acks: collections.deque[ServerAck] = collections.deque()
        self._confirm_timeout_s = options.confirm_timeout_s
        self._waiting_since: float | None = None  # oldest unconfirmed send / last progress
        self._missing_served_at = -math.inf
        self._last_confirm_at: float | None = None
        self._caught_up = False  # every outbox row was handed to the broker
        self._mqtt = mqtt
        self._state_topic = state_topic
        self._envelope = envelope
        self._options = options
        self._resend_after_s = resend_after_s
        self._on_alarm = on_alarm
        self._on_link_problem = on_link_problem
        self.stats = PublisherStats(confirm_by="server" if self._acks_topic else "broker")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: collections.deque[int] = collections.deque()
        self._inflight: dict[int, _InFlight] = {}
        self._last_sent_seq = 0
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._connected = threading.Event()
        self._losses: collections.deque[float] = collections.deque()  # monotonic times
        self.broker = mqtt.link().redacted()  # URL and user, never the password
        self._client = make_client(mqtt, client_id)
        self._client.max_inflight_messages_set(mqtt.max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.will_set(state_topic, offline_payload, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_message = self._on_message

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
        """Stop; first wait up to ``drain_timeout_s`` for the outbox to empty (with
        server-confirmed delivery: until every row was sent and the broker acknowledged it;
        what the server has not confirmed yet stays in the outbox for the next start)."""
        deadline = time.monotonic() + drain_timeout_s
        while drain_timeout_s and time.monotonic() < deadline and self.pending() > 0:
            if self._acks_topic is not None and self._caught_up and not self._inflight:
                break
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

    @property
    def worker_alive(self) -> bool:
        """Whether the publisher thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def pending(self) -> int:
        """Rows not yet confirmed (as of the last look)."""
        return self.stats.depth

    def in_flight(self) -> int:
        """Messages the broker has not acknowledged yet (PUBACK)."""
        return len(self._inflight)

    def delivery(self) -> dict[str, Any]:
        """What the HMI and ``/status`` show of delivery to the trace server."""
        return {
            "confirm_by": self.stats.confirm_by,
            "unconfirmed": self.stats.depth,
            "oldest_unconfirmed_age_s": round(self.stats.oldest_age_s, 1),
            "last_confirmed_seq": self.stats.last_confirmed_seq,
            "last_line_seq": self.stats.last_line_seq,
            "last_confirm_age_s": (
                None
                if self._last_confirm_at is None
                else round(time.monotonic() - self._last_confirm_at, 1)
            ),
        }

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
        if self._acks_topic is not None:
            client.subscribe(self._acks_topic, qos=1)
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
        if self._stop.is_set():
            return
        now = time.monotonic()
        self._losses.append(now)
        while self._losses and now - self._losses[0] > FLAP_WINDOW_S:
            self._losses.popleft()
        code = getattr(reason, "value", None)
        if code == SESSION_TAKEN_OVER:
            self._taken_over(f"the broker said another client took the session over ({reason})")
        elif len(self._losses) >= FLAP_LOSSES:
            self._taken_over(
                f"connection closed {len(self._losses)} times in {FLAP_WINDOW_S:.0f} s "
                f"(last: {reason}): another client with this line's identity keeps taking "
                "the session over (a second agent for this line?), or the link is unstable"
            )

    def _taken_over(self, what: str) -> None:
        self._losses.clear()
        self.stats.takeovers += 1
        self.stats.last_takeover = time.time()
        self.stats.takeover = what
        log.error("MQTT: %s", what)

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:  # the broker refused the message: keep the rows, resend later
            self.stats.last_error = f"broker refused message {mid}: {reason}"
            return
        self._acks.append(mid)
        self._wake.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        if self._acks_topic is None or message.topic != self._acks_topic:
            return
        try:
            ack = parse_ack(bytes(message.payload))
        except AckError as exc:  # hostile or broken: never stops delivery
            self.stats.bad_acks += 1
            self.stats.last_error = str(exc)
            log.warning("server acknowledgement ignored: %s", exc)
            return
        self._server_acks.append(ack)
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
                self._take_server_acks(conn)
                if self._connected.is_set():
                    self._resend_stale()
                    self._send_more(conn)
                now = time.monotonic()
                if now >= next_depth_check:
                    next_depth_check = now + 1.0
                    self._check_depth(conn)
                    self._check_confirm_timeout(conn)
            except sqlite3.Error as exc:  # disk trouble: say so, keep trying
                self.stats.last_error = f"outbox: {exc}"
                log.error("outbox publisher: %s", exc)
                time.sleep(0.5)
        self._settle_acks(conn)

    def _settle_acks(self, conn: sqlite3.Connection) -> None:
        ranges: list[tuple[int, int]] = []
        while self._acks:
            entry = self._inflight.pop(self._acks.popleft(), None)
            if entry is not None:
                ranges.append((entry.first, entry.last))
        if ranges:
            with store.transaction(conn):
                if self._acks_topic is None:
                    deleted = outbox.delete_any(conn, ranges)
                else:  # events wait for the server; messages go now
                    deleted = outbox.delete(conn, ranges)
                self.stats.rows_acked += deleted
            self.stats.depth = max(0, self.stats.depth - deleted)
            self._update_alarm()

    def _take_server_acks(self, conn: sqlite3.Connection) -> None:
        """Delete what the server confirmed; send again at once what it says it misses."""
        if not self._server_acks:
            return
        up_to = self.stats.last_confirmed_seq
        seqs: list[int] = []
        missing: tuple[tuple[int, int], ...] = ()
        while self._server_acks:
            ack = self._server_acks.popleft()
            up_to = max(up_to, ack.up_to)
            seqs.extend(ack.seqs)
            missing = ack.missing  # the latest view of the gaps
        self.stats.confirms += 1
        with store.transaction(conn):
            issued = outbox.last_line_seq(conn)
            if up_to > issued:  # cannot be right: never delete on it (the alarm will show)
                self.stats.bad_acks += 1
                self.stats.last_error = (
                    f"server confirmed line seq {up_to}, this line issued up to {issued}: ignored"
                )
                log.error("%s", self.stats.last_error)
                return
            confirmed = outbox.confirm(conn, up_to, [seq for seq in seqs if seq <= issued])
        self.stats.rows_confirmed += confirmed
        self.stats.last_confirmed_seq = up_to
        self.stats.last_line_seq = issued
        now = time.monotonic()
        self._last_confirm_at = now
        if confirmed:  # progress: the resend clock starts again
            self._confirm_timeout_s = self._options.confirm_timeout_s
            self._waiting_since = now if self._unconfirmed_sent(conn) else None
            self._check_depth(conn)
        if missing and self._connected.is_set():
            self._send_missing(conn, missing, now)

    def _send_missing(
        self, conn: sqlite3.Connection, missing: tuple[tuple[int, int], ...], now: float
    ) -> None:
        if now - self._missing_served_at < self._options.confirm_timeout_s / 4:
            return
        rows = [
            row
            for row in outbox.by_line_seq(conn, missing, MAX_MISSING_RESEND_ROWS)
            if row.seq <= self._last_sent_seq  # the rest goes in order anyway
        ]
        if not rows:
            return
        self._missing_served_at = now
        self.stats.missing_resends += len(rows)
        log.info("server misses %d event(s) of this line: sending them again", len(rows))
        limit = self._options.max_events_per_message
        for start in range(0, len(rows), limit):
            group = rows[start : start + limit]
            payload = outbox.pack_events([row.payload for row in group], self._envelope())
            self._publish(group[0].topic, payload, group[0].seq, group[-1].seq, 0)

    def _unconfirmed_sent(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT seq FROM outbox WHERE line_seq IS NOT NULL ORDER BY seq LIMIT 1"
        ).fetchone()
        return row is not None and int(row[0]) <= self._last_sent_seq

    def _check_confirm_timeout(self, conn: sqlite3.Connection) -> None:
        """Send everything unconfirmed again when the server confirmed nothing for the
        timeout (doubling it each time, up to the maximum)."""
        if self._acks_topic is None or not self._connected.is_set():
            return
        now = time.monotonic()
        if self._last_confirm_at is not None:
            self.stats.last_confirm_age_s = round(now - self._last_confirm_at, 1)
        if not self._unconfirmed_sent(conn):
            self._waiting_since = None
            return
        if self._waiting_since is None:
            self._waiting_since = now
            return
        if now - self._waiting_since < self._confirm_timeout_s:
            return
        log.warning(
            "trace server confirmed nothing for %.0f s: sending the %d unconfirmed event(s) again",
            now - self._waiting_since,
            self.stats.depth,
        )
        self.stats.confirm_resends += 1
        self._last_sent_seq = 0  # from the oldest unconfirmed row, in order
        self._waiting_since = now
        self._confirm_timeout_s = min(
            self._confirm_timeout_s * 2, self._options.confirm_timeout_max_s
        )
        self._wake.set()

    def _send_more(self, conn: sqlite3.Connection) -> None:
        limit = self._options.max_events_per_message
        while len(self._inflight) < self._mqtt.max_inflight and self._connected.is_set():
            rows = outbox.pending(conn, self._last_sent_seq, limit)
            if not rows:
                self._caught_up = True
                return
            self._caught_up = False
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
            if self._waiting_since is None and group[0].line_seq is not None:
                self._waiting_since = time.monotonic()
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
        self.stats.last_line_seq = outbox.last_line_seq(conn)
        self._update_alarm()

    def _update_alarm(self) -> None:
        raised = self.stats.depth >= self._options.alarm_depth
        cleared = self.stats.depth < self._options.alarm_depth * 0.9
        if raised and not self.stats.alarm:
            self.stats.alarm = True
            log.warning(
                "outbox alarm: %d events not confirmed by the trace server", self.stats.depth
            )
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
