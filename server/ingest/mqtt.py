"""MQTT ingest: subscribe to the line topics and apply each document before acknowledging it.

paho-mqtt 2 with ``CallbackAPIVersion.VERSION2``, MQTT 5, a persistent session
(``clean_start=False`` plus a session expiry) and ``manual_ack=True``: a message is
acknowledged only after its transaction committed (or after it was dead-lettered), so a
crash at any moment leaves every unacknowledged message with the broker, which delivers it
again on reconnect; ingest is idempotent by eventID, so a redelivery changes nothing.

Three stages joined by bounded FIFO queues, so that order is kept end to end:

* the paho network thread only queues messages;
* a checker thread decodes and schema-checks each payload (about a microsecond a unit:
  the compiled Rust schema check, see :mod:`server.ingest.validation`), while the writer
  thread's database calls run without the GIL;
* a writer thread applies whatever checked messages are waiting, up to ``group_commit``,
  in ONE transaction (one fsync for all of them), and after the commit acknowledges them
  in arrival order (MQTT requires PUBACKs in the order the PUBLISHes came).

When the store is down the writer retries the same group with backoff (the broker stops
sending once ``max_inflight`` messages are unacknowledged: the client announces it as its
MQTT 5 Receive Maximum), and the network thread keeps the connection alive meanwhile.

With a share group (``$share/{group}/…``) several server processes split the load; each
message goes to exactly one of them.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from epcis import TopicError, topics
from server.errors import ConfigError, StoreError
from server.ingest.apply import Origin
from server.ingest.service import Checked, Ingestor
from server.ingest.validation import warm_up

log = logging.getLogger(__name__)

STORE_RETRY_MAX_SECONDS = 5.0


def events_subscription(share_group: str | None) -> str:
    """The topic filter to subscribe to, shared by ``share_group`` when given."""
    if not share_group:
        return topics.EVENTS_SUBSCRIPTION
    try:
        return topics.shared_events_subscription(share_group)
    except TopicError as exc:
        raise ConfigError(f"mqtt_share_group: {exc}") from exc


def site_line(topic: str) -> tuple[str | None, str | None]:
    """(site, line) of ``serialtrace/v1/{site}/{line}/events``; (None, None) otherwise."""
    try:
        parsed = topics.parse_topic(topic)
    except TopicError:
        return None, None
    if parsed.kind is not topics.TopicKind.EVENTS:
        return None, None
    return parsed.site, parsed.line


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
    """Consumes ``serialtrace/v1/+/+/events`` into the store through an :class:`Ingestor`."""

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
        self.subscription = events_subscription(share_group)
        self.session_expiry_seconds = session_expiry_seconds
        self.keepalive = keepalive
        self.max_inflight = max_inflight
        # Half the window by default: the checker works on the next group while the writer
        # commits this one.
        group = max_inflight // 2 if group_commit is None else group_commit
        self.group_commit = max(1, min(group, max_inflight))
        self.applied = 0
        self.dead_lettered = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        # At most max_inflight unacknowledged messages per connection: the queues never fill
        # up unless the broker ignores the Receive Maximum (then paho's thread waits).
        self._received: queue.Queue[mqtt.MQTTMessage] = queue.Queue(maxsize=10 * max_inflight)
        self._checked: queue.Queue[tuple[mqtt.MQTTMessage, Checked]] = queue.Queue(
            maxsize=max_inflight
        )
        self._threads: list[threading.Thread] = []
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.max_inflight_messages_set(max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        self.client = client

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (asynchronously; paho reconnects by itself) and start the stages."""
        self._stop.clear()
        warm_up()  # compile the schema validators before the first message
        self._threads = [
            threading.Thread(target=self._check_loop, name="mqtt-ingest-check", daemon=True),
            threading.Thread(target=self._write_loop, name="mqtt-ingest-write", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_seconds
        properties.ReceiveMaximum = self.max_inflight
        self.client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.keepalive,
            clean_start=False,
            properties=properties,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop; queued but unapplied messages stay with the broker."""
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    # -- paho callbacks (network thread) ------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect to %s refused: %s", self.address, reason)
            return
        client.subscribe(self.subscription, qos=1)
        self.connected.set()
        log.info("MQTT ingest subscribed to %s on %s", self.subscription, self.address)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._received.put(message)

    # -- checker and writer threads ------------------------------------------------------------

    def _check_loop(self) -> None:
        """Decode and schema-check each message, in arrival order, for the writer."""
        while not self._stop.is_set():
            try:
                message = self._received.get(timeout=0.2)
            except queue.Empty:
                continue
            payload = bytes(message.payload)
            site, line = site_line(message.topic)
            origin = Origin("mqtt", site, line)
            try:
                checked = self.ingestor.check(payload, origin, message.topic)
            except Exception:  # a bug must not stop ingest: keep the payload for replay
                log.exception("check of a message on %s failed", message.topic)
                checked = Checked(
                    payload,
                    origin,
                    message.topic,
                    reason="internal error while checking (see server log)",
                )
            while not self._stop.is_set():
                try:
                    self._checked.put((message, checked), timeout=0.2)
                    break
                except queue.Full:
                    continue

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                group = [self._checked.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(group) < self.group_commit:
                try:
                    group.append(self._checked.get_nowait())
                except queue.Empty:
                    break
            if self._apply_until_stored([checked for _, checked in group]):
                for message, _ in group:
                    self.client.ack(message.mid, message.qos)

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


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
