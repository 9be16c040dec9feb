"""Real services started as child processes: a Mosquitto broker on a free 127.0.0.1 port.

Used by ``serialtrace demo`` and by the tests, so both run the broker the same way.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.05)


@dataclass
class Broker:
    """A Mosquitto process of our own, with its own configuration file."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port (persistence in the same folder)."""
        self.stop()
        self.process = _spawn(self.config)
        wait_for_port(self.host, self.port)


def _spawn(config: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with open(config.with_suffix(".log"), "ab") as log:  # the child keeps its own copy
        return subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)


def start_mosquitto(folder: Path, *, persistence: bool = False, port: int | None = None) -> Broker:
    """Start Mosquitto on ``port`` (a free one if not given) with Nagle off, a generous queue
    and the client window the edge and server use (``max_inflight_messages 20``)."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise FileNotFoundError("mosquitto: not installed (apt-get install mosquitto)")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = folder / "mosquitto.conf"
    lines = [
        # Started as root, Mosquitto drops to the "mosquitto" user and could not write its
        # persistence file here; stay who we are (ignored when not root).
        f"user {getpass.getuser()}",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "set_tcp_nodelay true",
        "max_inflight_messages 20",
        "max_queued_messages 100000",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {folder}/",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    config.write_text("\n".join(lines) + "\n")
    broker = Broker("127.0.0.1", port, _spawn(config), config)
    wait_for_port(broker.host, broker.port)
    return broker


@contextmanager
def serve_asgi(
    app: Any, port: int, host: str = "127.0.0.1", name: str = "uvicorn"
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread of this process; yields its base URL and
    stops it (lifespan shutdown included) on exit."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        wait_for_port(host, port, timeout=30)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
