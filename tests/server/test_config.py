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
        if name.startswith(("SERIALTRACE_SERVER", "SERIALTRACE_QA_")):
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
        "colour: unknown setting (typo?)",
    ]
    assert str(caught.value).startswith(f"invalid configuration {config} (4 problems):\n  - ")
    assert "got 12" not in str(caught.value)


def test_one_problem_is_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, db_url="mysql://x")
    assert str(caught.value) == "db_url: expected a sqlite:// or postgresql:// URL, got 'mysql://x'"
    assert caught.value.problems == [str(caught.value)]


def test_each_source_wins_over_the_ones_below(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Arguments > SERIALTRACE_SERVER__KEY > SERIALTRACE_SERVER_KEY > file > defaults."""
    config = tmp_path / "server.toml"
    config.write_text("port = 9000\npage_size_max = 50\ntoken_ttl_seconds = 600\n")
    monkeypatch.setenv("SERIALTRACE_SERVER_PAGE_SIZE_MAX", "60")
    monkeypatch.setenv("SERIALTRACE_SERVER_TOKEN_TTL_SECONDS", "700")
    monkeypatch.setenv("SERIALTRACE_SERVER__TOKEN_TTL_SECONDS", "800")
    settings = load_settings(config, port=9001)
    assert settings.port == 9001  # argument over file
    assert settings.page_size_max == 60  # older environment name over file
    assert settings.token_ttl_seconds == 800  # new environment name over the older one
    assert settings.max_payload_bytes == 1024 * 1024  # default
    assert load_settings(config).port == 9000


def test_the_settings_class_alone_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.config import ServerSettings

    monkeypatch.setenv("SERIALTRACE_SERVER_PORT", "9200")
    monkeypatch.setenv("SERIALTRACE_SERVER__HOST", "::1")
    settings = ServerSettings()
    assert (settings.host, settings.port) == ("::1", 9200)
    assert ServerSettings(port=9300).port == 9300


def test_qa_settings_are_server_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The complaint SLA and dashboard keys are ``qa_*`` keys of the server, named like every
    other key; the older SERIALTRACE_QA_<KEY> is still read, below the new name."""
    from datetime import timedelta

    config = tmp_path / "server.toml"
    config.write_text("[server]\nqa_first_response_hours = 12\nqa_resolution_hours = 36\n")
    monkeypatch.setenv("SERIALTRACE_QA_RESOLUTION_HOURS", "30")
    monkeypatch.setenv("SERIALTRACE_QA_AT_RISK_FRACTION", "0.5")
    monkeypatch.setenv("SERIALTRACE_SERVER__QA_AT_RISK_FRACTION", "0.6")
    monkeypatch.setenv("SERIALTRACE_QA_DB_URL", "sqlite:///not-a-qa-key.db")
    settings = load_settings(config)
    qa = settings.qa()
    assert qa.first_response_hours == 12  # file
    assert qa.resolution_hours == 30  # the older environment name over the file
    assert qa.at_risk_fraction == 0.6  # the new name over the older one
    assert qa.satisfaction_target == 0.90  # default
    assert settings.db_url == "sqlite:///serialtrace.db"  # SERIALTRACE_QA_ names QA keys only
    policy = qa.policy()
    assert (policy.first_response, policy.resolution) == (timedelta(hours=12), timedelta(hours=30))


def test_qa_problems_name_the_server_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIALTRACE_SERVER__QA_AT_RISK_FRACTION", "1.5")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.problems == ["qa_at_risk_fraction: Input should be less than 1, got '1.5'"]


def test_keys_beside_the_server_table_are_refused(tmp_path: Path) -> None:
    """With a [server] table, a key left at top level would be ignored: it is a problem."""
    config = tmp_path / "server.toml"
    config.write_text('port = 9000\n[server]\ndb_url = "sqlite:///x.db"\nprot = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        "port: unknown setting beside the [server] table (put it in the table)",
        "prot: unknown setting (typo?)",
    ]
