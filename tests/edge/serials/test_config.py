"""The ``[serials]`` settings of an authority line: every problem named, passwords kept out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, parse_config
from edge.wiring import WiringError, authority_password
from tests.edge.agent.line import line_config


def config(tmp_path: Path, **serials: Any) -> dict[str, Any]:
    return line_config(tmp_path, "mqtt://127.0.0.1:1883", extra={"serials": serials})


@pytest.mark.parametrize(
    ("serials", "problems"),
    [
        ({"authority_url": "https://a.example:8443"},
         ["serials.authority_user: required with serials.authority_url (the line's device "
          "identity at the authority), missing"]),
        ({"authority_url": "ftp://a", "authority_user": "l"},
         ["serials.authority_url: expected http(s)://host[:port], got 'ftp://a'"]),
        ({"buffer_hours": 2, "low_water_hours": 3},
         ["serials.low_water_hours: expected at most serials.buffer_hours (2), got 3"]),
        ({"buffer_hours": 0}, ["serials.buffer_hours: Input should be greater than 0"]),
        ({"pool_size": 0},
         ["serials.pool_size: Input should be greater than or equal to 1, got 0"]),
    ],
)  # fmt: skip
def test_authority_settings_are_checked(
    tmp_path: Path, serials: dict[str, Any], problems: list[str]
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(config(tmp_path, **serials))
    assert error.value.problems == problems


def test_the_password_comes_from_an_owner_only_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = tmp_path / "pw"
    password.write_text("s3cret line\n")
    password.chmod(0o644)
    raw = config(tmp_path, authority_url="https://a:1", authority_user="l",
                 authority_password_file=str(password))  # fmt: skip
    with pytest.raises(WiringError) as error:
        authority_password(parse_config(raw))
    assert str(error.value) == (
        f"serials.authority_password_file: expected mode 0600 (owner only), got 0644 on "
        f"'{password}'"
    )
    os.chmod(password, 0o600)
    assert authority_password(parse_config(raw)) == "s3cret line"
    monkeypatch.delenv("SERIALTRACE_AUTHORITY_PASSWORD", raising=False)
    bare = parse_config(config(tmp_path, authority_url="https://a:1", authority_user="l"))
    with pytest.raises(WiringError, match=r"^SERIALTRACE_AUTHORITY_PASSWORD: expected the line"):
        authority_password(bare)
    monkeypatch.setenv("SERIALTRACE_AUTHORITY_PASSWORD", "from the environment")
    assert authority_password(bare) == "from the environment"
