"""Part 11 in the browser: login lockout, logout that ends the token on the server, the
signature flow with a locked record and its history, every page under a CSP without inline
script (no violation), the API docs offline, and a report window without an opener.

The tests share one store (module ``live`` fixture) and run in file order."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.server.web.conftest import LiveServer
from tests.server.web.seed import GTIN, LOT, PASSWORD, record_release_file
from tests.support.browser import submit_sign_in

pytestmark = pytest.mark.browser

SignIn = Callable[[Page, str], None]


@pytest.fixture(scope="module", autouse=True)
def release_file(live: LiveServer) -> Iterator[None]:
    record_release_file(live.url)
    yield


def csp_violations(page: Page) -> list[str]:
    found: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            found.append(message.text)

    page.on("console", seen)
    return found


def test_wrong_passwords_lock_the_user_name_in_the_login_page(page: Page) -> None:
    page.goto("/ui/")
    for attempt in range(5):
        submit_sign_in(page, "device", f"wrong {attempt}")
        expect(page.locator(".login-error")).to_contain_text("User name or password wrong.")
    expect(page.locator(".login-error")).to_contain_text("the user name is now locked")
    submit_sign_in(page, "device", PASSWORD)
    locked = page.locator("#login-locked")
    expect(locked).to_contain_text("Sign-in refused")
    expect(locked).to_contain_text("user 'device' is locked after 5 failed attempts")


def test_sign_out_ends_the_token_on_the_server(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "operator")
    token = page.evaluate("JSON.parse(sessionStorage.getItem('serialtrace.session')).token")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live.url}/batches", headers=headers).status_code == 200
    page.click("#sign-out")
    expect(page.locator("form.login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('serialtrace.session')") is None
    after = httpx.get(f"{live.url}/batches", headers=headers)
    assert after.status_code == 401
    assert after.json()["detail"] == (
        "authorization: token revoked (signed out, or by an administrator)"
    )


def _sign(page: Page, button: str, reason: str) -> None:
    page.click(button)
    dialog = page.locator("#sign-dialog")
    expect(dialog.locator("#sign-name")).to_have_text("Quinn Q. Assurance")
    page.fill("#sign-reason", reason)
    page.fill("#sign-password", PASSWORD)
    page.click("#sign-confirm")
    expect(dialog).to_have_count(0)


def test_signature_flow_locks_the_record_and_the_history_keeps_both_versions(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    violations = csp_violations(page)
    sign_in(page, "qa")
    page.goto(f"/ui/batch/{GTIN.value}/{LOT}")
    expect(page.locator("#release")).to_have_attribute("data-status", "quarantine")
    page.click("#sign-released")
    meaning = page.locator("#sign-meaning-select option")
    expect(meaning).to_have_text(["Release for sale"])  # the fixed list's one for a release
    page.click("#sign-dialog >> text=Cancel")
    _sign(page, "#sign-released", "Batch record reviewed")
    expect(page.locator("#release")).to_have_attribute("data-status", "released")
    expect(page.locator("#record-locked")).to_contain_text("Record locked")
    expect(page.locator("#signature")).to_contain_text("Quinn Q. Assurance (qa)")

    # Locked: production cannot change the record now.
    base = f"{live.url}/qa/batches/{GTIN.value}/{LOT}"
    login = httpx.post(
        f"{live.url}/auth/token", data={"username": "operator", "password": PASSWORD}
    )
    operator = {"Authorization": f"Bearer {login.json()['access_token']}"}
    production = {
        "line": "L1",
        "started_at": "2025-03-03T06:00:00Z",
        "planned": 12,
        "produced": 15,
        "rejected": 2,
        "sampled": 1,
        "deviations": [{"reference": "DV-2025-010", "description": "found after release"}],
        "reason": "deviation found in the line log",
        "password": PASSWORD,
    }
    assert httpx.put(f"{base}/production", json=production, headers=operator).status_code == 409

    _sign(page, "#sign-quarantine", "Deviation to record")
    expect(page.locator("#release")).to_have_attribute("data-status", "quarantine")
    changed = httpx.put(f"{base}/production", json=production, headers=operator)
    assert changed.status_code == 200, changed.text
    page.reload()
    history = page.locator("#record-history tbody tr")
    versions = history.filter(has_text="Production record")
    expect(versions).to_have_count(2)
    expect(versions.nth(1)).to_contain_text("Approve change to a released batch record")
    expect(versions.nth(1)).to_contain_text("deviation found in the line log")
    _sign(page, "#sign-released", "Deviation assessed; released again")
    expect(page.locator("#release")).to_have_attribute("data-status", "released")
    what = page.locator("#record-history tbody tr td:nth-child(4)")
    expect(what.filter(has_text=re.compile(r"^Released$"))).to_have_count(2)
    expect(what.filter(has_text=re.compile(r"^Placed on hold$"))).to_have_count(1)
    assert violations == []


def test_every_page_runs_under_the_csp(page: Page, sign_in: SignIn) -> None:
    violations = csp_violations(page)
    sign_in(page, "qa")
    for path in (
        "/ui/",
        "/ui/batches",
        f"/ui/batch/{GTIN.value}/{LOT}",
        "/ui/verify",
        "/ui/audit",
        "/ui/recalls",
        "/ui/recalls/new",
        "/ui/drills",
        "/ui/genealogy/forward?lot=API-7731",
        "/ui/complaints",
        "/ui/complaints/new",
        "/ui/complaints/dashboard",
    ):
        page.goto(path)
        expect(page.locator(".page[data-ready=true]")).to_have_count(1)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("serialtrace trace server")
    assert violations == []
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("serialtrace trace server")
    # ReDoc always asks for its vendor's logo from its CDN: the policy blocks it (nothing
    # leaves the machine) and ReDoc hides the image. That is the only refusal allowed.
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in v for v in violations), violations


def test_offline_docs_load_nothing_from_elsewhere(page: Page) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    page.goto("/redoc")
    expect(page.locator("h1").first).to_be_visible()
    base = page.url.split("/redoc")[0]
    foreign = [u for u in requests if not u.startswith((base, "data:", "blob:"))]
    assert foreign == []  # the CDN logo ReDoc asks for is refused before any request


def test_a_drill_report_opens_without_an_opener(
    page: Page, live: LiveServer, sign_in: SignIn
) -> None:
    sign_in(page, "qa")
    page.goto("/ui/drills")
    page.select_option("#drill-batch", label=f"(01){GTIN.value}(10){LOT}")
    page.click("#run-drill")
    expect(page.locator("#drills tbody tr")).to_have_count(1)
    with page.context.expect_page() as opening:
        page.locator("#drills [data-report=html]").first.click()
    report = opening.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_contain_text("Mock-recall drill")
    assert report.evaluate("window.opener") is None
    assert report.evaluate("sessionStorage.getItem('serialtrace.session')") is None
    expect(page.locator("#report-link a")).to_have_attribute("rel", "noopener noreferrer")
