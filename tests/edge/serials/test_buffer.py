"""The line's buffer: durable pools, reservations that survive a crash, refusals, books."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gs1
from edge.serials.buffer import REPORT_CHUNK, Scope, SerialBuffer, Sizing
from edge.serials.errors import AuthorityError, BufferEmptyError

GTIN = "09506000134352"
SGTIN = Scope.sgtin(GTIN)
SSCC = Scope.sscc(0, "9506000")
OTHER = gs1.Sscc.build(0, "4012345", 1).value
SIZING = {SGTIN: Sizing(rate_per_minute=10, target=20, low_water=8, pool_size=10)}


def pool(authority_id: int, start: int, stop: int, prefix: str = "S") -> dict[str, Any]:
    return {
        "id": authority_id,
        "kind": "sgtin",
        "scope": GTIN,
        "start": start,
        "stop": stop,
        "serial_numbers": [f"{prefix}{n:05d}" for n in range(start, stop)],
    }


def open_buffer(path: Path, chunk: int = 4) -> SerialBuffer:
    return SerialBuffer(path / "buffer.sqlite", SIZING, chunk=chunk)


def test_an_empty_buffer_says_so(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    with pytest.raises(BufferEmptyError) as error:
        buffer.take(SGTIN)
    assert str(error.value) == (
        f"no serials left for GTIN {GTIN}; the serial authority has not refilled the buffer"
    )


def test_values_come_in_order_and_a_crash_skips_the_rest_of_a_reservation(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))
    assert [buffer.take(SGTIN) for _ in range(5)] == [f"S{n:05d}" for n in range(5)]
    buffer.close()  # a crash: the reservation 4..7 was on disk, 4 of it handed out
    again = open_buffer(tmp_path)
    assert again.remaining(SGTIN) == 2
    assert [again.take(SGTIN), again.take(SGTIN)] == ["S00008", "S00009"]
    with pytest.raises(BufferEmptyError):
        again.take(SGTIN)


def test_pools_that_overlap_what_the_line_had_are_refused(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))  # the same pool again (a retry): fine
    assert buffer.remaining(SGTIN) == 10
    with pytest.raises(AuthorityError) as error:
        buffer.store_pool(SGTIN, "t2", pool(9, 5, 15, prefix="T"))
    assert str(error.value) == (
        f"pool 9 of GTIN {GTIN} (positions 5..14) overlaps pool 1 received before (0..9): the "
        "authority lost track of what it handed out (restored from a backup?)"
    )
    with pytest.raises(AuthorityError, match=r"a value this line received before is in it"):
        buffer.store_pool(SGTIN, "t3", pool(10, 20, 25))  # positions new, values S00020.. new
        buffer.store_pool(
            SGTIN,
            "t4",
            {**pool(11, 30, 35), "serial_numbers": [f"S{n:05d}" for n in range(20, 25)]},
        )
    assert buffer.remaining(SGTIN) == 15
    assert buffer.high_water(SGTIN) == 25


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scope": "09506000134369"},
         f"pool: expected a pool of GTIN {GTIN}, got 'sgtin' '09506000134369'"),
        ({"start": -1}, "pool: expected whole numbers id, start, stop, got [1, -1, 3]"),
        ({"stop": 4}, "pool: expected 4 serial_numbers for positions 0..3, got 3"),
        ({"serial_numbers": ["A", "B^", "C"]},
         "pool: serial: expected 1 to 20 characters of GS1 CSET 82, got 'B^' ('^' at position 2 "
         "is not in CSET 82)"),
        ({"serial_numbers": ["A", "A", "C"]}, "pool 1: a value appears twice in it"),
        ({"serial_numbers": "ABC"},
         "pool: expected 3 serial_numbers for positions 0..2, got 'ABC'"),
    ],
)  # fmt: skip
def test_a_malformed_pool_is_refused_whole(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    buffer = open_buffer(tmp_path)
    with pytest.raises(AuthorityError) as error:
        buffer.store_pool(SGTIN, "t", {**pool(1, 0, 3), **change})
    assert str(error.value) == message
    assert buffer.remaining(SGTIN) == 0


def test_sscc_pools_must_be_ssccs_of_the_prefix(tmp_path: Path) -> None:
    buffer = SerialBuffer(tmp_path / "b.sqlite", {SSCC: Sizing(1, 10, 5, 10)})
    with pytest.raises(AuthorityError) as error:
        buffer.store_pool(
            SSCC,
            "t",
            {"id": 1, "kind": "sscc", "scope": "09506000", "start": 0, "stop": 1,
             "serial_numbers": [OTHER]},
        )  # fmt: skip
    assert str(error.value) == (
        f"pool: expected SSCCs of SSCC prefix 9506000 (extension 0), got '{OTHER}'"
    )


def test_refill_below_low_water_up_to_the_target(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    assert buffer.needs(SGTIN) == 10  # empty: a pool, at most pool_size
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))
    assert buffer.needs(SGTIN) == 0  # 10 left, low water 8
    for _ in range(3):
        buffer.take(SGTIN)
    assert buffer.needs(SGTIN) == 10  # 7 left: up to 20, one pool of 10 at a time
    assert buffer.needs(SGTIN, refilling=True) == 10
    buffer.store_pool(SGTIN, "t2", pool(2, 10, 20))
    assert (buffer.needs(SGTIN), buffer.needs(SGTIN, refilling=True)) == (0, 3)
    token, count = buffer.request_token(SGTIN, 10)
    buffer.close()
    assert open_buffer(tmp_path).request_token(SGTIN, 99) == (token, count)  # survives a crash


def test_settle_reports_what_the_records_say_and_returns_the_rest(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))
    taken = [buffer.take(SGTIN) for _ in range(6)]
    records = {taken[0]: "used", taken[1]: "destroyed", taken[2]: "returned", taken[3]: None}
    # taken[4], taken[5]: not on record (a crash before their unit was committed)
    queued = buffer.settle(
        SGTIN, lambda kind, scope, values: {v: records[v] for v in values if v in records}
    )
    assert queued == {"used": 1, "destroyed": 1, "returned": 3}
    reports = buffer.pending_reports()
    assert [(scope, body) for _, scope, body in reports] == [
        (
            SGTIN,
            {
                "used": [taken[0]],
                "destroyed": [taken[1]],
                "returned": [taken[2], taken[4], taken[5]],
            },
        )
    ]
    buffer.report_sent(reports[0][0])
    records[taken[3]] = "used"  # the unit in flight was commissioned meanwhile
    queued = buffer.settle(
        SGTIN, lambda kind, scope, values: {v: records.get(v) for v in values}, return_rest=True
    )
    assert queued == {"used": 1, "destroyed": 0, "returned": 4}
    assert buffer.remaining(SGTIN) == 0
    with pytest.raises(BufferEmptyError):
        buffer.take(SGTIN)


def test_big_reports_are_queued_in_chunks(tmp_path: Path) -> None:
    buffer = SerialBuffer(tmp_path / "b.sqlite", {SGTIN: Sizing(1, 30_000, 5, 30_000)}, chunk=5000)
    buffer.store_pool(SGTIN, "t", pool(1, 0, REPORT_CHUNK + 10))
    for _ in range(REPORT_CHUNK + 10):
        buffer.take(SGTIN)
    buffer.settle(SGTIN, lambda kind, scope, values: dict.fromkeys(values, "used"))
    assert [len(body["used"]) for _, _, body in buffer.pending_reports()] == [REPORT_CHUNK, 10]


def test_state_gives_the_time_left_at_the_line_rate(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 10))
    buffer.take(SGTIN)
    assert buffer.state() == [
        {"kind": "sgtin", "scope": GTIN, "remaining": 9, "target": 20, "low_water": 8,
         "rate_per_minute": 10, "minutes_left": 0.9, "low": False},
    ]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 7), st.just(0)), min_size=1, max_size=25))
def test_no_sequence_of_takes_and_crashes_hands_a_value_out_twice(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int]
) -> None:
    """0 = the process dies and starts again; n = take n values."""
    folder = tmp_path_factory.mktemp("buffer")
    buffer = open_buffer(folder, chunk=3)
    buffer.store_pool(SGTIN, "t1", pool(1, 0, 60))
    handed: list[str] = []
    for step in steps:
        if step == 0:
            buffer.close()
            buffer = open_buffer(folder, chunk=3)
            continue
        for _ in range(step):
            try:
                handed.append(buffer.take(SGTIN))
            except BufferEmptyError:
                break
    buffer.close()
    assert len(handed) == len(set(handed))
    assert handed == sorted(handed)  # in the authority's order, gaps only after a crash
