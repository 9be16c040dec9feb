"""The HMI's print-quality panel in Chromium: the moving grade and its trend while units are
graded, then the alarm and the falling parameter when the print fades (real agent,
simulated line, Mosquitto)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from edge.agent import Agent
from edge.api import create_app
from edge.ledger import BatchStart
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from simulators.camera.optics import Optics
from tests.edge.agent.line import GTIN, SimLine, config_for, sim_devices, start_line
from tests.support.browser import browser_tab
from tests.support.services import Broker, free_port

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"


@dataclass(frozen=True)
class Graded:
    agent: Agent
    line: SimLine
    url: str


@pytest.fixture
def graded(tmp_path: Path, mosquitto: Broker) -> Iterator[Graded]:
    line = start_line()
    camera = {"url": "unused", "timeout_s": 2.0, "trend_window": 10, "trend_drop": 0.5}
    config = config_for(
        tmp_path / "edge",
        mosquitto,
        line,
        trigger="timer",
        rate_per_minute=600.0,
        extra={"devices": {"camera": camera}},
    )
    agent = build_agent(config, sim_devices(config, line))
    try:
        with serve_asgi(create_app(agent), free_port()) as url, httpx.Client(base_url=url):
            assert agent.publisher.wait_connected(10)
            yield Graded(agent, line, url)
    finally:
        line.close()


def test_the_panel_shows_the_moving_grade_and_the_falling_parameter(
    browser: Browser, graded: Graded
) -> None:
    with browser_tab(browser, graded.url, viewport=(1280, 900), timeout_ms=30_000) as page:
        graded.agent.start_batch(BatchStart(GTIN, "HMI-G", "281130", 1000))
        page.goto("/hmi/")
        panel = page.locator("#grade")
        expect(panel.locator("#grade-window")).to_have_text("last 10 units")
        # a full window: the trend is drawn
        expect(panel.locator("#grade-chart polyline")).to_have_count(1)
        expect(panel.locator("#grade-moving")).to_have_text(re.compile(r"^[34]\.\d\d [AB]$"))
        expect(panel).to_have_attribute("data-alarm", "false")
        expect(panel.locator("#grade-falling")).to_have_text("")
        graded.line.camera.optics = Optics(max_low_contrast=0.55)  # the ink fades
        expect(panel).to_have_attribute("data-alarm", "true")
        expect(panel.locator("#grade-falling")).to_contain_text("Falling: symbol contrast")
        expect(page.locator("#alarms")).to_contain_text("grade falling")
        if os.environ.get("SERIALTRACE_SCREENSHOTS") == "1":
            panel.screenshot(path=str(SCREENSHOTS / "hmi-grade.png"))
