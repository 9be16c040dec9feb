"""The web UI tests run the real app under uvicorn on a SQLite store seeded through
``POST /epcis/capture``, and drive Debian's headless Chromium with Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from serialtrace.services import serve_asgi
from server.api.app import create_app
from server.config import ServerSettings
from server.store import create_store_engine, upgrade
from tests.server.web.seed import PASSWORD, SeededStore, add_users, seed
from tests.support.browser import browser_tab
from tests.support.browser import sign_in as sign_in_form
from tests.support.services import free_port

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "images"


@dataclass(frozen=True)
class LiveServer:
    url: str
    seeded: SeededStore


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("web")
    settings = ServerSettings(
        db_url=f"sqlite:///{folder / 'trace.db'}",
        migrate_on_start=False,
        event_time_max_age_days=36500,  # the seeded events carry 2025 times
    )
    engine = create_store_engine(settings.db_url)
    upgrade(engine)
    add_users(engine)
    try:
        with serve_asgi(create_app(settings, engine=engine), free_port(), name="web-ui") as url:
            yield LiveServer(url, seed(url))
    finally:
        engine.dispose()


@pytest.fixture
def page(browser: Browser, live: LiveServer) -> Iterator[Page]:
    """A fresh tab (own sessionStorage) that fails the test on any script error."""
    # Generous deadlines: the machine that runs the suite may be busy (password hashing at
    # sign-in takes seconds under load); every wait still ends.
    expect.set_options(timeout=20_000)
    with browser_tab(
        browser, live.url, viewport=(1280, 860), timeout_ms=20_000, accept_downloads=True
    ) as tab:
        yield tab


@pytest.fixture
def sign_in() -> Callable[[Page, str], None]:
    def sign_in_as(tab: Page, role: str) -> None:
        sign_in_form(tab, role, PASSWORD)

    return sign_in_as


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Save ``docs/images/qa-<name>.png`` only when SERIALTRACE_SCREENSHOTS=1."""
    wanted = os.environ.get("SERIALTRACE_SCREENSHOTS") == "1"

    def take(tab: Page, name: str) -> None:
        if wanted:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / f"qa-{name}.png"), full_page=True)

    return take
