"""``serialtrace sim line``: the devices of a whole line, for a controller of your own."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import time
from pathlib import Path

from epcis.broker import command_line_url_problem
from simulators import env
from simulators.line.line import LineSimulator
from simulators.line.scenario import SCENARIO_DIR, Scenario, ScenarioError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
    parser = subparsers.add_parser(
        "line",
        help="a whole simulated line: printer, camera, case printer and scanner, PLC",
        description="Start the simulated devices of one packaging line and print where a line "
        "controller connects to each (JSON). The PLC conveyor triggers units on the line's "
        "MQTT topics once started (--run) and sorts them at its reject gate.",
    )
    parser.add_argument(
        "--scenario", default="normal", help=f"a scenario TOML file or one of: {known}"
    )
    parser.add_argument("--mqtt", default="mqtts://127.0.0.1:8883", help="broker URL")
    parser.add_argument(
        "--mqtt-secrets",
        metavar="FILE",
        default=env.SimulatorSettings().mqtt_secrets,
        help="the line PLC identity's secrets file (serialtrace broker add-plc); "
        "env SERIALTRACE_SIM__MQTT_SECRETS",
    )
    parser.add_argument("--frames", type=Path, help="folder for camera frames (default: temp)")
    parser.add_argument("--run", action="store_true", help="start the conveyor at once")
    parser.add_argument("--units", type=int, help="stop the conveyor after N units")
    parser.set_defaults(handler=run_line)


def _error(message: str) -> int:
    """Bad input: one line on stderr and exit code 2, as every serialtrace command does
    (a simulator speaks the devices' protocols and imports nothing of the command)."""
    print(f"serialtrace: error: {message}", file=sys.stderr)
    return 2


def run_line(args: argparse.Namespace) -> int:
    problem = command_line_url_problem(
        args.mqtt,
        "--mqtt",
        "the secrets file (--mqtt-secrets FILE or SERIALTRACE_SIM__MQTT_SECRETS)",
    )
    if problem is not None:
        return _error(problem)
    try:
        scenario = Scenario.load(args.scenario)
    except ScenarioError as exc:
        return _error(str(exc))
    if args.units is not None and args.units < 1:
        return _error(f"--units: expected a whole number >= 1, got {args.units}")
    camera = scenario.camera
    if camera.output == "queue" or args.frames:  # another process can't read our queue
        camera = dataclasses.replace(camera, output="folder", folder=args.frames)
        scenario = dataclasses.replace(scenario, camera=camera)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        simulator = LineSimulator(scenario, args.mqtt, secrets_file=args.mqtt_secrets)
    except ValueError as exc:
        return _error(str(exc))
    with simulator as line:
        if not line.conveyor.wait_connected(10):
            why = line.conveyor.refused or f"no broker answered at {line.conveyor.link.redacted()}"
            return _error(f"--mqtt: {why}")
        print(json.dumps({"scenario": scenario.name, **line.endpoints().as_dict()}), flush=True)
        if args.run or args.units:
            line.conveyor.run(args.units)
        next_report = time.monotonic() + 5.0
        try:
            while not stop.wait(0.2):
                if args.units and line.conveyor.wait_done(0.05):
                    break
                if time.monotonic() >= next_report:
                    next_report += 5.0
                    print(json.dumps({"at": round(time.time(), 3), **line.counts()}), flush=True)
        except KeyboardInterrupt:
            pass
        print(json.dumps({"final": line.counts()}), file=sys.stdout, flush=True)
    return 0
