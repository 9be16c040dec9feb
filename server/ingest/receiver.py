"""The MQTT side of ingest, in a process of its own: receive, decode, schema-check and
prepare.

:class:`server.ingest.mqtt.MqttIngest` starts this process and keeps the database writer
for itself. The receiver holds the MQTT connection (paho-mqtt 2, MQTT 5, persistent session,
``manual_ack``), decodes and schema-checks each payload, prepares it
(:mod:`server.ingest.prepare`: everything about its events that needs no store) and passes
the result to the writer in arrival order; the writer applies a group in one transaction
and only then sends the group's acknowledgements back, which the receiver turns into
PUBACKs. With both in one process, paho's network thread and the checks held the GIL
while the writer wanted it; measured on SQLite, the writer took 7.46 s for 300,000 units
that took it 6.52 s alone (``docs/deployment.md``, "Measured figures"). On PostgreSQL the
writer waits for the database about half of its time; what is prepared here is done
meanwhile, on the other core.

Three one-way pipes join the processes:

* receiver -> writer, one frame per message, in arrival order: a pickled
  :class:`Received` (the message, checked and prepared);
* receiver -> server, the connection's state: ``C`` (connected and subscribed), ``D``
  (connection lost); apart from the messages, so that it arrives while the writer is behind;
* writer -> receiver: a pickled list of ``(generation, mid, qos)`` to acknowledge; an
  empty frame, or the end of the pipe when the server process is gone, stops the receiver.

A message id is only meaningful on the connection that delivered it. Each message carries
the *generation* of its connection (the receiver's incarnation and how many times its
connection came up or went down), and the receiver acknowledges only messages of the
connection it holds now. A message received before a reconnect is therefore never
acknowledged: the broker delivers it again in the resumed session (same packet id), the
writer applies it again (idempotent by eventID) and acknowledges that copy. Acknowledging
the old copy instead could, after the broker reused its packet id, acknowledge a different
message that was not applied yet.

The receiver's configuration, credentials included, is the first frame on the writer ->
receiver pipe, never its command line (which anyone on the machine can read).

Status frames besides ``C`` and ``D``:

* ``R`` + text: the broker refused the connection for a reason retrying cannot cure (bad
  credentials, not authorised, an untrusted certificate); the receiver says so once and
  exits with :data:`EXIT_REFUSED`;
* ``T`` + reason: the broker said another client took this session over (MQTT 5 reason
  0x8E), or the connection was closed :data:`FLAP_LOSSES` times within
  :data:`FLAP_WINDOW_SECONDS` (Mosquitto 2.0.11 closes a taken-over connection without
  saying why: two clients of one identity then take turns kicking each other off);
* ``W`` + digest: the message the checker is about to check, so that a message that
  crashes this process can be recognised when the broker delivers it again (after two
  crashes it is passed on unread, as poison).

Every step from receipt to the frame is guarded: a message that cannot be decoded, checked,
prepared or pickled becomes a frame with the reason, and the writer dead-letters it.

This module imports neither SQLAlchemy nor the store, so the process starts quickly.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import os
import pickle
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from epcis import TopicError, topics
from epcis.broker import SESSION_TAKEN_OVER, BrokerLink, refusal, tls_problem
from server.errors import RejectedDocument
from server.ingest.prepare import Origin, PreparedDocument, prepare_document
from server.ingest.validation import decode_payload, warm_up

log = logging.getLogger(__name__)

CONNECTED, DISCONNECTED = b"C", b"D"  # the connection state frames
# The frames' and the command line's layout: a server and a receiver of different versions
# (the package upgraded under a running server, which then restarts its receiver) must not
# talk to each other.
PROTOCOL = 3
STOP = b""
REFUSED, TAKEN_OVER, WORKING = b"R", b"T", b"W"
FLAP_LOSSES, FLAP_WINDOW_SECONDS = 3, 60.0  # connection losses that look like a takeover
EXIT_REFUSED = 3  # the broker refused us for good: do not start again
EXIT_CHECKER_DIED = 4
POISON_REASON = "crashed the MQTT receiver twice while being checked (poison message)"

Generation = tuple[int, int]  # (receiver incarnation, connection number)


class Received(NamedTuple):
    """One message after decoding, the schema check and preparing: its ``prepared``
    document, or the ``reason`` it was rejected for."""

    generation: Generation
    mid: int
    qos: int
    topic: str
    site: str | None
    line: str | None
    payload: bytes
    prepared: PreparedDocument | None
    reason: str | None
    received_at: float = 0.0  # time.time() when it arrived
    kind: str | None = None  # the dead-letter kind when rejected (None: from the reason)


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver process needs (JSON on its command line)."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    client_id: str
    subscription: str
    max_inflight: int
    session_expiry_seconds: int
    keepalive: int
    max_payload_bytes: int
    incarnation: int
    parent_pid: int
    log_level: int = logging.INFO
    poison: tuple[str, ...] = ()  # digests of messages that crashed a receiver twice
    protocol: int = PROTOCOL

    @property
    def link(self) -> BrokerLink:
        return BrokerLink(
            self.host,
            self.port,
            self.tls,
            self.username,
            self.password,
            self.ca_file,
            self.cert_file,
            self.key_file,
        )


def digest(payload: bytes) -> str:
    """The id a message is known by across redeliveries (poison tracking)."""
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def site_line(topic: str) -> tuple[str | None, str | None]:
    """(site, line) of ``serialtrace/v1/{site}/{line}/events``; (None, None) otherwise."""
    try:
        parsed = topics.parse_topic(topic)
    except TopicError:
        return None, None
    if parsed.kind is not topics.TopicKind.EVENTS:
        return None, None
    return parsed.site, parsed.line


def check_message(
    message: mqtt.MQTTMessage,
    generation: Generation,
    max_bytes: int,
    *,
    poison: bool = False,
) -> bytes:
    """The frame for ``message``: decoded, schema-checked and prepared, or rejected with a
    reason. Never raises: whatever fails becomes the reason (a ``poison`` message is not
    even decoded)."""
    payload = bytes(message.payload)
    site, line = site_line(message.topic)
    prepared: PreparedDocument | None = None
    reason: str | None = None
    kind: str | None = None
    received_at = time.time()
    if poison:
        reason, kind = POISON_REASON, "poison"
    elif site is None:
        reason, kind = (
            f"topic: expected {topics.EVENTS_SUBSCRIPTION}, got {message.topic!r}",
            "topic",
        )
    else:
        try:
            document = decode_payload(payload, max_bytes=max_bytes)
            prepared = prepare_document(document, Origin("mqtt", site, line))
        except RejectedDocument as exc:
            reason = exc.reason
        except Exception as exc:  # a bug must not stop ingest: the writer dead-letters it
            log.exception("check of a message on %s failed", message.topic)
            reason, kind = f"internal error while checking: {type(exc).__name__}", "internal"
    received = Received(
        generation,
        message.mid,
        message.qos,
        message.topic,
        site,
        line,
        payload,
        prepared,
        reason,
        received_at,
        kind,
    )
    try:
        return pickle.dumps(received, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # e.g. RecursionError: the document goes without its preparation
        log.exception("a checked message on %s cannot be passed on", message.topic)
        reason = f"internal error while passing the checked message on: {type(exc).__name__}"
        rejected = received._replace(prepared=None, reason=reason, kind="internal")
        return pickle.dumps(rejected, protocol=pickle.HIGHEST_PROTOCOL)


class Receiver:
    """The receiver process's MQTT client, checker thread and acknowledgement loop."""

    def __init__(self, config: ReceiverConfig, frames: Connection, status: Connection) -> None:
        self.config = config
        self.frames = frames
        self.status = status
        self._lock = threading.Lock()  # a generation change and an acknowledgement
        self._connection = 0  # +1 on every connect and disconnect (paho's thread only)
        self._stopping = False
        self._losses: collections.deque[float] = collections.deque()  # connection losses
        # Holds at most max_inflight messages per connection (the broker honours the
        # Receive Maximum); the bound only matters if it does not (then paho's thread waits).
        self._queue: queue.Queue[tuple[Generation, mqtt.MQTTMessage]] = queue.Queue(
            maxsize=10 * config.max_inflight
        )
        self._poison = frozenset(config.poison)
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        config.link.configure(client)
        client.suppress_exceptions = True  # a callback's fault is logged, never kills paho
        client.max_inflight_messages_set(config.max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = _no_delay
        self.client = client

    @property
    def generation(self) -> Generation:
        return (self.config.incarnation, self._connection)

    def serve(self, acks: Connection) -> None:
        """Connect, check and forward messages, and acknowledge what ``acks`` names, until
        a stop frame or the end of ``acks``."""
        checker = threading.Thread(target=self._checker, name="mqtt-check", daemon=True)
        checker.start()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.config.session_expiry_seconds
        properties.ReceiveMaximum = self.config.max_inflight
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()
        try:
            while True:
                try:
                    frame = acks.recv_bytes()
                except (EOFError, OSError):
                    break  # the server process is gone
                if frame == STOP:
                    break
                pubacks, publications = pickle.loads(frame)
                self.acknowledge(pubacks)
                self.publish(publications)
        finally:
            self._stopping = True
            self.client.disconnect()
            self.client.loop_stop()

    def acknowledge(self, acks: list[tuple[Generation, int, int]]) -> None:
        """PUBACK each message that came on the connection held now (see the module doc)."""
        with self._lock:
            current = self.generation
            for generation, mid, qos in acks:
                if generation == current:
                    self.client.ack(mid, qos)

    def publish(self, publications: list[tuple[str, bytes]]) -> None:
        """Publish the server's per-line delivery acknowledgements (QoS 1; paho keeps them
        across a reconnect; one that is lost is made good by the next, which is cumulative,
        or by the edge sending the events again)."""
        for topic, payload in publications:
            self.client.publish(topic, payload, qos=1)

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            link = self.config.link
            fatal = refusal(reason)
            if fatal is not None:
                self._refused(f"{fatal} at {link.redacted()}")
            log.error("MQTT connect to %s refused: %s", link.redacted(), reason)
            return
        with self._lock:
            self._connection += 1
        client.subscribe(self.config.subscription, qos=1)

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any
    ) -> None:
        # Connected is reported only once the broker has granted the subscription: from then
        # on nothing published on the line topics is missed, so tests and /health can rely on it.
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error(
                "MQTT subscription to %s refused by the broker: %s",
                self.config.subscription,
                ", ".join(str(r) for r in refused),
            )
            return
        self._report(CONNECTED)
        log.info(
            "MQTT ingest subscribed to %s on %s:%s",
            self.config.subscription,
            self.config.host,
            self.config.port,
        )

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        with self._lock:
            self._connection += 1
        self._report(DISCONNECTED)
        code = getattr(reason, "value", None)
        now = time.monotonic()
        if not self._stopping:
            self._losses.append(now)
            while self._losses and now - self._losses[0] > FLAP_WINDOW_SECONDS:
                self._losses.popleft()
        if code == SESSION_TAKEN_OVER:
            self._report(TAKEN_OVER + f"{reason} (0x{code:02X})".encode())
            log.error("MQTT: session taken over by another client with this identity (%s)", reason)
        elif len(self._losses) >= FLAP_LOSSES:
            # Mosquitto 2.0.11 closes a taken-over connection without the DISCONNECT 0x8E
            # that MQTT 5 asks for: two clients of one identity take turns, each kicking the
            # other off as it reconnects.
            text = (
                f"connection closed {len(self._losses)} times in {FLAP_WINDOW_SECONDS:.0f} s "
                f"(last: {reason}): another client with this identity keeps taking the "
                "session over, or the link is unstable"
            )
            self._report(TAKEN_OVER + text.encode())
            log.error("MQTT: %s", text)
        elif not self._stopping:
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        """The connection could not be made: a TLS problem is final (retrying cannot make
        an untrusted certificate trusted); anything else is tried again by paho."""
        link = self.config.link
        problem = tls_problem(link)
        if problem is not None and problem.startswith("TLS"):
            self._refused(f"{problem} ({link.redacted()})")
        else:
            log.warning("MQTT connection to %s failed: %s; retrying", link.redacted(), problem)

    def _refused(self, text: str) -> None:
        """Say once why the broker cannot be used, and end the process."""
        log.error("MQTT ingest stops: %s", text)
        self._report(REFUSED + text.encode("utf-8", "replace")[:1000])
        os._exit(EXIT_REFUSED)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put((self.generation, message))

    def _report(self, state: bytes) -> None:
        """Tell the server the connection's state (one byte; the server reads these at once)."""
        with contextlib.suppress(OSError):  # the server process is gone
            self.status.send_bytes(state)

    # -- checker thread ---------------------------------------------------------------------

    def _checker(self) -> None:
        """The checker thread: if it ever ends but by the server going away, so does the
        process (the server starts a new one; see the poison tracking in the module doc)."""
        try:
            self._check_loop()
        except BaseException:
            log.critical("MQTT checker died", exc_info=True)
            os._exit(EXIT_CHECKER_DIED)

    def _check_loop(self) -> None:
        """Check each message and send it to the writer, in arrival order."""
        # The schema validators are compiled before the first message is checked, while the
        # connection is being made (the server's health waits for the subscription).
        warm_up()
        while True:
            generation, message = self._queue.get()
            payload = bytes(message.payload)
            key = digest(payload)
            self._report(WORKING + key.encode())
            frame = check_message(
                message,
                generation,
                self.config.max_payload_bytes,
                poison=key in self._poison,
            )
            try:
                self.frames.send_bytes(frame)  # waits while the writer is behind
            except OSError:
                return  # the server process is gone; the main loop ends too


def main(argv: list[str] | None = None) -> None:
    """The receiver process: ``python -m server.ingest.receiver FRAMES STATUS ACKS PROTOCOL``
    (the pipes' file descriptors), started by :class:`server.ingest.mqtt.MqttIngest`; its
    configuration (JSON) is the first frame on ACKS."""
    args = sys.argv[1:] if argv is None else argv
    if args[3:4] != [str(PROTOCOL)]:
        sys.exit(
            f"mqtt receiver: protocol {PROTOCOL}, the server speaks "
            f"{args[3:4]}: restart the server after an upgrade"
        )
    frames = Connection(int(args[0]), readable=False)
    status = Connection(int(args[1]), readable=False)
    acks = Connection(int(args[2]), writable=False)
    try:
        settings = json.loads(acks.recv_bytes())
    except (EOFError, OSError):
        sys.exit("mqtt receiver: no configuration from the server")
    settings["poison"] = tuple(settings.get("poison", ()))
    config = ReceiverConfig(**settings)
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s [mqtt receiver] %(message)s",
    )
    threading.Thread(target=_exit_with, args=(config.parent_pid,), daemon=True).start()
    Receiver(config, frames, status).serve(acks)


def _exit_with(parent_pid: int) -> None:
    """End this process when the server process is gone, even if a process forked from it
    still holds the acknowledgement pipe open (then its end never comes)."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    log.warning("server process %d gone; receiver exits", parent_pid)
    os._exit(0)


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy: the frames pickle its Received.
    from server.ingest import receiver

    receiver.main()
