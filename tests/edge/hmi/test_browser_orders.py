"""The HMI's orders panel in Chromium: an order QA released to the line appears, the operator
confirms it with their name, the batch starts with the order's lot and expiry; a start without
a lot takes the next lot by rule and computes the expiry; a typed expiry needs a reason, which
reaches the server's audit trail."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from edge.agent import Agent
from edge.api import create_app as edge_app
from edge.batch import BatchAction
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from server.api.app import create_app
from server.auth import Role, add_user, issue_token
from server.config import ServerSettings
from server.serials import SerialAuthority
from server.store import write_transaction
from tests.edge.agent.line import (
    GTIN,
    OPERATOR,
    OPERATOR_PASSWORD,
    config_for,
    sim_devices,
    start_line,
)
from tests.server.conftest import migrated_store
from tests.support.browser import HMI, browser_tab, sign_in
from tests.support.services import Broker, free_port

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

NOW = datetime(2025, 3, 1, tzinfo=UTC)
PRODUCT = {"company_prefix_length": 7, "name": "Paracetamol", "strength": "500 mg",
           "shelf_life_months": 24, "units_per_case": 5, "cases_per_pallet": 3,
           "reason": "new"}  # fmt: skip


@dataclass(frozen=True)
class Plant:
    agent: Agent
    hmi: str
    server: str
    qa: dict[str, str]


@pytest.fixture(scope="module")
def plant(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: Broker, request: pytest.FixtureRequest
) -> Iterator[Plant]:
    folder = tmp_path_factory.mktemp("hmi-orders")
    with migrated_store("sqlite", folder, request) as store:
        with write_transaction(store) as conn:
            qa = add_user(conn, "qa1", "qa password 1", Role.QA, now=NOW)
            token = issue_token(conn, qa, now=datetime.now(UTC), ttl=timedelta(hours=2))
            add_user(conn, "line3-pc", "line password 3", Role.DEVICE, now=NOW)
        SerialAuthority(store, key=None, journal=None).register_line(
            "line3-pc", "plant1", "line3", actor="a", reason="t", now=NOW
        )
        settings = ServerSettings(
            db_url=store.url.render_as_string(hide_password=False), migrate_on_start=False
        )
        with serve_asgi(create_app(settings, engine=store), free_port()) as server:
            headers = {"Authorization": f"Bearer {token}"}
            httpx.put(f"{server}/production/products/{GTIN}", json=PRODUCT, headers=headers)
            httpx.put(f"{server}/production/lot-rules/plant1/line3", headers=headers,
                      json={"pattern": "L3{YY}{JJJ}{SEQ:2}", "reason": "rule"})  # fmt: skip
            password = folder / "password"
            password.write_text("line password 3")
            os.chmod(password, 0o600)
            line = start_line()
            config = config_for(
                folder / "edge", mosquitto, line,
                extra={"server": {"url": server, "user": "line3-pc",
                                  "password_file": str(password), "poll_s": 0.3}},
            )  # fmt: skip
            agent = build_agent(config, sim_devices(config, line))
            try:
                with serve_asgi(edge_app(agent), free_port()) as hmi:
                    yield Plant(agent, hmi, server, headers)
            finally:
                line.close()


@pytest.fixture
def page(browser: Browser, plant: Plant) -> Iterator[Page]:
    with browser_tab(browser, plant.hmi, timeout_ms=15_000) as tab:
        yield tab


def test_the_operator_confirms_a_released_order(page: Page, plant: Plant) -> None:
    order = httpx.post(f"{plant.server}/production/orders", headers=plant.qa, json={
        "gtin": GTIN, "planned": 300, "site": "plant1", "line": "line3",
        "manufacturing_date": "2025-03-15", "release": True}).json()  # fmt: skip
    page.goto("/hmi/")
    sign_in(page, OPERATOR, OPERATOR_PASSWORD, HMI, go=False)
    row = page.locator(f"#order-rows tr[data-order='{order['id']}']")
    expect(row).to_contain_text(order["number"])
    expect(row).to_contain_text("L32507401")
    expect(row).to_contain_text("270200 (end of Feb 2027)")
    row.locator("button").click()
    page.fill("#confirm-operator", "Anna Operator")
    page.click("#confirm-submit")
    expect(page.locator("#batch-lot")).to_have_text("L32507401")
    expect(page.locator("#state-text")).to_have_text("RUNNING")
    plant.agent.transition(BatchAction.STOP)
    plant.agent.close_batch()
    expect(page.locator("#order-rows")).to_contain_text("No order waiting")


def test_a_start_without_lot_takes_one_by_rule(page: Page, plant: Plant) -> None:
    page.goto("/hmi/")
    sign_in(page, OPERATOR, OPERATOR_PASSWORD, HMI, go=False)
    expect(page.locator("#state-text")).to_have_text("NO BATCH")
    page.click("#btn-start")
    expect(page.locator("#start-lot")).to_have_attribute("placeholder", "empty: by rule")
    page.fill("#start-planned", "100")
    page.click("#start-submit")
    today = datetime.now()
    # the next of today's codes (the first ones went to the line's offline reserve)
    prefix = f"L3{today:%y}{today.timetuple().tm_yday:03d}"
    expect(page.locator("#batch-lot")).to_have_text(re.compile(rf"^{prefix}[0-9]{{2}}$"))
    expect(page.locator("#batch-expiry")).to_contain_text("(end of")
    plant.agent.transition(BatchAction.STOP)
    plant.agent.close_batch()


def test_a_typed_expiry_needs_a_reason_and_reaches_the_audit_trail(
    page: Page, plant: Plant
) -> None:
    page.goto("/hmi/")
    sign_in(page, OPERATOR, OPERATOR_PASSWORD, HMI, go=False)
    expect(page.locator("#state-text")).to_have_text("NO BATCH")
    page.click("#btn-start")
    page.fill("#start-expiry", "301231")
    page.fill("#start-planned", "10")
    page.click("#start-submit")
    expect(page.locator("#start-error")).to_contain_text("301231 needs expiry_reason")
    page.fill("#start-expiry-reason", "QA decision QD-9")
    page.click("#start-submit")
    expect(page.locator("#batch-expiry")).to_contain_text("301231")
    lot = page.locator("#batch-lot").inner_text()
    deadline = time.monotonic() + 15
    overrides: list[dict[str, object]] = []
    while not overrides:  # the line sends it with its next sync
        assert time.monotonic() < deadline, "no batch_expiry_override in the audit trail"
        audit = httpx.get(f"{plant.server}/audit?limit=500", headers=plant.qa).json()
        overrides = [e for e in audit if e["action"] == "batch_expiry_override"]
        time.sleep(0.1)
    assert (overrides[0]["entity_key"], overrides[0]["reason"]) == (
        f"(01){GTIN}(10){lot}",
        "QA decision QD-9",
    )
    plant.agent.transition(BatchAction.STOP)
    plant.agent.close_batch()
