"""Query subscriptions on the running server (both engines): webhooks to a real HTTP
receiver on 127.0.0.1 (signed with HMAC-SHA256 of the signatureToken), WebSockets with a
real client (``websockets``), streaming and scheduled, each matching event once per
subscriber, and webhook subscriptions that survive a server restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from websockets.sync.client import connect

from serialtrace.services import serve_asgi
from server.api.app import create_app
from server.store import read_transaction
from server.store.schema import subscriptions
from server.subscriptions import parse_schedule, schedule_matches
from tests.server import factory as f
from tests.server.conftest import settings_for
from tests.server.epcis.conftest import Live, role_headers
from tests.support.services import free_port

SECRET = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
WAIT = 20.0  # seconds at most for a delivery on a busy machine
POLL = 0.2  # epcis_subscription_poll_seconds of the servers here
#: A duplicate would come with the dispatcher's next tick: what else arrives is collected
#: until a tick that began this long after the last document ran (two polls and more).
SETTLE = timedelta(seconds=2.5 * POLL)

HTTP = httpx.Client(timeout=60)  # a busy machine answers slowly, never wrongly


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every POST (body and headers) in a queue."""

    def __init__(self, status: int = 200) -> None:
        self.received: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()
        self.status = status
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.attempts += 1
                if receiver.status == 200:
                    receiver.received.put((body, dict(self.headers)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def documents(self, count: int) -> list[tuple[dict[str, Any], dict[str, str]]]:
        found = []
        deadline = time.monotonic() + WAIT
        while len(found) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                body, headers = self.received.get(timeout=remaining)
            except queue.Empty:
                break
            found.append((json.loads(body), headers | {"_body": body.decode()}))
        return found

    def event_ids(self, expected: int, store: Engine) -> list[str]:
        """The eventIDs of the documents received until ``expected`` events came (or the
        wait ran out), then what else arrives until every subscription of ``store`` ran a
        tick that began :data:`SETTLE` after the last document (or the wait ran out)."""
        ids: list[str] = []
        deadline = time.monotonic() + WAIT
        while len(ids) < expected and time.monotonic() < deadline:
            try:
                body, _ = self.received.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            ids += event_ids_of(json.loads(body))
        settled = datetime.now(UTC) + SETTLE
        deadline = time.monotonic() + WAIT
        while not ran_since(store, settled) and time.monotonic() < deadline:
            time.sleep(0.05)
        while True:
            try:
                body, _ = self.received.get_nowait()
            except queue.Empty:
                return ids
            ids += event_ids_of(json.loads(body))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def ran_since(store: Engine, moment: datetime) -> bool:
    """Whether every stored subscription's last run (a dispatcher tick's) began at or after
    ``moment``: whatever that tick sent has been received."""
    with read_transaction(store) as conn:
        runs = list(conn.execute(select(subscriptions.c.last_run_at)).scalars())
    return bool(runs) and all(run is not None and run >= moment for run in runs)


def event_ids_of(document: dict[str, Any]) -> list[str]:
    results = document["epcisBody"]["queryResults"]
    return [event["eventID"] for event in results["resultsBody"]["eventList"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    item = Receiver()
    yield item
    item.close()


def create_query(live: Live, name: str = "commissioned", **query: Any) -> None:
    body = {"name": name, "query": query or {"EQ_bizStep": ["commissioning"]}}
    response = HTTP.post(live.epcis + "/queries", json=body, headers=live.headers["qa"])
    assert response.status_code == 201, response.text


def subscribe(live: Live, name: str, **body: Any) -> httpx.Response:
    return HTTP.post(
        f"{live.epcis}/queries/{name}/subscriptions", json=body, headers=live.headers["qa"]
    )


def capture(url: str, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
    response = HTTP.post(url + "/epcis/capture", content=f.payload(events), headers=headers)
    assert response.status_code == 202, response.text


def test_webhook_stream_signed_once_per_subscriber(
    store: Engine, live: Live, receiver: Receiver
) -> None:
    create_query(live)
    other = Receiver()
    try:
        first = subscribe(
            live, "commissioned", dest=receiver.url, signatureToken=SECRET, stream=True
        )
        assert first.status_code == 201, first.text
        assert first.headers["location"].startswith("/epcis/queries/commissioned/subscriptions/")
        assert "signatureToken" not in first.text and SECRET not in first.text
        assert subscribe(live, "commissioned", dest=other.url, stream=True).status_code == 201
        commissioning = [f.commissioning([f"W{i}"]) for i in range(3)]
        capture(live.url, live.headers["device"], [*commissioning, f.packing(f.sscc(40), ["W0"])])
        capture(live.url, live.headers["device"], commissioning)  # the same events again
        expected = sorted(event["eventID"] for event in commissioning)
        assert sorted(receiver.event_ids(3, store)) == expected
        assert sorted(other.event_ids(3, store)) == expected
        later = f.commissioning(["W9"])
        capture(live.url, live.headers["device"], [later])
        [(document, headers)] = receiver.documents(1)
        assert event_ids_of(document) == [later["eventID"]]
        assert document["epcisBody"]["queryResults"]["subscriptionID"]
        signature = hmac.new(SECRET.encode(), headers["_body"].encode(), hashlib.sha256).hexdigest()
        assert headers["GS1-Signature"] == "sha256=" + signature
        listed = HTTP.get(
            f"{live.epcis}/queries/commissioned/subscriptions", headers=live.headers["qa"]
        ).json()
        assert len(listed) == 2 and all("lastNotifiedAt" in item for item in listed)
    finally:
        other.close()


def test_subscription_refusals(live: Live, receiver: Receiver) -> None:
    create_query(live)
    cases = [
        ({"dest": receiver.url}, "stream, schedule: expected either"),
        ({"dest": receiver.url, "stream": True, "schedule": {"minute": "5"}}, "stream, schedule"),
        ({"dest": "ftp://127.0.0.1/x", "stream": True}, "dest: expected an http(s) URL"),
        ({"dest": "http://u:p@127.0.0.1/x", "stream": True}, "dest: expected an http(s) URL"),
        (
            {"dest": receiver.url, "schedule": {"minute": "61"}},
            "schedule.minute: expected values from 0 to 59",
        ),
        (
            {"dest": receiver.url, "schedule": {"fortnight": "1"}},
            "schedule.fortnight: expected one of",
        ),
        (
            {"dest": receiver.url, "stream": True, "colour": "red"},
            "colour: unknown subscription field",
        ),
    ]
    for body, detail in cases:
        response = subscribe(live, "commissioned", **body)
        assert response.status_code == 400, body
        assert response.json()["type"] == "epcisException:SubscriptionControlsException"
        assert response.json()["detail"].startswith(detail), response.json()["detail"]
    missing = subscribe(live, "nope", dest=receiver.url, stream=True)
    assert missing.status_code == 404


def test_scheduled_webhook_reports_if_empty(store: Engine, live: Live, receiver: Receiver) -> None:
    create_query(live)
    response = subscribe(
        live, "commissioned", dest=receiver.url, schedule={"second": "*"}, reportIfEmpty=True
    )
    assert response.status_code == 201, response.text
    [(empty, _)] = receiver.documents(1)
    assert event_ids_of(empty) == []
    event = f.commissioning(["T1"])
    capture(live.url, live.headers["device"], [event])
    assert event["eventID"] in receiver.event_ids(1, store)
    subscription_id = response.json()["subscriptionID"]
    deleted = HTTP.delete(
        f"{live.epcis}/queries/commissioned/subscriptions/{subscription_id}",
        headers=live.headers["qa"],
    )
    assert deleted.status_code == 204


def test_websocket_stream(live: Live) -> None:
    create_query(live)
    url = live.epcis.replace("http://", "ws://") + "/queries/commissioned/events?stream=true"
    with connect(url, additional_headers=live.headers["qa"], open_timeout=WAIT) as socket:
        # The subscription starts when the socket opens: what comes next is delivered.
        first = f.commissioning(["S1"])
        capture(live.url, live.headers["device"], [first, f.packing(f.sscc(41), ["S1"])])
        document = json.loads(socket.recv(timeout=WAIT))
        assert event_ids_of(document) == [first["eventID"]]
        second = f.commissioning(["S2"])
        capture(live.url, live.headers["device"], [first, second])
        document = json.loads(socket.recv(timeout=WAIT))
        assert event_ids_of(document) == [second["eventID"]]  # first once only
    refused = live.epcis.replace("http://", "ws://") + "/queries/commissioned/events?stream=true"
    with pytest.raises(Exception) as caught, connect(refused, open_timeout=WAIT):
        pass  # no token: the handshake is refused
    assert "403" in str(caught.value) or "1008" in str(caught.value)


def test_websocket_schedule(live: Live) -> None:
    create_query(live)
    url = (
        live.epcis.replace("http://", "ws://")
        + "/queries/commissioned/events?second=0-59&reportIfEmpty=true"
    )
    with connect(url, additional_headers=live.headers["qa"], open_timeout=WAIT) as socket:
        document = json.loads(socket.recv(timeout=WAIT))
        assert document["type"] == "EPCISQueryDocument" and event_ids_of(document) == []


def test_webhook_survives_a_restart(store: Engine, receiver: Receiver) -> None:
    headers = role_headers(store)
    settings = settings_for(store, epcis_subscription_poll_seconds=POLL)
    with serve_asgi(create_app(settings, engine=store), free_port(), name="epcis-1") as url:
        live = Live(url, headers)
        create_query(live)
        assert subscribe(live, "commissioned", dest=receiver.url, stream=True).status_code == 201
    # The server is down: events captured by another server process on the same store.
    event = f.commissioning(["R1"])
    with serve_asgi(create_app(settings, engine=store), free_port(), name="epcis-2") as url:
        capture(url, headers["device"], [event])
        assert receiver.event_ids(1, store) == [event["eventID"]]


def test_a_receiver_that_is_down_gets_the_events_later(store: Engine) -> None:
    # Failed deliveries are tried again after 0.2 s, doubling (the default starts at 2 s).
    settings = settings_for(
        store, epcis_subscription_poll_seconds=POLL, epcis_webhook_retry_seconds=POLL
    )
    down = Receiver(status=503)
    try:
        with serve_asgi(create_app(settings, engine=store), free_port(), name="epcis") as url:
            live = Live(url, role_headers(store))
            create_query(live)
            assert subscribe(live, "commissioned", dest=down.url, stream=True).status_code == 201
            event = f.commissioning(["F1"])
            capture(live.url, live.headers["device"], [event])
            deadline = time.monotonic() + WAIT
            while down.attempts == 0 and time.monotonic() < deadline:
                time.sleep(0.05)  # bounded poll: the dispatcher tries, gets 503, backs off
            assert down.attempts >= 1
            down.status = 200
            assert down.event_ids(1, store) == [event["eventID"]]
    finally:
        down.close()


@pytest.mark.parametrize(
    ("schedule", "moment", "matches"),
    [
        ({"hour": "1", "minute": "5"}, "2025-01-01T01:05:00", True),
        ({"hour": "1", "minute": "5"}, "2025-01-01T01:05:01", False),
        ({"minute": "0/15"}, "2025-01-01T07:45:00", True),
        ({"minute": "[10-12]"}, "2025-01-01T07:11:00", True),
        ({"dayOfWeek": "1"}, "2025-01-06T00:00:00", True),  # a Monday
        ({"dayOfWeek": "1"}, "2025-01-07T00:00:00", False),
        ({"second": "*"}, "2025-01-07T00:00:33", True),
    ],
)
def test_schedules(schedule: dict[str, str], moment: str, matches: bool) -> None:
    from datetime import UTC, datetime

    when = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    assert schedule_matches(parse_schedule(schedule), when) is matches


def test_deliveries_in_the_epc_format_asked(live: Live, receiver: Receiver) -> None:
    """A webhook subscription keeps the GS1-EPC-Format it was made with (GS1's default
    Always_GS1_Digital_Link when none), a WebSocket takes it from its handshake."""
    create_query(live)
    as_urn = Receiver()
    try:
        assert subscribe(live, "commissioned", dest=receiver.url, stream=True).status_code == 201
        response = HTTP.post(
            f"{live.epcis}/queries/commissioned/subscriptions",
            json={"dest": as_urn.url, "stream": True},
            headers={**live.headers["qa"], "GS1-EPC-Format": "Never_Translates"},
        )
        assert response.status_code == 201, response.text
        bad = HTTP.post(
            f"{live.epcis}/queries/commissioned/subscriptions",
            json={"dest": as_urn.url, "stream": True},
            headers={**live.headers["qa"], "GS1-EPC-Format": "Sometimes"},
        )
        assert bad.status_code == 406, bad.text
        url = live.epcis.replace("http://", "ws://") + "/queries/commissioned/events?stream=true"
        socket_headers = {**live.headers["qa"], "GS1-EPC-Format": "Always_GS1_Digital_Link"}
        with connect(url, additional_headers=socket_headers, open_timeout=WAIT) as socket:
            event = f.commissioning(["FMT1"])
            capture(live.url, live.headers["device"], [event])
            link = f"https://id.gs1.org/01/{f.GTIN}/21/FMT1"
            [(document, headers)] = receiver.documents(1)
            [delivered] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            assert delivered["epcList"] == [link]
            assert headers["GS1-EPC-Format"] == "Always_GS1_Digital_Link"
            [(document, headers)] = as_urn.documents(1)
            [delivered] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            assert delivered["epcList"] == [f.sgtin("FMT1")]
            assert headers["GS1-EPC-Format"] == "Never_Translates"
            document = json.loads(socket.recv(timeout=WAIT))
            [delivered] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            assert delivered["epcList"] == [link]
    finally:
        as_urn.close()
