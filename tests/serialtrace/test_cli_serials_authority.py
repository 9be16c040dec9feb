"""``serialtrace serials serve|add-line|register-*|import|books|usage|raise-floor``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import gs1
from gs1.serials import SerialKey
from serialtrace.cli import main
from tests.support.services import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
GTIN = "09506000134352"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def store_args(tmp_path: Path) -> list[str]:
    key = tmp_path / "authority.key"
    key.write_text(SerialKey(bytes(range(32))).hex())
    os.chmod(key, 0o600)
    return [
        "--db",
        f"sqlite:///{tmp_path / 'trace.db'}",
        "--key-file",
        str(key),
        "--journal",
        str(tmp_path / "journal" / "serials.journal"),
    ]


def test_manage_the_authority_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    store_args: list[str],
) -> None:
    code, out, err = run(
        capsys, "serials", "register-gtin", GTIN, "--length", "12", "--volume", "1_000_000",
        "--reason", "new product", *store_args,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith(f"GTIN {GTIN}: ff3-1/numeric/12/key:") and out.endswith(
        ", first counter 0\n"
    )
    code, out, err = run(
        capsys, "serials", "register-gtin", GTIN, "--length", "6", "--volume", "100",
        "--reason", "x", *store_args,
    )  # fmt: skip
    assert code == 2
    assert err == (
        "serialtrace: error: volume: expected at most 99 serials for scheme numeric/6 "
        "(guessing probability below 1/10,000), got 100 (probability 0.0001)\n"
    )
    code, out, _ = run(
        capsys, "serials", "register-sscc", "--company-prefix", "9506000", "--reason", "cases",
        *store_args,
    )  # fmt: skip
    assert (code, out) == (
        0,
        "SSCC extension 0, company prefix 9506000: sequential/9, first reference 0\n",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("line one secret\n"))
    code, out, err = run(
        capsys, "serials", "add-line", "plant1", "line1", "--user", "l1", "--password-stdin",
        *store_args,
    )  # fmt: skip
    assert (code, out, err) == (0, "line plant1/line1: device user 'l1'\n", "")
    sscc_first = gs1.Sscc.build(5, "4012345", 1).value
    sscc_last = gs1.Sscc.build(5, "4012345", 100).value
    ranges = tmp_path / "ranges.csv"
    ranges.write_text(f"company_prefix,first_sscc,last_sscc\n4012345,{sscc_first},{sscc_last}\n")
    code, out, _ = run(
        capsys, "serials", "import", str(ranges), "--format", "csv", "--supplier", "Brand AG",
        *store_args,
    )  # fmt: skip
    assert (code, out) == (0, "import 1: 100 sscc for 54012345 (positions 0..99)\n")
    code, out, err = run(
        capsys, "serials", "import", str(ranges), "--format", "csv", "--supplier", "Brand AG",
        *store_args,
    )  # fmt: skip
    assert code == 2
    assert err.startswith(
        f"serialtrace: error: import refused: 100 problems; first: SSCC extension 5, company "
        f"prefix 4012345: '{sscc_first}' was already imported;"
    )
    code, out, _ = run(capsys, "serials", "usage", "1", *store_args)
    assert out == "import 1 (Brand AG, ranges.csv): unissued 100\n"
    code, out, _ = run(
        capsys, "serials", "raise-floor", "sgtin", GTIN, "5000", "--reason", "restore", *store_args
    )
    assert out == f"GTIN {GTIN}: next position raised from 0 to 5,000\n"
    code, out, _ = run(capsys, "serials", "books", *store_args)
    assert code == 0
    assert out.splitlines()[1].split()[:2] == ["sgtin", GTIN]


def test_serve_runs_the_authority_alone(tmp_path: Path, store_args: list[str]) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serialtrace",
                "serials",
                "serve",
                *store_args,
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["status"] == "ok"
        paths = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()["paths"]
        assert (
            "/serials/pools" in paths and "/auth/token" in paths and "/epcis/capture" not in paths
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()
