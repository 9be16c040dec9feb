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
from paho.mqtt.packettypes import PacketTypes

from server.ingest import receiver
from server.ingest.prepare import Origin
from server.ingest.receiver import Received, Receiver, ReceiverConfig, check_message, site_line
from tests.server import factory as f
from tests.support.services import Broker


def config(broker_port: int = 1, **changes: object) -> ReceiverConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": broker_port,
        "tls": False,
        "username": None,
        "password": None,
        "ca_file": None,
        "cert_file": None,
        "key_file": None,
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
        (b"[" * 40 + b"]" * 40, "payload: expected at most 32 levels of nesting, got more"),
        (b'{"a": NaN}', "payload: expected finite numbers, got NaN"),
        (b'{"a": 1' + b"0" * 900 + b"}", "payload: expected integers of at most 20 digits"),
    ],
)
def test_a_rejected_message_carries_the_reason(payload: bytes, reason: str) -> None:
    got = decode(check_message(message("serialtrace/v1/s1/l2/events", payload), (1, 1), 1000))
    assert got.prepared is None
    assert got.reason is not None and got.reason.startswith(reason)
    assert (got.site, got.line) == ("s1", "l2")
    assert got.payload == payload


def test_a_message_on_another_topic_is_not_even_decoded() -> None:
    got = decode(check_message(message("other/topic", b"{}"), (1, 1), 1000))
    assert (got.prepared, got.kind, got.site) == (None, "topic", None)
    assert got.reason == "topic: expected serialtrace/v1/+/+/events, got 'other/topic'"


def test_a_deeply_nested_document_cannot_stop_the_checker() -> None:
    """The issue's attack: a schema-valid 5 KB document with an object nested about 500
    deep in an extension made pickle.dumps raise RecursionError outside the receiver's try
    block, which killed its checker thread."""
    document = json.loads(f.payload([f.commissioning(["N1"])]))
    nested: dict[str, object] = {}
    for _ in range(500):
        nested = {"x:n": nested}
    document["epcisBody"]["eventList"][0]["x:ext"] = nested
    payload = json.dumps(document).encode()
    got = decode(check_message(message("serialtrace/v1/s1/l2/events", payload), (1, 1), 10**6))
    assert got.prepared is None
    assert got.reason == "payload: expected at most 32 levels of nesting, got more"


def test_a_message_that_cannot_be_pickled_is_passed_on_without_its_preparation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = receiver.prepare_document

    def unpicklable(document: object, origin: Origin) -> object:
        prepared = real(document, origin)  # type: ignore[arg-type]
        prepared.events[0].body["x"] = lambda: None  # type: ignore[index]
        return prepared

    monkeypatch.setattr(receiver, "prepare_document", unpicklable)
    payload = f.payload([f.commissioning(["P1"])])
    got = decode(check_message(message("serialtrace/v1/s1/l2/events", payload), (1, 1), 10**6))
    assert got.prepared is None and got.kind == "internal"
    assert got.reason is not None
    assert got.reason.startswith("internal error while passing the checked message on")


def test_a_check_that_fails_is_kept_for_the_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_payload: bytes, *, max_bytes: int) -> object:
        raise RuntimeError("bug")

    monkeypatch.setattr(receiver, "decode_payload", broken)
    got = decode(check_message(message("serialtrace/v1/s/l/events", b"{}"), (1, 1), 1000))
    assert got.reason == "internal error while checking: RuntimeError"
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


def start_receiver(
    broker: Broker, **changes: object
) -> tuple[subprocess.Popen[bytes], Connection, int]:
    """A receiver process as MqttIngest starts it, as a server identity of the broker:
    (process, status, fd of the acks pipe)."""
    link = broker.link("server", f"receiver-test-{os.getpid()}")
    changes = {
        "tls": link.tls,
        "username": link.username,
        "password": link.password,
        "ca_file": link.ca_file,
        **changes,
    }
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
            str(receiver.PROTOCOL),
        ],
        pass_fds=ends,
        cwd=Path(__file__).resolve().parents[2],
    )
    for end in ends:
        os.close(end)
    os.close(frames_in)
    with os.fdopen(os.dup(acks_out), "wb", buffering=0) as raw:  # the first frame: its config
        Connection(os.dup(raw.fileno()), readable=False).send_bytes(
            json.dumps(asdict(config(broker.port, **changes))).encode()
        )
    return process, Connection(status_in, writable=False), acks_out


def test_the_receiver_ends_when_its_server_closes_the_pipe(mosquitto: Broker) -> None:
    process, status, acks = start_receiver(mosquitto)
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
    process, status, acks = start_receiver(mosquitto, parent_pid=1)  # not its parent
    try:
        assert process.wait(timeout=10) == 0  # the parent-pid watchdog, not the pipe
    finally:
        process.kill()
        process.wait()
        status.close()
        os.close(acks)


def test_a_receiver_of_another_version_refuses_to_start() -> None:
    """After an upgrade under a running server, its new receiver must not talk to it."""
    done = subprocess.run(
        [sys.executable, "-m", "server.ingest.receiver", "0", "0", "0", str(receiver.PROTOCOL + 1)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert b"restart the server after an upgrade" in done.stderr


def test_a_disconnect_with_reason_0x8e_is_reported_as_a_takeover() -> None:
    """MQTT 5 brokers say 0x8E when another client takes the session over."""
    from paho.mqtt.reasoncodes import ReasonCode

    _, frames = Pipe(duplex=False)
    status_in, status = Pipe(duplex=False)
    one = Receiver(config(), frames, status)
    taken = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)  # type: ignore[no-untyped-call]
    one._on_disconnect(one.client, None, None, taken, None)
    assert status_in.recv_bytes() == receiver.DISCONNECTED
    assert status_in.recv_bytes() == receiver.TAKEN_OVER + b"Session taken over (0x8E)"


def test_a_connection_lost_again_and_again_is_reported_as_a_takeover() -> None:
    """What two clients of one identity look like on Mosquitto 2.0.11 (no 0x8E)."""
    from paho.mqtt.reasoncodes import ReasonCode

    _, frames = Pipe(duplex=False)
    status_in, status = Pipe(duplex=False)
    one = Receiver(config(), frames, status)
    lost = ReasonCode(PacketTypes.DISCONNECT, identifier=0x80)  # type: ignore[no-untyped-call]
    for _ in range(receiver.FLAP_LOSSES):
        one._on_disconnect(one.client, None, None, lost, None)
    got = []
    while status_in.poll(0.1):
        got.append(status_in.recv_bytes())
    assert got[:-1] == [receiver.DISCONNECTED] * receiver.FLAP_LOSSES
    assert got[-1].startswith(receiver.TAKEN_OVER + b"connection closed 3 times in 60 s")
