"""A real agent on a simulated line, its API (with the HMI) on uvicorn, and Debian's Chromium.

The unit printer leaves every 5th label blank and voids part of every 7th, so the camera
rejects units and the agent saves their images; a timer triggers units at 240 a minute.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from edge.agent import Agent
from edge.api import create_app
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from tests.edge.agent.line import api_headers, config_for, sim_devices, start_line
from tests.support.browser import browser_tab
from tests.support.services import Broker, free_port

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"
LABEL_FAULTS = {"missed": {"every": 5}, "void": {"every": 7}}


@dataclass(frozen=True)
class LiveLine:
    agent: Agent
    url: str
    client: httpx.Client


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, mosquitto: Broker) -> Iterator[LiveLine]:
    line = start_line(label_faults=LABEL_FAULTS)
    config = config_for(
        tmp_path_factory.mktemp("hmi") / "edge",
        mosquitto,
        line,
        trigger="timer",
        rate_per_minute=240.0,
        units_per_case=5,
        cases_per_pallet=10,
    )
    agent = build_agent(config, sim_devices(config, line))
    app = create_app(agent)
    try:
        with (
            serve_asgi(app, free_port()) as url,
            httpx.Client(base_url=url, timeout=30, headers=api_headers(config)) as client,
        ):
            assert agent.publisher.wait_connected(10)
            yield LiveLine(agent, url, client)
    finally:
        line.close()


@pytest.fixture
def page(browser: Browser, live: LiveLine) -> Iterator[Page]:
    """A fresh tab at a touch-panel size that fails the test on any script error."""
    with browser_tab(browser, live.url, viewport=(1280, 800)) as tab:
        yield tab


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Save ``docs/images/hmi-<name>.png`` only when SERIALTRACE_SCREENSHOTS=1."""
    wanted = os.environ.get("SERIALTRACE_SCREENSHOTS") == "1"

    def take(tab: Page, name: str) -> None:
        if wanted:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / f"hmi-{name}.png"))

    return take
