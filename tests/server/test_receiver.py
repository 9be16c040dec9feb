"""The MQTT receiver process: frames, generations, and the end of the server process."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from dataclasses import asdict
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from server.ingest import receiver
from server.ingest.prepare import Origin
from server.ingest.receiver import Received, Receiver, ReceiverConfig, check_message, site_line
from tests.server import factory as f
from tests.support.services import Broker


def config(broker_port: int = 1, **changes: object) -> ReceiverConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": broker_port,
        "client_id": f"receiver-test-{os.getpid()}",
        "subscription": "serialtrace/v1/+/+/events",
        "max_inflight": 10,
        "session_expiry_seconds": 60,
        "keepalive": 30,
        "max_payload_bytes": 64 * 1024,
        "incarnation": 3,
        "parent_pid": os.getpid(),
    }
    values.update(changes)
    return ReceiverConfig(**values)  # type: ignore[arg-type]


def message(topic: str, payload: bytes, mid: int = 7) -> mqtt.MQTTMessage:
    one = mqtt.MQTTMessage(mid=mid, topic=topic.encode())
    one.payload = payload
    one.qos = 1
    return one


def decode(frame: bytes) -> Received:
    received = pickle.loads(frame)
    assert isinstance(received, Received)
    return received


def test_a_checked_message_carries_its_prepared_events_and_where_it_came_from() -> None:
    payload = f.payload([f.commissioning(["A1", "A2"])])
    got = decode(check_message(message("serialtrace/v1/s1/l2/events", payload), (3, 1), 1000))
    assert got.generation == (3, 1)
    assert (got.mid, got.qos, got.site, got.line) == (7, 1, "s1", "l2")
    assert got.payload == payload
    assert got.prepared is not None
    assert got.prepared.origin == Origin("mqtt", "s1", "l2")
    [event] = got.prepared.events
    assert event.body["type"] == "ObjectEvent"
    assert event.row is not None and (event.row["site"], event.row["line"]) == ("s1", "l2")
    assert event.commissioning is not None
    assert [unit.serial for unit in event.commissioning.units] == ["A1", "A2"]
    assert got.reason is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "payload: expected JSON"),
        (b"{" + b" " * 2000 + b"}", "payload: expected at most 1000 bytes"),
        (b'{"type": "EPCISDocument"}', "EPCIS schema: "),
    ],
)
def test_a_rejected_message_carries_the_reason(payload: bytes, reason: str) -> None:
    got = decode(check_message(message("other/topic", payload), (1, 1), 1000))
    assert got.prepared is None
    assert got.reason is not None and got.reason.startswith(reason)
    assert (got.site, got.line) == (None, None)
    assert got.payload == payload


def test_a_check_that_fails_is_kept_for_the_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_payload: bytes, *, max_bytes: int) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr(receiver, "decode_payload", broken)
    got = decode(check_message(message("serialtrace/v1/s/l/events", b"{}"), (1, 1), 1000))
    assert got.reason == "internal error while checking (see server log)"
    assert got.payload == b"{}"


def test_site_line() -> None:
    assert site_line("serialtrace/v1/s1/l2/events") == ("s1", "l2")
    assert site_line("serialtrace/v1/s1/l2/status") == (None, None)
    assert site_line("other") == (None, None)


def test_only_messages_of_the_connection_held_now_are_acknowledged() -> None:
    """A message id means something only on the connection that delivered it (module doc)."""
    _, frames = Pipe(duplex=False)
    status_in, status = Pipe(duplex=False)
    one = Receiver(config(), frames, status)
    sent: list[tuple[int, int]] = []
    one.client.ack = lambda mid, qos: sent.append((mid, qos))  # type: ignore[method-assign]
    one._connection = 4
    one.acknowledge([((3, 4), 1, 1), ((3, 3), 2, 1), ((2, 4), 3, 1), ((3, 4), 4, 1)])
    assert sent == [(1, 1), (4, 1)]  # not the earlier connection's, nor an earlier receiver's
    sent.clear()
    one._on_disconnect(one.client, None, None, "lost", None)
    one.acknowledge([((3, 4), 5, 1)])  # received before the connection went down
    assert sent == []
    assert status_in.recv_bytes() == receiver.DISCONNECTED  # reported apart from messages


def start_receiver(port: int, **changes: object) -> tuple[subprocess.Popen[bytes], Connection, int]:
    """A receiver process as MqttIngest starts it: (process, status, fd of the acks pipe)."""
    frames_in, frames_out = os.pipe()
    status_in, status_out = os.pipe()
    acks_in, acks_out = os.pipe()
    ends = (frames_out, status_out, acks_in)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.ingest.receiver",
            *map(str, ends),
            json.dumps(asdict(config(port, **changes))),
        ],
        pass_fds=ends,
        cwd=Path(__file__).resolve().parents[2],
    )
    for end in ends:
        os.close(end)
    os.close(frames_in)
    return process, Connection(status_in, writable=False), acks_out


def test_the_receiver_ends_when_its_server_closes_the_pipe(mosquitto: Broker) -> None:
    process, status, acks = start_receiver(mosquitto.port)
    try:
        assert status.poll(15)
        assert status.recv_bytes() == receiver.CONNECTED
        os.close(acks)  # what the end of the server process does
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        status.close()


def test_the_receiver_ends_when_its_server_is_gone_though_the_pipe_stays_open(
    mosquitto: Broker,
) -> None:
    """A process forked from the server may still hold the pipe: the parent's pid decides."""
    process, status, acks = start_receiver(mosquitto.port, parent_pid=1)  # not its parent
    try:
        assert process.wait(timeout=10) == 0  # the parent-pid watchdog, not the pipe
    finally:
        process.kill()
        process.wait()
        status.close()
        os.close(acks)


def test_a_receiver_of_another_version_refuses_to_start() -> None:
    """After an upgrade under a running server, its new receiver must not talk to it."""
    settings = {**asdict(config()), "protocol": receiver.PROTOCOL + 1}
    done = subprocess.run(
        [sys.executable, "-m", "server.ingest.receiver", "0", "0", "0", json.dumps(settings)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert b"restart the server after an upgrade" in done.stderr
