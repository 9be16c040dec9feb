"""Printer drivers over pyserial URLs, and the ZPL driver.

A driver sends a label without waiting for it (:meth:`LabelPrinter.send` returns a
:class:`PrintJob` at once) and confirms it later (:meth:`LabelPrinter.confirm`), so the edge
agent can send the next label while the previous one prints; the line is not held up by one
round trip per label. The ZPL driver confirms by asking for the host status (``~HS``): a job
is out when fewer labels are pending in the printer than were sent after it.

Ports are pyserial URLs (``/dev/ttyUSB0``, ``socket://127.0.0.1:9100``, ``loop://``,
``spy://…``), opened with :func:`serial.serial_for_url`. A failed read or write drops the
port, opens it again (a few times, with a pause) and retries once; a printer that stays away
is :class:`~edge.printers.errors.PrinterDisconnected`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

import serial

from edge.printers.config import FlowControl, PrinterSettings
from edge.printers.errors import (
    BufferFull,
    HeadOpen,
    PaperOut,
    Paused,
    PrinterDisconnected,
    PrinterError,
    PrinterProtocolError,
    PrinterTimeout,
    RibbonOut,
)
from edge.printers.status import (
    FRAME_END,
    HOST_STATUS_REQUEST,
    HostStatus,
    PrinterFault,
    PrinterStatus,
)

T = TypeVar("T")


@dataclass(frozen=True)
class PrintJob:
    """A label handed to the printer: ``sequence`` counts from 1 per driver."""

    sequence: int
    size: int


class LabelPrinter(Protocol):
    """What the edge agent needs of a label printer, whatever its language."""

    def send(self, label: bytes) -> PrintJob: ...

    def confirm(self, job: PrintJob, timeout: float | None = None) -> None: ...

    def status(self) -> PrinterStatus: ...

    def close(self) -> None: ...


FAULT_ERRORS: tuple[tuple[PrinterFault, type[PrinterError]], ...] = (
    (PrinterFault.HEAD_OPEN, HeadOpen),
    (PrinterFault.PAPER_OUT, PaperOut),
    (PrinterFault.RIBBON_OUT, RibbonOut),
    (PrinterFault.PAUSED, Paused),
)


def raise_for_faults(status: HostStatus, *, buffer_full: bool = False) -> None:
    """Raise the error of the first fault that stops printing; BufferFull only if asked."""
    faults = status.faults
    for fault, error in FAULT_ERRORS:
        if fault in faults:
            raise error(f"printer reports {fault.value}", status)
    if buffer_full and PrinterFault.BUFFER_FULL in faults:
        raise BufferFull(
            f"printer reports buffer_full with {status.formats_in_buffer} formats waiting", status
        )


class SerialPrinter:
    """The port of a printer on a pyserial URL: opened on first use, reopened after a failure.

    Language drivers subclass it and implement :class:`LabelPrinter`; :meth:`_on_open` sends
    what a fresh connection needs (print speed, feedback mode)."""

    def __init__(
        self,
        config: PrinterSettings,
        *,
        port_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        self.config = config
        self._port_factory = port_factory
        self._port: serial.SerialBase | None = None

    def close(self) -> None:
        self._drop_port()

    def _on_open(self, port: serial.SerialBase) -> None:
        """Called once on every newly opened port."""

    # -- port -----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> serial.SerialBase:
        if self._port is not None:
            return self._port
        config = self.config
        error: Exception | None = None
        for attempt in range(config.reconnect_attempts + 1):
            if attempt:
                time.sleep(config.reconnect_delay)
            try:
                port = self._port_factory(
                    config.url,
                    baudrate=config.baudrate,
                    timeout=min(0.05, config.reply_timeout),
                    write_timeout=config.confirm_timeout,
                    xonxoff=config.flow_control is FlowControl.XONXOFF,
                    rtscts=config.flow_control is FlowControl.RTSCTS,
                    dsrdtr=config.flow_control is FlowControl.DSRDTR,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                error = exc
                continue
            self._port = port
            self._on_open(port)
            return port
        raise PrinterDisconnected(
            f"printer {config.url!r}: cannot open after {config.reconnect_attempts + 1}"
            f" attempts: {error}"
        ) from error

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _io(self, operation: Callable[[serial.SerialBase], T]) -> T:
        """Run ``operation`` on the port; on a port error reopen once and retry."""
        port = self._open()
        try:
            return operation(port)
        except (serial.SerialException, OSError) as exc:
            self._drop_port()
            first_error = exc
        port = self._open()
        try:
            return operation(port)
        except (serial.SerialException, OSError) as exc:
            self._drop_port()
            raise PrinterDisconnected(
                f"printer {self.config.url!r}: I/O failed after reconnecting: {exc}"
                f" (first: {first_error})"
            ) from exc


class ZplPrinter(SerialPrinter):
    """A Zebra-compatible printer (ZPL II) on a serial port or a raw TCP port."""

    def __init__(
        self,
        config: PrinterSettings,
        *,
        port_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        super().__init__(config, port_factory=port_factory)
        self._sent = 0
        self._printed = 0
        self._last_status: HostStatus | None = None

    def _on_open(self, port: serial.SerialBase) -> None:
        if self.config.print_speed is not None:
            port.write(f"^XA^PR{self.config.print_speed}^XZ".encode("ascii"))

    # -- LabelPrinter ---------------------------------------------------------------------

    def send(self, label: bytes) -> PrintJob:
        """Write one label format; wait first if ``max_in_flight`` labels are unconfirmed."""
        if self._sent - self._printed >= self.config.max_in_flight:
            self.confirm(PrintJob(self._sent - self.config.max_in_flight + 1, 0))
        self._io(lambda port: port.write(label))
        self._sent += 1
        return PrintJob(self._sent, len(label))

    def confirm(self, job: PrintJob, timeout: float | None = None) -> None:
        """Return once ``job`` is printed; raise the fault that stops it, or PrinterTimeout."""
        if job.sequence <= self._printed:
            return
        limit = self.config.confirm_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        status: HostStatus | None = None
        while True:
            try:
                status = self.host_status()
            except (PrinterTimeout, PrinterProtocolError) as exc:
                if time.monotonic() >= deadline:
                    raise PrinterTimeout(
                        f"job {job.sequence}: no valid status answer within {limit:.1f} s: {exc}",
                        status,
                    ) from exc
                continue
            self._printed = max(self._printed, self._sent - status.pending_labels)
            if job.sequence <= self._printed:
                return
            raise_for_faults(status)
            if time.monotonic() >= deadline:
                raise_for_faults(status, buffer_full=True)
                raise PrinterTimeout(
                    f"job {job.sequence}: not printed within {limit:.1f} s"
                    f" ({status.pending_labels} labels pending)",
                    status,
                )
            time.sleep(self.config.poll_interval)

    def status(self) -> PrinterStatus:
        return self.host_status().summary()

    # -- ZPL ------------------------------------------------------------------------------

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def printed(self) -> int:
        """Labels known to be out (as of the last status answer)."""
        return self._printed

    @property
    def last_status(self) -> HostStatus | None:
        return self._last_status

    def print_label(self, label: bytes, timeout: float | None = None) -> PrintJob:
        """Send one label and wait until it is printed."""
        job = self.send(label)
        self.confirm(job, timeout)
        return job

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every label sent is printed."""
        if self._sent:
            self.confirm(PrintJob(self._sent, 0), timeout)

    def host_status(self) -> HostStatus:
        """Ask ``~HS`` and parse the answer."""
        status = self._io(self._query_status)
        self._last_status = status
        return status

    def _query_status(self, port: serial.SerialBase) -> HostStatus:
        port.reset_input_buffer()
        port.write(HOST_STATUS_REQUEST)
        deadline = time.monotonic() + self.config.reply_timeout
        answer = bytearray()
        while answer.count(FRAME_END) < 3:
            if time.monotonic() >= deadline:
                raise PrinterTimeout(
                    f"~HS: expected three status strings within {self.config.reply_timeout} s,"
                    f" got {bytes(answer)!r}"
                )
            answer += port.read(port.in_waiting or 1)
        return HostStatus.parse(bytes(answer))
