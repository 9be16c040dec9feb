from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serialtrace.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(["gs1", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def test_make_prints_every_form(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = run(
        capsys,
        "make",
        "--gtin",
        "9506000134352",
        "--serial",
        "A1B2C3",
        "--lot",
        "LOT2611",
        "--expiry",
        "281100",
        "--gcp-length",
        "7",
    )
    assert (code, err) == (0, "")
    assert doc == {
        "kind": "unit",
        "gtin": "09506000134352",
        "serial": "A1B2C3",
        "lot": "LOT2611",
        "expiry": "2028-11-30",
        "expiry_yymmdd": "281100",
        "extra": {},
        "element_string": "01095060001343521728110010LOT2611\x1d21A1B2C3",
        "datamatrix_data": "\x1d01095060001343521728110010LOT2611\x1d21A1B2C3",
        "hri": "(01)09506000134352(17)281100(10)LOT2611(21)A1B2C3",
        "digital_link": "https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281100",
        "company_prefix_length": 7,
        "epc": {
            "sgtin": "urn:epc:id:sgtin:9506000.013435.A1B2C3",
            "lgtin": "urn:epc:class:lgtin:9506000.013435.LOT2611",
        },
    }


def test_make_json_escapes_gs(capsys: pytest.CaptureFixture[str]) -> None:
    main(["gs1", "make", "--gtin", "9506000134352", "--serial", "S", "--lot", "L"])
    assert '"element_string": "010950600013435210L\\u001d21S"' in capsys.readouterr().out


def test_make_accepts_iso_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = run(capsys, "make", "--gtin", "9506000134352", "--expiry", "2028-11-30")
    assert doc["expiry_yymmdd"] == "281130"


@pytest.mark.parametrize(
    "data",
    [
        "]d201095060001343521728113010LOT2611\x1d21A1B2C3",
        "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3",
        "https://id.gs1.org/01/09506000134352/10/LOT2611/21/A1B2C3?17=281130",
    ],
)
def test_parse_gives_the_same_forms(capsys: pytest.CaptureFixture[str], data: str) -> None:
    code, doc, _ = run(capsys, "parse", data, "--gcp-length", "7")
    assert code == 0
    assert doc["hri"] == "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"
    assert doc["epc"] == {
        "sgtin": "urn:epc:id:sgtin:9506000.013435.A1B2C3",
        "lgtin": "urn:epc:class:lgtin:9506000.013435.LOT2611",
    }
    # elements are listed in the order of the input
    assert sorted(e["ai"] for e in doc["elements"]) == ["01", "10", "17", "21"]  # type: ignore[attr-defined]


def test_parse_reports_form_and_symbology(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = run(capsys, "parse", "]C100106141412345678908")
    assert (doc["input_form"], doc["symbology_identifier"], doc["kind"]) == (
        "element_string",
        "]C1",
        "sscc",
    )
    _, doc, _ = run(capsys, "parse", "urn:epc:id:sscc:0614141.1234567890")
    assert (doc["input_form"], doc["sscc"], doc["company_prefix_length"]) == (
        "epc_uri",
        "106141412345678908",
        7,
    )
    assert doc["epc"] == {"sscc": "urn:epc:id:sscc:0614141.1234567890"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["make", "--gtin", "9506000134353"],
            "gtin: expected check digit 2, got 3 in '9506000134353'",
        ),
        (
            ["make", "--gtin", "9506000134352", "--serial", "A B"],
            "serial: expected 1 to 20 characters of GS1 CSET 82, got 'A B' "
            "(' ' at position 2 is not in CSET 82)",
        ),
        (
            ["make", "--gtin", "9506000134352", "--expiry", "2028-02-30"],
            "expiry: expected YYMMDD or YYYY-MM-DD, got '2028-02-30'",
        ),
        (
            ["make", "--gtin", "9506000134352", "--gcp-length", "5"],
            "gcp-length: expected an integer 6 to 12, got '5'",
        ),
        (
            ["parse", "(21)X"],
            "serial: expected AI (01) or (03) or (8006) with AI (21) (association rule "
            "req=01,03,8006), got AI (21) without them",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["gs1", *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"serialtrace: error: {message}\n")


def test_command_line_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "serialtrace", "gs1", "parse", "-"],
        input="0109506000134352\r\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["input_form"] == "element_string"
    bad = subprocess.run(
        [sys.executable, "-m", "serialtrace", "gs1", "parse", "]d2garbage"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert bad.stderr.startswith(
        "serialtrace: error: element_string: expected a GS1 Application Identifier, got"
    )


def test_link_builds_a_digital_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gs1", "link", "(01)09506000134352(17)281130(10)L1(21)S/1"]) == 0
    assert capsys.readouterr().out == (
        "https://id.gs1.org/01/09506000134352/10/L1/21/S%2F1?17=281130\n"
    )


def test_link_refuses_what_a_digital_link_cannot_carry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["gs1", "link", "(01)12312312312326(22)ABC(10)DEF(235)TPX9526064"]) == 2
    assert capsys.readouterr().err == (
        "serialtrace: error: digital_link: expected AIs a Digital Link with primary key "
        "AI (01) can carry, got AI (235) cannot be expressed\n"
    )


def test_ai_shows_dictionary_entries(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = run(capsys, "ai", "01", "37")
    assert code == 0
    entries = doc["entries"]
    assert isinstance(entries, list)
    assert entries[0]["rules"] == ["ex=255,37"]
    assert entries[0]["digital_link_qualifiers"] == [["22", "10", "21"], ["235"]]
    assert entries[1]["rules"] == ["req=00+02,00+8026"]


def test_dictionary_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gs1", "dictionary", "--check"]) == 0
    assert "matches" in capsys.readouterr().out
