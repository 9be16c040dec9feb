"""The simulators read the environment as every part does: ``SERIALTRACE_SIM__<KEY>``, the
older ``SERIALTRACE_<KEY>`` still read, the new name winning."""

from __future__ import annotations

import argparse

import pytest

from simulators.env import setting
from simulators.plc.cli import register


def test_one_syntax_and_the_older_name() -> None:
    assert setting("mqtt_secrets", {}) is None
    assert setting("mqtt_secrets", {"SERIALTRACE_MQTT_SECRETS": "/old"}) == "/old"
    both = {"SERIALTRACE_MQTT_SECRETS": "/old", "SERIALTRACE_SIM__MQTT_SECRETS": "/new"}
    assert setting("mqtt_secrets", both) == "/new"
    assert setting("mqtt_secrets", {"SERIALTRACE_SIM__MQTT_SECRETS": ""}) is None


def test_the_plc_takes_its_secrets_file_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERIALTRACE_MQTT_SECRETS", raising=False)
    monkeypatch.setenv("SERIALTRACE_SIM__MQTT_SECRETS", "/etc/plc.toml")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plc", "--site", "s", "--line", "l"])
    assert args.mqtt_secrets == "/etc/plc.toml"
