"""``serialtrace demo`` as a user runs it: Ctrl-C stops everything; a second run replaces the
first run's state."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serialtrace.services import free_port


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_ctrl_c_stops_everything_and_a_second_run_replaces_the_first(tmp_path: Path):
    data = tmp_path / "demo"
    port, hmi = free_port(), free_port()
    command = [sys.executable, "-m", "serialtrace", "demo", "--units", "20", "--data", str(data),
               "--port", str(port), "--hmi-port", str(hmi)]  # fmt: skip
    env = {**os.environ, "COLUMNS": "120"}
    demo = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert demo.stdout is not None
    lines = []
    deadline = time.monotonic() + 180
    for line in demo.stdout:
        lines.append(line)
        if "Serving until Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert any("Serving until Ctrl-C" in line for line in lines), "".join(lines)
    children = _children(demo.pid)
    assert children, "the demo runs its broker and trace server as child processes"
    assert _listening(port) and _listening(hmi)

    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=60) == 0, "".join(lines) + demo.stdout.read()
    assert not _listening(port) and not _listening(hmi)
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()

    again = subprocess.run(
        [*command, "--exit"], capture_output=True, text=True, timeout=180, env=env
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "balanced     │ True" in again.stdout
    # The first run's store was replaced, not added to: only the second batch's units.
    with sqlite3.connect(data / "server.sqlite") as store:
        assert store.execute("SELECT count(*) FROM batches").fetchone() == (1,)
        units = store.execute("SELECT count(*) FROM units").fetchone()[0]
    assert 15 <= units <= 20
