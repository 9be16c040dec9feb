"""The process helpers the demo relies on to talk only to what it started: a taken port is
found before anything starts, a port's listener is tied to the process holding it, and an
in-process uvicorn that cannot bind says so instead of serving someone else's port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from serialtrace.services import (
    PortTaken,
    check_port_free,
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
