"""The QA web UI's Delivery page (real browser): a line with an alerted gap and a batch
close that waits for it, on a store filled through the real ingest path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from serialtrace.services import serve_asgi
from server import delivery
from server.api.app import create_app
from server.config import ServerSettings
from server.ingest.prepare import Origin
from server.ingest.service import Ingestor
from server.store import create_store_engine, upgrade, write_transaction
from tests.server import factory as f
from tests.server.conftest import register_line
from tests.server.web.seed import PASSWORD, add_users
from tests.support.browser import signed_in
from tests.support.services import free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("delivery")
    settings = ServerSettings(db_url=f"sqlite:///{folder / 'trace.db'}", migrate_on_start=False)
    engine = create_store_engine(settings.db_url)
    upgrade(engine)
    add_users(engine)
    register_line(engine, "site1", "line1")
    ingestor = Ingestor(engine, max_payload_bytes=1 << 20)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    close = f.commissioning(["W9"], time=now)
    close[delivery.RECONCILIATION_FIELD] = {"printed": 4}
    events = [f.commissioning([f"W{i}"], time=now) for i in range(4)] + [close]
    for seq, event in enumerate(events, start=1):
        event[delivery.SEQ_FIELD] = seq
    document = f.document([events[0], events[1], events[4]])  # 3 and 4 lost on the way
    document["@context"] = [*f.CONTEXT, {"serialtrace": "urn:serialtrace:epcis:"}]
    origin = Origin("mqtt", "site1", "line1")
    checked = ingestor.check(json.dumps(document).encode(), origin, "t")
    outcomes, _ = ingestor.apply_for_delivery([checked])
    assert outcomes[0].accepted
    with write_transaction(engine) as conn:  # as if the gap had stayed open an hour
        (line,) = delivery.line_states(conn)
        opened = line.gaps[0].opened_at
        delivery.alert_old_gaps(conn, opened + timedelta(hours=1), timedelta(seconds=120))
    try:
        with serve_asgi(create_app(settings, engine=engine), free_port(), name="dlv") as base:
            yield base
    finally:
        engine.dispose()


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    with signed_in(browser, url, "qa", PASSWORD, timeout_ms=10_000) as tab:
        yield tab


def test_delivery_page_shows_the_gap_its_alert_and_the_waiting_batch_close(page: Page) -> None:
    page.click("a[data-nav=delivery]")
    expect(page.locator("[data-ready=true] h1")).to_have_text("Delivery from the lines")
    lines = page.locator("table.data").first
    expect(lines).to_contain_text("site1/line1")
    expect(lines).to_contain_text("gap alert")
    row = lines.locator("tbody tr").first
    expect(row.locator("td").nth(1)).to_have_text("2")  # stored up to #2
    expect(row.locator("td").nth(3)).to_have_text("2")  # two missing
    expect(page.locator("section", has_text="Open gaps")).to_contain_text("3-4")
    expect(page.locator("section", has_text="Batch closes")).to_contain_text("waiting")
