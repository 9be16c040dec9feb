"""``serialtrace sim plc``: a conveyor PLC that triggers units and runs the reject gate."""

from __future__ import annotations

import argparse
import json
import sys
import time

from epcis.broker import command_line_url_problem
from simulators import env
from simulators.plc.conveyor import Conveyor


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plc",
        help="virtual line PLC: unit triggers and a fail-safe reject gate over MQTT",
        description=(
            "Send a trigger per unit on serialtrace/v1/SITE/LINE/plc/trigger at a set rate and "
            "sort units at the reject gate by the agent's accept/reject verdicts."
        ),
    )
    parser.add_argument(
        "--broker", default="mqtts://127.0.0.1:8883", help="mqtts://host:port (or mqtt://)"
    )
    parser.add_argument(
        "--mqtt-secrets",
        metavar="FILE",
        default=env.SimulatorSettings().mqtt_secrets,
        help="the PLC identity's secrets file (serialtrace broker add-plc); "
        "env SERIALTRACE_SIM__MQTT_SECRETS",
    )
    parser.add_argument("--site", required=True)
    parser.add_argument("--line", required=True)
    parser.add_argument("--rate", type=float, default=600.0, help="units per minute")
    parser.add_argument("--units", type=int, default=None, help="stop after N units")
    parser.add_argument("--gate-delay", type=float, default=1.0, help="printer to gate, seconds")
    parser.add_argument(
        "--start-batch",
        metavar="GTIN,LOT,YYMMDD,PLANNED",
        help="first send a batch start command with these values",
    )
    parser.add_argument("--every", type=float, default=5.0, help="print counts every N s")
    parser.set_defaults(handler=run)


def _batch_start(text: str) -> dict[str, object]:
    parts = text.split(",")
    if len(parts) != 4 or not parts[3].isdigit():
        raise ValueError(f"--start-batch: expected GTIN,LOT,YYMMDD,PLANNED, got {text!r}")
    gtin, lot, expiry, planned = parts
    return {"command": "start", "gtin": gtin, "lot": lot, "expiry": expiry, "planned": int(planned)}


def _error(message: str) -> int:
    print(f"serialtrace: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    problem = command_line_url_problem(
        args.broker,
        "--broker",
        "the secrets file (--mqtt-secrets FILE or SERIALTRACE_SIM__MQTT_SECRETS)",
    )
    if problem is not None:
        return _error(problem)
    try:
        conveyor = Conveyor(
            args.broker,
            args.site,
            args.line,
            rate_per_minute=args.rate,
            gate_delay_s=args.gate_delay,
            secrets_file=args.mqtt_secrets,
        )
        start = _batch_start(args.start_batch) if args.start_batch else None
    except ValueError as exc:
        return _error(str(exc))
    conveyor.start()
    try:
        if not conveyor.wait_connected(10):
            why = conveyor.refused or f"no connection to {conveyor.link.redacted()} within 10 s"
            return _error(f"--broker: {why}")
        if start is not None:
            conveyor.send_batch(start)
            time.sleep(0.5)
        conveyor.run(args.units)
        while True:
            done = conveyor.wait_done(args.every)
            print(json.dumps({"counts": conveyor.counts(), "stop": conveyor.stop_reason}))
            sys.stdout.flush()
            if done and args.units is not None:
                return 0
    except KeyboardInterrupt:
        return 130
    finally:
        conveyor.close()
