from __future__ import annotations

import os
import select

import pytest

from simulators.scanner import ScannerProfile, ScannerSimulator, encode_scan
from simulators.scanner.scanner import Fault

DATA = "01095060001343521728113010LOT2611\x1d21A1B2C3"
HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (ScannerProfile(), b"]d2" + DATA.encode() + b"\r"),
        (ScannerProfile(symbology_ids=False, terminator=b"\r\n"), DATA.encode() + b"\r\n"),
        (
            ScannerProfile(gs_substitute="<GS>", prefix=b"\x02", suffix=b"\x03", terminator=b"\n"),
            b"\x02]d201095060001343521728113010LOT2611<GS>21A1B2C3\x03\n",
        ),
    ],
)
def test_encode_scan_formats_like_a_scanner(profile: ScannerProfile, expected: bytes) -> None:
    assert encode_scan(DATA, profile) == expected


def _read_all(port: str, expected_length: int) -> bytes:
    fd = os.open(port, os.O_RDONLY | os.O_NOCTTY)
    try:
        received = b""
        while len(received) < expected_length:
            ready, _, _ = select.select([fd], [], [], 2)
            assert ready, f"only {received!r} arrived"
            received += os.read(fd, 4096)
        return received
    finally:
        os.close(fd)


def test_types_hri_as_element_string_on_the_pty() -> None:
    with ScannerSimulator() as simulator:
        simulator.scan(HRI)
        assert _read_all(simulator.port, len(DATA) + 4) == b"]d2" + DATA.encode() + b"\r"


def test_faults_on_demand() -> None:
    profile = ScannerProfile(no_read="NR", terminator=b"\n")
    with ScannerSimulator(profile, seed=3) as simulator:
        assert simulator.no_read() == b"NR\n"
        assert simulator.partial(DATA, keep=0.25) == (b"]d2" + DATA.encode())[:11]
        noise = simulator.noise(20)
        assert len(noise) == 20 and b"\n" not in noise


def test_fault_rates_are_drawn_reproducibly() -> None:
    def faults(seed: int) -> list[Fault | None]:
        with ScannerSimulator(no_read_rate=0.2, partial_rate=0.2, noise_rate=0.3, seed=seed) as sim:
            drawn = [sim.scan(DATA) for _ in range(40)]
        return drawn

    first = faults(1)
    assert first == faults(1) and first != faults(2)
    assert {Fault.NO_READ, Fault.PARTIAL, Fault.NOISE, None} <= set(first)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"no_read_rate": 1.5}, "no_read_rate: expected a probability 0..1, got 1.5"),
        ({"noise_rate": -0.1}, "noise_rate: expected a probability 0..1, got -0.1"),
    ],
)
def test_bad_rates_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        ScannerSimulator(**kwargs)
    assert str(caught.value) == message


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="terminator: expected at least one byte"):
        ScannerProfile(terminator=b"")
    with pytest.raises(ValueError, match="gs_substitute: expected None"):
        ScannerProfile(gs_substitute="")
