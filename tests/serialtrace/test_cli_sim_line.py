"""``serialtrace sim line`` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.services import Broker

COMMAND = [sys.executable, "-m", "serialtrace", "sim", "line"]


def test_sim_line_prints_endpoints_runs_the_belt_and_stops(mosquitto: Broker):
    done = subprocess.run(
        [*COMMAND, "--mqtt", mosquitto.url, "--units", "3"],
        env={
            **os.environ,
            "SERIALTRACE_MQTT_SECRETS": str(mosquitto.secrets("plc", "plant1", "line1")),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["scenario"] == "normal"
    assert lines[0]["printer"].startswith("/dev/pts/")
    assert lines[0]["mqtt"] == mosquitto.url
    assert lines[-1]["final"]["gate"]["triggered"] == 3


def test_sim_line_refuses_an_unknown_scenario_in_one_line():
    done = subprocess.run(
        [*COMMAND, "--scenario", "nope"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("serialtrace: error: scenario: expected a TOML file or one of")


def test_sim_line_refused_by_the_broker_says_why_in_one_line(mosquitto: Broker):
    """No credentials: the secured broker refuses the PLC, and the command says so."""
    done = subprocess.run(
        [*COMMAND, "--mqtt", mosquitto.url, "--units", "3"],
        env={k: v for k, v in os.environ.items() if k != "SERIALTRACE_MQTT_SECRETS"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        "serialtrace: error: --mqtt: TLS: the broker's certificate is not trusted"
    )
