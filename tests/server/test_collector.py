"""Cyclic garbage collection held off while documents are applied."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from server.ingest.collector import gc_paused


@pytest.fixture(autouse=True)
def collection_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collection_is_off_inside_and_back_on_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_comes_back_after_an_exception() -> None:
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_nested_blocks_keep_it_off_until_the_outer_ends() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_off_before_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_blocks_in_two_threads() -> None:
    """The first thread's block ends while the second's runs: collection stays off until
    the second ends."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def second() -> None:
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after first ended"] = gc.isenabled()

    thread = threading.Thread(target=second)
    thread.start()
    with gc_paused():
        first_in.set()
        second_in.wait(5)
    first_out.set()
    thread.join(5)
    assert seen == {"after first ended": False}
    assert gc.isenabled()


def test_the_ingestor_applies_with_collection_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import server.ingest.service as service

    seen: list[bool] = []

    def spy(self: service.Ingestor, items: object) -> list[object]:
        seen.append(gc.isenabled())
        return []

    monkeypatch.setattr(service.Ingestor, "_apply_checked", spy)
    ingestor = service.Ingestor(None, max_payload_bytes=1)  # type: ignore[arg-type]
    assert ingestor.apply_checked([]) == []
    assert seen == [False]
    assert gc.isenabled()
