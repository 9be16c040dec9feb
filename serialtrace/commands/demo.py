"""``serialtrace demo``: a simulated packaging line end to end (see :mod:`serialtrace.demo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from serialtrace.cli import CliError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a simulated line end to end: serialize, verify, aggregate, ship, trace",
        description="Start a broker, the trace server, the simulated devices and the edge "
        "agent; run one batch; print the reconciliation, one unit's trace and the URLs of the "
        "QA web UI and the operator HMI; keep serving until Ctrl-C (or --exit).",
    )
    parser.add_argument("--units", type=int, default=1000, help="units in the batch (1000)")
    parser.add_argument("--ppm", type=float, default=600.0, help="units per minute (600)")
    parser.add_argument(
        "--defect-rate", type=float, default=0.02, help="share of badly printed labels (0.02)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated faults")
    parser.add_argument(
        "--data", type=Path, default=Path(".demo"), help="data folder, replaced on each run"
    )
    parser.add_argument("--port", type=int, default=8700, help="trace server port (8700)")
    parser.add_argument("--hmi-port", type=int, default=8710, help="operator HMI port (8710)")
    parser.add_argument("--exit", action="store_true", help="stop after the batch")
    parser.add_argument(
        "--timeout",
        type=float,
        help="give up (naming what it waited for) after this many seconds in all "
        "(default: 600 + 3 x the batch's length at --ppm)",
    )
    parser.add_argument(
        "--gate-delay",
        type=float,
        default=1.5,
        help="seconds from the printer to the PLC's reject gate (1.5); a verdict later than "
        "this rejects the unit at the gate",
    )
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from serialtrace.demo import DemoError, DemoOptions, Stopped, run

    options = DemoOptions(
        units=args.units,
        ppm=args.ppm,
        defect_rate=args.defect_rate,
        seed=args.seed,
        data_dir=args.data,
        exit_after=args.exit,
        server_port=args.port,
        hmi_port=args.hmi_port,
        timeout=args.timeout,
        gate_delay_s=args.gate_delay,
    )
    try:
        options.check()
        summary = run(options)
    except (ValueError, DemoError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    except Stopped as exc:
        print(f"serialtrace demo: {exc}", file=sys.stderr)
        return 128 + 15
    return 0 if summary.reconciliation.get("balanced", True) else 1
