"""Checked before running (issue 17): ``edge check``, ``edge run`` and ``server`` name every
missing folder, unreadable or too open file, port in use and unreachable device in one line
each, before anything starts; no command creates a store in the current folder unasked."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serialtrace.cli import main
from serialtrace.preflight import (
    check_server,
    connect_problem,
    folder_problem,
    listen_problem,
    readable_file_problem,
    serial_port_problem,
    writable_file_problem,
)
from server.config import load_settings
from tests.edge.agent.line import KEY, line_config, write_config
from tests.support.services import free_port


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something listens on (a printer, a broker, or a port already taken)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def ready_edge(tmp_path: Path, listener: int, **changes: dict[str, Any]) -> dict[str, Any]:
    """An edge configuration whose every folder, file, device and port is there."""
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    raw = line_config(
        tmp_path / "data",
        f"mqtt://127.0.0.1:{listener}",
        printer_url=f"socket://127.0.0.1:{listener}",
        camera_url=str(frames),
        api_port=free_port(),
    )
    raw["mqtt"].update(username="line/plant1/line3", password="pw")
    for section, values in changes.items():
        raw[section].update(values)
    return raw


# -- the building blocks --------------------------------------------------------------------


def test_folder_and_file_problems_name_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert folder_problem("agent.data_dir", missing) == (
        f"agent.data_dir: expected an existing folder, got {str(missing)!r} (no such folder)"
    )
    (tmp_path / "file").write_text("x")
    assert folder_problem("agent.data_dir", tmp_path / "file") == (
        f"agent.data_dir: expected a folder, got {str(tmp_path / 'file')!r} (not a folder)"
    )
    assert folder_problem("agent.data_dir", tmp_path) is None
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o640)
    assert readable_file_problem("k", secret, secret=True) == (
        f"k: expected mode 0600 (owner only), got 0640 on {str(secret)!r}"
    )
    secret.chmod(0o600)
    assert readable_file_problem("k", secret, secret=True) is None
    assert readable_file_problem("k", missing) == (
        f"k: expected an existing file, got {str(missing)!r} (no such file)"
    )
    assert writable_file_problem("db", tmp_path / "new.db") is None
    assert writable_file_problem("db", missing / "new.db") == (
        f"db: expected a file in an existing folder, got {str(missing / 'new.db')!r} (no folder)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_a_problem(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        assert folder_problem("x", tmp_path) is not None
        assert writable_file_problem("y", tmp_path / "f") is not None
    finally:
        tmp_path.chmod(0o700)


def test_ports_and_peers(listener: int) -> None:
    assert listen_problem("api.port", "127.0.0.1", listener) == (
        f"api.port: cannot listen on 127.0.0.1:{listener} (in use)"
    )
    assert listen_problem("api.port", "127.0.0.1", free_port()) is None
    assert connect_problem("mqtt.url", "x", "127.0.0.1", listener) is None
    port = closed_port()
    problem = connect_problem("mqtt.url", f"mqtt://127.0.0.1:{port}", "127.0.0.1", port)
    assert problem is not None
    assert problem.startswith(f"mqtt.url: cannot connect to mqtt://127.0.0.1:{port} (")
    assert serial_port_problem("p", "/dev/ttyNOPE9") == (
        "p: expected an existing serial device, got '/dev/ttyNOPE9' (no such device)"
    )
    assert serial_port_problem("p", "loop://") is None
    assert serial_port_problem("p", f"socket://127.0.0.1:{listener}") is None
    assert serial_port_problem("p", "socket://127.0.0.1") == (
        "p: expected socket://HOST:PORT, got 'socket://127.0.0.1'"
    )


# -- edge check / edge run ------------------------------------------------------------------


def test_edge_check_passes_a_ready_machine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    config = write_config(tmp_path / "line.toml", ready_edge(tmp_path, listener))
    code, out, err = run(capsys, "edge", "check", "--config", str(config))
    assert (code, err) == (0, "")
    assert out == f"{config}: valid (site plant1, line line3)\n"


def test_edge_check_lists_every_problem_of_the_machine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    open_key = tmp_path / "open.key"
    open_key.write_text(KEY.hex())
    open_key.chmod(0o644)
    printer_port, broker_port = closed_port(), closed_port()
    raw = ready_edge(
        tmp_path,
        listener,
        devices={
            "printer": {"url": f"socket://127.0.0.1:{printer_port}"},
            "camera": {"url": str(tmp_path / "no-frames")},
        },
        serials={"key_file": str(open_key)},
        mqtt={"url": f"mqtt://127.0.0.1:{broker_port}"},
        api={"port": listener},
    )
    raw["agent"]["data_dir"] = str(tmp_path / "missing")
    raw["products"][0]["unit_template"] = "my-unit.toml"
    config = write_config(tmp_path / "line.toml", raw)
    code, out, err = run(capsys, "edge", "check", "--config", str(config))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == (
        f"serialtrace: warning: mqtt.url: cannot connect to mqtt://127.0.0.1:{broker_port} "
        "(Connection refused)"
    )
    assert lines[1] == f"serialtrace: error: invalid configuration {config} (6 problems):"
    missing = tmp_path / "missing"
    assert lines[2:] == [
        f"  - agent.data_dir: expected an existing folder, got {str(missing)!r} (no such folder)",
        f"  - devices.printer.url: cannot connect to socket://127.0.0.1:{printer_port} "
        "(Connection refused)",
        "  - devices.camera.url: expected a device index, an existing folder or video file, or "
        f"a stream URL, got {str(tmp_path / 'no-frames')!r} (no such file or folder)",
        f"  - products.0.unit_template: template: cannot read {str(missing / 'my-unit.toml')!r}: "
        "No such file or directory",
        f"  - serials.key_file: serial key file {str(open_key)!r}: expected mode 0600 (owner "
        "only), got 0644",
        f"  - api.port: cannot listen on 127.0.0.1:{listener} (in use)",
    ]
    # the file itself is fine: --file-only says so
    code, out, _ = run(capsys, "edge", "check", "--config", str(config), "--file-only")
    assert code == 0 and out.endswith("valid (site plant1, line line3)\n")


def test_edge_run_refuses_a_missing_data_folder_before_starting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    """The issue: 'edge check' said valid, then 'edge run' died with sqlite3's traceback."""
    raw = ready_edge(tmp_path, listener)
    raw["agent"]["data_dir"] = str(tmp_path / "not-made")
    raw["serials"]["key_file"] = str(tmp_path / "data" / "serial.key")
    config = write_config(tmp_path / "line.toml", raw)
    code, _, err = run(capsys, "edge", "run", "--config", str(config))
    assert code == 2
    assert err == (
        f"serialtrace: error: invalid configuration {config} (1 problem):\n"
        f"  - agent.data_dir: expected an existing folder, got {str(tmp_path / 'not-made')!r} "
        "(no such folder)\n"
    )
    assert not (tmp_path / "not-made").exists()


def test_edge_run_says_in_one_line_what_the_checks_could_not_foresee(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    """A database that is not one (a restored file gone wrong): one line, no traceback."""
    raw = ready_edge(tmp_path, listener)
    (tmp_path / "data" / "edge.sqlite").write_bytes(b"this is not a database" * 100)
    config = write_config(tmp_path / "line.toml", raw)
    code, _, err = run(capsys, "edge", "run", "--config", str(config))
    assert code == 2
    assert err.startswith("serialtrace: error: edge: cannot start: ")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


# -- server ---------------------------------------------------------------------------------


def test_server_start_up_lists_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    key = tmp_path / "serials.key"
    key.write_text(KEY.hex())
    key.chmod(0o644)
    config = tmp_path / "server.toml"
    config.write_text(
        f'serials_key_file = "{key}"\n'
        f'audit_checkpoint_file = "{tmp_path / "nowhere" / "checkpoints"}"\n'
    )
    broker = closed_port()
    code, _, err = run(
        capsys,
        "server",
        "--config", str(config),
        "--db", f"sqlite:///{tmp_path / 'no-folder' / 'trace.db'}",
        "--port", str(listener),
        "--mqtt", f"mqtt://127.0.0.1:{broker}",
    )  # fmt: skip
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == (
        f"serialtrace: warning: mqtt_url: cannot connect to mqtt://127.0.0.1:{broker} "
        "(Connection refused)"
    )
    assert lines[1] == f"serialtrace: error: invalid configuration {config} (4 problems):"
    db = tmp_path / "no-folder" / "trace.db"
    assert lines[2:] == [
        f"  - db_url: expected a file in an existing folder, got {str(db)!r} (no folder)",
        f"  - port: cannot listen on 127.0.0.1:{listener} (in use)",
        f"  - serials_key_file: expected mode 0600 (owner only), got 0644 on {str(key)!r}",
        "  - audit_checkpoint_file: expected a file in an existing folder, got "
        f"{str(tmp_path / 'nowhere' / 'checkpoints')!r} (no folder)",
    ]


def test_server_start_up_passes_a_ready_machine(tmp_path: Path, listener: int) -> None:
    settings = load_settings(
        None,
        db_url=f"sqlite:///{tmp_path / 'trace.db'}",
        port=free_port(),
        mqtt_url=f"mqtt://127.0.0.1:{listener}",
    )
    found = check_server(settings)
    assert (found.problems, found.warnings) == ([], [])


def test_checkpoints_never_go_into_the_current_folder(tmp_path: Path) -> None:
    """With the audit key from the environment, the checkpoints need a file named for them
    (they used to land in the current folder)."""
    db = f"sqlite:///{tmp_path / 'trace.db'}"
    settings = load_settings(None, db_url=db, port=0, audit_key="k" * 40)
    assert check_server(settings).problems == [
        "audit_checkpoint_file: expected the file of the signed checkpoints (the key comes "
        "from the environment, so there is no key file to put them beside), got none"
    ]
    named = load_settings(
        None,
        db_url=db,
        port=0,
        audit_key="k" * 40,
        audit_checkpoint_file=str(tmp_path / "checkpoints.jsonl"),
    )
    assert check_server(named).problems == []


@pytest.mark.postgres
def test_server_start_up_connects_to_postgresql(pg_url: str) -> None:
    assert check_server(load_settings(None, db_url=pg_url, port=free_port())).problems == []
    port = closed_port()
    problems = check_server(
        load_settings(None, db_url=f"postgresql://nobody:pw@127.0.0.1:{port}/x", port=0)
    ).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        f"db_url: cannot connect to postgresql://nobody:***@127.0.0.1:{port}/x ("
    )
    assert ":pw@" not in problems[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["server", "migrate"],
        ["server", "user", "list"],
        ["qa", "drill", "--random"],
        ["qa", "completeness"],
        ["serials", "books"],
    ],
)
def test_no_command_makes_a_store_in_the_current_folder(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERIALTRACE_SERVER_DB_URL", raising=False)
    monkeypatch.delenv("SERIALTRACE_SERVER__DB_URL", raising=False)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err == (
        "serialtrace: error: db_url: expected the trace store's URL (--db URL, db_url in the "
        "--config file, or SERIALTRACE_SERVER__DB_URL), got none\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_qa_does_not_create_an_empty_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "typo.db"
    code, _, err = run(capsys, "qa", "drills", "--db", f"sqlite:///{db}")
    assert code == 2
    assert err == (
        f"serialtrace: error: db_url: expected an existing trace store, got 'sqlite:///{db}' "
        "(no such file; serialtrace server migrate --db URL makes one)\n"
    )
    assert not db.exists()
