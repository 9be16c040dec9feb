"""Print quality in the QA web UI (real browser): a unit's grade at commissioning with its
parameters, and a batch's grade distribution."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from serialtrace.services import serve_asgi
from server.api.app import create_app
from server.config import ServerSettings
from server.store import create_store_engine, upgrade
from tests.server import factory as f
from tests.server.web.seed import PASSWORD, READ_POINT, add_users
from tests.support.browser import signed_in
from tests.support.services import free_port

pytestmark = pytest.mark.browser

CONTEXT = [*f.CONTEXT, {"serialtrace": "urn:serialtrace:epcis:"}]
GRADES = {"Q1": 4.0, "Q2": 3.0, "Q3": 3.0, "Q4": 2.0, "Q5": 0.0}


def at_line(event: dict[str, object]) -> dict[str, object]:
    """The event read at the seeded line (the device account may capture only there)."""
    return {**event, "readPoint": {"id": READ_POINT}}


def graded(serial: str, overall: float) -> dict[str, object]:
    event = at_line(f.commissioning([serial], lot="LOTQ"))
    modulation = 4 if overall == 4.0 else int(overall)
    event["serialtrace:grade"] = {
        "overall": overall,
        "iso": f"{overall:.1f}/08/660",
        "parameters": {"DEC": 4, "SC": 4, "MOD": modulation, "RM": modulation, "FPD": 4,
                       "AN": 4, "GN": 4, "UEC": 4},
        "limiting": [] if overall == 4.0 else ["MOD", "RM"],
    }  # fmt: skip
    return event


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("grades")
    settings = ServerSettings(
        db_url=f"sqlite:///{folder / 'trace.db'}",
        migrate_on_start=False,
        event_time_max_age_days=36500,  # the factory's events carry 2025 times
    )
    engine = create_store_engine(settings.db_url)
    upgrade(engine)
    add_users(engine)
    try:
        with serve_asgi(create_app(settings, engine=engine), free_port(), name="grades") as base:
            with httpx.Client(base_url=base, timeout=10) as client:
                login = client.post(
                    "/auth/token", data={"username": "device", "password": PASSWORD}
                )
                login.raise_for_status()
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                document = f.document(
                    [graded(s, g) for s, g in GRADES.items()]
                    + [at_line(f.commissioning(["Q6"], lot="LOTQ"))]
                )
                document["@context"] = CONTEXT
                answer = client.post("/epcis/capture", json=document, headers=headers)
                assert answer.status_code == 202, answer.text
            yield base
    finally:
        engine.dispose()


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    with signed_in(browser, url, "qa", PASSWORD, timeout_ms=5_000) as tab:
        yield tab


def test_a_unit_shows_its_grade_and_the_parameters_that_limit_it(page: Page) -> None:
    page.goto(f"/ui/unit/{f.GTIN}/Q2")
    quality = page.locator("#print-quality")
    expect(quality).to_contain_text("Overall grade")
    expect(quality.locator(".grade").first).to_have_text("3.0 (B)")
    expect(quality).to_contain_text("3.0/08/660")
    limiting = quality.locator("tr.limiting")
    expect(limiting).to_have_count(2)
    expect(limiting.first).to_contain_text("Modulation (MOD)")
    expect(quality.locator("tbody tr")).to_have_count(8)


def test_a_unit_without_a_grade_says_so(page: Page) -> None:
    page.goto(f"/ui/unit/{f.GTIN}/Q6")
    expect(page.get_by_text("Not graded (commissioned without a grade).")).to_be_visible()


def test_a_batch_shows_its_grade_distribution(
    page: Page, screenshot: Callable[[Page, str], None]
) -> None:
    page.goto(f"/ui/batch/{f.GTIN}/LOTQ")
    distribution = page.locator("#grade-distribution")
    expect(distribution).to_contain_text("Graded units")
    expect(distribution.locator(".grade").first).to_have_text("2.4 (C)")  # mean of 4,3,3,2,0
    bars = distribution.locator(".grade-bar")
    expect(bars).to_have_count(5)
    expect(bars.nth(0)).to_contain_text("1 (20.0%)")  # A
    expect(bars.nth(1)).to_contain_text("2 (40.0%)")  # B
    expect(bars.nth(4)).to_contain_text("1 (20.0%)")  # F
    expect(distribution).to_contain_text("Not graded")
    screenshot(page, "batch-grades")
