"""The QA pages in a real browser: signed release, genealogy both ways, a drill with its
report, a complaint from the form through closing and the dashboard, a recall with a return.

The tests of this module share one store (the ``live`` fixture is per module) and run in
file order: the release comes before the drill, the recall last."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.server.web.conftest import LiveServer
from tests.server.web.seed import (
    CUSTOMER,
    GTIN,
    LOT,
    OTHER_LOT,
    PASSWORD,
    SUPPLIER_LOT,
    record_release_file,
)

pytestmark = pytest.mark.browser

SignIn = Callable[[Page, str], None]
Shot = Callable[[Page, str], None]


@pytest.fixture(scope="module", autouse=True)
def release_file(live: LiveServer) -> Iterator[None]:
    record_release_file(live.url)
    yield


def test_release_needs_a_reconciled_record_and_the_right_password(
    page: Page, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    # L24B has no production record and no inspection: the API's blockers are listed.
    page.goto(f"/ui/batch/{GTIN.value}/{OTHER_LOT}")
    expect(page.locator("#release")).to_have_attribute("data-status", "quarantine")
    page.click("#sign-released")
    page.fill("#sign-reason", "Batch record reviewed")
    page.fill("#sign-password", PASSWORD)
    page.click("#sign-confirm")
    blockers = page.locator("#sign-blocked .blockers li")
    expect(blockers).to_have_text(["no production record", "no inspection results"])
    page.click("#sign-dialog >> text=Cancel")
    expect(page.locator("#sign-dialog")).to_have_count(0)

    page.goto(f"/ui/batch/{GTIN.value}/{LOT}")
    release = page.locator("#release")
    expect(release).to_have_attribute("data-status", "quarantine")
    expect(page.locator("#signature")).to_contain_text("No QA decision signed yet")
    expect(page.locator("#reconciliation")).to_contain_text(
        "Produced 15 = commissioned 12 + rejected 2 + sampled 1 + scrapped 0: reconciled."
    )
    expect(page.locator("#batch-record")).to_contain_text("99.1 %")
    expect(page.locator("#batch-record")).to_contain_text(SUPPLIER_LOT)
    expect(page.locator("#batch-order")).to_have_text("Started without a batch order.")
    expect(page.locator("#sign-quarantine")).to_have_count(0)  # no hold from quarantine
    page.click("#sign-released")
    dialog = page.locator("#sign-dialog")
    expect(dialog.locator("#sign-meaning")).to_have_text("Release for sale")
    expect(dialog).to_contain_text("legally binding equivalent of your handwritten signature")
    page.fill("#sign-reason", "Batch record reviewed, QC passed, reconciled")
    expect(dialog.locator("#sign-name")).to_have_text("Quinn Q. Assurance")  # the user record's
    page.fill("#sign-password", "not my password")
    page.click("#sign-confirm")
    expect(dialog.locator("#sign-refused")).to_contain_text("Signature refused: password wrong")
    expect(page.locator("#sign-password")).to_have_value("")
    expect(release).to_have_attribute("data-status", "quarantine")
    page.fill("#sign-password", PASSWORD)
    screenshot(page, "release-dialog")
    page.click("#sign-confirm")
    expect(page.locator("#release")).to_have_attribute("data-status", "released")
    signature = page.locator("#signature")
    expect(signature).to_contain_text("Quinn Q. Assurance (qa)")
    expect(signature).to_contain_text("Release for sale")
    expect(page.locator("#sign-quarantine")).to_have_text("Hold…")
    expect(page.locator("#sign-released")).to_have_count(0)


def test_unit_shows_its_records_and_a_supplier_lot_traces_forward(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "operator")
    page.goto(f"/ui/unit/{GTIN.value}/{live.seeded.shipped_serial}")
    backward = page.locator("#backward")
    expect(backward.locator("h2")).to_have_text("Raw materials and records")
    expect(backward).to_contain_text("reconciled (produced 15)")
    expect(backward).to_contain_text("1 recorded, 0 failed")
    backward.get_by_role("link", name=SUPPLIER_LOT).click()
    expect(page.locator("#forward-summary")).to_have_text(
        f"Lot {SUPPLIER_LOT}: 1 batch(es), 12 units (6 shipped), 1 shipment(s) to 1 customer(s)."
    )
    expect(page.locator("main")).to_contain_text(CUSTOMER)
    expect(page.locator('#qa-nav a[aria-current="page"]')).to_have_text("Raw materials")


def test_drill_run_from_the_button_is_listed_and_its_report_opens(
    page: Page, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.click("#qa-nav >> text=Drills")
    expect(page.locator("#drills")).to_contain_text("No drill has been run yet.")
    page.select_option("#drill-batch", label=f"(01){GTIN.value}(10){LOT}")
    page.click("#run-drill")
    rows = page.locator("#drills tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"(01){GTIN.value}(10){LOT}")
    expect(rows.first).to_contain_text("12 units, 6 shipped, 1 shipments, 1 customers")
    expect(rows.first.locator(".badge")).to_have_text("pass")
    screenshot(page, "drills")
    with page.expect_popup() as opening:
        rows.first.locator('[data-report="html"]').click()
    report = opening.value
    expect(report.locator("h1")).to_have_text("Mock-recall drill #1")
    assert report.url.startswith("blob:")
    report.close()
    with page.expect_download() as waiting:
        rows.first.locator('[data-report="pdf"]').click()
    assert Path(waiting.value.path()).read_bytes().startswith(b"%PDF")


def test_complaint_from_the_form_through_closing_and_on_the_dashboard(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.click("#qa-nav >> text=Complaints")
    page.click("main >> text=Record a complaint")
    expect(page.locator("#c-channel")).to_have_value("online")
    page.fill("#c-reporter", "Pat Jones")
    page.fill("#c-contact", "pat@example.org")
    page.fill("#c-code", f"(01){GTIN.value}(21){live.seeded.shipped_serial}")
    page.fill("#c-description", "Blister torn when the carton was opened.")
    page.click("#c-submit")
    expect(page).to_have_url(re.compile(r"/ui/complaint/\d+$"))
    expect(page.locator("#complaint-status")).to_have_text("received")
    expect(page.locator(".page-head [data-sla]").first).to_have_text("response: on time")
    expect(page.locator("main")).to_contain_text(f"(01){GTIN.value}(10){LOT}")
    page.click('[data-step="acknowledged"]')
    expect(page.locator("#workflow")).to_contain_text("note: say what was done or decided.")
    page.fill("#step-note", "Called back, replacement pack sent")
    page.click('[data-step="acknowledged"]')
    expect(page.locator("#complaint-status")).to_have_text("acknowledged")
    expect(page.locator(".page-head [data-sla]").first).to_have_text("response: met")
    page.fill("#step-note", "Torn blister: handling damage in transit, not a defect")
    page.click('[data-step="resolved"]')
    expect(page.locator("#complaint-status")).to_have_text("resolved")
    page.fill("#step-note", "Customer confirmed replacement received")
    page.select_option("#step-rating", "5")
    page.click('[data-step="closed"]')
    expect(page.locator("#complaint-status")).to_have_text("closed")
    expect(page.locator("#satisfaction")).to_have_text("5 / 5")
    expect(page.locator("#notes tbody tr")).to_have_count(3)

    page.goto("/ui/complaints")
    expect(page.locator("#complaints tbody tr")).to_have_count(1)
    expect(page.locator("#complaints [data-sla]")).to_have_text(
        ["response: met", "resolution: met"]
    )
    page.click("main >> text=Dashboard")
    board = page.locator("#dashboard")
    expect(board.locator('[data-tile="total"] b')).to_have_text("1")
    expect(board.locator('[data-tile="open"] b')).to_have_text("0")
    expect(board.locator('[data-tile="response"] b')).to_have_text("100 %")
    expect(board.locator('[data-tile="satisfaction"] b')).to_have_text("100 %")
    expect(board.locator('[data-tile="satisfaction"]')).to_contain_text("target 90 %")
    expect(page.locator("main table.data").first).to_contain_text(f"(01){GTIN.value}(10){LOT}")
    screenshot(page, "complaints-dashboard")


def test_operator_records_a_complaint_but_cannot_read_the_list(page: Page, sign_in: SignIn) -> None:
    sign_in(page, "operator")
    page.click("#qa-nav >> text=Complaint")
    page.select_option("#c-channel", "hotline")
    page.fill("#c-reporter", "Pharmacy Rossi")
    page.fill("#c-description", "Carton without leaflet.")
    page.click("#c-submit")
    expect(page.locator("#c-recorded")).to_contain_text("recorded; QA has been given it.")
    page.goto("/ui/complaints")
    expect(page.locator(".problem.status-403")).to_contain_text("Not allowed for your role")


def test_recall_opened_with_frozen_reach_and_a_return_counted(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.click("#qa-nav >> text=Recalls")
    expect(page.locator("main")).to_contain_text("No recall has been opened.")
    page.click("main >> text=Open a recall…")
    page.check(f'input[name="batch"][data-lot="{LOT}"]')
    page.select_option("#recall-class", "II")
    page.fill("#recall-reason", "Torn blisters, complaint trend on lot L24A")
    page.click("#recall-open")
    expect(page).to_have_url(re.compile(r"/ui/recall/\d+$"))
    counts = page.locator("#recall-counts")
    expect(counts.locator('[data-count="units"] b')).to_have_text("12")
    expect(counts.locator('[data-count="cases"] b')).to_have_text("4")
    expect(counts.locator('[data-count="pallets"] b')).to_have_text("2")
    expect(counts.locator('[data-count="shipped"] b')).to_have_text("6")
    expect(page.locator("#effectiveness-share")).to_have_text("0 %")
    expect(page.locator("#recall-customers")).to_contain_text(CUSTOMER)
    shipped = live.seeded.shipped_serial
    page.fill("#return-codes", f"(01){GTIN.value}(21){shipped}\n(01){GTIN.value}(21)NOTOURS\n")
    page.click("#return-submit")
    outcome = page.locator("#return-outcome tbody tr")
    expect(outcome).to_have_count(2)
    expect(outcome.nth(0)).to_contain_text("counted")
    expect(outcome.nth(1)).to_contain_text("not in recall")
    expect(page.locator("#effectiveness-share")).to_have_text("16.7 %")
    expect(page.locator("#recall-customers tbody tr").first.locator("td").last).to_have_text("1")
    screenshot(page, "recall")
    with page.expect_download() as waiting:
        page.click("#notifications-csv")
    rows = Path(waiting.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and CUSTOMER in rows[1]
    with page.expect_download() as waiting:
        page.click("#notifications-pdf")
    assert Path(waiting.value.path()).read_bytes().startswith(b"%PDF")
    page.goto(f"/ui/batch/{GTIN.value}/{LOT}")
    expect(page.locator(".page-head .badge")).to_have_text("recalled")
