"""Real services started as child processes: a Mosquitto broker on a free 127.0.0.1 port.

Used by ``serialtrace demo`` and by the tests, so both run the broker the same way: set up
by :mod:`serialtrace.broker` exactly as ``serialtrace broker init`` sets up production (TLS,
password file, ACL, client id bound to the username).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epcis import topics
from epcis.broker import BrokerLink, tls_problem
from serialtrace.broker import (
    BrokerSetup,
    Identity,
    line_identity,
    mes_identity,
    plc_identity,
    server_identity,
)

#: Where the ephemeral range starts when the kernel does not say (Linux's default).
PORT_RANGE_FALLBACK_END = 32768


def ephemeral_port_start() -> int:
    """The first port of the kernel's ephemeral range (``net.ipv4.ip_local_port_range``),
    from which outgoing connections take their local port."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return PORT_RANGE_FALLBACK_END


def free_port() -> int:
    """A TCP port on 127.0.0.1 on which nothing listens or connects now, for a server that
    binds it soon after.

    Picked at random below the ephemeral range, not by binding port 0: that gives a port of
    the ephemeral range, which any outgoing connection on the machine may take as its local
    port before the server binds it (a suite run under a CPU hog lost the demo's HMI port to
    one: ``EADDRINUSE``)."""
    end = ephemeral_port_start()
    if end > 11_000:
        for port in random.sample(range(10_000, end), 64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortTaken(OSError):
    """A port this machine's programs already listen on (what listens is not ours)."""


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Raise :class:`PortTaken` if something listens on ``host:port``.

    Binds as a server would (``SO_REUSEADDR``, as uvicorn does), so a port left in TIME_WAIT
    by an earlier run counts as free, and a listener on any address (0.0.0.0 too) as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortTaken(f"{host}:{port} is already in use ({exc.strerror})") from None


def listening_inodes(port: int) -> set[int]:
    """Socket inodes listening on TCP ``port`` on any address (Linux: /proc/net/tcp{,6})."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is HEXADDR:HEXPORT; state 0A is LISTEN; inode is field 9.
            if len(fields) < 10 or fields[3] != "0A":
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(int(fields[9]))
    return found


def owns_listener(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on TCP ``port`` (Linux /proc):
    the way to know that what answers on a port is the process we started, not another."""
    inodes = listening_inodes(port)
    if not inodes:
        return False
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and int(target[8:-1]) in inodes:
            return True
    return False


def wait_for_listener(
    process: subprocess.Popen[bytes], port: int, timeout: float, name: str
) -> None:
    """Wait until child ``process`` itself listens on ``port``. Raises :class:`PortTaken`
    if it exited (another program took the port), TimeoutError if it does not listen in
    time."""
    deadline = time.monotonic() + timeout
    while not owns_listener(process.pid, port):
        code = process.poll()
        if code is not None:
            taken = " (the port is taken by another program)" if listening_inodes(port) else ""
            raise PortTaken(
                f"{name} exited with code {code} before listening on port {port}{taken}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not listen on port {port} within {timeout:g} s")
        time.sleep(0.1)


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
    """A Mosquitto process of our own, with its own configuration file.

    Secure (the default): the folder is exactly what ``serialtrace broker init`` writes (TLS
    listener, CA, password file, ACL, client id = username), and :meth:`link` /
    :meth:`secrets` give each identity's client settings, creating the identity on first
    use. ``secure=False`` (benchmarks' plain-TCP comparison only) is an open listener.
    """

    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path
    setup: BrokerSetup | None = None
    tied: bool = False  # restarted the same way: see :func:`tied_to_starter`

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.setup is not None else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        return self.setup.ca_file if self.setup is not None else None

    def secrets(self, kind: str, *names: str) -> Path:
        """The secrets file of identity ``kind`` (``line SITE LINE``, ``plc SITE LINE``,
        ``server NAME``, or ``observer NAME``: a test client that may read and write every
        serialtrace topic); created, and the broker reloaded, on first use."""
        setup = self._setup()
        identity = _identity(kind, *names)
        path = setup.secrets_file(identity)
        with self._lock:
            if not path.exists():
                setup.add(identity)
                self.reload()
                self._wait_accepted(self.link_from(path))
        return path

    def link(self, kind: str, *names: str) -> BrokerLink:
        """The :class:`BrokerLink` of an identity (see :meth:`secrets`)."""
        return self.link_from(self.secrets(kind, *names))

    def link_from(self, secrets_file: Path) -> BrokerLink:
        return BrokerLink.parse(self.url, secrets_file=secrets_file)

    def anonymous(self) -> BrokerLink:
        """A link with no credentials (the broker refuses it when secure)."""
        return BrokerLink.parse(self.url, ca_file=str(self.ca_file) if self.ca_file else None)

    def reload(self) -> None:
        """Make Mosquitto read its password and ACL files again (SIGHUP)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def _setup(self) -> BrokerSetup:
        if self.setup is None:
            raise RuntimeError("an open test broker has no identities (secure=False)")
        return self.setup

    @functools.cached_property
    def _lock(self) -> threading.Lock:
        return threading.Lock()

    def _wait_accepted(self, link: BrokerLink, timeout: float = 20.0) -> None:
        """Wait until the (reloaded) broker accepts ``link``'s credentials."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            outcome = connect_once(link, timeout=min(5.0, deadline - time.monotonic()))
            if outcome is None:
                return
            last = outcome
            time.sleep(0.05)
        raise TimeoutError(f"broker did not accept {link.username!r} within {timeout} s: {last}")

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
        self.start()

    def kill(self) -> None:
        """End the broker at once (SIGKILL): what it held only in memory is gone."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def start(self) -> None:
        """Start the broker again (after :meth:`stop` or :meth:`kill`) on the same port, from
        the same folder; nothing happens if it runs."""
        if self.process.poll() is None:
            return
        self.process = _spawn(self.config, tied=self.tied)
        wait_for_port(self.host, self.port)


def _identity(kind: str, *names: str) -> Identity:
    if kind == "line" and len(names) == 2:
        return line_identity(*names)
    if kind == "plc" and len(names) == 2:
        return plc_identity(*names)
    if kind == "server" and len(names) == 1:
        return server_identity(*names)
    if kind == "mes" and len(names) == 2:
        return mes_identity(*names)
    if kind == "observer" and len(names) == 1:
        name = f"observer/{names[0]}"
        return Identity("observer", name, {name: [("readwrite", f"{topics.ROOT}/#")]})
    raise ValueError(
        f"identity: expected line SITE LINE, plc SITE LINE, server NAME, mes SITE LINE or "
        f"observer NAME, got {kind} {' '.join(names)}"
    )


def connect_once(link: BrokerLink, timeout: float = 5.0) -> str | None:
    """Connect with ``link`` once (MQTT 5, clean start) and disconnect: None if accepted,
    else why not (the CONNACK reason, or the TLS or socket problem)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    outcome: list[str | None] = []

    def on_connect(client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome.append(str(reason) if reason.is_failure else None)
        done.set()

    def on_disconnect(client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        # e.g. plain MQTT to a TLS listener: the broker closes the socket, no CONNACK comes
        if not done.is_set():
            outcome.append(f"connection closed before a CONNACK ({reason})")
            done.set()

    client = paho.Client(  # once: a refused or closed connection is not tried again
        callback_api_version=CallbackAPIVersion.VERSION2,
        protocol=paho.MQTTv5,
        reconnect_on_failure=False,
    )
    link.configure(client)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(link.host, link.port, keepalive=10)
    except OSError as exc:
        return tls_problem(link) or f"cannot connect: {exc}"
    client.loop_start()
    try:
        if not done.wait(timeout):
            return "no CONNACK"
        return outcome[0]
    finally:
        client.disconnect()
        client.loop_stop()


def tied_to_starter(argv: list[str]) -> list[str]:
    """``argv`` run so that the process gets SIGTERM when the thread that started it ends,
    however it ends (SIGKILL included): Linux's parent-death signal, set by util-linux's
    ``setpriv`` before it executes ``argv``. Start such a process from a thread that lives as
    long as the process should (the main thread). Unchanged where ``setpriv`` is missing.

    The signal is armed only once ``setpriv`` runs, after :class:`subprocess.Popen` returned:
    a starter killed in between would leave the process running for ever. So a shell, with
    the signal already armed, checks that its parent is still the starter before it executes
    ``argv`` (same process id throughout), and gives up otherwise."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return argv
    starter_alive = '[ "$PPID" = "$0" ] || exit 143; exec "$@"'
    return [setpriv, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", starter_alive,
            str(os.getpid()), *argv]  # fmt: skip


def _spawn(config: Path, *, tied: bool = False) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    argv = [binary, "-c", str(config)]
    with open(config.with_suffix(".log"), "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            tied_to_starter(argv) if tied else argv, stdout=log, stderr=subprocess.STDOUT
        )


def start_mosquitto(
    folder: Path,
    *,
    persistence: bool = False,
    port: int | None = None,
    secure: bool = True,
    tied: bool = False,
) -> Broker:
    """Start Mosquitto on ``port`` (a free one if not given) on 127.0.0.1.

    Secure (default): ``folder`` is set up as ``serialtrace broker init`` does it (see
    :mod:`serialtrace.broker`; an existing set-up there is kept, with its identities).
    ``secure=False`` is an open plain-TCP listener for benchmarks' comparison runs only.
    ``tied``: the broker ends when the calling thread ends (:func:`tied_to_starter`)."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise FileNotFoundError("mosquitto: not installed (apt-get install mosquitto)")
    folder.mkdir(parents=True, exist_ok=True)
    if secure:
        fresh = not (folder / "broker.json").exists()
        for attempt in range(1, 4):
            if fresh:  # (again on another port if another process took the free one first)
                setup = BrokerSetup.init(
                    folder, port=port or free_port(), persistence=persistence, force=True
                )
            else:
                setup = BrokerSetup(folder)
            process = _spawn(setup.config, tied=tied)
            broker = Broker("127.0.0.1", setup.port, process, setup.config, setup, tied)
            if _listening(broker) or not fresh or port is not None or attempt == 3:
                return broker
        raise AssertionError("unreachable")  # pragma: no cover
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
    broker = Broker("127.0.0.1", port, _spawn(config, tied=tied), config, tied=tied)
    _listening(broker)
    return broker


def _listening(broker: Broker) -> bool:
    """Wait until the port answers; False if our Mosquitto exited meanwhile (the free port
    was taken by another process between choosing it and binding it: what answers is not
    ours)."""
    wait_for_port(broker.host, broker.port)
    try:
        broker.process.wait(timeout=0.2)  # a failed bind ends Mosquitto at once
    except subprocess.TimeoutExpired:
        return True
    return False


@contextmanager
def serve_asgi(
    app: Any, port: int, host: str = "127.0.0.1", name: str = "uvicorn", timeout: float = 30.0
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread of this process; yields its base URL once
    this server listens (:class:`PortTaken` if it cannot bind) and stops it (lifespan
    shutdown included) on exit."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            # a browser keeps idle connections open: do not wait for them forever on exit
            timeout_graceful_shutdown=5,
        )
    )

    def run() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn's way to say it could not bind
            server.run()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        # Wait for our own server to have bound the port, not for the port to answer: if
        # another program holds it, uvicorn's bind fails and its thread ends, and whatever
        # answers is not ours.
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise PortTaken(f"{name} could not listen on {host}:{port} (is it taken?)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not start on {host}:{port} within {timeout:g} s")
            time.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():  # connections or tasks that do not end: stop without them
            server.force_exit = True
            thread.join(timeout=20)
