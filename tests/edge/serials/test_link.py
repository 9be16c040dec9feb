"""The line's link to a real serial authority (uvicorn on 127.0.0.1, SQLite and PostgreSQL):
refill at the low-water mark, keep going while it is away, alarm, stop when empty, books."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from edge.serials.buffer import Scope, SerialBuffer, Sizing
from edge.serials.errors import AuthorityError, BufferEmptyError
from edge.serials.link import AuthorityClient, AuthorityLink, AuthorityUnreachable
from serialtrace.services import free_port
from server.serials import SerialAuthority
from tests.server.conftest import migrated_store
from tests.support.authority import KEY, ThreadedAuthority, prepare

GTIN = "09506000134352"
SGTIN = Scope.sgtin(GTIN)
SSCC = Scope.sscc(0, "9506000")
PASSWORD = "line-one-secret"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with migrated_store(request.param, tmp_path, request) as engine:
        yield engine


@pytest.fixture
def authority(store: Engine, tmp_path: Path) -> Iterator[ThreadedAuthority]:
    prepare(
        store,
        gtins=(GTIN,),
        sscc_prefixes=((0, "9506000"),),
        lines={"line1-pc": ("plant1", "line1")},
        password=PASSWORD,
    )
    served = ThreadedAuthority(store, tmp_path)
    served.start()
    yield served
    served.stop()


def link_for(
    authority: ThreadedAuthority, folder: Path, *, return_unused: bool = False, **sizes: Any
) -> AuthorityLink:
    sizing = {
        SGTIN: Sizing(rate_per_minute=60, target=sizes.get("target", 300),
                      low_water=sizes.get("low", 150), pool_size=sizes.get("pool", 100)),
        SSCC: Sizing(rate_per_minute=6, target=30, low_water=10, pool_size=20),
    }  # fmt: skip
    link: AuthorityLink | None = None
    buffer = SerialBuffer(
        folder / "buffer.sqlite", sizing, chunk=16, on_low=lambda: link.wake() if link else None
    )
    client = AuthorityClient(authority.url, "line1-pc", PASSWORD, timeout_s=5)
    link = AuthorityLink(
        buffer, client, retry_s=0.1, max_backoff_s=0.5, return_unused_at_close=return_unused
    )
    return link


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        pause.wait(0.05)


def test_the_buffer_fills_keeps_going_offline_then_stops_and_recovers(
    authority: ThreadedAuthority, tmp_path: Path
) -> None:
    alarms: list[str | None] = []
    printed: dict[str, str] = {}
    link = link_for(authority, tmp_path)
    link.start(
        lambda kind, scope, values: {v: printed[v] for v in values if v in printed}, alarms.append
    )
    try:
        wait_until(
            lambda: link.buffer.remaining(SGTIN) == 300 and link.buffer.remaining(SSCC) == 30
        )
        assert link.pools_received == 3 + 2
        authority.stop()  # the authority goes away: the line keeps producing from its buffer
        taken = []
        for _ in range(200):
            serial = link.buffer.take(SGTIN)
            printed[serial] = "used"
            taken.append(serial)
        wait_until(lambda: alarms and alarms[-1] is not None)
        alarm = re.fullmatch(
            rf"GTIN {GTIN}: (\d+) min (\d\d) s of production left in the serial buffer; "
            r"authority unreachable since \d\d:\d\d:\d\d UTC",
            str(alarms[-1]),
        )
        assert alarm is not None, alarms[-1]
        # raised at the low water (150 serials, 2.5 min at 60 a minute) or below, as it was then:
        # 100 left once the 200 were taken (1 min 40 s), more if the link looked on the way
        left_s = int(alarm[1]) * 60 + int(alarm[2])
        assert 100 <= left_s <= 150, alarms[-1]
        for _ in range(100):
            taken.append(link.buffer.take(SGTIN))
        with pytest.raises(BufferEmptyError):
            link.buffer.take(SGTIN)  # the line stops (the agent turns this into a device fault)
        authority.start()
        link.wake()
        wait_until(lambda: link.buffer.remaining(SGTIN) == 300)
        wait_until(lambda: alarms[-1] is None)
        assert len(set(taken)) == 300
    finally:
        link.stop()


def test_the_books_reach_the_authority(
    authority: ThreadedAuthority, tmp_path: Path, store: Engine
) -> None:
    link = link_for(authority, tmp_path, target=50, low=10, pool=50)
    records: dict[str, str | None] = {}
    link.start(lambda kind, scope, values: {v: records[v] for v in values if v in records})
    try:
        wait_until(lambda: link.buffer.remaining(SGTIN) == 50 and link.buffer.remaining(SSCC) == 30)
        serials = [link.buffer.take(SGTIN) for _ in range(10)]
        ssccs = [link.buffer.take(SSCC) for _ in range(3)]
        records.update(
            {s: "used" for s in serials[:6]} | {serials[6]: "destroyed", serials[7]: None}
        )
        records.update({ssccs[0]: "used", ssccs[1]: "destroyed"})
        settled = link.batch_closed(GTIN)
        assert settled == {
            f"GTIN {GTIN}": {"used": 6, "destroyed": 1, "returned": 2},
            "SSCC prefix 9506000 (extension 0)": {"used": 1, "destroyed": 1, "returned": 1},
        }
        wait_until(lambda: link.buffer.report_count() == 0)
    finally:
        link.stop()
    books = SerialAuthority(store, key=KEY, journal=None)
    from server.serials import ScopeKey

    summary = books.summary(ScopeKey.sgtin(GTIN))
    assert (summary.used, summary.destroyed, summary.returned) == (6, 1, 2)
    assert books.status_of(ScopeKey.sgtin(GTIN), serials[7])["status"] == "issued"  # in flight


def test_with_return_unused_at_close_the_rest_of_the_buffer_goes_back(
    authority: ThreadedAuthority, tmp_path: Path, store: Engine
) -> None:
    link = link_for(authority, tmp_path, return_unused=True, target=50, low=10, pool=50)
    records: dict[str, str | None] = {}
    link.start(lambda kind, scope, values: {v: records[v] for v in values if v in records})
    try:
        wait_until(lambda: link.buffer.remaining(SGTIN) == 50 and link.buffer.remaining(SSCC) == 30)
        serials = [link.buffer.take(SGTIN) for _ in range(5)]
        records.update({s: "used" for s in serials})
        settled = link.batch_closed(GTIN)
        assert settled == {
            f"GTIN {GTIN}": {"used": 5, "destroyed": 0, "returned": 45},
            "SSCC prefix 9506000 (extension 0)": {"used": 0, "destroyed": 0, "returned": 0},
        }  # SSCCs are not per batch: they stay in the buffer
        wait_until(lambda: link.buffer.report_count() == 0)
        wait_until(lambda: link.buffer.remaining(SGTIN) == 50)  # refilled for the next batch
        fresh = link.buffer.take(SGTIN)
    finally:
        link.stop()
    from server.serials import ScopeKey

    books = SerialAuthority(store, key=KEY, journal=None)
    summary = books.summary(ScopeKey.sgtin(GTIN))
    assert (summary.used, summary.destroyed, summary.returned) == (5, 0, 45)
    status = books.status_of(ScopeKey.sgtin(GTIN), fresh)
    assert status["status"] == "issued" and status["position"] >= 50  # returned: never again


def test_a_retried_request_gets_the_same_pool(authority: ThreadedAuthority, tmp_path: Path) -> None:
    client = AuthorityClient(authority.url, "line1-pc", PASSWORD)
    try:
        first = client.request_pool(SGTIN, 10, "lost-answer", None)
        again = client.request_pool(SGTIN, 10, "lost-answer", None)
        assert (first["id"], first["serial_numbers"]) == (again["id"], again["serial_numbers"])
        with pytest.raises(AuthorityError) as error:
            AuthorityClient(authority.url, "line1-pc", "wrong password").request_pool(
                SGTIN, 1, "x", None
            )
        assert (error.value.status, str(error.value)) == (
            401,
            "authority /auth/token: HTTP 401: username or password wrong",
        )
    finally:
        client.close()
    with pytest.raises(AuthorityUnreachable):
        AuthorityClient(f"http://127.0.0.1:{free_port()}", "x", "y", timeout_s=2).request_pool(
            SGTIN, 1, "t", None
        )
