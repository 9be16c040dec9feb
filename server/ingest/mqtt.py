"""MQTT ingest: subscribe to the line topics and apply each document before acknowledging it.

paho-mqtt 2 with ``CallbackAPIVersion.VERSION2``, MQTT 5, a persistent session
(``clean_start=False`` plus a session expiry) and ``manual_ack=True``: a message is
acknowledged only after its transaction committed (or after it was dead-lettered), so a
crash at any moment leaves every unacknowledged message with the broker, which delivers it
again on reconnect; ingest is idempotent by eventID, so a redelivery changes nothing.

Two processes, so that the database writer has the GIL of its process to itself:

* the receiver process (:mod:`server.ingest.receiver`) holds the MQTT connection, decodes
  and schema-checks each payload and sends the result down a pipe, in arrival order;
* in this process, a thread reads the pipe and a writer thread applies whatever checked
  messages are waiting, up to ``group_commit``, in ONE transaction (one fsync for all of
  them), and after the commit sends their acknowledgements back to the receiver, in arrival
  order (MQTT requires PUBACKs in the order the PUBLISHes came).

When the store is down the writer retries the same group with backoff (the broker stops
sending once ``max_inflight`` messages are unacknowledged: the client announces it as its
MQTT 5 Receive Maximum). If the receiver process dies, a new one is started; the broker
delivers again whatever was not acknowledged. The receiver ends when this process does.

With a share group (``$share/{group}/…``) several server processes split the load; each
message goes to exactly one of them.

Server-confirmed delivery (:mod:`server.delivery`, docs/mqtt.md): the transaction that
stores a group also notes each event's line sequence number; after the commit, with the
PUBACKs, the receiver publishes one acknowledgement per line on the line's ``acks`` topic
(QoS 1, through its own connection: the server identity may write every line's ``acks``).
Only then does the edge delete those events. Every ``delivery_check_seconds`` the writer
raises an alert for each gap open longer than ``gap_alert_seconds``.

Supervision: the reader and writer threads are watched by a supervisor thread and started
again if they end. The group a dead writer held is applied again by the new one, one
message at a time; a message that crashed a writer twice (in its group, then alone) is
dead-lettered as poison and acknowledged. A receiver
process that dies is started again, and a message that was being checked when a receiver
died twice is passed on as poison (dead-lettered by its digest, acknowledged, never checked
again). A broker that refuses the credentials or a TLS certificate that is not trusted is
final: one error line, :attr:`MqttIngest.failure` set (``/health`` says it), no retry loop.
:meth:`MqttIngest.problems` is what ``/health`` reports.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from epcis import TopicError, topics
from epcis.broker import BrokerLink
from epcis.errors import BrokerLinkError
from server import delivery
from server.delivery import LineAck
from server.errors import ConfigError, StoreError
from server.ingest import receiver
from server.ingest.apply import Origin
from server.ingest.collector import gc_paused
from server.ingest.prepare import EVENT_TIME_WINDOW_ENV
from server.ingest.receiver import Generation, Received, ReceiverConfig
from server.ingest.service import Checked, Ingestor
from server.store.engine import write_transaction

log = logging.getLogger(__name__)

STORE_RETRY_MAX_SECONDS = 5.0
RECEIVER_RESTART_MAX_SECONDS = 30.0
_WAKE = b""  # put on the writer's queue by stop(): no message, the writer looks up at once


def _checked(one: Received) -> Checked:
    return Checked(
        one.payload,
        Origin("mqtt", one.site, one.line),
        one.topic,
        prepared=one.prepared,
        reason=one.reason,
        kind=one.kind,
    )


def events_subscription(share_group: str | None) -> str:
    """The topic filter to subscribe to, shared by ``share_group`` when given."""
    if not share_group:
        return topics.EVENTS_SUBSCRIPTION
    try:
        return topics.shared_events_subscription(share_group)
    except TopicError as exc:
        raise ConfigError(f"mqtt_share_group: {exc}") from exc


#: What the receiver reads from its environment: the event time window (set by the app).
RECEIVER_SETTINGS = frozenset(EVENT_TIME_WINDOW_ENV)
_SECRET_NAME = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIALS")


def receiver_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The receiver's environment: the system's (locale, paths), none of serialtrace's
    settings but the few it reads, and nothing named like a secret. The receiver parses
    hostile bytes from the network: the credentials it needs come down its pipe, and the
    server's other secrets (the audit signing key, passwords) never reach it."""
    return {
        name: value
        for name, value in environ.items()
        if name in RECEIVER_SETTINGS
        or not (
            name.upper().startswith("SERIALTRACE_")
            or any(word in name.upper() for word in _SECRET_NAME)
        )
    }


class MqttIngest:
    """Consumes ``serialtrace/v1/+/+/events`` into the store through an :class:`Ingestor`,
    with a receiver process for the MQTT side (see the module doc)."""

    #: How the receiver process is started (tests may wrap it).
    receiver_command: tuple[str, ...] = (sys.executable, "-m", "server.ingest.receiver")

    def __init__(
        self,
        ingestor: Ingestor,
        link: BrokerLink | str,
        *,
        client_id: str,
        share_group: str | None = None,
        max_inflight: int = 40,
        session_expiry_seconds: int = 3600,
        keepalive: int = 30,
        group_commit: int | None = None,
        max_lag_seconds: float = 60.0,
        takeover_alarm_seconds: float = 300.0,
        gap_alert_seconds: float = 120.0,
        delivery_check_seconds: float = 1.0,
        receiver_restart_seconds: float = 1.0,
    ) -> None:
        self.ingestor = ingestor
        # The wait before the first new receiver after one died (doubling while they keep
        # dying, up to RECEIVER_RESTART_MAX_SECONDS; this again after one that ran a while).
        self.receiver_restart_seconds = min(receiver_restart_seconds, RECEIVER_RESTART_MAX_SECONDS)
        self.gap_alert_seconds = gap_alert_seconds
        self.delivery_check_seconds = delivery_check_seconds
        self.acks_published = 0  # server acknowledgements handed to the receiver
        self.gap_alerts = 0  # delivery gap alerts raised by this process
        self._delivery_checked_at = 0.0
        if isinstance(link, str):
            try:
                link = BrokerLink.parse(link)
            except BrokerLinkError as exc:
                raise ConfigError(str(exc)) from None
        self.link = link
        self.client_id = client_id
        self.subscription = events_subscription(share_group)
        self.session_expiry_seconds = session_expiry_seconds
        self.keepalive = keepalive
        self.max_inflight = max_inflight
        # Half the window by default: the receiver checks the next group while the writer
        # commits this one.
        group = max_inflight // 2 if group_commit is None else group_commit
        self.group_commit = max(1, min(group, max_inflight))
        self.applied = 0
        self.dead_lettered = 0
        self.receiver_starts = 0
        self.worker_restarts = 0
        self.takeovers = 0
        self.last_takeover: float | None = None  # time.time()
        self.takeover_reason = ""
        self.failure: str | None = None  # why the broker cannot be used (final)
        # Why the store refuses the writer's commits now (full disk, database down) and since
        # when: /health names it at once; None once a commit went through again.
        self.store_failure: tuple[str, float] | None = None
        self.max_lag_seconds = max_lag_seconds
        self.takeover_alarm_seconds = takeover_alarm_seconds
        self.connected = threading.Event()
        self.poison: set[str] = set()
        self._crashes: collections.Counter[str] = collections.Counter()
        self._last_work: str | None = None
        self._works = 0  # messages the current receiver began to check
        self._frames_seen = 0  # frames the current receiver passed on
        self._status_thread: threading.Thread | None = None
        self._unacked: collections.deque[float] = collections.deque()  # received_at, in order
        self._held: list[Received] = []  # the group the writer is applying
        self._applying: str | None = None  # digest of the one message applied alone
        self._writer_crashes: collections.Counter[str] = collections.Counter()
        self._supervisor: threading.Thread | None = None
        self._stop = threading.Event()
        # Frames of checked messages; at most max_inflight are unacknowledged at a time.
        self._checked: queue.Queue[bytes] = queue.Queue(maxsize=max_inflight)
        self._acks_lock = threading.Lock()  # the writer's acks and a receiver restart
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._frames: Connection | None = None
        self._acks: Connection | None = None
        self._threads: tuple[threading.Thread, threading.Thread] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the receiver process (it connects by itself, and reconnects) and the
        reader and writer threads."""
        self._stop.clear()
        self._start_receiver()
        self._threads = (self._thread("read"), self._thread("write"))
        self._supervisor = threading.Thread(
            target=self._supervise, name="mqtt-ingest-supervisor", daemon=True
        )
        self._supervisor.start()

    def _thread(self, role: str) -> threading.Thread:
        target = self._read_loop if role == "read" else self._write_loop
        thread = threading.Thread(target=target, name=f"mqtt-ingest-{role}", daemon=True)
        thread.start()
        return thread

    def _supervise(self) -> None:
        """Start the reader or writer again if it ended while not stopping."""
        while not self._stop.wait(0.2):
            threads = self._threads
            if threads is None:
                continue
            reader, writer = threads
            if not reader.is_alive() and not self._stop.is_set() and self.failure is None:
                log.error("MQTT ingest reader thread ended; starting it again")
                self.worker_restarts += 1
                reader = self._thread("read")
            if not writer.is_alive() and not self._stop.is_set():
                log.error("MQTT ingest writer thread ended; starting it again")
                self.worker_restarts += 1
                self._count_writer_crash()
                writer = self._thread("write")
            self._threads = (reader, writer)

    def workers_alive(self) -> dict[str, bool]:
        """Whether each worker runs: reader and writer threads, receiver process."""
        reader, writer = self._threads or (None, None)
        process = self._process
        return {
            "reader": reader is not None and reader.is_alive(),
            "writer": writer is not None and writer.is_alive(),
            "receiver": process is not None and process.poll() is None,
        }

    def lag_seconds(self) -> float:
        """Age of the oldest message received but not acknowledged yet (0 if none)."""
        try:
            oldest = self._unacked[0]
        except IndexError:
            return 0.0
        return max(0.0, time.time() - oldest)

    def problems(self) -> list[str]:
        """What is wrong now, one line each (empty when ingest works)."""
        if self.failure is not None:
            return [f"mqtt: {self.failure}"]
        found: list[str] = []
        failure = self.store_failure
        if failure is not None:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(failure[1]))
            found.append(f"store: the writer cannot commit since {when}: {failure[0]}")
        if not self.connected.is_set():
            found.append(f"mqtt: not connected to {self.link.redacted()}")
        dead = [name for name, alive in self.workers_alive().items() if not alive]
        if dead:
            found.append(f"mqtt: worker not running: {', '.join(dead)}")
        if (
            self.last_takeover is not None
            and time.time() - self.last_takeover < self.takeover_alarm_seconds
        ):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_takeover))
            found.append(f"mqtt: session taken over at {when}: {self.takeover_reason}")
        lag = self.lag_seconds()
        if lag > self.max_lag_seconds:
            found.append(
                f"mqtt: oldest unacknowledged message is {lag:.0f} s old "
                f"(limit {self.max_lag_seconds:.0f} s)"
            )
        return found

    def stop(self) -> None:
        """Stop: the group being applied is committed and acknowledged; messages checked
        but not applied stay with the broker."""
        self._stop.set()
        with contextlib.suppress(queue.Full):  # a full queue: the writer is busy anyway
            self._checked.put_nowait(_WAKE)
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        reader, writer = self._threads or (None, None)
        if writer is not None:
            writer.join(timeout=30)  # after it acknowledged the group it was applying
        with self._acks_lock:
            self._stop_receiver()
        if reader is not None:
            reader.join(timeout=10)
        self._threads = None
        self.connected.clear()

    @property
    def receiver_pid(self) -> int | None:
        """The receiver process's pid (None when not running)."""
        return self._process.pid if self._process is not None else None

    def _start_receiver(self) -> None:
        """Start a receiver process: a fresh interpreter running only
        :mod:`server.ingest.receiver`, joined to this one by three pipes (see its module doc)."""
        frames_in, frames_out = os.pipe()
        status_in, status_out = os.pipe()
        acks_in, acks_out = os.pipe()
        self.receiver_starts += 1
        link = self.link
        config = ReceiverConfig(
            host=link.host,
            port=link.port,
            tls=link.tls,
            username=link.username,
            password=link.password,
            ca_file=link.ca_file,
            cert_file=link.cert_file,
            key_file=link.key_file,
            client_id=self.client_id,
            subscription=self.subscription,
            max_inflight=self.max_inflight,
            session_expiry_seconds=self.session_expiry_seconds,
            keepalive=self.keepalive,
            max_payload_bytes=self.ingestor.max_payload_bytes,
            incarnation=self.receiver_starts,
            parent_pid=os.getpid(),
            log_level=logging.getLogger().getEffectiveLevel(),
            poison=tuple(sorted(self.poison)),
        )
        command = [*self.receiver_command]
        ends = (frames_out, status_out, acks_in)  # the receiver's
        command += [*map(str, ends), str(receiver.PROTOCOL)]
        # The receiver imports this package from where this process found it.
        path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        try:
            self._process = subprocess.Popen(
                command,
                pass_fds=ends,
                env={
                    **receiver_environment(os.environ),
                    "PYTHONPATH": os.pathsep.join(filter(None, path)),
                },
            )
        finally:  # closing our copies lets either side see the other's end
            for end in ends:
                os.close(end)
        self._works = self._frames_seen = 0
        self._last_work = None
        status = Connection(status_in, writable=False)
        self._status_thread = threading.Thread(
            target=self._status_loop, args=(status,), name="mqtt-ingest-status", daemon=True
        )
        self._status_thread.start()
        self._frames = Connection(frames_in, writable=False)
        self._acks = Connection(acks_out, readable=False)
        # The configuration, credentials included, goes down the pipe: never argv.
        self._acks.send_bytes(json.dumps(dataclasses.asdict(config)).encode())
        self._started_at = time.monotonic()

    def _stop_receiver(self) -> int | None:
        """Stop the receiver (if running); its exit code."""
        process, acks = self._process, self._acks
        if process is None or acks is None:
            return None
        with contextlib.suppress(OSError):  # unless already gone
            acks.send_bytes(receiver.STOP)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("MQTT receiver did not stop in time; killing it")
            process.kill()
            process.wait(timeout=5)
        acks.close()
        self._process = self._acks = None
        return process.returncode

    # -- reader and writer threads -------------------------------------------------------------

    def _status_loop(self, status: Connection) -> None:
        """Keep :attr:`connected` as one receiver reports it, until that receiver ends."""
        with status:
            while True:
                try:
                    state = status.recv_bytes()
                except (EOFError, OSError):
                    return
                kind, rest = state[:1], state[1:]
                if kind == receiver.WORKING:
                    self._works += 1
                    self._last_work = rest.decode("ascii", "replace")
                elif kind == receiver.CONNECTED:
                    self.connected.set()
                elif kind == receiver.DISCONNECTED:
                    self.connected.clear()
                elif kind == receiver.TAKEN_OVER:
                    self.takeovers += 1
                    self.last_takeover = time.time()
                    self.takeover_reason = rest.decode("utf-8", "replace")
                elif kind == receiver.REFUSED:
                    self.failure = rest.decode("utf-8", "replace")

    def _read_loop(self) -> None:
        """Pass the receiver's checked messages to the writer, in arrival order. Starts a new
        receiver if it dies."""
        first = self.receiver_restart_seconds
        delay = first / 2
        while True:
            frames = self._frames
            assert frames is not None  # start() opened it before this thread began
            try:
                frame = frames.recv_bytes()
            except (EOFError, OSError):
                self.connected.clear()
                frames.close()
                if self._stop.is_set():
                    return
                # Quickly again if it ran a while, else backing off up to 30 s.
                ran = time.monotonic() - self._started_at
                delay = first if ran > 60 else min(2 * delay, RECEIVER_RESTART_MAX_SECONDS)
                with self._acks_lock:
                    code = self._stop_receiver()
                if self._status_thread is not None:
                    self._status_thread.join(timeout=5)  # every status frame read
                if code == receiver.EXIT_REFUSED or self.failure is not None:
                    log.error("MQTT ingest stopped: %s", self.failure or "broker refused us")
                    return
                self._count_crash()
                log.error("MQTT receiver exited (code %s); a new one in %.1f s", code, delay)
                if self._stop.wait(delay):
                    return
                try:
                    with self._acks_lock:
                        self._start_receiver()
                except Exception:  # e.g. out of file descriptors: try again, backing off
                    log.exception("could not start the MQTT receiver")
                continue
            self._frames_seen += 1
            while not self._stop.is_set():
                try:
                    self._checked.put(frame, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _count_crash(self) -> None:
        """A receiver died: if it was checking a message (began it, did not pass it on),
        count that message's crash; at two it is poison."""
        key = self._last_work
        if key is None or self._works <= self._frames_seen:
            return
        self._crashes[key] += 1
        if self._crashes[key] >= 2 and key not in self.poison:
            log.error("message %s crashed the MQTT receiver twice: dead-lettered unread", key)
            self.poison.add(key)

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            if self._held:  # the group a writer that died was applying
                self._apply_held()
                continue
            self._check_delivery()
            try:
                frame = self._checked.get(timeout=0.2)
            except queue.Empty:
                continue
            if frame == _WAKE:
                continue
            frames = [frame]
            while len(frames) < self.group_commit:
                try:
                    frame = self._checked.get_nowait()
                except queue.Empty:
                    break
                if frame != _WAKE:
                    frames.append(frame)
            received = self._unpickle(frames)
            self._held = received
            line_acks = self._apply_until_stored([_checked(one) for one in received])
            if line_acks is not None:
                self._acknowledge(
                    [(one.generation, one.mid, one.qos) for one in received], line_acks
                )
            self._held = []

    def _check_delivery(self) -> None:
        """Alert on delivery gaps open too long (at most every ``delivery_check_seconds``;
        a store outage is reported by the ingest itself)."""
        now = time.monotonic()
        if now - self._delivery_checked_at < self.delivery_check_seconds:
            return
        self._delivery_checked_at = now
        try:
            with write_transaction(self.ingestor.engine) as conn:
                raised = delivery.alert_old_gaps(
                    conn, self.ingestor.clock(), timedelta(seconds=self.gap_alert_seconds)
                )
        except Exception as exc:  # never stops ingest
            log.warning("delivery gap check failed: %s", exc)
            return
        self.gap_alerts += len(raised)

    def _apply_held(self) -> None:
        """Apply, one at a time, the group a writer died on: a message that crashed a writer
        twice (once in its group, once alone) is dead-lettered as poison instead."""
        while self._held and not self._stop.is_set():
            one = self._held[0]
            key = receiver.digest(one.payload)
            item = _checked(one)
            if self._writer_crashes[key] >= 2:
                log.error("message %s crashed the ingest writer twice: dead-lettered", key)
                self.poison.add(key)
                item = Checked(
                    one.payload,
                    item.origin,
                    one.topic,
                    reason="crashed the MQTT ingest writer twice (poison message)",
                    kind="poison",
                )
            self._applying = key
            line_acks = self._apply_until_stored([item])
            self._applying = None
            if line_acks is None:
                return
            self._acknowledge([(one.generation, one.mid, one.qos)], line_acks)
            self._writer_crashes.pop(key, None)
            self._held = self._held[1:]

    def _count_writer_crash(self) -> None:
        """A writer died: count a crash for the message it applied alone, or for every
        message of the group it applied."""
        if self._applying is not None:
            self._writer_crashes[self._applying] += 1
            self._applying = None
            return
        for one in self._held:
            self._writer_crashes[receiver.digest(one.payload)] += 1

    def _unpickle(self, frames: list[bytes]) -> list[Received]:
        """The frames' messages (a frame that cannot be read is dropped, unacknowledged:
        the broker delivers it again after a reconnect)."""
        received: list[Received] = []
        with gc_paused():  # unpickling builds many small objects, none in cycles
            for frame in frames:
                try:
                    one = pickle.loads(frame)
                except Exception:
                    log.exception("an MQTT frame from the receiver cannot be read")
                    continue
                received.append(one)
                self._unacked.append(one.received_at)
        return received

    def _acknowledge(
        self, acks: list[tuple[Generation, int, int]], line_acks: Sequence[LineAck] = ()
    ) -> None:
        """Send the acknowledgements to the receiver, with the per-line delivery
        acknowledgements it publishes (a receiver that died meanwhile gets none: the broker
        delivers those messages again, and the edge sends those events again)."""
        for _ in acks:
            with contextlib.suppress(IndexError):
                self._unacked.popleft()
        publications = [(ack.topic, ack.payload()) for ack in line_acks]
        self.acks_published += len(publications)
        frame = pickle.dumps((acks, publications), protocol=pickle.HIGHEST_PROTOCOL)
        with self._acks_lock:
            if self._acks is None:
                return
            try:
                self._acks.send_bytes(frame)
            except OSError:
                log.warning("MQTT receiver gone; %d message(s) will be delivered again", len(acks))

    def _apply_until_stored(self, items: list[Checked]) -> list[LineAck] | None:
        """Apply the checked messages (one transaction), retrying while the store is down;
        the per-line acknowledgements to publish, None if stopped first."""
        delay = 0.1
        while not self._stop.is_set():
            try:
                outcomes, line_acks = self.ingestor.apply_for_delivery(items)
            except StoreError as exc:
                log.error("%s; retrying %d message(s) in %.1f s", exc, len(items), delay)
                since = self.store_failure[1] if self.store_failure else time.time()
                self.store_failure = (str(exc), since)
                self._stop.wait(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
                continue
            except Exception as exc:  # a bug must not stop ingest: keep the payloads for replay
                log.exception("ingest of %d message(s) failed", len(items))
                try:
                    for item in items:
                        self.ingestor.dead_letter(
                            item.payload,
                            f"internal error while applying: {type(exc).__name__}",
                            item.origin,
                            topic=item.topic,
                            kind="internal",
                        )
                except StoreError:
                    self._stop.wait(delay)
                    continue
                self.dead_lettered += len(items)
                return []
            self.store_failure = None
            for outcome in outcomes:
                if outcome.accepted:
                    self.applied += 1
                else:
                    self.dead_lettered += 1
            return line_acks
        return None
