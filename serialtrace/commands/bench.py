"""``serialtrace bench NAME [ARGS…]``: run a benchmark by name.

``NAME`` is a script of the source checkout's ``benchmarks/`` folder (``benchmarks/NAME.py``,
run with this Python and ``ARGS``; its exit code is the command's), or ``faults``: the
fault-injection suite at full size (:mod:`serialtrace.faults.bench`, part of the package, so
it runs from an installed package too). ``serialtrace bench --list`` names them.
``SERIALTRACE_BENCHMARKS`` names another benchmarks folder.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from serialtrace.cli import CliError

NAME = re.compile(r"[a-z][a-z0-9_]*")


def benchmarks_dir() -> Path:
    configured = os.environ.get("SERIALTRACE_BENCHMARKS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "benchmarks"


def available() -> list[str]:
    folder = benchmarks_dir()
    names = (
        {p.stem for p in folder.glob("*.py") if NAME.fullmatch(p.stem)}
        if folder.is_dir()
        else set()
    )
    return sorted(names | {"faults"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark by name (benchmarks/NAME.py, or faults)",
        description="Run benchmarks/NAME.py of the source checkout with ARGS, or 'faults': "
        "the fault-injection suite at full size (serialtrace bench faults --help).",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the benchmark's name")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    parser.add_argument("--list", action="store_true", help="name the benchmarks and exit")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(available()))
        return 0
    if not args.name:
        raise CliError(f"NAME: expected one of {', '.join(available())}")
    if args.name == "faults":
        from serialtrace.faults.bench import main

        return main(args.args)
    folder = benchmarks_dir()
    script = folder / f"{args.name}.py"
    if not NAME.fullmatch(args.name) or not script.is_file():
        if not folder.is_dir():
            raise CliError(
                f"NAME: no benchmarks folder at {folder} (a source checkout has one; or set "
                "SERIALTRACE_BENCHMARKS); only 'faults' runs without it"
            )
        raise CliError(f"NAME: expected one of {', '.join(available())}, got {args.name!r}")
    done = subprocess.run([sys.executable, str(script), *args.args], cwd=folder.parent)
    return done.returncode
