from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.scanners import (
    ConfigError,
    FrameKind,
    LineFrame,
    ScannerConfig,
    ScanOutcome,
    interpret,
    terminator_from_name,
)
from gs1 import Sscc, UnitCode

UNIT = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")
DATA = UNIT.element_string()


def line(payload: bytes, config: ScannerConfig | None = None):  # type: ignore[no-untyped-def]
    return interpret(LineFrame(FrameKind.LINE, payload), config or ScannerConfig(), 1.0)


@pytest.mark.parametrize(
    ("config", "payload", "symbology"),
    [
        (ScannerConfig(), b"]d2" + DATA.encode(), "]d2"),
        (ScannerConfig(symbology_ids=False), DATA.encode(), None),
        (
            ScannerConfig(gs_substitute="<GS>"),
            b"]d2" + DATA.replace("\x1d", "<GS>").encode(),
            "]d2",
        ),
        (ScannerConfig(gs_substitute="~"), b"]C1" + DATA.replace("\x1d", "~").encode(), "]C1"),
        (ScannerConfig(prefix=b"\x02", suffix=b"#"), b"\x02]Q3" + DATA.encode() + b"#", "]Q3"),
        (ScannerConfig(symbology_ids=False), UNIT.hri().encode(), None),
    ],
)
def test_gs1_scans_read_as_the_unit(
    config: ScannerConfig, payload: bytes, symbology: str | None
) -> None:
    result = line(payload, config)
    assert result.outcome is ScanOutcome.OK and result.ok
    assert result.code == UNIT and result.symbology_identifier == symbology
    assert result.raw == payload and result.received_at == 1.0 and result.error is None


def test_ean13_and_sscc_scans() -> None:
    ean = line(b"]E04006381333931")
    assert ean.ok and isinstance(ean.code, UnitCode) and ean.code.gtin.value == "04006381333931"
    sscc = line(b"]C100095060001234567893")
    assert sscc.ok and sscc.code == Sscc.parse("095060001234567893")


@pytest.mark.parametrize(
    ("config", "payload", "outcome", "error"),
    [
        (ScannerConfig(), b"NOREAD", ScanOutcome.NO_READ, None),
        (ScannerConfig(no_read="NR"), b"NR", ScanOutcome.NO_READ, None),
        (
            ScannerConfig(),
            b"]d20109506000134353",
            ScanOutcome.INVALID,
            "gtin: expected check digit 2, got 3 in '09506000134353'",
        ),
        (
            ScannerConfig(),
            b"0109506000134352",
            ScanOutcome.INVALID,
            "symbology_identifier: expected ']' and two characters first, got b'0109506000134352'",
        ),
        (
            ScannerConfig(prefix=b"\x02"),
            b"]d20109506000134352",
            ScanOutcome.INVALID,
            "prefix: expected b'\\x02' first, got b']d20109506000134352'",
        ),
        (
            ScannerConfig(suffix=b"#"),
            b"]d20109506000134352",
            ScanOutcome.INVALID,
            "suffix: expected b'#' last, got b']d20109506000134352'",
        ),
        (
            ScannerConfig(),
            b"]d2\xff0109506000134352",
            ScanOutcome.INVALID,
            "line: expected ASCII, got byte 0xFF at 3 in b']d2\\xff0109506000134352'",
        ),
    ],
)
def test_bad_scans_are_values_with_exact_errors(
    config: ScannerConfig, payload: bytes, outcome: ScanOutcome, error: str | None
) -> None:
    result = line(payload, config)
    assert result.outcome is outcome
    assert result.error == error
    assert result.code is None


def test_plain_data_is_not_gs1_and_not_guessed() -> None:
    # ]d1 is Data Matrix without FNC1: digits that look like AI data are plain text.
    result = line(b"]d10109506000134352")
    assert result.outcome is ScanOutcome.NOT_GS1 and result.symbology_identifier == "]d1"
    assert result.error == (
        "data: expected GS1 data; ]d1 (Data Matrix) carries plain data, which is GS1 only as "
        "a GS1 Digital Link URI, got '0109506000134352'"
    )


@pytest.mark.parametrize("payload", [b"]C00109506000134352", b"]A0ABC", b"]E112"])
def test_symbologies_without_gs1_data_are_not_gs1(payload: bytes) -> None:
    result = line(payload)
    assert result.outcome is ScanOutcome.NOT_GS1
    assert result.code is None


def test_plain_data_digital_link_is_read() -> None:
    result = line(b"]Q1https://id.gs1.org/01/09506000134352/21/A1B2C3")
    assert result.outcome is ScanOutcome.OK and result.symbology_identifier == "]Q1"
    assert result.code == UnitCode.create(gtin="09506000134352", serial="A1B2C3")


def test_partial_and_overflow_frames() -> None:
    config = ScannerConfig(line_timeout_s=0.2, max_line=16)
    partial = interpret(LineFrame(FrameKind.PARTIAL, b"]d2010"), config, 2.0)
    assert partial.outcome is ScanOutcome.INVALID
    assert partial.error == "terminator: expected b'\\r' after b']d2010', got silence for 0.2 s"
    overflow = interpret(LineFrame(FrameKind.OVERFLOW, b"A" * 16), config, 2.0)
    assert overflow.error == (
        "line: expected at most 16 bytes before b'\\r', got more, starting b'AAAAAAAAAAAAAAAA'"
    )


@given(st.binary(max_size=200))
def test_hostile_bytes_never_raise(payload: bytes) -> None:
    for config in (ScannerConfig(), ScannerConfig(symbology_ids=False, gs_substitute="~")):
        result = line(payload, config)
        assert result.ok == (result.code is not None)
        assert result.ok or result.outcome is ScanOutcome.NO_READ or result.error


@pytest.mark.parametrize(
    ("name", "expected"),
    [("CR", b"\r"), ("lf", b"\n"), ("CRLF", b"\r\n"), ("ETX", b"\x03"), ("\\x04", b"\x04")],
)
def test_terminator_names(name: str, expected: bytes) -> None:
    assert terminator_from_name(name) == expected


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: terminator_from_name(""),
            "terminator: expected one of CR, LF, CRLF, TAB, ETX or escaped bytes, got ''",
        ),
        (lambda: ScannerConfig(terminator=b""), "terminator: expected at least one byte, got b''"),
        (
            lambda: ScannerConfig(prefix=b"\r>"),
            "prefix: must not contain the terminator b'\\r', got b'\\r>'",
        ),
        (
            lambda: ScannerConfig(gs_substitute=""),
            "gs_substitute: expected None (0x1D) or a non-empty text, got ''",
        ),
        (lambda: ScannerConfig(max_line=4), "max_line: expected 16 to 1000000 bytes, got 4"),
    ],
)
def test_bad_config_is_refused(make: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()  # type: ignore[operator]
    assert str(caught.value) == message
