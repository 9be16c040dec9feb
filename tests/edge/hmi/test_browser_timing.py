"""The HMI's gate-timing panel in Chromium: every verdict's margin to the reject gate's
deadline and the line rate, drawn as inline SVG (no external asset), and the alarm when
verdicts miss the deadline (real agent, simulated line, Mosquitto)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from edge.agent import Agent
from edge.api import create_app
from edge.ledger import BatchStart
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.support.browser import browser_tab
from tests.support.services import Broker, free_port

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"


@dataclass(frozen=True)
class Timed:
    agent: Agent
    line: SimLine
    url: str


@pytest.fixture
def timed(tmp_path: Path, mosquitto: Broker) -> Iterator[Timed]:
    line = start_line()
    # a gate 1 ms after the trigger: no verdict can make it; the policy only alarms
    config = config_for(
        tmp_path / "edge",
        mosquitto,
        line,
        trigger="timer",
        rate_per_minute=300.0,
        extra={"line": {"verdict_deadline_ms": 1.0, "policy": "alarm"}},
    )
    agent = build_agent(config, sim_devices(config, line))
    try:
        with serve_asgi(create_app(agent), free_port()) as url:
            assert agent.publisher.wait_connected(10)
            yield Timed(agent, line, url)
    finally:
        line.close()


def test_the_panel_draws_margin_and_rate_and_alarms_on_missed_verdicts(
    browser: Browser, timed: Timed
) -> None:
    requests: list[str] = []
    with browser_tab(browser, timed.url, viewport=(1280, 1000), timeout_ms=30_000) as page:
        page.on("request", lambda request: requests.append(request.url))
        timed.agent.start_batch(BatchStart(GTIN, "HMI-T", "281130", 1000))
        page.goto("/hmi/")
        panel = page.locator("#timing")
        expect(panel.locator("#timing-deadline")).to_have_text("deadline 1 ms · guard 30 ms")
        expect(panel.locator("#timing-margin")).to_have_text(re.compile(r"^-\d+$"))
        expect(panel).to_have_attribute("data-alarm", "true")
        expect(panel.locator("#timing-detail")).to_contain_text(re.compile(r"\d+ missed"))
        # two or more seconds of history: both series are drawn, with the deadline line
        expect(panel.locator("#margin-chart polyline")).to_have_count(1)
        expect(panel.locator("#margin-chart line.limit")).to_have_count(1)
        expect(panel.locator("#rate-chart polyline")).to_have_count(1)
        expect(page.locator("#alarms")).to_contain_text("missed the reject gate's 1 ms deadline")
        points = panel.locator("#rate-chart polyline").get_attribute("points") or ""
        assert len(points.split()) >= 2
        if os.environ.get("SERIALTRACE_SCREENSHOTS") == "1":
            panel.screenshot(path=str(SCREENSHOTS / "hmi-timing.png"))
    assert all(url.startswith(timed.url) for url in requests), requests  # no CDN, no asset
