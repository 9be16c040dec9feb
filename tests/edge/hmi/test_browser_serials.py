"""The HMI's serial buffer panel in Chromium: serials and SSCCs left and the time they last
at the line rate, and the authority's reachability (a real authority, a real agent)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from edge.agent import Agent
from edge.api import create_app
from edge.wiring import build_agent
from serialtrace.services import serve_asgi
from tests.edge.agent.line import GTIN, config_for, sim_devices, start_line
from tests.server.conftest import migrated_store
from tests.support import leaks
from tests.support.authority import ThreadedAuthority, prepare
from tests.support.browser import browser_tab
from tests.support.services import Broker, free_port

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

PASSWORD = "line three secret"


@dataclass(frozen=True)
class AuthorityLine:
    agent: Agent
    url: str
    authority: ThreadedAuthority


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: Broker, request: pytest.FixtureRequest
) -> Iterator[AuthorityLine]:
    """The line and its authority. The test stops and starts the authority again, so it is
    marked ``shared_stack`` and the leak check runs here, once everything is stopped."""
    before = leaks.Snapshot()
    folder = tmp_path_factory.mktemp("hmi-serials")
    with migrated_store("sqlite", folder, request) as store:
        prepare(
            store,
            gtins=(GTIN,),
            sscc_prefixes=((0, "9506000"),),
            lines={"line3-pc": ("plant1", "line3")},
            password=PASSWORD,
        )
        authority = ThreadedAuthority(store, folder)
        authority.start()
        password = folder / "password"
        password.write_text(PASSWORD)
        os.chmod(password, 0o600)
        line = start_line()
        config = config_for(
            folder / "edge",
            mosquitto,  # the line's broker identity (a refused link waits out the drain on stop)
            line,
            trigger="timer",
            rate_per_minute=240.0,
            extra={
                "serials": {
                    "authority_url": authority.url,
                    "authority_user": "line3-pc",
                    "authority_password_file": str(password),
                    "buffer_hours": 2.0,
                    "low_water_hours": 1.5,
                    "line_rate_per_minute": 240.0,
                    "authority_retry_s": 0.2,
                    "authority_max_backoff_s": 1.0,
                }
            },
        )
        agent = build_agent(config, sim_devices(config, line))
        try:
            with serve_asgi(create_app(agent), free_port()) as url:
                yield AuthorityLine(agent, url, authority)
        finally:
            line.close()
            authority.stop()
    leaks.check(before, leaks.DEADLINE_S, "the line and authority of the HMI serials page")


@pytest.fixture
def page(browser: Browser, served: AuthorityLine) -> Iterator[Page]:
    with browser_tab(browser, served.url, viewport=(1280, 800), timeout_ms=20_000) as tab:
        yield tab


@pytest.mark.shared_stack
def test_the_panel_shows_what_is_left_and_when_the_authority_is_away(
    page: Page, served: AuthorityLine
) -> None:
    page.goto("/hmi/")
    gtin = page.locator(f"#serial-scopes li[data-kind=sgtin][data-scope='{GTIN}']")
    # 2 h at 240 a minute: 28,800 serials, refilled in pools of 10,000
    expect(gtin).to_contain_text("28,800 serials · 2 h 00 min left")
    # SSCCs: the cases and pallets of 2 h, a fifth more for relabels
    expect(page.locator("#serial-scopes li[data-kind=sscc]")).to_contain_text(
        "SSCCs · 2 h 00 min left", timeout=60_000
    )
    expect(page.locator("#serials-detail")).to_have_text("authority reachable")
    served.authority.stop()
    served.agent.devices.serial_link.wake()  # type: ignore[union-attr]
    expect(page.locator("#serials-detail")).to_have_text(
        re.compile(r"authority UNREACHABLE since \d\d:\d\d:\d\d")
    )
    expect(page.locator("#serials")).to_have_attribute("data-low", "false")  # 2 h left: fine
    served.authority.start()
    served.agent.devices.serial_link.wake()  # type: ignore[union-attr]
    expect(page.locator("#serials-detail")).to_have_text("authority reachable")
