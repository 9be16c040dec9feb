from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.printers import HostStatus, PrinterFault, PrinterProtocolError

IDLE = (
    b"\x02030,0,0,0240,000,0,0,0,000,0,0,0\x03\r\n"
    b"\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n"
    b"\x021234,0\x03\r\n"
)


def answer(one: str, two: str, three: str = "1234,0") -> bytes:
    return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (one, two, three))


def test_idle_printer() -> None:
    status = HostStatus.parse(IDLE)
    assert status.comm_settings == 30
    assert status.label_length == 240
    assert status.thermal_transfer and status.print_mode == 2 and status.print_width_mode == 6
    assert status.password == "1234" and not status.static_ram
    assert status.faults == frozenset() and status.pending_labels == 0
    assert status.summary().ready


@pytest.mark.parametrize(
    ("one", "two", "faults"),
    [
        ("030,1,0,0240,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000", {"paper_out"}),
        ("030,0,1,0240,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000", {"paused"}),
        ("030,0,0,0240,000,0,0,0,000,0,0,0", "001,0,1,0,1,2,6,0,00000000,1,000", {"head_open"}),
        ("030,0,0,0240,000,0,0,0,000,0,0,0", "001,0,0,1,1,2,6,0,00000000,1,000", {"ribbon_out"}),
        ("030,0,0,0240,064,1,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000001,1,000", {"buffer_full"}),
        (
            "030,0,0,0240,000,0,0,0,000,0,1,1",
            "001,0,0,0,1,2,6,0,00000000,1,000",
            {"under_temperature", "over_temperature"},
        ),
    ],
)
def test_each_flag_is_a_typed_fault(one: str, two: str, faults: set[str]) -> None:
    status = HostStatus.parse(answer(one, two))
    assert status.faults == {PrinterFault(f) for f in faults}


def test_pending_labels_counts_buffer_and_batch() -> None:
    status = HostStatus.parse(
        answer("030,0,0,0240,007,0,0,1,000,0,0,0", "001,0,0,0,1,2,6,0,00000001,1,000")
    )
    assert (status.formats_in_buffer, status.labels_remaining, status.pending_labels) == (7, 1, 8)
    assert status.partial_format


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        IDLE[:-1],
        IDLE + b"x",
        b"garbage" + IDLE,
        IDLE.replace(b"0240", b"240"),
        IDLE.replace(b"\x021234,0", b"\x021234,2"),
    ],
)
def test_malformed_answers_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(PrinterProtocolError) as error:
        HostStatus.parse(raw)
    assert str(error.value).startswith("~HS answer: expected three <STX>…<ETX><CR><LF> strings")
    assert str(error.value).endswith(f"got {raw!r}")


@given(st.binary(max_size=120))
def test_any_bytes_parse_or_raise_protocol_error(raw: bytes) -> None:
    with contextlib.suppress(PrinterProtocolError):
        HostStatus.parse(raw)
