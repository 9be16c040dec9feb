"""Server settings: one environment syntax (``SERIALTRACE_SERVER__KEY``, the older
``SERIALTRACE_SERVER_KEY`` still read), every problem listed at once, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import load_settings
from server.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SERIALTRACE_SERVER"):
            monkeypatch.delenv(name)


def test_the_environment_names_keys_like_every_other_part(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[server]\ndb_url = "sqlite:///from-file.db"\nport = 9000\n')
    monkeypatch.setenv("SERIALTRACE_SERVER__PORT", "9100")
    monkeypatch.setenv("SERIALTRACE_SERVER__MQTT_PASSWORD", "s3cret")
    settings = load_settings(config)
    assert (settings.port, settings.mqtt_password) == (9100, "s3cret")
    assert settings.db_url == "sqlite:///from-file.db"


def test_the_older_names_still_work_and_the_new_ones_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIALTRACE_SERVER_PORT", "9200")
    monkeypatch.setenv("SERIALTRACE_SERVER_DB_URL", "sqlite:///old.db")
    settings = load_settings(None)
    assert (settings.port, settings.db_url) == (9200, "sqlite:///old.db")
    assert "db_url" in settings.model_fields_set  # given: no default store in the current folder
    monkeypatch.setenv("SERIALTRACE_SERVER__PORT", "9300")
    assert load_settings(None).port == 9300
    assert load_settings(None, port=9400).port == 9400  # the command line wins


def test_every_problem_is_listed_and_secrets_are_hidden(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('port = "high"\ncolour = "red"\nmqtt_password = 12\ndb_url = "mysql://x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problems = caught.value.problems
    assert problems == [
        "db_url: expected a sqlite:// or postgresql:// URL, got 'mysql://x'",
        "mqtt_password: Input should be a valid string, got (hidden)",
        "port: Input should be a valid integer, unable to parse string as an integer, got 'high'",
        "colour: Extra inputs are not permitted, got 'red'",
    ]
    assert str(caught.value).startswith(f"invalid configuration {config} (4 problems):\n  - ")
    assert "got 12" not in str(caught.value)


def test_one_problem_is_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, db_url="mysql://x")
    assert str(caught.value) == "db_url: expected a sqlite:// or postgresql:// URL, got 'mysql://x'"
    assert caught.value.problems == [str(caught.value)]
