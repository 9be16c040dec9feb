"""Issue 17 in a real browser: a bare serial searched across GTINs, names from master data
with the URN one click away, a case shipped with its pallet, a batch of 300 units on a page
of bounded height with a paged, sortable, filterable unit table, the audit trail readable
(JSON behind a disclosure, no overflow), and charts drawn as SVG from data.

The module's store is the web seed plus a large batch with numeric serials (one of them
also under a second GTIN), an EPCIS master-data document naming the seed's customer and
ship-to, and a QA rename (an audit entry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

import epcis
import gs1
from tests.server.web.conftest import LiveServer
from tests.server.web.seed import (
    CPL,
    CUSTOMER,
    EXPIRY,
    GTIN,
    PASSWORD,
    READ_POINT,
    SHIP_TO,
    SITE,
)

pytestmark = pytest.mark.browser

SignIn = Callable[[Page, str], None]
Shot = Callable[[Page, str], None]

BIG_LOT = "L25BIG"
UNITS = 300
PER_CASE = 25
OTHER_GTIN = gs1.Gtin.parse("0401234500002" + gs1.check_digit("0401234500002"))
SHARED_SERIAL = "100000000007"  # digits only: read as a GTIN it has a wrong check digit
REJECTS = {"damaged": 5, "print defect": 3, "QA retention sample": 2}
CUSTOMER_NAME = "Pharma Wholesale GmbH"
SHIP_TO_NAME = "Wholesale DC Berlin"


@dataclass(frozen=True)
class Extra:
    serials: list[str]
    cases: list[str]


def _serials() -> list[str]:
    return [SHARED_SERIAL] + [f"{100000000100 + n}" for n in range(UNITS - 1)]


def _sscc(number: int) -> str:
    body = f"0{GTIN.value[1:8]}{number:09d}"
    return gs1.Sscc.parse(body + gs1.check_digit(body)).value


def _uri(gtin: gs1.Gtin, serial: str) -> str:
    return gs1.sgtin_uri(gtin, serial, CPL)


def _documents(serials: list[str], cases: list[str]) -> list[dict[str, Any]]:
    clock = iter(datetime(2025, 4, 1, 7, 0, tzinfo=UTC) + timedelta(minutes=i) for i in range(99))
    events = [
        epcis.commissioning_event(
            [_uri(GTIN, serial) for serial in serials],
            event_time=next(clock),
            read_point=READ_POINT,
            biz_location=SITE,
            lot=BIG_LOT,
            expiry=EXPIRY,
        ),
        epcis.commissioning_event(
            [_uri(OTHER_GTIN, SHARED_SERIAL)],
            event_time=next(clock),
            read_point=READ_POINT,
            biz_location=SITE,
            lot="L25OTHER",
            expiry=EXPIRY,
        ),
    ]
    for index, case in enumerate(cases):
        events.append(
            epcis.packing_event(
                gs1.sscc_uri(gs1.Sscc.parse(case), CPL),
                [_uri(GTIN, s) for s in serials[index * PER_CASE : (index + 1) * PER_CASE]],
                event_time=next(clock),
                read_point=READ_POINT,
            )
        )
    start = 1
    for reason, count in REJECTS.items():
        events.append(
            epcis.decommissioning_event(
                [_uri(GTIN, s) for s in serials[start : start + count]],
                event_time=next(clock),
                read_point=READ_POINT,
                reason=reason,
            )
        )
        start += count
    document = epcis.encode_document(events)
    master = {
        "vocabularyList": [
            {
                "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                "vocabularyElementList": [
                    {
                        "id": SHIP_TO,
                        "attributes": [
                            {"id": "urn:epcglobal:cbv:mda#name", "attribute": SHIP_TO_NAME}
                        ],
                    }
                ],
            },
            {
                "type": "urn:epcglobal:epcis:vtype:Party",
                "vocabularyElementList": [
                    {
                        "id": CUSTOMER,
                        "attributes": [
                            {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Wholesale (old)"}
                        ],
                    }
                ],
            },
        ]
    }
    document["epcisHeader"] = {"epcisMasterData": master}
    return [document]


@pytest.fixture(scope="module", autouse=True)
def extra(live: LiveServer) -> Iterator[Extra]:
    serials = _serials()
    cases = [_sscc(500 + n) for n in range(UNITS // PER_CASE)]
    with httpx.Client(base_url=live.url, timeout=30) as client:
        tokens = {}
        for role in ("device", "qa"):
            login = client.post("/auth/token", data={"username": role, "password": PASSWORD})
            login.raise_for_status()
            tokens[role] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for document in _documents(serials, cases):
            answer = client.post("/epcis/capture", json=document, headers=tokens["device"])
            assert answer.status_code == 202, answer.text
        renamed = client.put(
            "/master-data/item",
            params={"urn": CUSTOMER},
            json={"name": CUSTOMER_NAME, "reason": "legal name from the contract"},
            headers=tokens["qa"],
        )
        assert renamed.status_code == 200, renamed.text
    yield Extra(serials, cases)


def test_a_bare_serial_lists_its_units_across_gtins(page: Page, sign_in: SignIn) -> None:
    sign_in(page, "qa")
    page.fill("#code", SHARED_SERIAL)
    page.press("#code", "Enter")
    matches = page.locator("#matches")
    expect(matches.locator("tbody tr")).to_have_count(2)
    expect(matches).to_contain_text(f"(01){GTIN.value}(21){SHARED_SERIAL}")
    expect(matches).to_contain_text(f"(01){OTHER_GTIN.value}(21){SHARED_SERIAL}")
    expect(page.locator(".problem")).to_have_count(0)  # no "expected check digit" error
    matches.get_by_role("link", name=f"(01){OTHER_GTIN.value}(21){SHARED_SERIAL}").click()
    expect(page.locator(".page-head h1")).to_contain_text(OTHER_GTIN.value)


def test_a_lot_or_an_unknown_text_answers_plainly(page: Page, sign_in: SignIn) -> None:
    sign_in(page, "qa")
    page.fill("#code", BIG_LOT)
    page.press("#code", "Enter")
    expect(page.locator(".page-head h1")).to_contain_text(f"Lot {BIG_LOT}")
    page.goto("/ui/")
    page.fill("#code", "NO-SUCH-THING")
    page.press("#code", "Enter")
    expect(page.locator("#no-match")).to_contain_text("Nothing found")


def test_names_are_shown_with_the_urn_one_click_away(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    serial = live.seeded.shipped_serial
    page.goto(f"/ui/unit/{GTIN.value}/{serial}")
    customer = page.locator("#genealogy [data-kind=customer] .named")
    expect(customer.locator(".name")).to_have_text(CUSTOMER_NAME)
    urn = customer.locator("details.urn code")
    expect(urn).to_be_hidden()
    customer.locator("details.urn summary").click()
    expect(urn).to_have_text(CUSTOMER)
    expect(page.locator("#genealogy [data-kind=ship-to] .name")).to_have_text(SHIP_TO_NAME)
    screenshot(page, "unit-names")
    # The case on the shipped pallet is shipped with it, with the same names.
    pallet = live.seeded.pallets[0]
    page.goto(f"/ui/container/{pallet.cases[0]}")
    expect(page.locator("#shipment-status")).to_contain_text(f"with (00){pallet.sscc}")
    expect(page.locator(".facts .named .name").first).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(CUSTOMER_NAME)


def test_a_large_batch_page_is_bounded_and_its_units_paged(
    page: Page, sign_in: SignIn, extra: Extra, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.goto(f"/ui/batch/{GTIN.value}/{BIG_LOT}")
    table = page.locator("#unit-table")
    expect(table).to_have_attribute("data-loaded", "true")
    expect(table.locator(".pager-status")).to_have_text(f"1–25 of {UNITS}")
    expect(table.locator("tbody tr")).to_have_count(25)
    page.wait_for_selector("#recall-set")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 6000, f"the batch page is {height} px tall for {UNITS} units"
    screenshot(page, "batch-paged")
    table.locator("button.next").click()
    expect(table.locator(".pager-status")).to_have_text(f"26–50 of {UNITS}")
    # Sort by status, descending: the decommissioned units come after the active ones
    # ascending, so first when descending.
    table.locator("button[data-sort=status]").click()
    expect(table.locator(".pager-status")).to_have_text(f"1–25 of {UNITS}")
    table.locator("button[data-sort=status]").click()
    expect(table.locator("th[aria-sort=descending]")).to_have_count(1)
    expect(table.locator("tbody tr").first).to_contain_text("decommissioned")
    # Filter: only decommissioned.
    table.locator("select[name=status]").select_option("decommissioned")
    table.locator("form.filters button[type=submit]").click()
    expect(table.locator(".pager-status")).to_have_text(f"1–{sum(REJECTS.values())} of 10")
    # The serial filter finds one unit.
    table.locator("select[name=status]").select_option("")
    table.locator("input[name=q]").fill(extra.serials[-1])
    table.locator("form.filters button[type=submit]").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text(extra.cases[-1])


def test_batch_rejects_chart_is_svg_with_the_data(page: Page, sign_in: SignIn) -> None:
    sign_in(page, "qa")
    page.goto(f"/ui/batch/{GTIN.value}/{BIG_LOT}")
    bars = page.locator("#rejects-chart rect.bar")
    expect(bars).to_have_count(len(REJECTS))
    shown = {
        bars.nth(i).get_attribute("data-label"): int(bars.nth(i).get_attribute("data-value") or 0)
        for i in range(len(REJECTS))
    }
    assert shown == {f"{reason} (decommissioned)": n for reason, n in REJECTS.items()}
    assert page.evaluate(
        "[...document.scripts].every(s => !s.src || s.src.startsWith(location.origin))"
    )


def test_the_audit_trail_reads_as_who_changed_what_why(
    page: Page, sign_in: SignIn, screenshot: Shot
) -> None:
    sign_in(page, "qa")
    page.goto("/ui/audit")
    table = page.locator("#audit-table")
    expect(table).to_have_attribute("data-loaded", "true")
    table.locator("select[name=entity]").select_option("master_data")
    table.locator("form.filters button[type=submit]").click()
    row = table.locator("tbody tr").first
    expect(row).to_contain_text("qa")
    expect(row).to_contain_text("master data name")
    expect(row.locator("ul.changes li")).to_have_text("name: Wholesale (old) → " + CUSTOMER_NAME)
    expect(row).to_contain_text("legal name from the contract")
    raw = row.locator("details.raw pre")
    expect(raw).to_be_hidden()
    row.locator("details.raw summary").click()
    expect(raw).to_contain_text('"name": "Pharma Wholesale GmbH"')
    overflow = page.evaluate(
        "(() => { const t = document.querySelector('#audit-table table');"
        " return t.scrollWidth - t.parentElement.clientWidth; })()"
    )
    assert overflow <= 1, f"the audit table overflows by {overflow} px"
    screenshot(page, "audit")


def test_complaints_dashboard_charts_are_svg_with_the_data(
    page: Page, live: LiveServer, sign_in: SignIn, screenshot: Shot
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        login = client.post("/auth/token", data={"username": "operator", "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for reporter in ("Pharmacy Nord", "Pharmacy Süd"):
            answer = client.post(
                "/complaints",
                json={"channel": "hotline", "reporter": reporter, "description": "broken seal"},
                headers=headers,
            )
            assert answer.status_code == 201, answer.text
    sign_in(page, "qa")
    page.goto("/ui/complaints/dashboard")
    bars = page.locator("#rate-chart rect.bar")
    expect(bars).to_have_count(12)  # twelve weeks
    assert int(bars.nth(11).get_attribute("data-value") or -1) >= 2  # this week's
    sla = page.locator("#sla-chart")
    expect(sla.locator("path[data-series='first response']")).to_have_count(1)
    expect(sla.locator("path[data-series='resolution']")).to_have_count(1)
    screenshot(page, "complaints-trends")


def test_qa_sets_a_name_on_the_master_data_page(
    page: Page, sign_in: SignIn, screenshot: Shot
) -> None:
    urn = "urn:epc:id:sgln:4098765.00020.0"
    sign_in(page, "qa")
    page.click("#qa-nav >> text=Names")
    table = page.locator("#master-data-table")
    expect(table).to_contain_text(SHIP_TO_NAME)  # from the EPCIS master-data document
    page.fill("#md-urn", urn)
    page.fill("#md-name", "Hospital Pharmacy Mitte")
    page.fill("#md-reason", "new ship-to from the contract")
    page.click("#name-form button[type=submit]")
    expect(page.locator("#name-saved")).to_contain_text("Hospital Pharmacy Mitte")
    fresh = page.locator("#master-data-table")
    fresh.locator("input[name=q]").fill("mitte")
    fresh.locator("form.filters button[type=submit]").click()
    expect(fresh.locator("tbody tr")).to_have_count(1)
    expect(fresh.locator("tbody tr")).to_contain_text(urn)
    expect(fresh.locator("tbody tr")).to_contain_text("QA (qa)")
    screenshot(page, "master-data")
