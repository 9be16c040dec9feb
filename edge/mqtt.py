"""Building paho-mqtt clients the way every edge link needs them.

MQTT 5, callback API 2, Nagle off on the socket (with Nagle on, p99 latency on loopback was
7-39 ms instead of about 1 ms), TLS and credentials from the configuration.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig


def _nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):  # a websocket transport has no such option
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_client(config: MqttConfig, client_id: str) -> paho.Client:
    """A configured but not yet connected MQTT 5 client."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
    )
    client.on_socket_open = _nodelay
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(ca_certs=config.ca_file, certfile=config.cert_file, keyfile=config.key_file)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client
