"""Broker links: URLs with or without credentials, secrets files, what a log line may say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epcis.broker import (
    BrokerLink,
    command_line_url_problem,
    load_secrets,
    refusal,
    write_secrets,
)
from epcis.errors import BrokerLinkError


def test_urls_with_and_without_credentials() -> None:
    """The issue: `mqtt://user:pw@host` dropped the credentials; `mqtts://` failed."""
    link = BrokerLink.parse("mqtt://trace:s%40cret@broker:1884")
    assert (link.host, link.port, link.tls) == ("broker", 1884, False)
    assert (link.username, link.password) == ("trace", "s@cret")
    tls = BrokerLink.parse("mqtts://broker", ca_file="/ca.crt")
    assert (tls.port, tls.tls, tls.ca_file) == (8883, True, "/ca.crt")
    assert BrokerLink.parse("mqtt://h").port == 1883
    override = BrokerLink.parse("mqtt://u:p@h", username="v", password="q")
    assert (override.username, override.password) == ("v", "q")


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        (
            "http://x",
            {},
            "mqtt_url: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got 'http://x'",
        ),
        (
            "mqtt://u:pw@x:99999",
            {},
            "mqtt_url: expected a port number in 1..65535, got 'mqtt://u:***@x:99999'",
        ),
        (
            "mqtt://x",
            {"ca_file": "/ca"},
            "mqtt_url: a CA or client certificate needs mqtts://, got 'mqtt://x'",
        ),
        (
            "mqtts://x",
            {"cert_file": "/c"},
            "mqtt_url: expected both a client certificate and its key, got only one",
        ),
    ],
)
def test_bad_links_are_refused_naming_the_field(
    url: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(BrokerLinkError) as caught:
        BrokerLink.parse(url, **options)
    assert str(caught.value) == message


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40))
def test_the_password_never_shows(password: str) -> None:
    link = BrokerLink("broker", 8883, True, "line/s/l", password)
    assert link.redacted() == "mqtts://line/s/l@broker:8883"
    assert link.url == "mqtts://broker:8883"
    assert "password" not in repr(link)  # the field is left out of the repr


def test_secrets_files_win_and_must_be_private(tmp_path: Path) -> None:
    secrets = tmp_path / "line.toml"
    write_secrets(
        secrets,
        {"url": "mqtts://b:8883", "username": "line/a/b", "password": 'p"w\\', "ca_file": "/ca"},
    )
    assert oct(os.stat(secrets).st_mode & 0o777) == "0o600"
    link = BrokerLink.parse("mqtt://ignored", username="x", password="y", secrets_file=secrets)
    assert (link.url, link.username, link.password, link.ca_file) == (
        "mqtts://b:8883",
        "line/a/b",
        'p"w\\',
        "/ca",
    )
    secrets.chmod(0o640)
    with pytest.raises(BrokerLinkError, match=r"expected mode 0600 \(its owner only\), got 0640"):
        load_secrets(secrets)
    secrets.chmod(0o600)
    secrets.write_text('password = "p"\ntoken = "t"\n')
    with pytest.raises(BrokerLinkError, match=r"unknown keys \['token'\]"):
        load_secrets(secrets)
    with pytest.raises(BrokerLinkError, match="cannot read"):
        load_secrets(tmp_path / "missing.toml")


def test_refusals_that_retrying_cannot_cure() -> None:
    assert refusal(0x86) == "broker refused the connection: bad user name or password (0x86)"
    assert refusal(0x87) == "broker refused the connection: not authorized (0x87)"
    assert refusal(0x88) is None  # server unavailable: try again
    assert refusal("x") is None


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        (None, False),
        ("mqtts://127.0.0.1:8883", False),
        ("mqtts://line%2Fplant1%2Fline3@127.0.0.1:8883", False),  # a username is no secret
        ("mqtt://u:@host", False),  # an empty password
        ("mqtts://u:s3cret@host:8883", True),
        ("mqtt://:s3cret@host", True),
        ("not a url", False),  # BrokerLink.parse names what is wrong with it
    ],
)
def test_a_password_in_a_command_line_url_is_refused(url: str | None, refused: bool) -> None:
    problem = command_line_url_problem(url, "--mqtt", "the secrets file")
    assert (problem is not None) is refused
    if problem is not None:
        assert problem.startswith("--mqtt: expected a broker URL without a password")
        assert "s3cret" not in problem and "***" in problem
        assert problem.endswith("; give the password in the secrets file")
