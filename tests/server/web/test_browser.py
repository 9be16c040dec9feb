"""The QA web UI in a real browser: sign in, trace, batch, recall, verify."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.server.web.conftest import LiveServer
from tests.server.web.seed import (
    CUSTOMER,
    DESPATCH,
    GTIN,
    LOT,
    OTHER_LOT,
    PASSWORD,
    RAW_LOTS,
    SHIP_TO,
)
from tests.support.browser import submit_sign_in

pytestmark = pytest.mark.browser

SignIn = Callable[[Page, str], None]
Shot = Callable[[Page, str], None]
GS = "\x1d"


def at(path: str) -> re.Pattern[str]:
    """A URL pattern for ``path`` (and query) on the live server."""
    return re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(path) + "$")


def test_wrong_password_is_refused_with_a_message(page: Page, screenshot: Shot) -> None:
    page.goto("/ui/batches")
    expect(page).to_have_url(at("/ui/login?next=%2Fui%2Fbatches"))
    submit_sign_in(page, "qa", "not the password")
    expect(page.locator(".login-error")).to_contain_text("User name or password wrong.")
    expect(page.locator("#nav")).to_be_hidden()
    screenshot(page, "login-error")


def test_sign_in_returns_to_the_page_asked_for(page: Page, live: LiveServer) -> None:
    page.goto("/ui/batches")
    submit_sign_in(page, "operator", PASSWORD)
    expect(page).to_have_url(at("/ui/batches"))
    expect(page.locator("#session-role")).to_have_text("operator")
    expect(page.get_by_role("link", name=LOT)).to_be_visible()


def test_scanned_unit_shows_case_pallet_shipment_customer_and_raw_lots(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    pallet = live.seeded.pallets[0]
    serial = live.seeded.shipped_serial
    sign_in(page, "operator")
    screenshot(page, "search")
    # What a scanner types: symbology identifier, FNC1 as GS, then Enter.
    page.fill("#code", f"]d201{GTIN.value}21{serial}{GS}10{LOT}")
    page.press("#code", "Enter")
    expect(page).to_have_url(at(f"/ui/unit/{GTIN.value}/{serial}"))
    tree = page.locator("#genealogy")
    expect(tree.locator('[data-kind="case"] > .node')).to_contain_text(f"(00){pallet.cases[0]}")
    expect(tree.locator('[data-kind="pallet"] > .node')).to_contain_text(f"(00){pallet.sscc}")
    expect(tree.locator('[data-kind="shipment"] > .node')).to_contain_text(DESPATCH)
    expect(tree.locator('[data-kind="ship-to"]')).to_contain_text(SHIP_TO)
    expect(tree.locator('[data-kind="customer"]')).to_contain_text(CUSTOMER)
    expect(tree.locator('[data-kind="batch"] > .node')).to_contain_text(f"Lot {LOT}")
    # Raw materials are listed once, in "Raw materials and records"; the tree links there.
    expect(page.locator("#backward")).to_be_visible()
    for lot in RAW_LOTS:
        expect(page.locator("#backward")).to_contain_text(lot)
        shown = page.evaluate("(lot) => document.body.innerText.split(lot).length - 1", lot)
        assert shown == 1, f"raw-material lot {lot} is listed {shown} times"
    expect(tree.locator('[data-kind="raw material"] a[href="#backward"]')).to_have_count(1)
    history = page.locator("#history table.data tbody tr")
    expect(history).to_have_count(4)  # commissioning, case packing, pallet packing, shipping
    expect(history.nth(0)).to_contain_text("commissioning")
    expect(history.nth(3)).to_contain_text("shipping")
    screenshot(page, "unit")


@pytest.mark.parametrize(
    "code",
    [
        "https://id.gs1.org/01/{gtin}/21/{serial}",
        "urn:epc:id:sgtin:4012345.000001.{serial}",
        "(01){gtin}(21){serial}",
    ],
    ids=["digital-link", "epc-uri", "hri"],
)
def test_every_code_form_finds_the_unit(
    page: Page, live: LiveServer, sign_in: SignIn, code: str
) -> None:
    serial = live.seeded.pallets[1].serials[0]
    sign_in(page, "qa")
    page.fill("#code", code.format(gtin=GTIN.value, serial=serial))
    page.press("#code", "Enter")
    expect(page.locator("h1")).to_contain_text(f"(01){GTIN.value}(21){serial}")
    expect(page.locator('#genealogy [data-kind="pallet"]')).to_contain_text(
        live.seeded.pallets[1].sscc
    )
    expect(page.locator('#genealogy [data-kind="shipment"]')).to_have_count(0)


def test_garbage_and_unknown_codes_are_explained(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "operator")
    page.fill("#code", "hello <b>world</b>")
    page.press("#code", "Enter")
    expect(page.locator(".answer .problem")).to_contain_text("Nothing found")
    expect(page.locator(".answer .problem")).to_contain_text('"hello <b>world</b>"')
    expect(page.locator(".answer .problem")).to_contain_text("not a GS1 code")
    expect(page.locator(".answer b")).to_have_count(0)  # text, never markup
    page.fill("#code", f"(01){GTIN.value}(21)NEVERMADE")
    page.press("#code", "Enter")
    expect(page.locator(".problem")).to_contain_text("Nothing found")
    expect(page.locator(".problem")).to_contain_text("NEVERMADE")


def test_pallet_code_opens_its_contents(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    pallet = live.seeded.pallets[0]
    sign_in(page, "qa")
    page.fill("#code", f"(00){pallet.sscc}")
    page.press("#code", "Enter")
    expect(page).to_have_url(at(f"/ui/container/{pallet.sscc}"))
    contents = page.locator("#contents")
    expect(contents.locator('[data-kind="case"]')).to_have_count(2)
    expect(contents.locator('[data-kind="unit"]')).to_have_count(len(pallet.serials))
    expect(page.locator(".facts")).to_contain_text("2 containers, 6 units")
    expect(page.locator(".facts")).to_contain_text(CUSTOMER)
    screenshot(page, "container")
    contents.get_by_role("link", name=f"(01){GTIN.value}(21){pallet.serials[0]}").click()
    expect(page).to_have_url(at(f"/ui/unit/{GTIN.value}/{pallet.serials[0]}"))


def test_batch_page_counts_recall_set_and_csv(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.click("#nav >> text=Batches")
    screenshot(page, "batches")
    page.get_by_role("link", name=LOT, exact=True).click()
    counts = page.locator("#counts")
    expect(counts.locator(".count.total b")).to_have_text("12")
    expect(counts.locator('[data-status="active"] b')).to_have_text("11")
    expect(counts.locator('[data-status="decommissioned"] b')).to_have_text("1")
    expect(page.locator("#recall-set .summary")).to_have_text(
        "12 units, 6 cases and pallets, 1 shipment to 1 customer."
    )
    expect(page.locator("#recall")).to_be_visible()
    screenshot(page, "batch")
    with page.expect_download() as waiting:
        page.click("#export-csv")
    download = waiting.value
    assert download.suggested_filename == f"recall-{GTIN.value}-{LOT}.csv"
    rows = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert rows[0] == (
        "unit,gtin,serial,status,case,pallet,shipment,shipped_at,customer,customer_name,"
        "ship_to,ship_to_name"
    )
    assert len(rows) == 1 + 12
    assert sum(CUSTOMER in row for row in rows) == 6  # the units on the shipped pallet


def test_qa_puts_a_batch_under_recall_with_a_reason(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.goto(f"/ui/batch/{GTIN.value}/{OTHER_LOT}")
    expect(page.locator(".page-head .badge")).to_have_text("active")
    page.click("#recall")
    dialog = page.locator("#recall-dialog")
    expect(dialog).to_be_visible()
    page.fill("#recall-reason", "no")
    page.click("#recall-confirm")
    expect(dialog).to_contain_text("at least 3 characters")
    page.fill("#recall-reason", "Out-of-specification assay result, deviation DV-2025-017")
    screenshot(page, "recall-dialog")
    page.click("#recall-confirm")
    expect(page.locator(".page-head .badge")).to_have_text("recalled")
    expect(page.locator(".facts")).to_contain_text("deviation DV-2025-017")
    expect(page.locator("#recall")).to_have_count(0)
    # Its units now verify as recalled.
    page.goto(f"/ui/verify?gtin={GTIN.value}&serial={live.seeded.loose[0]}")
    expect(page.locator("#verify-result [data-result]")).to_have_attribute(
        "data-result", "recalled"
    )


def test_operator_has_no_recall_action_and_sees_403_plainly(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "operator")
    page.goto(f"/ui/batch/{GTIN.value}/{LOT}")
    expect(page.locator("#counts .count.total b")).to_have_text("12")
    expect(page.locator(".actions")).to_contain_text("need the QA role")
    expect(page.locator("#recall")).to_have_count(0)
    expect(page.locator("#export-csv")).to_have_count(0)
    expect(page.locator("#recall-set")).to_have_count(0)
    # Operators trace raw-material lots and record complaints; nothing else of QA.
    expect(page.locator("#qa-nav a")).to_have_text(["Raw materials", "Complaint"])
    page.goto("/ui/audit")
    problem = page.locator(".problem.status-403")
    expect(problem).to_contain_text("Not allowed for your role")
    expect(problem).to_contain_text("got 'operator'")


def test_verification_answers_from_a_scan_and_from_typed_fields(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "operator")
    page.click("#nav >> text=Verify")
    page.fill(
        "#verify-scan", f"(01){GTIN.value}(21){live.seeded.shipped_serial}(17)270630(10){LOT}"
    )
    page.press("#verify-scan", "Enter")
    verdict = page.locator("#verify-result [data-result]")
    expect(verdict).to_have_attribute("data-result", "active")
    expect(page.locator("#verify-lot")).to_have_value(LOT)
    expect(page.locator("#verify-expiry")).to_have_value("2027-06-30")
    screenshot(page, "verify")
    page.fill("#verify-serial", live.seeded.sample)
    page.click("form.verify button[type=submit]")
    expect(verdict).to_have_attribute("data-result", "decommissioned")
    page.fill("#verify-lot", "FAKE1")
    page.click("form.verify button[type=submit]")
    expect(verdict).to_have_attribute("data-result", "suspect")
    expect(verdict).to_contain_text("lot 'FAKE1' does not match the record")
    page.fill("#verify-serial", "NOSUCHSERIAL")
    page.fill("#verify-lot", "")
    page.click("form.verify button[type=submit]")
    expect(verdict).to_have_attribute("data-result", "unknown")


def test_qa_reads_the_audit_trail_with_an_intact_chain(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "qa")
    page.click("#qa-nav >> text=Audit trail")
    expect(page.locator("#chain")).to_contain_text("Hash chain intact")


def test_sign_out_forgets_the_token(page: Page, live: LiveServer, sign_in: SignIn) -> None:
    sign_in(page, "qa")
    page.click("#sign-out")
    expect(page).to_have_url(at("/ui/login"))
    assert page.evaluate("sessionStorage.length") == 0
    page.goto("/ui/batches")
    expect(page).to_have_url(at("/ui/login?next=%2Fui%2Fbatches"))
