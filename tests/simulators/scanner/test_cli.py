from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.scanners import ScannerConfig, ScanOutcome, SerialScanner
from gs1 import UnitCode

REPO = Path(__file__).resolve().parents[3]
UNIT = UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130")


def test_sim_scanner_types_codes_on_the_pty_it_prints() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serialtrace",
            "sim",
            "scanner",
            UNIT.hri(),
            "NOT-A-CODE",
            "--terminator",
            "CRLF",
            "--gs-substitute",
            "<GS>",
            "--interval",
            "0.3",
            "--linger",
            "2",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.startswith("/dev/")
        config = ScannerConfig(terminator=b"\r\n", gs_substitute="<GS>")
        with SerialScanner(port, config) as scanner:
            first, second = scanner.get(timeout=10), scanner.get(timeout=10)
        assert first is not None and first.code == UNIT
        assert second is not None and second.outcome is ScanOutcome.INVALID
    finally:
        process.wait(timeout=15)
    assert process.returncode == 0


def test_bad_options_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "serialtrace", "sim", "scanner", "--no-read-rate", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr == "serialtrace: error: no_read_rate: expected a probability 0..1, got 2.0\n"
