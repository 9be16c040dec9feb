"""``serialtrace bench faults``: every fault scenario at full size on one stack, with figures.

Prints one JSON line per fault as it finishes (its figures: printed, edge and server units,
lost, wrong parents, false rejects, empty cases labelled, alarm delays, seconds), then a table.
Exit code 0 when every goal held, 1 when one did not (the table says which), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from serialtrace.faults.processes import SmallDisk
from serialtrace.faults.scenarios import ALARM_S, NEEDS_DISKS, SCENARIOS, FaultRun, run_fault
from serialtrace.faults.stack import FaultStack

FULL_UNITS = 2000
FULL_RATE = 600.0


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="serialtrace bench faults",
        description="Inject each fault during a batch on the whole system (Mosquitto, "
        "serialtrace server, serialtrace edge run, the simulated line) and compare printed "
        "labels, edge records and server records unit by unit.",
    )
    parse.add_argument(
        "--units", type=int, default=FULL_UNITS, help=f"units per batch (default {FULL_UNITS})"
    )
    parse.add_argument(
        "--rate",
        type=float,
        default=FULL_RATE,
        help=f"PLC triggers a minute (default {FULL_RATE:g})",
    )
    parse.add_argument(
        "--kills", type=int, default=3, help="how often the kill faults kill (default 3)"
    )
    parse.add_argument(
        "--only",
        action="append",
        metavar="FAULT",
        help=f"run only this fault (repeatable): {', '.join(SCENARIOS)}",
    )
    parse.add_argument("--keep", action="store_true", help="keep the work folder (logs, DBs)")
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = args.only or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(
            f"serialtrace: error: --only: expected one of {', '.join(SCENARIOS)}, "
            f"got {unknown[0]!r}",
            file=sys.stderr,
        )
        return 2
    if args.units < 20:
        print(
            f"serialtrace: error: --units: expected at least 20, got {args.units}", file=sys.stderr
        )
        return 2
    if not 0 < args.rate <= 6000:
        print(
            f"serialtrace: error: --rate: expected 0 < rate <= 6000, got {args.rate}",
            file=sys.stderr,
        )
        return 2
    if args.kills < 1:
        print(
            f"serialtrace: error: --kills: expected at least 1, got {args.kills}", file=sys.stderr
        )
        return 2
    why_no_disks = SmallDisk.available()
    folder = Path(tempfile.mkdtemp(prefix="serialtrace-faults-"))
    print(json.dumps({"folder": str(folder), "units": args.units, "rate": args.rate}), flush=True)
    runs: list[FaultRun] = []
    skipped: list[str] = []
    began = time.monotonic()
    try:
        stack = FaultStack(folder, rate_per_minute=args.rate).start()
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"serialtrace: error: the fault stack did not start: {exc}", file=sys.stderr)
        return 1
    try:
        for name in names:
            if name in NEEDS_DISKS and why_no_disks is not None:
                skipped.append(name)
                print(json.dumps({"fault": name, "skipped": why_no_disks}), flush=True)
                continue
            run = run_fault(stack, name, units=args.units, kills=args.kills)
            runs.append(run)
            print(json.dumps(run.figures()), flush=True)
    finally:
        stack.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(runs, skipped))
    print(f"total {time.monotonic() - began:.0f} s")
    return 0 if all(run.ok for run in runs) else 1


def _bad(message: str) -> int:
    """Bad input: one line on stderr, exit code 2."""
    print(f"serialtrace: error: {message}", file=sys.stderr)
    return 2


def table(runs: list[FaultRun], skipped: list[str]) -> str:
    head = (
        f"{'fault':<24} {'printed':>7} {'edge':>6} {'server':>6} {'lost':>5} {'wrong':>5} "
        f"{'false':>5} {'empty':>5} {'alarm s':>12}  goals"
    )
    lines = [head, f"{'':<24} {'labels':>7} {'units':>6} {'units':>6} {'':>5} {'parent':>5} "
             f"{'rej.':>5} {'cases':>5} {f'(<= {ALARM_S:g})':>12}"]  # fmt: skip
    for run in runs:
        figures = run.figures()
        delays = ",".join("-" if d is None else f"{d:.1f}" for d in run.alarms) or "n/a"
        problems = ", ".join(f"{k} {v}" for k, v in run.missed().items())
        lines.append(
            f"{run.name:<24} {figures['printed']:>7} {figures['edge_units']:>6} "
            f"{figures['server_units']:>6} {figures['lost']:>5} {figures['wrong_parents']:>5} "
            f"{figures['false_rejects']:>5} {figures['empty_cases_labelled']:>5} {delays:>12}  "
            f"{'met' if run.ok else 'MISSED: ' + problems}"
        )
    lines.extend(f"{name:<24} skipped" for name in skipped)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
