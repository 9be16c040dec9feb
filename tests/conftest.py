"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support import leaks
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.services import Broker, start_mosquitto

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On pytest-xdist's workers: the modules with the most ``slow`` tests first, every
    module's tests in their own order.

    ``quickstart.sh test`` hands out whole modules (``--dist loadfile``) in this order
    (``--no-loadscope-reorder``; by default xdist sorts modules by their number of tests, which
    put the long modules of few tests, the chaos and demo tests, last, and one worker waited
    idle while the other ran them). Long modules first, the short ones fill in at the end.
    """
    if not hasattr(config, "workerinput"):  # not an xdist worker: collection order
        return
    slow: Counter[str] = Counter(
        item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("slow")
    )
    items.sort(key=lambda item: -slow[item.nodeid.split("::", 1)[0]])  # stable


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads or child processes running after its teardown.

    Shared fixtures (session and module scope) are up before the snapshot, so what they run is
    not counted; everything the test and its own fixtures started must have ended by the
    deadline. Leftover processes are killed so that the next test starts clean. Tests marked
    ``shared_stack`` (re)start processes that their module's fixture owns: that fixture
    checks with :func:`tests.support.leaks.check` when it tears the stack down.
    """
    if request.node.get_closest_marker("shared_stack") is not None:
        yield
        return
    before = leaks.Snapshot()
    yield
    leaks.check(before, leaks.DEADLINE_S, "the test")


@pytest.fixture(scope="session")
def refdata() -> Path:
    """GS1's EPCIS schema and examples, and the DataMatrix samples (shared/refdata)."""
    path = Path(os.environ.get("SERIALTRACE_REFDATA", REPO.parent / "shared" / "refdata"))
    if not path.is_dir():
        pytest.fail(f"reference data not found at {path}; set SERIALTRACE_REFDATA")
    return path


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Mosquitto broker of this test session's own, on a free 127.0.0.1 port."""
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the PostgreSQL test database (quickstart.sh makes sure it runs)."""
    return os.environ.get("SERIALTRACE_TEST_PG_URL", "postgresql+psycopg:///test")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium (quickstart.sh installs it; CI must have it)."""
    if not CHROMIUM.exists():
        message = f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
