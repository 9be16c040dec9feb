"""The simulators read the environment as every part does: ``SERIALTRACE_SIM__<KEY>``, the
older ``SERIALTRACE_<KEY>`` still read, the new name winning."""

from __future__ import annotations

import argparse

import pytest

from simulators.env import SimulatorSettings
from simulators.plc.cli import register


def test_one_syntax_and_the_older_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERIALTRACE_MQTT_SECRETS", raising=False)
    monkeypatch.delenv("SERIALTRACE_SIM__MQTT_SECRETS", raising=False)
    assert SimulatorSettings().mqtt_secrets is None
    monkeypatch.setenv("SERIALTRACE_MQTT_SECRETS", "/old")
    assert SimulatorSettings().mqtt_secrets == "/old"
    monkeypatch.setenv("SERIALTRACE_SIM__MQTT_SECRETS", "/new")
    assert SimulatorSettings().mqtt_secrets == "/new"
    assert SimulatorSettings(mqtt_secrets="/arg").mqtt_secrets == "/arg"  # an argument wins
    monkeypatch.setenv("SERIALTRACE_SIM__MQTT_SECRETS", "")  # empty: unset
    assert SimulatorSettings().mqtt_secrets == "/old"
    monkeypatch.setenv("SERIALTRACE_MQTT_SECRETS", "")
    assert SimulatorSettings().mqtt_secrets is None


def test_the_settings_are_one_model_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other ``SERIALTRACE_…`` variables (the edge's, the server's) are not the simulators'."""
    monkeypatch.setenv("SERIALTRACE_SIM__COLOUR", "red")
    monkeypatch.setenv("SERIALTRACE_SERVER__DB_URL", "sqlite:///x.db")
    assert set(SimulatorSettings().model_dump()) == {"mqtt_secrets"}


def test_the_plc_takes_its_secrets_file_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERIALTRACE_MQTT_SECRETS", raising=False)
    monkeypatch.setenv("SERIALTRACE_SIM__MQTT_SECRETS", "/etc/plc.toml")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plc", "--site", "s", "--line", "l"])
    assert args.mqtt_secrets == "/etc/plc.toml"
