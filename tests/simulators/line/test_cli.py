"""``serialtrace sim line`` on the command line: what it refuses."""

from __future__ import annotations

import pytest

from serialtrace.cli import main


def test_a_password_in_the_broker_url_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The process list would show it: the PLC's password goes in its secrets file."""
    assert main(["sim", "line", "--mqtt", "mqtts://plc:s3cret@127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "serialtrace: error: --mqtt: expected a broker URL without a password (the process "
        "list shows it to every user), got 'mqtts://plc:***@127.0.0.1:1'; give the password "
        "in the secrets file (--mqtt-secrets FILE or SERIALTRACE_SIM__MQTT_SECRETS)\n"
    )
