"""``serialtrace broker``: the set-up it writes, Mosquitto running it, and each identity's
rights (least privilege) checked on the real broker."""

from __future__ import annotations

import stat
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from paho.mqtt.enums import CallbackAPIVersion

from epcis.broker import BrokerLink
from serialtrace.cli import main
from serialtrace.services import Broker, connect_once, start_mosquitto

pytestmark = pytest.mark.mqtt
ROOT = "serialtrace/v1/"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_and_add_write_a_secure_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mqtt"
    code, out, _ = run(
        capsys, "broker", "init", str(folder), "--port", "18883", "--hostname", "broker.plant"
    )
    assert code == 0 and f"mosquitto -c {folder}/mosquitto.conf" in out
    conf = (folder / "mosquitto.conf").read_text().splitlines()
    for line in (
        "allow_anonymous false",
        f"password_file {folder}/passwd",
        f"acl_file {folder}/acl",
        "listener 18883 127.0.0.1",
        "use_username_as_clientid true",
        "tls_version tlsv1.2",
    ):
        assert line in conf
    assert not any(line.startswith("listener 1883") for line in conf)
    cert = x509.load_pem_x509_certificate((folder / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "broker.plant" in names.get_values_for_type(x509.DNSName)
    for private in ("ca.key", "server.key", "passwd", "acl", "identities.json"):
        assert stat.S_IMODE((folder / private).stat().st_mode) == 0o600, private
    code, out, _ = run(capsys, "broker", "add-line", str(folder), "site1", "line1")
    assert code == 0
    secrets = folder / "clients" / "line-site1-line1.toml"
    assert out.splitlines()[0] == f"secrets file: {secrets}"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    values = tomllib.loads(secrets.read_text())
    assert values["url"] == "mqtts://broker.plant:18883"
    assert values["username"] == "line/site1/line1"
    assert values["password"] not in out  # never printed
    passwd = (folder / "passwd").read_text()
    assert values["password"] not in passwd and "line/site1/line1:$7$101$" in passwd
    code, _, err = run(capsys, "broker", "add-line", str(folder), "site/1", "line1")
    assert code == 2 and err.startswith("serialtrace: error: site: expected 1-64 characters")
    code, _, err = run(capsys, "broker", "init", str(folder))
    assert code == 2 and "a broker set-up is already there" in err
    run(capsys, "broker", "add-plc", str(folder), "site1", "line1")
    run(capsys, "broker", "add-server", str(folder), "trace1")
    run(capsys, "broker", "add-mes", str(folder), "site1", "line1")
    code, out, _ = run(capsys, "broker", "list", str(folder))
    assert out.splitlines() == [
        "line/site1/line1",
        "mes/site1/line1",
        "plc/site1/line1",
        "server/trace1",
    ]


@contextmanager
def connected(link: BrokerLink) -> Iterator[tuple[mqtt.Client, list[tuple[str, bytes]]]]:
    got: list[tuple[str, bytes]] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    link.configure(client)
    ready = threading.Event()
    client.on_connect = lambda *args: ready.set()
    client.on_message = lambda _c, _u, message: got.append((message.topic, bytes(message.payload)))
    client.connect(link.host, link.port)
    client.loop_start()
    try:
        assert ready.wait(10)
        yield client, got
    finally:
        client.disconnect()
        client.loop_stop()


def subscribe(client: mqtt.Client, *topics: str) -> None:
    """Subscribe and wait for the broker's answer (SUBACK)."""
    answered = threading.Event()
    client.on_subscribe = lambda *_args: answered.set()
    client.subscribe([(topic, 1) for topic in topics])
    assert answered.wait(10), f"no SUBACK for {topics}"


SENTINEL = b"sentinel"


def sentinel_after(seen: list[tuple[str, bytes]], topic: str) -> bool:
    """Wait for the sentinel, then tell whether ``topic``'s test message arrived before it.

    The broker handles one client's packets in order and queues a subscriber's messages in
    the order it routed them: the test message was routed (PUBACK) before the sentinel was
    sent, so once the sentinel is here, a message that is not here was refused.
    """
    deadline = time.monotonic() + 20
    while not any(payload == SENTINEL for _, payload in seen):
        assert time.monotonic() < deadline, "the sentinel never arrived"
        time.sleep(0.02)
    return (topic, b"{}") in seen


def may_publish(broker: Broker, link: BrokerLink, topic: str) -> bool:
    with connected(broker.link("observer", "acl-watch")) as (watch, seen):
        subscribe(watch, f"{ROOT}#")
        with connected(link) as (client, _):
            client.publish(topic, b"{}", qos=1).wait_for_publish(5)
        watch.publish(f"{ROOT}test/sentinel", SENTINEL, qos=1).wait_for_publish(5)
        return sentinel_after(seen, topic)


def may_read(broker: Broker, link: BrokerLink, topic: str, readable: str) -> bool:
    """``readable``: a topic the identity may read, where the sentinel comes."""
    with connected(link) as (client, seen):
        subscribe(client, topic, readable)
        with connected(broker.link("observer", "acl-send")) as (sender, _):
            sender.publish(topic, b"{}", qos=1).wait_for_publish(5)
            sender.publish(readable, SENTINEL, qos=1).wait_for_publish(5)
        return sentinel_after(seen, topic)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = start_mosquitto(tmp_path_factory.mktemp("acl"))
    yield running
    running.stop()


LINE = ROOT + "s1/l1/"
OTHER = ROOT + "s1/l2/"
# (identity, username suffix, topic, may publish, may read)
RIGHTS = [
    ("line", "", LINE + "events", True, False),
    ("line", "", LINE + "state", True, False),
    ("line", "", LINE + "acks", False, True),
    ("line", "", OTHER + "events", False, False),
    ("line", "", LINE + "plc/batch", False, False),
    ("line", "/plc", LINE + "plc/trigger", False, True),
    ("line", "/plc", LINE + "plc/batch", False, True),
    ("line", "/plc", LINE + "plc/accept", True, False),
    ("line", "/plc", LINE + "plc/command", True, False),
    ("line", "/plc", LINE + "events", False, False),
    ("line", "/plc", OTHER + "plc/trigger", False, False),
    ("line", "/gate", LINE + "plc/gate", False, True),
    ("line", "/gate", LINE + "plc/trigger", False, False),
    ("plc", "", LINE + "plc/trigger", True, False),
    ("plc", "", LINE + "plc/batch", True, False),
    ("plc", "", LINE + "plc/error", True, False),
    ("plc", "", LINE + "plc/gate", True, False),
    ("plc", "", LINE + "plc/accept", False, True),
    ("plc", "", LINE + "plc/command", False, True),
    ("plc", "", LINE + "events", False, False),
    ("plc", "", OTHER + "plc/batch", False, False),
    ("server", "", LINE + "events", False, True),
    ("server", "", OTHER + "events", False, True),
    ("server", "", LINE + "acks", True, False),
    ("server", "", LINE + "plc/batch", False, False),
    ("server", "", LINE + "state", False, False),
    ("server", "", LINE + "mes/orders", False, False),
    ("server", "/mes", LINE + "mes/orders", False, True),
    ("server", "/mes", OTHER + "mes/orders", False, True),
    ("server", "/mes", LINE + "mes/orders/reply", True, False),
    ("server", "/mes", LINE + "events", False, False),
    ("mes", "", LINE + "mes/orders", True, False),
    ("mes", "", LINE + "mes/orders/reply", False, True),
    ("mes", "", OTHER + "mes/orders", False, False),
    ("mes", "", LINE + "events", False, False),
    ("mes", "", LINE + "plc/batch", False, False),
]

# A topic each identity may read: the sentinel of may_read goes there.
READABLE: dict[tuple[str, str], str] = {}
for _kind, _suffix, _topic, _publish, _read in RIGHTS:
    if _read:
        READABLE.setdefault((_kind, _suffix), _topic)


@pytest.mark.parametrize(("kind", "suffix", "topic", "publish", "read"), RIGHTS)
def test_each_identity_has_least_privilege(
    broker: Broker, kind: str, suffix: str, topic: str, publish: bool, read: bool
) -> None:
    names = ("s1", "l1") if kind != "server" else ("trace1",)
    link = broker.link(kind, *names)
    if suffix:
        link = link.with_username((link.username or "") + suffix)
    assert may_publish(broker, link, topic) is publish
    assert may_read(broker, link, topic, READABLE[kind, suffix]) is read


def test_a_line_identity_cannot_use_another_lines_password(broker: Broker) -> None:
    one = broker.link("line", "s1", "l1")
    two = broker.link("line", "s1", "l2")
    assert connect_once(one.with_username(two.username)) is not None
