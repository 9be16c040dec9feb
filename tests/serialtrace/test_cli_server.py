"""``serialtrace server`` sub-commands."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from serialtrace.cli import main
from server.store import create_store_engine, read_transaction
from server.store.migrate import head_revision
from server.store.schema import audit_trail, users
from tests.support.services import free_port


def test_migrate_and_user_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'trace.db'}"
    assert main(["server", "migrate", "--db", url]) == 0
    assert capsys.readouterr().out == f"store at revision {head_revision()}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough secret\n"))
    assert (
        main(["server", "user", "add", "ann", "--role", "qa", "--password-stdin", "--db", url]) == 0
    )
    assert capsys.readouterr().out == "user 'ann' added with role qa\n"
    engine = create_store_engine(url)
    with read_transaction(engine) as conn:
        assert conn.execute(select(users.c.username, users.c.role)).one() == ("ann", "qa")
        entry = conn.execute(select(audit_trail.c.action, audit_trail.c.entity_key)).one()
    engine.dispose()
    assert tuple(entry) == ("user_add", "ann")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        main(["server", "user", "add", "bob", "--role", "qa", "--password-stdin", "--db", url]) == 2
    )
    assert capsys.readouterr().err == (
        "serialtrace: error: password: expected at least 12 characters, got 5\n"
    )


def test_bad_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["server", "migrate", "--db", "mysql://x"]) == 2
    assert capsys.readouterr().err == (
        "serialtrace: error: db_url: expected a sqlite:// or postgresql:// URL, got 'mysql://x'\n"
    )


def test_help_lists_the_sub_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["server", "--help"])
    out = capsys.readouterr().out
    assert "migrate" in out and "--mqtt" in out and "--share-group" in out


@pytest.mark.timeout(60)  # (a server that took the URL would run until stopped)
def test_a_password_in_the_broker_url_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The process list would show it: the password goes in the secrets file or env."""
    url = f"sqlite:///{tmp_path / 'trace.db'}"
    mqtt = "mqtts://trace1:s3cret@127.0.0.1:8883"
    assert main(["server", "--db", url, "--mqtt", mqtt, "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err == (
        "serialtrace: error: --mqtt: expected a broker URL without a password (the process "
        "list shows it to every user), got 'mqtts://trace1:***@127.0.0.1:8883'; give the "
        "password in the secrets file (--mqtt-secrets FILE) or the environment "
        "(SERIALTRACE_SERVER__MQTT_PASSWORD)\n"
    )
    assert not (tmp_path / "trace.db").exists()  # refused before anything started
