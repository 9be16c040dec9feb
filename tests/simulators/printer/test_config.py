from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from simulators.printer import FaultConfig, LabelFaultRule, PrinterSimConfig, VirtualPrinter
from simulators.printer.faults import LineNoise


def test_config_file_with_faults(tmp_path: Path) -> None:
    path = tmp_path / "printer.toml"
    path.write_text(
        "[printer]\nbaudrate = 9600\nbuffer_capacity = 4\n"
        "[printer.faults]\nribbon_out_after = 5\nline_noise = 0.01\nseed = 3\n"
        "[printer.faults.label.smudge]\nevery = 10\n"
        "[printer.faults.label.missed]\nlabels = [2, 4]\n"
    )
    config = PrinterSimConfig.load(path)
    assert (config.baudrate, config.buffer_capacity) == (9600, 4)
    assert config.faults.ribbon_out_after == 5 and config.faults.line_noise == 0.01
    assert config.faults.label == {
        "smudge": LabelFaultRule(every=10),
        "missed": LabelFaultRule(labels=frozenset({2, 4})),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"ribbon_out": 3},
            "faults: expected keys from ['head_open', 'label', 'line_noise',"
            " 'paper_out_after', 'paused', 'ribbon_out_after', 'seed'], got ['ribbon_out']",
        ),
        ({"ribbon_out_after": -1}, "faults.ribbon_out_after: expected an integer >= 0, got -1"),
        ({"line_noise": 2}, "faults.line_noise: expected a probability 0..1, got 2"),
        (
            {"label": {"blur": {}}},
            "faults.label: expected one of ('missed', 'smudge', 'void',"
            " 'low_contrast', 'skew'), got 'blur'",
        ),
        (
            {"label": {"void": {"every": 0}}},
            "faults.label.void.every: expected an integer >= 1, got 0",
        ),
    ],
)
def test_fault_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        FaultConfig.from_mapping(data)
    assert str(error.value) == message


def test_printer_config_errors() -> None:
    with pytest.raises(ValueError) as error:
        PrinterSimConfig.from_mapping({"dpi": 0})
    assert str(error.value) == "printer.dpi: expected an integer >= 1, got 0"


def test_the_language_is_zpl_or_dpl() -> None:
    assert PrinterSimConfig.from_mapping({"language": "dpl"}).language == "dpl"
    with pytest.raises(ValueError) as error:
        PrinterSimConfig.from_mapping({"language": "epl"})
    assert str(error.value) == "printer.language: expected one of ['zpl', 'dpl'], got 'epl'"
    with pytest.raises(ValueError, match=r"printer\.language: expected one of"):
        VirtualPrinter(PrinterSimConfig(language="epl"))


def test_line_noise_corrupts_about_the_rate_asked() -> None:
    noise = LineNoise(0.01, random.Random(1))
    data = bytes(100_000)
    changed = sum(a != b for a, b in zip(data, noise(data), strict=True))
    assert 800 < changed < 1200
    assert LineNoise(0.0, random.Random(1))(b"^XA") == b"^XA"
