from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from serialtrace.cli import main
from simulators.labels import PrintedLabel
from simulators.printer import PrinterSimConfig, PtyTransport, VirtualPrinter


@pytest.fixture
def printer() -> Iterator[tuple[str, list[PrintedLabel]]]:
    sim = VirtualPrinter(PrinterSimConfig(print_time=False, line_timing=False)).start()
    labels: list[PrintedLabel] = []
    sim.subscribe(labels.append)
    with PtyTransport(sim) as transport:
        yield transport.url, labels
    sim.stop()


def test_label_print_unit_label(
    printer: tuple[str, list[PrintedLabel]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, labels = printer
    argv = ["label", "print", "--printer", url, "--gtin", "09506000134352", "--serial", "A1",
            "--lot", "L1", "--expiry", "281130"]  # fmt: skip
    assert main(argv) == 0
    assert len(labels) == 1
    assert labels[0].data["datamatrix_hri"] == "(01)09506000134352(17)281130(10)L1(21)A1"
    assert capsys.readouterr().out.startswith("printed ")


def test_label_print_sscc_label(printer: tuple[str, list[PrintedLabel]]) -> None:
    url, labels = printer
    assert main(["label", "print", "--printer", url, "--sscc", "095060001234567893"]) == 0
    assert labels[0].data["code128_hri"] == "(00)095060001234567893"


def test_dry_run_writes_zpl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", "print", "--dry-run", "--sscc", "095060001234567893"]) == 0
    assert capsys.readouterr().out.startswith("^XA^PW812^LL1218^FO54,820^BY4^BCN,260,N,N,N")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dry-run"], "--gtin: expected a GTIN (or --sscc for a case/pallet label), got nothing"),
        (
            ["--dry-run", "--gtin", "09506000134352", "--sscc", "095060001234567893"],
            "--sscc: expected either --sscc or --gtin, got both",
        ),
        (
            ["--gtin", "09506000134352"],
            "--printer: expected a pyserial URL (or --dry-run), got nothing",
        ),
        (
            ["--dry-run", "--gtin", "09506000134353"],
            "gtin: expected check digit 2, got 3 in '09506000134353'",
        ),
        (
            ["--dry-run", "--gtin", "09506000134352", "--serial", "A^XZ"],
            "serial: expected 1 to 20 characters of GS1 CSET 82, got 'A^XZ'"
            " ('^' at position 2 is not in CSET 82)",
        ),
        (
            ["--dry-run", "--gtin", "09506000134352", "--template", "sscc-100x150-203"],
            "template 'sscc-100x150-203': expected unit label data, got data for a logistic label",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["label", "print", *argv]) == 2
    assert capsys.readouterr().err == f"serialtrace: error: {message}\n"


def test_printer_fault_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    sim = VirtualPrinter(PrinterSimConfig(print_time=False, line_timing=False)).start()
    sim.set_state("head_open")
    with PtyTransport(sim) as transport:
        code = main(["label", "print", "--printer", transport.url, "--sscc", "095060001234567893"])
    sim.stop()
    assert code == 1
    assert capsys.readouterr().err == "serialtrace: printer: printer reports head_open\n"


def test_sim_printer_prints_its_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "serialtrace", "sim", "printer", "--tcp", "0", "--duration", "0.5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.startswith("socket://127.0.0.1:")
    assert "printed 0 labels, 0 ZPL issues" in result.stderr
