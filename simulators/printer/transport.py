"""Where the virtual printer listens: a pseudo-terminal (an RS-232 port) or a raw TCP port.

The pty transport emulates the line speed: a byte takes 10 bit times (8N1) at the configured
baud rate in each direction, so a driver sees the throughput of a real RS-232 cable. The TCP
transport (like a Zebra's raw port 9100) has no line timing. Both serve one host at a time
and keep the printer's state across reconnections.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import threading
import time
import tty
from collections.abc import Callable

from simulators.printer.device import VirtualPrinter

READ_CHUNK = 256
POLL_SECONDS = 0.05
BITS_PER_BYTE = 10


class LinePacer:
    """Holds bytes back as a serial line of ``baudrate`` would (0: no holding back)."""

    def __init__(self, baudrate: int) -> None:
        self.seconds_per_byte = BITS_PER_BYTE / baudrate if baudrate else 0.0
        self._free_at = 0.0

    def wait(self, count: int) -> None:
        if not self.seconds_per_byte:
            return
        now = time.monotonic()
        self._free_at = max(self._free_at, now) + count * self.seconds_per_byte
        delay = self._free_at - now
        if delay > 0:
            time.sleep(delay)


class PtyTransport:
    """The printer on the master side of a pty; a driver opens :attr:`url` (the slave)."""

    def __init__(self, printer: VirtualPrinter, baudrate: int | None = None) -> None:
        """``baudrate`` overrides the printer's line timing (0: none)."""
        self.printer = printer
        config = printer.config
        baud = (config.baudrate if config.line_timing else 0) if baudrate is None else baudrate
        self._rx = LinePacer(baud)
        self._tx = LinePacer(baud)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.url = os.ttyname(self._slave)
        self._replies: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_loop, name="zpl-pty-rx", daemon=True),
            threading.Thread(target=self._write_loop, name="zpl-pty-tx", daemon=True),
        ]

    def start(self) -> PtyTransport:
        self.printer.set_output(self._replies.put)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.printer.set_output(None)
        self._stopping.set()
        self._replies.put(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyTransport:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._master], [], [], POLL_SECONDS)
            if not ready:
                continue
            try:
                data = os.read(self._master, READ_CHUNK)
            except OSError:
                return
            self._rx.wait(len(data))
            reply = self.printer.receive(data)
            if reply:
                self._replies.put(reply)

    def _write_loop(self) -> None:
        while (reply := self._replies.get()) is not None:
            self._tx.wait(len(reply))
            try:
                os.write(self._master, reply)
            except OSError:
                return


class TcpTransport:
    """The printer on a raw TCP port on 127.0.0.1; :attr:`url` is ``socket://…``."""

    def __init__(self, printer: VirtualPrinter, port: int = 0, host: str = "127.0.0.1") -> None:
        self.printer = printer
        self._server = socket.create_server((host, port))
        self._server.settimeout(POLL_SECONDS)
        self.host, self.port = self._server.getsockname()[:2]
        self.url = f"socket://{self.host}:{self.port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="zpl-tcp", daemon=True)

    def start(self) -> TcpTransport:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._server.close()

    def __enter__(self) -> TcpTransport:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(POLL_SECONDS)
                self._handle(connection)

    def _handle(self, connection: socket.socket) -> None:
        lock = threading.Lock()

        def send(data: bytes) -> None:
            with lock:
                connection.sendall(data)

        self.printer.set_output(send)
        try:
            self._talk(connection, send)
        finally:
            self.printer.set_output(None)

    def _talk(self, connection: socket.socket, send: Callable[[bytes], None]) -> None:
        while not self._stopping.is_set():
            try:
                data = connection.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            reply = self.printer.receive(data)
            if reply:
                try:
                    send(reply)
                except OSError:
                    return
