"""``serialtrace bench NAME``: benchmarks by name, and the fault suite's arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serialtrace.cli import main

COMMAND = [sys.executable, "-m", "serialtrace", "bench"]


def test_list_names_the_benchmarks_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"edge", "server", "faults"} <= set(names)
    assert names == sorted(names)


def test_a_benchmark_runs_by_name_with_its_arguments_and_exit_code(tmp_path: Path) -> None:
    (tmp_path / "echo_args.py").write_text("import sys\nprint('args', sys.argv[1:])\nsys.exit(3)\n")
    done = subprocess.run(
        [*COMMAND, "echo_args", "--quick", "7"],
        env={**os.environ, "SERIALTRACE_BENCHMARKS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "args ['--quick', '7']\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "nope"], "serialtrace: error: NAME: expected one of "),
        (["bench", "../edge"], "serialtrace: error: NAME: expected one of "),
        (["bench"], "serialtrace: error: NAME: expected one of "),
        (
            ["bench", "faults", "--units", "5"],
            "serialtrace: error: --units: expected at least 20, got 5",
        ),
        (
            ["bench", "faults", "--only", "nope"],
            "serialtrace: error: --only: expected one of no-fault, ",
        ),
        (
            ["bench", "faults", "--rate", "0"],
            "serialtrace: error: --rate: expected 0 < rate <= 6000, got 0.0",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1
