"""Building paho-mqtt clients the way every edge link needs them.

MQTT 5, callback API 2, Nagle off on the socket (with Nagle on, p99 latency on loopback was
7-39 ms instead of about 1 ms), TLS and credentials from the configuration
(:class:`epcis.broker.BrokerLink`). ``suppress_exceptions`` is on: an exception in one of
our callbacks is logged by paho and never ends its network thread (a hostile payload once
froze the line that way). :func:`guarded` wraps a callback so its exception is also
counted and reported to the link's owner.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import MqttConfig
from epcis.broker import refusal, tls_problem

log = logging.getLogger(__name__)
_paho_log = logging.getLogger("edge.mqtt.paho")


class _NotConnectedFilter(logging.Filter):
    """paho says 'Client is not connected' at error level when a link it was told to
    disconnect goes down: that is no error (a lost link is reported by the link itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log.addFilter(_NotConnectedFilter())


def _nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):  # a websocket transport has no such option
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_client(config: MqttConfig, client_id: str, username_suffix: str = "") -> paho.Client:
    """A configured but not yet connected MQTT 5 client (as ``username + username_suffix``:
    the broker set-up gives each connection of a line its own username)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
    )
    client.on_socket_open = _nodelay
    client.suppress_exceptions = True
    client.enable_logger(_paho_log)  # with suppress_exceptions, how a callback's fault is seen
    config.link(username_suffix).configure(client)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect_problem(config: MqttConfig, reason: Any, username_suffix: str = "") -> str | None:
    """What an operator must fix when the broker refused a connection with ``reason``
    (bad credentials, not authorised), or None if retrying may help."""
    fatal = refusal(reason)
    if fatal is None:
        return None
    return f"{fatal} as {config.link(username_suffix).redacted()}"


def tls_failure(config: MqttConfig) -> str | None:
    """Why the TLS handshake with the broker fails (an untrusted certificate, ...), if it does."""
    problem = tls_problem(config.link())
    return problem if problem is not None and problem.startswith("TLS") else None


F = TypeVar("F", bound=Callable[..., None])


def guarded(name: str, on_error: Callable[[str], None] | None = None) -> Callable[[F], F]:
    """A paho callback that never raises: its exception is logged, and ``on_error`` hears of
    it (e.g. to raise an alarm)."""

    def wrap(callback: F) -> F:
        @functools.wraps(callback)
        def safe(*args: Any, **kwargs: Any) -> None:
            try:
                callback(*args, **kwargs)
            except Exception as exc:
                log.exception("%s failed", name)
                if on_error is not None:
                    with contextlib.suppress(Exception):
                        on_error(f"{name}: {type(exc).__name__}")

        return safe  # type: ignore[return-value]

    return wrap
