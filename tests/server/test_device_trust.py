"""The device plane under attack (issue 14): a real Mosquitto set up as in production (TLS,
password file, ACL, client id = username), the trace server's real MQTT ingest, and each
attack the issue reports as a regression test."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine, func, select

from epcis.broker import BrokerLink, tls_problem, write_secrets
from serialtrace.services import connect_once
from server.api.app import create_app
from server.ingest import receiver
from server.ingest.mqtt import MqttIngest
from server.ingest.service import Ingestor
from server.store import read_transaction
from server.store.schema import alerts, dead_letters, event_bodies, events, units
from tests.server import factory as f
from tests.server.conftest import register_line, settings_for
from tests.support.services import Broker, free_port, start_mosquitto

pytestmark = pytest.mark.mqtt
LINE1 = "serialtrace/v1/site1/line1/events"
LINE2 = "serialtrace/v1/site1/line2/events"
READ_POINT_2 = "urn:epc:id:sgln:0614141.07346.2"


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def count(store: Engine, table: Any, *where: Any) -> int:
    with read_transaction(store) as conn:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int(conn.execute(query).scalar_one())


def unit_status(store: Engine, serial: str) -> str | None:
    with read_transaction(store) as conn:
        return conn.execute(select(units.c.status).where(units.c.serial == serial)).scalar()


def dead_letter_kinds(store: Engine) -> list[str]:
    with read_transaction(store) as conn:
        return list(conn.execute(select(dead_letters.c.kind).order_by(dead_letters.c.id)).scalars())


@contextmanager
def client_of(link: BrokerLink, client_id: str = "", **connect: Any) -> Iterator[mqtt.Client]:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    link.configure(client)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(link.host, link.port, **connect)
    client.loop_start()
    try:
        assert connected.wait(10)
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)


def line2(events: list[dict[str, Any]]) -> bytes:
    """A document of line 2 (its own read point)."""
    return f.payload(events).replace(f.READ_POINT.encode(), READ_POINT_2.encode())


@pytest.fixture
def lines(store: Engine) -> Engine:
    """site1/line1 (the factory's read point) and site1/line2 (its own) are registered."""
    register_line(store, "site1", "line1", f.READ_POINT)
    register_line(store, "site1", "line2", READ_POINT_2)
    return store


@pytest.fixture
def ingest(
    lines: Engine, mosquitto: Broker, request: pytest.FixtureRequest
) -> Iterator[MqttIngest]:
    name = f"{request.node.name[:30]}-{os.getpid()}-{lines.dialect.name}".replace("[", "-")
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    consumer = MqttIngest(
        Ingestor(lines, max_payload_bytes=1024 * 1024),
        mosquitto.link("server", name),
        client_id=f"serialtrace-server-{name}",
    )
    consumer.start()
    try:
        assert consumer.connected.wait(15)  # set once the broker granted the subscription
        yield consumer
    finally:
        consumer.stop()


def handled(consumer: MqttIngest) -> int:
    return consumer.applied + consumer.dead_lettered


def test_anonymous_clients_wrong_passwords_and_untrusted_certificates_are_refused(
    mosquitto: Broker,
) -> None:
    good = mosquitto.link("line", "site1", "line1")
    assert connect_once(good) is None
    assert connect_once(mosquitto.anonymous()) == "Not authorized"
    assert connect_once(replace(good, password="guessed")) in (
        "Not authorized",
        "Bad user name or password",
    )
    plain = BrokerLink(good.host, good.port, False, good.username, good.password)
    assert connect_once(plain) is not None  # no plain-TCP listener at all
    untrusted = replace(good, ca_file=None)  # the system's CAs do not know the plant's CA
    problem = tls_problem(untrusted)
    assert problem is not None
    assert problem.startswith("TLS: the broker's certificate is not trusted")


def test_forged_topics_and_read_points_never_change_a_unit(
    lines: Engine, mosquitto: Broker, ingest: MqttIngest
) -> None:
    """The issue's attack: a destroying event for a real unit and counterfeit serials
    commissioned into a real lot, from a topic that is not the units' line."""
    with client_of(mosquitto.link("line", "site1", "line1")) as line_one:
        publish(line_one, LINE1, f.payload([f.commissioning(["REAL1", "REAL2"])]))
        wait_until(lambda: ingest.applied == 1)
    destroy = f.payload([f.decommissioning(["REAL1"], step="destroying")])
    counterfeit = f.payload([f.commissioning(["FAKE1"], lot="LOT1")])
    with client_of(mosquitto.link("line", "site1", "line2")) as line_two:
        publish(line_two, LINE1, destroy)  # another line's topic: the ACL drops it
        publish(line_two, "serialtrace/v1/evil/x/events", destroy)  # ditto
        publish(line_two, LINE2, destroy)  # its own topic, line 1's read point
        publish(line_two, LINE2, counterfeit)
        publish(line_two, LINE2, line2([f.commissioning(["OWN2"])]))  # its own: lands
        wait_until(lambda: handled(ingest) == 4)
    assert (ingest.applied, ingest.dead_lettered) == (2, 2)
    assert unit_status(lines, "REAL1") == "active"
    assert unit_status(lines, "FAKE1") is None
    assert unit_status(lines, "OWN2") == "active"
    assert dead_letter_kinds(lines) == ["location", "location"]
    with read_transaction(lines) as conn:
        reasons = list(conn.execute(select(dead_letters.c.reason)).scalars())
        kinds = list(conn.execute(select(alerts.c.kind)).scalars())
    assert (
        reasons
        == [
            f"eventList[0].readPoint: expected a location of line site1/line2, got {f.READ_POINT!r}"
        ]
        * 2
    )
    assert kinds == ["dead_letter_location", "dead_letter_location"]


def test_an_unregistered_line_reports_nothing(store: Engine, mosquitto: Broker) -> None:
    consumer = MqttIngest(
        Ingestor(store, max_payload_bytes=64 * 1024),
        mosquitto.link("server", f"unregistered-{os.getpid()}-{store.dialect.name}"),
        client_id="x",
    )
    consumer.start()
    try:
        assert consumer.connected.wait(15)  # set once the broker granted the subscription
        with client_of(mosquitto.link("line", "site9", "line9")) as client:
            payload = f.payload([f.commissioning(["U9"])])
            publish(client, "serialtrace/v1/site9/line9/events", payload)
            wait_until(lambda: handled(consumer) == 1)
    finally:
        consumer.stop()
    assert unit_status(store, "U9") is None
    with read_transaction(store) as conn:
        reason = conn.execute(select(dead_letters.c.reason)).scalar_one()
    assert reason == "line: site9/line9 is not registered (serialtrace server lines add)"


def test_the_servers_client_id_cannot_be_taken_over(
    lines: Engine, mosquitto: Broker, ingest: MqttIngest
) -> None:
    """The issue's attack: connecting with the server's client id and clean_start=False
    took over its session (5 of 5 events went to the intruder, 0 stored)."""
    stolen: list[str] = []
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    intruder_link = mosquitto.link("line", "site1", "line2")  # a valid identity, not the server
    with client_of(
        intruder_link, client_id=ingest.client_id, clean_start=False, properties=properties
    ) as intruder:
        intruder.on_message = lambda _c, _u, message: stolen.append(message.topic)
        granted = threading.Event()
        intruder.on_subscribe = lambda *_args: granted.set()
        intruder.subscribe(
            [("serialtrace/v1/+/+/events", 1), ("$share/ingest/serialtrace/v1/+/+/events", 1)]
        )
        granted.wait(10)  # answered (the ACL denies both; either way nothing is pending)
        with client_of(mosquitto.link("line", "site1", "line1")) as line_one:
            for index in range(5):
                publish(line_one, LINE1, f.payload([f.commissioning([f"TK{index}"])]))
            wait_until(lambda: ingest.applied == 5)
        time.sleep(0.3)
    assert stolen == []
    assert count(lines, events) == 5
    assert ingest.takeovers == 0 and ingest.connected.is_set()


def test_a_nested_document_is_dead_lettered_and_the_next_event_lands(
    lines: Engine, mosquitto: Broker, ingest: MqttIngest
) -> None:
    """The issue's attack: a schema-valid 5 KB document nested about 500 deep killed the
    checker thread, stopped all MQTT ingest, and a restart died on it again."""
    document = f.document([f.commissioning(["DEEP1"])])
    nested: dict[str, Any] = {}
    for _ in range(500):
        nested = {"ext:n": nested}
    document["epcisBody"]["eventList"][0]["ext:deep"] = nested
    hostile = json.dumps(document).encode()
    assert len(hostile) < 8 * 1024
    with client_of(mosquitto.link("line", "site1", "line1")) as client:
        publish(client, LINE1, hostile)
        publish(client, LINE1, b'{"type": "EPCISDocument", "n": NaN}')
        publish(client, LINE1, b'{"type": "EPCISDocument", "n": ' + b"7" * 5000 + b"}")
        publish(client, LINE1, f.payload([f.commissioning(["NEXT1"])]))
        wait_until(lambda: handled(ingest) == 4)
    assert unit_status(lines, "NEXT1") == "active"
    assert unit_status(lines, "DEEP1") is None
    assert dead_letter_kinds(lines) == ["limit", "limit", "limit"]
    assert ingest.receiver_starts == 1 and ingest.problems() == []


def test_a_message_that_crashes_the_receiver_twice_is_dead_lettered_by_id(
    lines: Engine, mosquitto: Broker
) -> None:
    consumer = MqttIngest(
        Ingestor(lines, max_payload_bytes=64 * 1024),
        mosquitto.link("server", f"poison-{os.getpid()}-{lines.dialect.name}"),
        client_id="poison",
        receiver_restart_seconds=0.05,  # the default waits 1 s, then 2 s
    )
    consumer.receiver_command = (sys.executable, "-m", "tests.server.crashing_receiver")
    consumer.start()
    try:
        assert consumer.connected.wait(15)  # set once the broker granted the subscription
        poison = f.document([f.commissioning(["POISON1"])])
        poison["epcisBody"]["eventList"][0]["ext:note"] = "CRASH-ME"
        with client_of(mosquitto.link("line", "site1", "line1")) as client:
            publish(client, LINE1, json.dumps(poison).encode())
            publish(client, LINE1, f.payload([f.commissioning(["AFTER1"])]))
            wait_until(lambda: unit_status(lines, "AFTER1") == "active", timeout=60)
        assert consumer.receiver_starts == 3  # the first, and one after each crash
        assert len(consumer.poison) == 1
        assert consumer.connected.wait(15)
    finally:
        consumer.stop()
    assert unit_status(lines, "POISON1") is None
    with read_transaction(lines) as conn:
        row = conn.execute(select(dead_letters.c.kind, dead_letters.c.reason)).one()
    assert tuple(row) == (
        "poison",
        "crashed the MQTT receiver twice while being checked (poison message)",
    )


@contextmanager
def served(store: Engine, broker: Broker, name: str, **settings: Any) -> Iterator[TestClient]:
    values = {
        "mqtt_url": broker.url,
        "mqtt_secrets_file": str(broker.secrets("server", name)),
        **settings,
    }
    with TestClient(create_app(settings_for(store, **values), engine=store)) as client:
        yield client


def health_of(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/health")
    return response.status_code, response.json()


def wait_health(client: TestClient, code: int, timeout: float = 30) -> dict[str, Any]:
    found: list[tuple[int, dict[str, Any]]] = []

    def reached() -> bool:
        found.append(health_of(client))
        return found[-1][0] == code

    wait_until(reached, timeout)
    return found[-1][1]


def test_health_is_503_during_a_broker_outage(lines: Engine, tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path / "broker", persistence=True)
    try:
        with served(lines, broker, "outage") as client:
            ok = wait_health(client, 200)
            assert ok["status"] == "ok" and ok["mqtt"]["connected"] is True
            broker.stop()
            down = wait_health(client, 503)
            assert down["status"] == "failing"
            assert down["failing"] == [
                f"mqtt: not connected to mqtts://server/outage@127.0.0.1:{broker.port}"
            ]
            metrics = client.get("/metrics").text
            assert "serialtrace_mqtt_connected 0.0" in metrics
            broker.restart()
            assert wait_health(client, 200)["status"] == "ok"
    finally:
        broker.stop()


def test_a_session_taken_over_shows_in_health_as_503(lines: Engine, mosquitto: Broker) -> None:
    """Another client with the server's own credentials (a leaked secret, or a second server
    process given the same identity): the two take turns kicking each other off. MQTT 5 has
    the broker say so with reason 0x8E; Mosquitto 2.0.11 just closes the connection, so the
    server counts how often it loses it (``test_receiver`` checks the 0x8E path)."""
    name = f"takeover-{os.getpid()}-{lines.dialect.name}"
    with served(lines, mosquitto, name) as client:
        wait_health(client, 200)
        link = mosquitto.link("server", name)
        kicks = 0

        def intrude() -> None:
            """Connect with the server's identity (the server loses its connection), and
            again each time the server, reconnecting, kicks this one off: three times."""
            nonlocal kicks
            for _ in range(receiver.FLAP_LOSSES):
                intruder = mqtt.Client(
                    callback_api_version=CallbackAPIVersion.VERSION2,
                    protocol=mqtt.MQTTv5,
                    reconnect_on_failure=False,
                )
                link.configure(intruder)
                kicked = threading.Event()
                intruder.on_disconnect = lambda *_args, event=kicked: event.set()
                intruder.connect(link.host, link.port)
                intruder.loop_start()
                try:
                    if not kicked.wait(30):
                        return
                    kicks += 1
                finally:
                    intruder.disconnect()
                    intruder.loop_stop()

        thread = threading.Thread(target=intrude, daemon=True)
        thread.start()
        prefix = "mqtt: session taken over at "

        def taken_over() -> bool:
            code, body = health_of(client)
            return code == 503 and any(line.startswith(prefix) for line in body.get("failing", []))

        wait_until(taken_over, timeout=60)
        thread.join(timeout=60)
        assert kicks == receiver.FLAP_LOSSES  # the server took its session back each time
        assert "serialtrace_mqtt_session_takeovers_total 1.0" in client.get("/metrics").text


def test_wrong_credentials_end_the_server_with_one_line(tmp_path: Path, mosquitto: Broker) -> None:
    good = mosquitto.link("server", f"wrongpw-{os.getpid()}")
    secrets = tmp_path / "server.toml"
    write_secrets(
        secrets,
        {
            "url": mosquitto.url,
            "username": good.username or "",
            "password": "not-the-password",
            "ca_file": str(mosquitto.ca_file),
        },
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "serialtrace", "server",
            "--db", f"sqlite:///{tmp_path / 'trace.db'}",
            "--mqtt-secrets", str(secrets), "--port", str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "not-the-password" not in done.stderr + done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("serialtrace: error: mqtt: broker refused the connection: ")
    assert last.endswith(f"at mqtts://{good.username}@127.0.0.1:{mosquitto.port}")


def test_a_secrets_file_others_can_read_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "open.toml"
    secrets.write_text('username = "u"\npassword = "p"\n')
    secrets.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "serialtrace", "server", "--mqtt", "mqtts://127.0.0.1:1",
         "--mqtt-secrets", str(secrets), "--db", f"sqlite:///{tmp_path / 'trace.db'}",
         "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"serialtrace: error: mqtt secrets file {str(secrets)!r}: expected mode 0600 "
        "(its owner only), got 0644\n"
    )


def test_the_receivers_command_line_holds_no_secret(
    lines: Engine, mosquitto: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nor its environment: the receiver parses the network's bytes; the server's audit key
    and any other secret of the server's environment stay in the server."""
    audit_key = os.urandom(32).hex()
    monkeypatch.setenv("SERIALTRACE_SERVER__AUDIT_KEY", audit_key)
    monkeypatch.setenv("SERIALTRACE_SERVER__MQTT_PASSWORD", "env-password")
    monkeypatch.setenv("PGPASSWORD", "pg-password")
    monkeypatch.setenv("SERIALTRACE_SERVER__DB_URL", "postgresql://u:db-password@h/db")
    link = mosquitto.link("server", f"argv-{os.getpid()}-{lines.dialect.name}")
    consumer = MqttIngest(Ingestor(lines, max_payload_bytes=1024), link, client_id="argv")
    consumer.start()
    try:
        assert consumer.connected.wait(15)
        pid = consumer.receiver_pid
        assert pid is not None
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        consumer.stop()
    assert link.password is not None
    assert link.password.encode() not in argv
    for secret in (link.password, audit_key, "env-password", "pg-password", "db-password"):
        assert secret.encode() not in environ, secret
    # what it does read from there: the event time window the app set
    assert b"SERIALTRACE_SERVER__EVENT_TIME_MAX_AGE_DAYS=" in environ


def test_nan_and_huge_integers_are_refused_on_http_capture_too(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """The issue: an event with NaN was stored and then every page of GET /epcis/events
    holding it answered 500; a 5000-digit integer gave 500 on capture."""
    document = f.document([f.commissioning(["NAN1"])])
    text = json.dumps(document).replace(
        '"disposition": "active"', '"disposition": "active", "x:v": NaN'
    )
    response = client.post("/epcis/capture", content=text, headers=tokens["device"])
    assert response.status_code == 400
    assert response.json()["detail"] == "payload: expected finite numbers, got NaN"
    big = json.dumps(document).replace(
        '"disposition": "active"', '"disposition": "active", "x:v": ' + "9" * 5000
    )
    response = client.post("/epcis/capture", content=big, headers=tokens["device"])
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "payload: expected integers of at most 20 digits, got one of 5000 digits"
    )
    infinite = json.dumps(document).replace(
        '"disposition": "active"', '"disposition": "active", "x:v": 1e999'
    )
    assert (
        client.post("/epcis/capture", content=infinite, headers=tokens["device"]).status_code == 400
    )
    response = client.get("/epcis/events", headers=tokens["qa"])
    assert response.status_code == 200
    kinds = client.get("/dead-letters", headers=tokens["qa"]).json()
    assert [row["kind"] for row in kinds] == ["limit", "limit", "limit"]


def test_the_same_event_id_with_other_content_is_kept_apart_and_alerted(
    store: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    first = f.commissioning(["C1", "C2"])
    second = copy.deepcopy(first)
    second["epcList"] = [f.sgtin("C1"), f.sgtin("EVIL")]
    again = copy.deepcopy(first)
    for event, conflicts in ((first, 0), (again, 0), (second, 1)):
        response = client.post(
            "/epcis/capture", content=f.payload([event]), headers=tokens["device"]
        )
        assert response.status_code == 202
        assert response.json()["conflicts"] == conflicts
    assert unit_status(store, "EVIL") is None
    with read_transaction(store) as conn:
        body = conn.execute(select(event_bodies.c.body)).scalar_one()
        alert = conn.execute(select(alerts.c.kind, alerts.c.event_id)).one()
        kept = conn.execute(select(func.count()).select_from(events)).scalar_one()
    assert json.loads(body)["epcList"] == [f.sgtin("C1"), f.sgtin("C2")]  # never overwritten
    assert tuple(alert) == ("event_conflict", first["eventID"])
    assert kept == 1
    from server.store.schema import event_conflicts

    with read_transaction(store) as conn:
        conflict = conn.execute(select(event_conflicts.c.event_id, event_conflicts.c.body)).one()
    assert conflict.event_id == first["eventID"]
    assert json.loads(conflict.body)["epcList"] == [f.sgtin("C1"), f.sgtin("EVIL")]


class _WriterCrash(BaseException):
    """What kills a thread for real (not an Exception: the guards do not catch it)."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_that_dies_is_restarted_and_a_message_that_kills_it_twice_is_poison(
    lines: Engine, mosquitto: Broker
) -> None:
    ingestor = Ingestor(lines, max_payload_bytes=64 * 1024)
    real = ingestor.apply_for_delivery  # what the MQTT writer calls
    kills = []

    def apply_for_delivery(items: Any) -> Any:
        if any(item.prepared and b"KILL-WRITER" in item.payload for item in items):
            kills.append(len(items))
            raise _WriterCrash
        return real(items)

    ingestor.apply_for_delivery = apply_for_delivery  # type: ignore[method-assign]
    consumer = MqttIngest(
        ingestor,
        mosquitto.link("server", f"writer-{os.getpid()}-{lines.dialect.name}"),
        client_id="writer",
        group_commit=10,
    )
    consumer.start()
    try:
        assert consumer.connected.wait(15)  # set once the broker granted the subscription
        killer = f.document([f.commissioning(["KILLER1"])])
        killer["epcisBody"]["eventList"][0]["ext:note"] = "KILL-WRITER"
        with client_of(mosquitto.link("line", "site1", "line1")) as client:
            publish(client, LINE1, f.payload([f.commissioning(["BEFORE1"])]))
            publish(client, LINE1, json.dumps(killer).encode())
            publish(client, LINE1, f.payload([f.commissioning(["AFTER2"])]))
            wait_until(lambda: unit_status(lines, "AFTER2") == "active", timeout=60)
        assert unit_status(lines, "BEFORE1") == "active"
        assert consumer.worker_restarts >= 1
        assert kills[-1] == 1  # the last time it was alone
        assert consumer.workers_alive()["writer"]
    finally:
        consumer.stop()
    assert unit_status(lines, "KILLER1") is None
    assert dead_letter_kinds(lines) == ["poison"]
