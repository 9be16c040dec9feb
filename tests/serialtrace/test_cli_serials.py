"""``serialtrace serials plan`` and ``serials new-key``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edge.serials.keyfile import read_key
from gs1.serials.key import SerialKey
from serialtrace.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "serials", "plan", "--length", "12", "--volume", "10_000_000")
    assert code == 0
    assert out.splitlines() == [
        "alphabet     numeric (radix 10)",
        "length       12",
        "space        1,000,000,000,000 (10^12)",
        "volume       10,000,000",
        "probability  1e-05 (1 in 100,000)",
        "limit        below 1 in 10,000 (EU FMD, Delegated Regulation 2016/161 art. 4(b))",
        "max volume   99,999,999",
        "verdict      acceptable",
    ]


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "serials", "plan", "--alphabet", "safe", "--length", "8", "--volume", "100000",
        "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "alphabet": "safe",
        "radix": 34,
        "length": 8,
        "space": 34**8,
        "volume": 100_000,
        "probability": 100_000 / 34**8,
        "limit": "1/10000",
        "max_volume": 178_579_390,
        "acceptable": True,
    }


def test_plan_refused_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "serials", "plan", "--alphabet", "safe", "--length", "6", "--volume", "200,000"
    )
    assert code == 1
    assert out.splitlines()[-1] == ("verdict      REFUSED: at most 154,480 serials for this scheme")


@pytest.mark.parametrize(
    ("volume", "probability"),
    [
        # 10^6 serials: never "1 in 0" (issue 17), odds below 100 keep their decimals
        ("600000", "probability  0.6 (1 in 1.67)"),
        ("20000", "probability  0.02 (1 in 50)"),
        (
            "1000000",
            "probability  1 (certain: the volume is at least the scheme's 1,000,000 serials)",
        ),
        (
            "3000000",
            "probability  1 (certain: the volume is at least the scheme's 1,000,000 serials)",
        ),
    ],
)
def test_plan_odds_are_never_one_in_zero(
    capsys: pytest.CaptureFixture[str], volume: str, probability: str
) -> None:
    code, out, _ = run(capsys, "serials", "plan", "--length", "6", "--volume", volume)
    assert code == 1
    assert probability in out.splitlines()
    assert "1 in 0" not in out
    code, out, _ = run(capsys, "serials", "plan", "--length", "6", "--volume", volume, "--json")
    assert 0 < json.loads(out)["probability"] <= 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--alphabet", "hex", "--length", "8", "--volume", "1"],
            "alphabet: expected one of numeric, safe, cset82, got 'hex'",
        ),
        (
            ["--length", "4", "--volume", "1"],
            "length: expected 6..20 for alphabet 'numeric' (FF3-1 needs 10^length >= "
            "1,000,000; GS1 AI 21 allows at most 20), got 4",
        ),
        (
            ["--alphabet", "cset82", "--length", "21", "--volume", "1"],
            "length: expected 4..20 for alphabet 'cset82' (FF3-1 needs 82^length >= "
            "1,000,000; GS1 AI 21 allows at most 20), got 21",
        ),
        (["--length", "x", "--volume", "1"], "length: expected a whole number, got 'x'"),
        (["--length", "8", "--volume", "1e9"], "volume: expected a whole number, got '1e9'"),
        (["--length", "8", "--volume", "0"], "volume: expected a whole number >= 1, got 0"),
        (["--volume", "10"], "length: expected --length N, a whole number, got nothing"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "serials", "plan", *argv)
    assert code == 2
    assert out == ""
    assert err == f"serialtrace: error: {message}\n"


def test_new_key_file_is_owner_only_and_never_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "serial.key"
    code, out, _ = run(capsys, "serials", "new-key", "--out", str(path))
    assert code == 0
    key = read_key(path)
    assert out == f"wrote serial key {key.key_id} to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key.material) == 32
    code, _, err = run(capsys, "serials", "new-key", "--out", str(path))
    assert code == 2
    assert (
        err == f"serialtrace: error: out: expected a file that does not exist yet, got '{path}'\n"
    )
    assert read_key(path) == key


def test_new_key_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "serials", "new-key")
    assert code == 0
    assert len(SerialKey.from_hex(out).material) == 32
