"""A test-side MQTT subscriber that keeps what it received (a persistent session if asked)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.services import Broker, start_mosquitto


@contextmanager
def persistent_broker() -> Iterator[Broker]:
    """A Mosquitto of the test's own whose sessions survive ``restart()``."""
    folder = Path(tempfile.mkdtemp(prefix="serialtrace-mosquitto-"))
    broker = start_mosquitto(folder, persistence=True)
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Subscriber:
    """Connects as the test identity ``observer/{client_id}`` (it may read and write every
    serialtrace topic; the broker binds the client id to it)."""

    def __init__(
        self,
        broker: Broker,
        topics: list[str],
        *,
        client_id: str = "test-sub",
        persistent: bool = False,
    ) -> None:
        link = broker.link("observer", client_id)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._topics = topics
        self._connected = threading.Event()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
        )
        link.configure(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self._connected.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 3600
        self.client.connect(link.host, link.port, clean_start=not persistent, properties=properties)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError("test subscriber: no connection")

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        client.subscribe([(topic, 1) for topic in self._topics])
        time.sleep(0.05)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.messages if t == topic]

    def events(self, topic: str) -> list[dict[str, Any]]:
        """Every event of every EPCIS document received on ``topic``, in arrival order."""
        out: list[dict[str, Any]] = []
        for payload in self.on(topic):
            document = json.loads(payload)
            assert document["type"] == "EPCISDocument"
            out.extend(document["epcisBody"]["eventList"])
        return out

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
