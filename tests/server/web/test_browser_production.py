"""The QA web UI's products and orders pages in Debian's Chromium against a live server:
QA creates a product (audited), a lot rule is in place, QA creates an order by rule, releases
it, and sees the plan; an operator may look but not edit."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.server.web.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.browser

NEW_GTIN = "09506000134369"


def qa_headers(live: LiveServer) -> dict[str, str]:
    token = httpx.post(
        live.url + "/auth/token", data={"username": "qa", "password": PASSWORD}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_qa_keeps_master_data_and_releases_an_order_by_rule(
    page: Page, live: LiveServer, sign_in: Callable[[Page, str], None]
) -> None:
    rule = {"pattern": "W{YY}{JJJ}{SEQ:2}", "reason": "web test rule"}
    assert (
        httpx.put(
            live.url + "/production/lot-rules/plant9/*", json=rule, headers=qa_headers(live)
        ).status_code
        == 200
    )
    sign_in(page, "qa")
    page.click("a[data-nav=products]")
    page.click("text=New product")
    page.fill("#product-gtin", NEW_GTIN)
    page.fill("#product-name", "Ibuprofen")
    page.fill("#product-strength", "400 mg")
    page.fill("#product-markets", "de, at")
    page.fill("#product-shelf_life_months", "36")
    page.fill("#product-reason", "new product from the web UI")
    page.click("#product-save")
    expect(page.locator("#product-saved")).to_have_text("Saved.")
    page.click("a[data-nav=products]")
    row = page.locator("table.data tr", has_text=NEW_GTIN)
    expect(row).to_contain_text("Ibuprofen 400 mg")
    expect(row).to_contain_text("AT, DE")
    page.click("a[data-nav=orders]")
    page.select_option("#order-gtin", NEW_GTIN)
    page.fill("#order-planned", "1200")
    page.fill("#order-made", "2025-03-15")
    page.fill("#order-site", "plant9")
    page.fill("#order-line", "line1")
    page.click("#order-create")
    expect(page.locator("#plan-vs-actual")).to_contain_text("by rule (at release)")
    expect(page.locator("#plan-vs-actual")).to_contain_text("280200")  # 36 months, end of Feb
    page.click("#order-release-button")
    expect(page.locator("#plan-vs-actual")).to_contain_text("W2507401")
    audit = httpx.get(live.url + "/audit?limit=500", headers=qa_headers(live)).json()
    actions = [(e["action"], e["entity_key"]) for e in audit]
    assert ("product_create", NEW_GTIN) in actions and ("order_release", "ORD-000001") in [
        (a, k) for a, k in actions if a == "order_release"
    ]


def test_an_operator_reads_but_cannot_edit(
    page: Page, live: LiveServer, sign_in: Callable[[Page, str], None]
) -> None:
    sign_in(page, "operator")
    page.click("a[data-nav=products]")
    expect(page.locator("h1")).to_have_text("Products")
    expect(page.locator("text=New product")).to_have_count(0)
    page.click("a[data-nav=orders]")
    expect(page.locator("#order-form")).to_have_count(0)
