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

This module imports neither SQLAlchemy nor the store, so the process starts quickly.
"""

from __future__ import annotations

import contextlib
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
from server.errors import RejectedDocument
from server.ingest.prepare import Origin, PreparedDocument, prepare_document
from server.ingest.validation import decode_payload, warm_up

log = logging.getLogger(__name__)

CONNECTED, DISCONNECTED = b"C", b"D"  # the connection state frames
# The frames' and the command line's layout: a server and a receiver of different versions
# (the package upgraded under a running server, which then restarts its receiver) must not
# talk to each other.
PROTOCOL = 2
STOP = b""

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


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver process needs (JSON on its command line)."""

    host: str
    port: int
    client_id: str
    subscription: str
    max_inflight: int
    session_expiry_seconds: int
    keepalive: int
    max_payload_bytes: int
    incarnation: int
    parent_pid: int
    log_level: int = logging.INFO
    protocol: int = PROTOCOL


def site_line(topic: str) -> tuple[str | None, str | None]:
    """(site, line) of ``serialtrace/v1/{site}/{line}/events``; (None, None) otherwise."""
    try:
        parsed = topics.parse_topic(topic)
    except TopicError:
        return None, None
    if parsed.kind is not topics.TopicKind.EVENTS:
        return None, None
    return parsed.site, parsed.line


def check_message(message: mqtt.MQTTMessage, generation: Generation, max_bytes: int) -> bytes:
    """The frame for ``message``: decoded, schema-checked and prepared, or rejected with a
    reason."""
    payload = bytes(message.payload)
    site, line = site_line(message.topic)
    prepared: PreparedDocument | None = None
    reason: str | None = None
    try:
        document = decode_payload(payload, max_bytes=max_bytes)
        prepared = prepare_document(document, Origin("mqtt", site, line))
    except RejectedDocument as exc:
        reason = exc.reason
    except Exception:  # a bug must not stop ingest: the writer dead-letters it for replay
        log.exception("check of a message on %s failed", message.topic)
        reason = "internal error while checking (see server log)"
    received = Received(
        generation, message.mid, message.qos, message.topic, site, line, payload, prepared, reason
    )
    return pickle.dumps(received, protocol=pickle.HIGHEST_PROTOCOL)


class Receiver:
    """The receiver process's MQTT client, checker thread and acknowledgement loop."""

    def __init__(self, config: ReceiverConfig, frames: Connection, status: Connection) -> None:
        self.config = config
        self.frames = frames
        self.status = status
        self._lock = threading.Lock()  # a generation change and an acknowledgement
        self._connection = 0  # +1 on every connect and disconnect (paho's thread only)
        self._stopping = False
        # Holds at most max_inflight messages per connection (the broker honours the
        # Receive Maximum); the bound only matters if it does not (then paho's thread waits).
        self._queue: queue.Queue[tuple[Generation, mqtt.MQTTMessage]] = queue.Queue(
            maxsize=10 * config.max_inflight
        )
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(config.max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        self.client = client

    @property
    def generation(self) -> Generation:
        return (self.config.incarnation, self._connection)

    def serve(self, acks: Connection) -> None:
        """Connect, check and forward messages, and acknowledge what ``acks`` names, until
        a stop frame or the end of ``acks``."""
        warm_up()  # compile the schema validators before the first message
        checker = threading.Thread(target=self._check_loop, name="mqtt-check", daemon=True)
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
                self.acknowledge(pickle.loads(frame))
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

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            config = self.config
            log.error("MQTT connect to %s:%s refused: %s", config.host, config.port, reason)
            return
        with self._lock:
            self._connection += 1
        client.subscribe(self.config.subscription, qos=1)
        self._report(CONNECTED)
        log.info(
            "MQTT ingest subscribed to %s on %s:%s",
            self.config.subscription,
            self.config.host,
            self.config.port,
        )

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        with self._lock:
            self._connection += 1
        self._report(DISCONNECTED)
        if not self._stopping:
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put((self.generation, message))

    def _report(self, state: bytes) -> None:
        """Tell the server the connection's state (one byte; the server reads these at once)."""
        with contextlib.suppress(OSError):  # the server process is gone
            self.status.send_bytes(state)

    # -- checker thread ---------------------------------------------------------------------

    def _check_loop(self) -> None:
        """Check each message and send it to the writer, in arrival order."""
        while True:
            generation, message = self._queue.get()
            frame = check_message(message, generation, self.config.max_payload_bytes)
            try:
                self.frames.send_bytes(frame)  # waits while the writer is behind
            except OSError:
                return  # the server process is gone; the main loop ends too


def main(argv: list[str] | None = None) -> None:
    """The receiver process: ``python -m server.ingest.receiver FRAMES STATUS ACKS CONFIG``
    (the pipes' file descriptors, ``CONFIG`` as JSON), started by
    :class:`server.ingest.mqtt.MqttIngest`."""
    args = sys.argv[1:] if argv is None else argv
    settings = json.loads(args[3])
    if settings.get("protocol") != PROTOCOL:
        sys.exit(
            f"mqtt receiver: protocol {PROTOCOL}, the server speaks "
            f"{settings.get('protocol')}: restart the server after an upgrade"
        )
    frames = Connection(int(args[0]), readable=False)
    status = Connection(int(args[1]), readable=False)
    acks = Connection(int(args[2]), writable=False)
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
