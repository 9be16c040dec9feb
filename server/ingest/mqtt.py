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
"""

from __future__ import annotations

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
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

from epcis import TopicError, topics
from server.errors import ConfigError, StoreError
from server.ingest import receiver
from server.ingest.apply import Origin
from server.ingest.collector import gc_paused
from server.ingest.receiver import Generation, Received, ReceiverConfig
from server.ingest.service import Checked, Ingestor

log = logging.getLogger(__name__)

STORE_RETRY_MAX_SECONDS = 5.0
RECEIVER_RESTART_MAX_SECONDS = 30.0


def events_subscription(share_group: str | None) -> str:
    """The topic filter to subscribe to, shared by ``share_group`` when given."""
    if not share_group:
        return topics.EVENTS_SUBSCRIPTION
    try:
        return topics.shared_events_subscription(share_group)
    except TopicError as exc:
        raise ConfigError(f"mqtt_share_group: {exc}") from exc


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"mqtt_url: expected mqtt://HOST[:PORT], got {url!r}")
        try:
            port = parts.port or 1883
        except ValueError as exc:
            raise ConfigError(f"mqtt_url: expected a port number, got {url!r}") from exc
        return cls(parts.hostname, port)


class MqttIngest:
    """Consumes ``serialtrace/v1/+/+/events`` into the store through an :class:`Ingestor`,
    with a receiver process for the MQTT side (see the module doc)."""

    def __init__(
        self,
        ingestor: Ingestor,
        url: str,
        *,
        client_id: str,
        share_group: str | None = None,
        max_inflight: int = 40,
        session_expiry_seconds: int = 3600,
        keepalive: int = 30,
        group_commit: int | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.address = BrokerAddress.parse(url)
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
        self.connected = threading.Event()
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
        self._threads = (
            threading.Thread(target=self._read_loop, name="mqtt-ingest-read", daemon=True),
            threading.Thread(target=self._write_loop, name="mqtt-ingest-write", daemon=True),
        )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop: the group being applied is committed and acknowledged; messages checked
        but not applied stay with the broker."""
        self._stop.set()
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
        config = ReceiverConfig(
            host=self.address.host,
            port=self.address.port,
            client_id=self.client_id,
            subscription=self.subscription,
            max_inflight=self.max_inflight,
            session_expiry_seconds=self.session_expiry_seconds,
            keepalive=self.keepalive,
            max_payload_bytes=self.ingestor.max_payload_bytes,
            incarnation=self.receiver_starts,
            parent_pid=os.getpid(),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        command = [sys.executable, "-m", "server.ingest.receiver"]
        ends = (frames_out, status_out, acks_in)  # the receiver's
        command += [*map(str, ends), json.dumps(dataclasses.asdict(config))]
        # The receiver imports this package from where this process found it.
        path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        try:
            self._process = subprocess.Popen(
                command,
                pass_fds=ends,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))},
            )
        finally:  # closing our copies lets either side see the other's end
            for end in ends:
                os.close(end)
        status = Connection(status_in, writable=False)
        threading.Thread(
            target=self._status_loop, args=(status,), name="mqtt-ingest-status", daemon=True
        ).start()
        self._frames = Connection(frames_in, writable=False)
        self._acks = Connection(acks_out, readable=False)
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
                if state == receiver.CONNECTED:
                    self.connected.set()
                elif state == receiver.DISCONNECTED:
                    self.connected.clear()

    def _read_loop(self) -> None:
        """Pass the receiver's checked messages to the writer, in arrival order. Starts a new
        receiver if it dies."""
        delay = 0.5
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
                delay = 1.0 if ran > 60 else min(2 * delay, RECEIVER_RESTART_MAX_SECONDS)
                with self._acks_lock:
                    code = self._stop_receiver()
                log.error("MQTT receiver exited (code %s); a new one in %.0f s", code, delay)
                if self._stop.wait(delay):
                    return
                try:
                    with self._acks_lock:
                        self._start_receiver()
                except Exception:  # e.g. out of file descriptors: try again, backing off
                    log.exception("could not start the MQTT receiver")
                continue
            while not self._stop.is_set():
                try:
                    self._checked.put(frame, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                frames = [self._checked.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(frames) < self.group_commit:
                try:
                    frames.append(self._checked.get_nowait())
                except queue.Empty:
                    break
            with gc_paused():  # unpickling builds many small objects, none in cycles
                received: list[Received] = [pickle.loads(frame) for frame in frames]
            items = [
                Checked(
                    one.payload,
                    Origin("mqtt", one.site, one.line),
                    one.topic,
                    prepared=one.prepared,
                    reason=one.reason,
                )
                for one in received
            ]
            if self._apply_until_stored(items):
                self._acknowledge([(one.generation, one.mid, one.qos) for one in received])

    def _acknowledge(self, acks: list[tuple[Generation, int, int]]) -> None:
        """Send the acknowledgements to the receiver (a receiver that died meanwhile gets
        none: the broker delivers those messages again)."""
        frame = pickle.dumps(acks, protocol=pickle.HIGHEST_PROTOCOL)
        with self._acks_lock:
            if self._acks is None:
                return
            try:
                self._acks.send_bytes(frame)
            except OSError:
                log.warning("MQTT receiver gone; %d message(s) will be delivered again", len(acks))

    def _apply_until_stored(self, items: list[Checked]) -> bool:
        """Apply the checked messages (one transaction), retrying while the store is down;
        False if stopped first."""
        delay = 0.1
        while not self._stop.is_set():
            try:
                outcomes = self.ingestor.apply_checked(items)
            except StoreError as exc:
                log.error("%s; retrying %d message(s) in %.1f s", exc, len(items), delay)
                self._stop.wait(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)
                continue
            except Exception:  # a bug must not stop ingest: keep the payloads for replay
                log.exception("ingest of %d message(s) failed", len(items))
                try:
                    for item in items:
                        self.ingestor.dead_letter(
                            item.payload,
                            "internal error while applying (see server log)",
                            item.origin,
                            topic=item.topic,
                        )
                except StoreError:
                    self._stop.wait(delay)
                    continue
                self.dead_lettered += len(items)
                return True
            for outcome in outcomes:
                if outcome.accepted:
                    self.applied += 1
                else:
                    self.dead_lettered += 1
            return True
        return False
