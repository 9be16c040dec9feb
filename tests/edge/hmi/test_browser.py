"""The operator HMI in Debian's Chromium against a real agent on a simulated line."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.edge.agent.line import GTIN, OPERATOR, OPERATOR_PASSWORD
from tests.edge.hmi.conftest import LiveLine
from tests.support.browser import HMI, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

Shot = Callable[[Page, str], None]


def wait_until(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression until it is true. ``page.wait_for_function`` evaluates
    its string with eval inside the page, which the HMI's Content-Security-Policy (no
    'unsafe-eval') refuses; ``page.evaluate`` runs it through the DevTools protocol."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def count(page: Page, name: str) -> int:
    return int(page.inner_text(f"#count-{name}").replace(",", ""))


def test_operator_runs_a_batch_from_start_to_a_balanced_close(
    page: Page, live: LiveLine, screenshot: Shot
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/hmi/$"))
    expect(page.locator("#state-text")).to_have_text("NO BATCH")
    expect(page.locator("#link-broker")).to_have_attribute("data-ok", "true")
    expect(page.locator("#where")).to_have_text("plant1 / line3")
    expect(page.locator("#btn-pause")).to_be_disabled()

    sign_in(page, OPERATOR, OPERATOR_PASSWORD, HMI, go=False)  # batch commands need it
    page.click("#btn-start")
    expect(page.locator("#start-gtin")).to_have_value(GTIN)
    expect(page.locator("#start-gtin option")).to_have_text(f"Paracetamol 500 mg — {GTIN}")
    page.fill("#start-lot", "HMI-1")
    page.fill("#start-expiry", "281100")
    expect(page.locator("#start-expiry-text")).to_have_text("end of Nov 2028")
    page.fill("#start-planned", "500")
    screenshot(page, "start")
    page.click("#start-submit")
    expect(page.locator("#start-dialog")).to_be_hidden()
    expect(page.locator("#state-text")).to_have_text("RUNNING")
    expect(page.locator("#line-state")).to_have_attribute("data-state", "running")
    expect(page.locator("#batch-lot")).to_have_text("HMI-1")
    expect(page.locator("#batch-product")).to_have_text("Paracetamol 500 mg")
    expect(page.locator("#batch-expiry")).to_have_text("281100 (end of Nov 2028)")

    # Units flow: counts rise, the rate shows, rejects come with their camera image.
    wait_until(page, "Number(document.getElementById('count-printed').textContent) >= 11")
    wait_until(page, "Number(document.getElementById('rate').textContent) > 0")
    thumbnail = page.locator("#reject-rows tr[data-state=rejected] img").first
    expect(thumbnail).to_be_visible()
    wait_until(
        page, "[...document.querySelectorAll('#reject-rows img')].some(i => i.naturalWidth > 0)"
    )
    expect(page.locator(".reason-chip[data-outcome=no_read]")).to_be_visible()
    assert count(page, "commissioned") > 0 and count(page, "rejected") > 0
    screenshot(page, "running")

    page.click("#btn-pause")
    expect(page.locator("#state-text")).to_have_text("PAUSED")
    expect(page.locator("#btn-start")).to_be_disabled()
    expect(page.locator("#count-in-flight")).to_have_text("0")
    page.wait_for_timeout(600)
    paused_at = count(page, "printed")
    page.wait_for_timeout(1200)  # the timer keeps ticking, but a paused line takes no units
    assert count(page, "printed") == paused_at
    page.click("#btn-resume")
    expect(page.locator("#state-text")).to_have_text("RUNNING")
    wait_until(page, f"Number(document.getElementById('count-printed').textContent) > {paused_at}")

    page.click("#btn-stop")
    page.fill("#stop-reason", "end of shift")
    page.click("#stop-submit")
    expect(page.locator("#state-text")).to_have_text("STOPPED")
    expect(page.locator("#state-note")).to_have_text("Reason: end of shift")
    expect(page.locator("#btn-close")).to_be_enabled()

    page.click("#btn-close")
    expect(page.locator("#close-lot")).to_have_text("HMI-1")
    page.click("#close-submit")
    verdict = page.locator("#close-verdict")
    expect(verdict).to_contain_text("Batch HMI-1 closed.")
    expect(verdict).to_have_attribute("data-balanced", "true")
    printed = int(page.inner_text("#rec-printed"))
    parts = [int(page.inner_text(f"#rec-{n}")) for n in ("commissioned", "rejected", "sampled")]
    parts.append(int(page.inner_text("#rec-scrapped")))
    assert printed == sum(parts) > 11
    expect(page.locator("#rec-difference")).to_have_text("0")
    expect(verdict).to_contain_text(f"printed {printed} = commissioned {parts[0]}")
    screenshot(page, "closed")
    page.click("#close-cancel")
    expect(page.locator("#state-text")).to_have_text("NO BATCH")
    expect(page.locator("#btn-start")).to_be_enabled()


def test_unbalanced_close_is_refused_with_the_difference(
    page: Page, live: LiveLine, screenshot: Shot
) -> None:
    client, agent = live.client, live.agent
    started = client.post(
        "/batch/start", json={"gtin": GTIN, "lot": "HMI-2", "expiry": "281130", "planned": 50}
    )
    assert started.status_code == 200, started.text
    page.goto("/hmi/")
    sign_in(page, OPERATOR, OPERATOR_PASSWORD, HMI, go=False)  # batch commands need it
    wait_until(page, "Number(document.getElementById('count-printed').textContent) >= 3")
    page.click("#btn-stop")
    page.click("#stop-submit")
    expect(page.locator("#state-text")).to_have_text("STOPPED")
    # One label went out that no unit accounts for (as if counted by the printer, then lost).
    batch_id = started.json()["batch"]["id"]
    agent.writer.call(
        lambda conn: conn.execute(
            "UPDATE batches SET printed = printed + 1 WHERE id = ?", (batch_id,)
        )
    )
    page.click("#btn-close")
    expect(page.locator("#close-verdict")).to_have_text("Does not balance yet.")
    page.click("#close-submit")
    verdict = page.locator("#close-verdict")
    expect(verdict).to_have_text("Close refused: difference +1. A QA deviation is needed.")
    expect(verdict).to_have_attribute("data-balanced", "false")
    expect(page.locator("#rec-difference")).to_have_text("+1")
    expect(page.locator("#rec-difference")).to_have_attribute("data-off", "true")
    expect(page.locator("#close-error")).to_contain_text("batch 'HMI-2': close refused: printed ")
    expect(page.locator("#close-error")).to_contain_text("does not balance: difference +1")
    expect(page.locator("#close-submit")).to_be_visible()  # nothing was closed
    screenshot(page, "close-refused")
    page.click("#close-cancel")
    expect(page.locator("#state-text")).to_have_text("STOPPED")
    assert client.get("/status").json()["batch"]["state"] == "stopped"


def test_a_page_on_another_origin_cannot_pause_the_line(page: Page, live: LiveLine) -> None:
    """The attack of the issue: a page elsewhere POSTs ``/batch/pause`` with ``no-cors``."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from serialtrace.services import serve_asgi
    from tests.support.services import free_port

    client = live.client
    if client.get("/status").json().get("batch") is None:
        started = client.post(
            "/batch/start", json={"gtin": GTIN, "lot": "XO-1", "expiry": "281130", "planned": 50}
        )
        assert started.status_code == 200, started.text
    state = client.get("/status").json()["batch"]["state"]
    if state != "running":
        assert client.post("/batch/resume", json={}).status_code == 200
    attacker = Starlette(routes=[Route("/", lambda _r: HTMLResponse("<h1>cat pictures</h1>"))])
    with serve_asgi(attacker, free_port(), name="attacker") as elsewhere:
        page.goto(elsewhere)
        outcome = page.evaluate(
            """async (agent) => {
                // The requests go out; their answers are unreadable (and the agent's
                // Cross-Origin-Resource-Policy makes the fetch fail), which is fine here.
                for (const path of ["/batch/pause", "/batch/stop"]) {
                    try {
                        await fetch(agent + path, {method: "POST", mode: "no-cors",
                            headers: {"Content-Type": "text/plain"}, body: "{}"});
                    } catch (_) {}
                }
                return "sent";
            }""",
            live.url,
        )
    assert outcome == "sent"
    assert client.get("/status").json()["batch"]["state"] == "running"
