"""``serialtrace demo`` as a user runs it: Ctrl-C and SIGTERM stop every child; a taken port
or a data folder in use is refused with one line; runs in parallel share nothing; a second
run replaces the first run's state; the overall timeout names what it waited for."""

from __future__ import annotations

import http.server
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from serialtrace.services import free_port

ENV = {**os.environ, "COLUMNS": "120"}


def _demo(data: Path, port: int, hmi: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "serialtrace", "demo", "--data", str(data),
            "--port", str(port), "--hmi-port", str(hmi), *extra]  # fmt: skip


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


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _running_with(text: str) -> list[int]:
    """Processes whose command line mentions ``text`` (a test's own data folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _wait_for_line(log: Path, pattern: str, process: subprocess.Popen[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if re.search(pattern, text):
            return text
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in the demo's output:\n{log.read_text()}")


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop a demo a test started, the way that stops its children too (SIGTERM); SIGKILL
    only if that fails, which would orphan them."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _HtmlPage(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        _HtmlPage.requests.append(self.path)
        body = b"<html><body>not serialtrace</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[int]:
    """Another program's web server (not serialtrace) on a free 127.0.0.1 port."""
    _HtmlPage.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize("option", ["--port", "--hmi-port"])
def test_a_port_another_program_listens_on_is_refused_with_one_line(
    tmp_path: Path, html_server: int, option: str
):
    data = tmp_path / "demo"
    ports = {"--port": free_port(), "--hmi-port": free_port()}
    ports[option] = html_server
    done = subprocess.run(
        _demo(data, ports["--port"], ports["--hmi-port"], "--exit"),
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"serialtrace: error: {option} {html_server}: 127.0.0.1:")
    assert "already in use" in lines[0] and f"choose a free port with {option}" in lines[0]
    assert _HtmlPage.requests == []  # it never talked to the other program
    assert not data.exists()  # and started nothing


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_mid_batch_stops_every_child_and_the_running_demo_is_not_touched(tmp_path):
    data = tmp_path / "first"
    port, hmi = free_port(), free_port()
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(
            _demo(data, port, hmi, "--units", "200", "--ppm", "60"),
            stdout=out, stderr=subprocess.STDOUT, text=True, env=ENV,
        )  # fmt: skip
    try:
        # (the console wraps long lines: match a short piece of the order's line)
        _wait_for_line(log, r"by rule, expiry", first, timeout=400)
        children = _children(first.pid)
        assert len(children) >= 2, "the broker and the trace server are child processes"
        assert _listening(port) and _listening(hmi)

        # A second demo on the first one's trace server port (a serialtrace listener).
        second = subprocess.run(
            _demo(tmp_path / "second", port, free_port(), "--exit"),
            capture_output=True, text=True, timeout=120, env=ENV,
        )  # fmt: skip
        assert second.returncode == 2, second.stdout + second.stderr
        assert len(second.stderr.splitlines()) == 1, second.stderr
        assert second.stderr.startswith(f"serialtrace: error: --port {port}: ")
        assert not (tmp_path / "second").exists()
        # A second demo on the first one's data folder.
        third = subprocess.run(
            _demo(data, free_port(), free_port(), "--exit"),
            capture_output=True, text=True, timeout=120, env=ENV,
        )  # fmt: skip
        assert third.returncode == 2, third.stdout + third.stderr
        assert "is in use by another running demo" in third.stderr
        assert (data / "server.sqlite").exists()  # the first run's store is still there
        assert first.poll() is None, log.read_text()

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 128 + 15, log.read_text()
    finally:
        _stop(first)
    text = log.read_text()
    assert "stopped by SIGTERM" in text
    for pid in children:
        assert _gone(pid), (pid, text)
    assert not _listening(port) and not _listening(hmi)
    assert _running_with(str(data)) == []


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_demos_in_parallel_share_no_lot_and_no_password(tmp_path: Path):
    runs = []
    for name in ("a", "b"):
        log = tmp_path / f"{name}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                _demo(tmp_path / name, free_port(), free_port(), "--units", "6", "--exit"),
                stdout=out, stderr=subprocess.STDOUT, text=True, env=ENV,
            )  # fmt: skip
        runs.append((process, log))
    try:
        for process, log in runs:
            assert process.wait(timeout=800) == 0, log.read_text()
    finally:
        for process, _log in runs:
            _stop(process)
    lots, passwords = [], []
    for _process, log in runs:
        text = log.read_text()
        lots.append(re.findall(r"lot (\S+) by rule", text))
        passwords.append(re.findall(r": qa / (\S+)$", text, re.M))
    assert all(len(found) == 1 for found in lots), lots
    assert lots[0] != lots[1]
    assert all(found for found in passwords) and set(passwords[0]).isdisjoint(passwords[1])


@pytest.mark.timeout(400)
def test_the_overall_timeout_is_one_line_naming_what_it_waited_for(tmp_path: Path):
    data = tmp_path / "demo"
    done = subprocess.run(
        _demo(data, free_port(), free_port(), "--exit", "--timeout", "3"),
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("serialtrace:")]
    assert len(error) == 1, done.stderr
    assert re.fullmatch(
        r"serialtrace: error: timed out after 3 s \(the demo's overall --timeout\) "
        r"waiting for \S.*",
        error[0],
    ), error
    assert _running_with(str(data)) == []  # nothing it started is left running


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_stops_everything_and_a_second_run_replaces_the_first(tmp_path: Path):
    data = tmp_path / "demo"
    port, hmi = free_port(), free_port()
    command = _demo(data, port, hmi, "--units", "20")
    demo = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    assert demo.stdout is not None
    lines = []
    deadline = time.monotonic() + 400
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
        assert _gone(child), child

    again = subprocess.run(
        [*command, "--exit"], capture_output=True, text=True, timeout=400, env=ENV
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "balanced     │ True" in again.stdout
    # The first run's store was replaced, not added to: only the second batch's units.
    with sqlite3.connect(data / "server.sqlite") as store:
        assert store.execute("SELECT count(*) FROM batches").fetchone() == (1,)
        units = store.execute("SELECT count(*) FROM units").fetchone()[0]
    assert 15 <= units <= 20
