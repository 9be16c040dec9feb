"""QA test fixtures: the server's ``store``/``client``/``tokens`` fixtures plus a manual
clock injected into the app, and helpers that build batches through the real capture API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from server.api.routes.qa_common import get_clock
from server.qa.clock import ManualClock

START = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock(client: TestClient) -> Iterator[ManualClock]:
    manual = ManualClock(START)
    client.app.dependency_overrides[get_clock] = lambda: manual  # type: ignore[attr-defined]
    yield manual
    client.app.dependency_overrides.pop(get_clock, None)  # type: ignore[attr-defined]
