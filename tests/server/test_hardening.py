"""Inputs, limits and browser hardening of the trace server: lots and serials with any GS1
CSET 82 character in every route (Hypothesis), the event-time window with dead letters, the
request-body limit before reading, header and idle timeouts on a real uvicorn, security
headers, and the API docs served from the package."""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

import gs1
import server.api.routes
from server.api.app import create_app
from server.api.paths import Gs1TextConvertor, segment
from server.api.security import guarded_http_protocol
from server.ingest.prepare import set_event_time_window
from tests.gs1.strategies import cset82
from tests.server import factory as f
from tests.server.conftest import settings_for
from tests.server.qa.builders import Headers, capture
from tests.support.services import free_port

# -- lots and serials with any CSET 82 character ---------------------------------------------

_examples = itertools.count(1)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lot=cset82(max_size=20), serial=cset82(max_size=20))
def test_any_cset82_lot_and_serial_work_in_every_route(
    client: TestClient, tokens: Headers, lot: str, serial: str
) -> None:
    qa, operator = tokens["qa"], tokens["operator"]
    number = str(next(_examples))  # one store for every example: a serial is issued once
    serial = (number + serial)[:20]
    event = f.commissioning(["X"], lot=lot)
    event["epcList"] = [gs1.sgtin_uri(gs1.Gtin.parse(f.GTIN), serial, len(f.COMPANY_PREFIX))]
    capture(client, tokens, [event])
    gtin, key = f.GTIN, segment(lot)
    for path in (
        f"/batches/{gtin}/{key}",
        f"/batches/{gtin}/{key}/recall",
        f"/batches/{gtin}/{key}/units",
        f"/batches/{gtin}/{key}/rejects",
        f"/batches/{gtin}/{key}/grades",
        f"/qa/batches/{gtin}/{key}/record",
        f"/qa/batches/{gtin}/{key}/history",
        f"/qa/batches/{gtin}/{key}/completeness",
    ):
        answer = client.get(path, headers=qa)
        assert answer.status_code == 200, (path, answer.text)
    assert client.get(f"/batches/{gtin}/{key}", headers=qa).json()["lot"] == lot
    unit = client.get(f"/units/{gtin}/{segment(serial)}", headers=operator)
    assert unit.status_code == 200, unit.text
    assert unit.json()["serial"] == serial and unit.json()["lot"] == lot
    production = {"line": "L1", "started_at": "2025-03-01T06:00:00Z", "planned": 1, "produced": 1}
    put = client.put(f"/qa/batches/{gtin}/{key}/production", json=production, headers=operator)
    assert put.status_code == 200 and put.json()["lot"] == lot
    recall = client.post(f"/batches/{gtin}/{key}/recall", json={"reason": "drill"}, headers=qa)
    assert recall.status_code == 200 and recall.json()["disposition"] == "recalled"


def test_every_lot_serial_and_user_name_in_a_path_takes_an_encoded_slash() -> None:
    """Every route with a lot, serial or user name in its path uses ``gs1text``: with the
    plain ``str`` convertor a ``%2F`` reaches the route as the private-use mark, and the lot
    is unknown (``/batches/{gtin}/{lot}/grades`` answered 404 for lot ``A/B``)."""
    checked: dict[str, str] = {}
    for info in pkgutil.walk_packages(server.api.routes.__path__, "server.api.routes."):
        for value in vars(importlib.import_module(info.name)).values():
            if not isinstance(value, APIRouter):
                continue
            for route in value.routes:
                if not isinstance(route, APIRoute):
                    continue
                for name in ("lot", "serial", "username"):
                    if name in route.param_convertors:
                        convertor = route.param_convertors[name]
                        checked[route.path] = type(convertor).__name__
    plain = {path: kind for path, kind in checked.items() if kind != Gs1TextConvertor.__name__}
    assert plain == {}
    assert len(checked) >= 20, sorted(checked)  # the walk found the routes


def test_a_lot_with_a_slash_is_one_segment(client: TestClient, tokens: Headers) -> None:
    capture(client, tokens, [f.commissioning(["S1"], lot="A/B"), f.commissioning(["S2"], lot="A")])
    one = client.get(f"/batches/{f.GTIN}/A%2FB", headers=tokens["qa"]).json()
    assert one["lot"] == "A/B"
    assert client.get(f"/batches/{f.GTIN}/A", headers=tokens["qa"]).json()["lot"] == "A"
    assert client.get(f"/batches/{f.GTIN}/A/B", headers=tokens["qa"]).status_code == 404


# -- event time window -------------------------------------------------------------------------


@pytest.fixture
def windowed(store: Engine, tokens: Headers) -> Iterator[TestClient]:
    """A server with the default window (after ``client``, whose start set a wide one: the
    window is the process's, so the MQTT receiver processes it starts get it too)."""
    values = settings_for(store, event_time_max_age_days=365, event_time_max_ahead_days=1)
    with TestClient(create_app(values, engine=store)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("when", "accepted"),
    [
        (timedelta(0), True),
        (timedelta(hours=23), True),
        (timedelta(days=-364), True),
        (timedelta(days=2), False),
        (timedelta(days=-366), False),
        (None, False),  # year 2999, as in the issue
    ],
)
def test_event_times_outside_the_window_are_dead_letters(
    windowed: TestClient, tokens: Headers, when: timedelta | None, accepted: bool
) -> None:
    moment = datetime(2999, 1, 1, tzinfo=UTC) if when is None else datetime.now(UTC) + when
    moment = moment.replace(microsecond=0)
    text = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    answer = windowed.post(
        "/epcis/capture",
        content=f.payload([f.commissioning(["W1"], time=text)]),
        headers=tokens["device"],
    )
    letters = windowed.get("/dead-letters", headers=tokens["qa"]).json()
    if accepted:
        assert answer.status_code == 202, answer.text
        assert letters == []
        return
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert re.match(r"eventList\[0\]\.eventTime: expected a time from \S+ to \S+ ", detail), detail
    assert detail.endswith(f"got {moment.isoformat()}")
    assert [letter["reason"] for letter in letters] == [detail]


def test_the_window_reaches_the_mqtt_receiver_process() -> None:
    import os

    set_event_time_window(30, 0.5)
    assert os.environ["SERIALTRACE_SERVER__EVENT_TIME_MAX_AGE_DAYS"] == "30.0"
    assert os.environ["SERIALTRACE_SERVER__EVENT_TIME_MAX_AHEAD_DAYS"] == "0.5"


# -- headers and docs --------------------------------------------------------------------------


def test_security_headers_everywhere(client: TestClient, tokens: Headers) -> None:
    for path, headers in (
        ("/ui/", {}),
        ("/ui/batches", {}),
        ("/docs", {}),
        ("/redoc", {}),
        ("/batches", tokens["qa"]),
        ("/nope", {}),
        ("/openapi.json", {}),
    ):
        answer = client.get(path, headers=headers)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, path
        script = re.search(r"script-src ([^;]*)", policy)
        assert script is None or "'unsafe-inline'" not in script.group(1), path
        assert "'unsafe-eval'" not in policy, path
    ui = client.get("/ui/").headers["content-security-policy"]
    assert "script-src 'self'" in ui and "'unsafe-inline'" not in ui


def test_api_docs_come_from_the_package(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "<script>" not in html  # no inline script
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200, source
    assert len(client.get("/docs/static/swagger-ui-bundle.js").content) > 500_000
    assert client.get("/docs/static/..%2Fapp.py").status_code == 404


# -- body limit, header and idle timeouts on a real uvicorn -----------------------------------


@pytest.fixture
def live(store: Engine, tokens: Headers) -> Iterator[tuple[str, int]]:
    import uvicorn

    values = settings_for(store, max_request_bytes=64 * 1024, header_timeout_seconds=1.0)
    port = free_port()
    config = uvicorn.Config(
        create_app(values, engine=store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=guarded_http_protocol(values.header_timeout_seconds),
        timeout_keep_alive=1,
    )
    server = uvicorn.Server(config)
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        from serialtrace.services import wait_for_port

        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _read_answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def test_an_oversized_body_is_refused_before_it_is_read(
    live: tuple[str, int], tokens: Headers
) -> None:
    _url, port = live
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = (
            "POST /complaints HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {tokens['qa']['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
        )
        sock.sendall(head.encode())  # 50 MB announced, not one byte of it sent
        answer = _read_answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_over_the_limit_is_refused(live: tuple[str, int], tokens: Headers) -> None:
    url, _port = live

    def chunks() -> Iterator[bytes]:
        for _ in range(100):  # 100 x 8 KiB: more than the 64 KiB limit
            yield b"x" * 8192

    answer = httpx.post(
        f"{url}/complaints/import",
        content=chunks(),
        headers={**tokens["qa"], "Content-Type": "text/csv"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("body: expected at most 65536 bytes")


def test_a_slow_request_head_and_an_idle_connection_are_cut(live: tuple[str, int]) -> None:
    _url, port = live
    for first in (b"", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"):  # nothing / half a head
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(first)
            started = time.monotonic()
            sock.settimeout(10)
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 5


def test_the_cli_server_uses_the_guards() -> None:
    from server.api.security import uvicorn_config
    from server.config import ServerSettings

    config = uvicorn_config(object(), ServerSettings(idle_timeout_seconds=7))
    assert config.timeout_keep_alive == 7
    assert config.http.__name__ == "GuardedH11Protocol"
