"""The serial scanner driver: port bytes -> :class:`LineFramer` -> :func:`interpret`.

Three layers, as pyserial's ``serial.threaded.LineReader`` separates them: the port (any
pyserial URL: ``/dev/ttyACM0``, ``socket://127.0.0.1:9101``, ``loop://``, a pty), framing
(terminator, bounded length, partial lines after a silence) and meaning (prefix, suffix,
symbology identifier, GS substitute, GS1 parsing). One reader thread per scanner; every
scan becomes a :class:`ScanResult` that goes to the ``on_scan`` callback and to a bounded
queue (:meth:`SerialScanner.get`). Bad scans are kept in :attr:`SerialScanner.errors` and
counted; a failing port stops the reader and is reported in :attr:`SerialScanner.fault`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

import serial

from edge.scanners.config import ScannerConfig, ScannerSettings
from edge.scanners.errors import PortError
from edge.scanners.framing import LineFramer
from edge.scanners.scan import ScanOutcome, ScanResult, interpret

log = logging.getLogger(__name__)

ScanCallback = Callable[[ScanResult], None]


class SerialScanner:
    """A line-framed barcode scanner on a pyserial URL.

    ``queue_size`` bounds the results waiting for :meth:`get`; when full the oldest is
    dropped and counted in :attr:`dropped`. ``errors`` keeps the last ``error_history``
    results that were not ``ok``.
    """

    def __init__(
        self,
        url: str,
        config: ScannerConfig | None = None,
        *,
        on_scan: ScanCallback | None = None,
        baudrate: int = 9600,
        queue_size: int = 1000,
        error_history: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.config = config or ScannerConfig()
        self.on_scan = on_scan
        self.baudrate = baudrate
        self.clock = clock
        self.counts: Counter[ScanOutcome] = Counter()
        self.internal_errors = 0  # frames whose reading raised (logged; the scanner goes on)
        self.errors: deque[ScanResult] = deque(maxlen=error_history)
        self.dropped = 0
        self.fault: str | None = None
        self._results: queue.Queue[ScanResult] = queue.Queue(maxsize=queue_size)
        self._framer = LineFramer(self.config.terminator, self.config.max_line)
        self._stop = threading.Event()
        self._port: serial.SerialBase | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SerialScanner:
        """Open the port and start reading; :class:`PortError` if it cannot be opened.

        Starting a running scanner does nothing: a second reader on the same port would
        split the bytes of each scan between the two.
        """
        if self.alive:
            return self
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, ValueError) as exc:
            raise PortError(f"scanner port: cannot open {self.url!r}: {exc}") from exc
        self._thread = threading.Thread(
            target=self._read_loop, name=f"scanner {self.url}", daemon=True
        )
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def get(self, timeout: float | None = None) -> ScanResult | None:
        """The next scan, or ``None`` if none came within ``timeout`` seconds."""
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._port is not None:
            self._port.close()

    def __enter__(self) -> SerialScanner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_loop(self) -> None:
        assert self._port is not None
        port = self._port
        last_byte = time.monotonic()
        while not self._stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                if not self._stop.is_set():
                    self.fault = f"scanner port {self.url!r}: {exc}"
                    log.error("%s", self.fault)
                return
            if data:
                last_byte = time.monotonic()
                frames = self._framer.feed(data)
            elif (
                self._framer.pending and time.monotonic() - last_byte >= self.config.line_timeout_s
            ):
                partial = self._framer.flush()
                frames = [partial] if partial is not None else []
            else:
                continue
            now = self.clock()
            for frame in frames:
                try:
                    result = interpret(frame, self.config, now)
                except Exception:  # hostile bytes must not end the scanner (issue 14)
                    self.internal_errors += 1
                    log.exception("scanner %s: a frame could not be read: %r", self.url, frame)
                    continue
                self._deliver(result)

    def _deliver(self, result: ScanResult) -> None:
        self.counts[result.outcome] += 1
        if not result.ok:
            self.errors.append(result)
            log.warning("scan %s: %s", result.outcome, result.error or result.raw)
        while True:
            try:
                self._results.put_nowait(result)
                break
            except queue.Full:
                try:
                    self._results.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
        if self.on_scan is not None:
            try:
                self.on_scan(result)
            except Exception:  # the caller's bug must not stop the scanner
                log.exception("scanner %s: on_scan callback failed", self.url)


def open_scanner(
    settings: ScannerSettings, *, on_scan: ScanCallback | None = None
) -> SerialScanner:
    """The scanner of ``settings`` (not started: :meth:`SerialScanner.start` opens the port)."""
    return SerialScanner(
        settings.url, settings.framing(), on_scan=on_scan, baudrate=settings.baudrate
    )
