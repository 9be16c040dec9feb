"""The process helpers the demo relies on to talk only to what it started: a taken port is
found before anything starts, a port's listener is tied to the process holding it, and an
in-process uvicorn that cannot bind says so instead of serving someone else's port; what the
demo starts ends with it, even when it is killed with SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serialtrace.services import (
    PortTaken,
    check_port_free,
    ephemeral_port_start,
    free_port,
    owns_listener,
    serve_asgi,
    wait_for_listener,
)

LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock, int(sock.getsockname()[1])
    sock.close()


def test_a_listened_port_is_taken_and_a_free_one_is_not(listener):
    _sock, port = listener
    with pytest.raises(PortTaken, match=rf"^127\.0\.0\.1:{port} is already in use \("):
        check_port_free(port)
    check_port_free(free_port())  # no exception


def test_a_free_port_is_outside_the_range_outgoing_connections_take_theirs_from() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(10_000 <= port < ephemeral_port_start() for port in ports)
    assert len(ports) > 1  # at random: two test processes rarely pick the same one
    for port in ports:
        check_port_free(port)


def test_a_listener_belongs_to_the_process_that_holds_it(listener):
    _sock, port = listener
    assert owns_listener(os.getpid(), port)
    other = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", LISTEN, str(other)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "listening\n"
        wait_for_listener(child, other, timeout=30, name="child")  # returns: it is the child's
        assert owns_listener(child.pid, other)
        assert not owns_listener(os.getpid(), other)
        assert not owns_listener(child.pid, port)
    finally:
        child.kill()
        child.wait()


def test_a_child_that_could_not_bind_is_named_not_waited_for(listener):
    _sock, port = listener
    child = subprocess.Popen([sys.executable, "-c", LISTEN, str(port)], stderr=subprocess.DEVNULL)
    with pytest.raises(PortTaken) as caught:
        wait_for_listener(child, port, timeout=60, name="the trace server")
    assert str(caught.value) == (
        f"the trace server exited with code 1 before listening on port {port} "
        "(the port is taken by another program)"
    )


async def _app(scope: dict[str, object], receive: object, send: object) -> None:
    return None  # never reached: the server cannot bind


def test_serve_asgi_on_a_taken_port_raises_instead_of_serving_it(listener):
    _sock, port = listener
    served = serve_asgi(_app, port, name="edge-api", timeout=60)
    with pytest.raises(PortTaken, match=f"could not listen on 127.0.0.1:{port}"):
        served.__enter__()


# A starter that starts a broker and a plain process tied to it, names their pids, and waits.
STARTER = (
    "import subprocess, sys, time\n"
    "from pathlib import Path\n"
    "from serialtrace.services import start_mosquitto, tied_to_starter\n"
    "broker = start_mosquitto(Path(sys.argv[1]), tied=True)\n"
    "sleeper = subprocess.Popen(tied_to_starter(['sleep', '300']))\n"
    "print(broker.process.pid, sleeper.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_what_a_starter_ties_to_itself_ends_when_it_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "broker")], stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    try:
        pids = [int(pid) for pid in starter.stdout.readline().split()]
        assert len(pids) == 2, "the starter did not start its broker and its sleeper"
        assert not any(_ended(pid) for pid in pids)
    finally:
        starter.send_signal(signal.SIGKILL)  # no chance to stop its children itself
        starter.wait()
    deadline = time.monotonic() + 20
    while not all(_ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling processes of another parent, bounded by the deadline
    left = [pid for pid in pids if not _ended(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "still running after their starter was killed"


# A starter that starts a tied process and is killed at once, while the process has not armed
# its parent-death signal yet: ``setpriv`` on PATH is slowed down by a wrapper.
QUICK_DEATH = (
    "import os, signal, subprocess\n"
    "from serialtrace.services import tied_to_starter\n"
    "sleeper = subprocess.Popen(tied_to_starter(['sleep', '300']), stdout=subprocess.DEVNULL)\n"
    "print(sleeper.pid, flush=True)\n"
    "os.kill(os.getpid(), signal.SIGKILL)\n"
)


def test_a_starter_killed_before_the_signal_is_armed_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    real = shutil.which("setpriv")
    if real is None:
        pytest.skip("setpriv (util-linux) is not installed: nothing is tied")
    slow = tmp_path / "bin" / "setpriv"
    slow.parent.mkdir()
    slow.write_text(f'#!/bin/sh\nsleep 0.5\nexec {real} "$@"\n')
    slow.chmod(0o755)
    env = {**os.environ, "PATH": f"{slow.parent}:{os.environ['PATH']}"}
    starter = subprocess.run(
        [sys.executable, "-c", QUICK_DEATH], capture_output=True, text=True, env=env, timeout=60
    )
    assert starter.returncode == -signal.SIGKILL
    pid = int(starter.stdout.split()[0])
    deadline = time.monotonic() + 20
    while not _ended(pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a process of another parent, bounded by the deadline
    if not _ended(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the tied process outlived its starter that was killed before it ran")
