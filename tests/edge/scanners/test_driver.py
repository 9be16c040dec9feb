"""The scanner driver against the scanner simulator on a pty, with every framing option."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from edge.scanners import PortError, ScannerConfig, ScanOutcome, ScanResult, SerialScanner
from gs1 import UnitCode
from simulators.scanner import ScannerProfile, ScannerSimulator

UNIT = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")
OPTIONS = {
    "defaults": {},
    "crlf-no-ids": {"terminator": b"\r\n", "symbology_ids": False},
    "lf-gs-substitute": {"terminator": b"\n", "gs_substitute": "<GS>"},
    "prefix-suffix-tilde": {"prefix": b"\x02", "suffix": b"\x03", "gs_substitute": "~"},
    "etx-noread": {"terminator": b"\x04", "no_read": "NR"},
}


def pair(options: dict[str, object]) -> tuple[ScannerSimulator, SerialScanner]:
    simulator = ScannerSimulator(ScannerProfile(**options))  # type: ignore[arg-type]
    scanner = SerialScanner(simulator.port, ScannerConfig(**options, line_timeout_s=0.1))  # type: ignore[arg-type]
    return simulator, scanner.start()


@pytest.fixture(params=list(OPTIONS))
def line(request: pytest.FixtureRequest) -> Iterator[tuple[ScannerSimulator, SerialScanner]]:
    simulator, scanner = pair(OPTIONS[request.param])
    yield simulator, scanner
    scanner.close()
    simulator.close()


def next_scan(scanner: SerialScanner) -> ScanResult:
    result = scanner.get(timeout=5)
    assert result is not None, "no scan arrived"
    return result


def test_scans_arrive_as_parsed_units(line: tuple[ScannerSimulator, SerialScanner]) -> None:
    simulator, scanner = line
    for _ in range(3):
        simulator.scan(UNIT.hri())
    for _ in range(3):
        result = next_scan(scanner)
        assert result.outcome is ScanOutcome.OK and result.code == UNIT


def test_faults_become_recorded_values(line: tuple[ScannerSimulator, SerialScanner]) -> None:
    simulator, scanner = line
    data = UNIT.element_string()
    simulator.no_read()
    assert next_scan(scanner).outcome is ScanOutcome.NO_READ
    simulator.partial(data)  # cut short: flushed after the line timeout
    partial = next_scan(scanner)
    assert partial.outcome is ScanOutcome.INVALID
    assert partial.error is not None and partial.error.startswith("terminator: expected")
    simulator.noise(6)
    simulator.type(data)  # noise glued to the front of a scan spoils that scan only
    assert next_scan(scanner).outcome in (ScanOutcome.INVALID, ScanOutcome.NOT_GS1)
    simulator.type(data)
    assert next_scan(scanner).code == UNIT
    assert scanner.counts[ScanOutcome.OK] == 1
    assert next(r.outcome for r in scanner.errors) is ScanOutcome.NO_READ
    assert len(scanner.errors) == 3 and scanner.fault is None


def test_callback_gets_every_scan_and_its_bugs_do_not_stop_the_reader() -> None:
    seen: list[ScanResult] = []

    def callback(result: ScanResult) -> None:
        seen.append(result)
        raise RuntimeError("bug in the caller")

    with (
        ScannerSimulator() as simulator,
        SerialScanner(simulator.port, on_scan=callback) as scanner,
    ):
        simulator.scan(UNIT.hri())
        simulator.scan(UNIT.hri())
        assert next_scan(scanner).ok and next_scan(scanner).ok
        assert len(seen) == 2 and scanner.alive


def test_overlong_garbage_is_bounded_and_reported() -> None:
    with (
        ScannerSimulator() as simulator,
        SerialScanner(simulator.port, ScannerConfig(max_line=64)) as scanner,
    ):
        simulator.write(b"X" * 500 + b"\r")
        simulator.scan(UNIT.hri())
        overflow = next_scan(scanner)
        assert overflow.outcome is ScanOutcome.INVALID
        assert overflow.error is not None
        assert overflow.error.startswith("line: expected at most 64")
        assert next_scan(scanner).code == UNIT


def test_a_vanished_port_is_reported_as_a_fault() -> None:
    simulator = ScannerSimulator()
    scanner = SerialScanner(simulator.port).start()
    try:
        simulator.close()  # the device is unplugged
        scanner._thread.join(timeout=5)  # type: ignore[union-attr]
        assert not scanner.alive
        assert scanner.fault is not None and simulator.port in scanner.fault
    finally:
        scanner.close()


def test_loop_url_works_like_a_port() -> None:
    with SerialScanner("loop://") as scanner:
        scanner._port.write(b"]d2" + UNIT.element_string().encode() + b"\r")  # type: ignore[union-attr]
        assert next_scan(scanner).code == UNIT


def test_unopenable_port_is_a_port_error() -> None:
    with pytest.raises(PortError) as caught:
        SerialScanner("/dev/does-not-exist-scanner").start()
    assert str(caught.value).startswith("scanner port: cannot open '/dev/does-not-exist-scanner'")


def test_slow_typing_across_reads_still_frames_one_scan() -> None:
    with (
        ScannerSimulator() as simulator,
        SerialScanner(simulator.port, ScannerConfig(line_timeout_s=1.0)) as scanner,
    ):
        payload = b"]d2" + UNIT.element_string().encode() + b"\r"
        for index in range(0, len(payload), 7):
            simulator.write(payload[index : index + 7])
            os.sched_yield()
        assert next_scan(scanner).code == UNIT


def test_starting_twice_keeps_one_reader() -> None:
    """``with scanner.start() as s`` starts twice; a second reader on the port would take
    some bytes of every scan (this happened: ``]d2…`` arrived as ``d2…``)."""
    simulator, scanner = pair({})
    try:
        with scanner.start() as same:
            assert same is scanner
            for _ in range(20):
                simulator.scan(UNIT.hri())
            for _ in range(20):
                result = next_scan(scanner)
                assert result.outcome is ScanOutcome.OK, result
    finally:
        simulator.close()
