"""The printer driver seam: :class:`LabelPrinter`, and :class:`SerialPrinter`, the base that
every printer language shares.

A driver sends a label without waiting for it (:meth:`LabelPrinter.send` returns a
:class:`PrintJob` at once) and confirms it later (:meth:`LabelPrinter.confirm`), so the edge
agent can send the next label while the previous one prints; the line is not held up by one
round trip per label. :class:`SerialPrinter` owns that loop once for every language: the
window of ``max_in_flight`` unconfirmed labels, the status poll, the deadline, the fault
errors and the timeouts. A language module gives only its commands and parsers:

* ``_query_status(port)`` (required): ask the printer's status and parse the answer into a
  value with ``faults`` (:class:`~edge.printers.status.StatusReport`);
* ``_printed_after(status)``: how many of the labels sent are out according to that status
  (ZPL: sent minus the labels pending), or None if the language tells it another way;
* ``_await_output(until)``: wait for labels to come out until ``until`` (default: sleep until
  the next poll; DPL counts the feedback characters the printer sends meanwhile);
* ``_on_open(port)`` (what a fresh connection needs) and ``_prepare(label)`` (bytes added to
  each label), both optional; ``_pending(status)`` for a language whose status counts the
  labels waiting in the printer;
* ``cancel_command``: the command that cancels every label waiting in the printer (ZPL
  ``~JA``), for :meth:`SerialPrinter.cancel_pending`; None where the language has none (DPL's
  ``<SOH>C`` cancels the current label only).

Ports are pyserial URLs (``/dev/ttyUSB0``, ``socket://127.0.0.1:9100``, ``loop://``,
``spy://…``), opened with :func:`serial.serial_for_url`. A failed read or write drops the
port, opens it again (a few times, with a pause) and retries once; a printer that stays away
is :class:`~edge.printers.errors.PrinterDisconnected`.
"""

from __future__ import annotations

import contextlib
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, Self, TypeVar

import serial
from serial.urlhandler import protocol_socket

from edge.printers.config import FlowControl, PrinterSettings
from edge.printers.errors import (
    BufferFull,
    HeadOpen,
    LabelCancelled,
    PaperOut,
    Paused,
    PrinterDisconnected,
    PrinterError,
    PrinterProtocolError,
    PrinterTimeout,
    RibbonOut,
)
from edge.printers.status import PrinterFault, PrinterStatus, StatusReport

T = TypeVar("T")
S = TypeVar("S", bound=StatusReport)


@dataclass(frozen=True)
class PrintJob:
    """A label handed to the printer: ``sequence`` counts from 1 per driver, the labels the
    printer prints; ``epoch`` counts the cancellations before it (a job of an earlier epoch
    was cancelled in the printer, its number is given to the next label sent)."""

    sequence: int
    size: int
    epoch: int = 0


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

#: The faults in which a printer prints nothing until someone attends to it.
STOPPED = frozenset(fault for fault, _ in FAULT_ERRORS)


def raise_for_faults(status: StatusReport, *, buffer_full: int | None = None) -> None:
    """Raise the error of the first fault that stops printing; BufferFull only when given the
    number of labels pending (a full buffer that did not drain in time)."""
    faults = status.faults
    for fault, error in FAULT_ERRORS:
        if fault in faults:
            raise error(f"printer reports {fault.value}", status)
    if buffer_full is not None and PrinterFault.BUFFER_FULL in faults:
        raise BufferFull(f"printer reports buffer_full with {buffer_full} labels pending", status)


class SerialPrinter(ABC, Generic[S]):
    """A label printer on a pyserial URL, whatever its language: the port (opened on first
    use, reopened after a failure) and the send / status-poll / confirm loop.

    A language subclasses it and gives its commands and parsers (see the module docstring);
    ``S`` is the type of its parsed status answer."""

    poll_at_once: ClassVar[bool] = True
    """Poll the status as soon as ``confirm`` starts (False: wait for output first, for a
    language whose printer reports each label out by itself)."""
    status_interval: ClassVar[float | None] = None
    """Seconds between status polls while a job is not confirmed; None: the settings'
    ``poll_interval``."""
    cancel_command: ClassVar[bytes | None] = None
    """Cancels every label waiting in the printer; None: the language has no such command."""

    def __init__(
        self,
        config: PrinterSettings,
        *,
        port_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        self.config = config
        self._port_factory = port_factory
        self._port: serial.SerialBase | None = None
        self._sent = 0
        self._printed = 0
        self._epoch = 0
        self._epoch_printed: dict[int, int] = {}  # an ended epoch: its last label printed
        self._last_status: S | None = None

    # -- what a language gives ------------------------------------------------------------

    @abstractmethod
    def _query_status(self, port: serial.SerialBase) -> S:
        """Ask the printer's status on ``port`` and parse the answer; PrinterTimeout if it
        does not come in ``reply_timeout``, PrinterProtocolError if it is not valid."""

    def _printed_after(self, status: S) -> int | None:
        """Labels out of those sent, according to ``status``; None: the status does not say."""
        return None

    def _pending(self, status: S) -> int:
        """Labels in the printer not yet out, for :meth:`status` and error messages."""
        return self._sent - self._printed

    def _await_output(self, until: float) -> None:
        """Wait for labels to come out until the monotonic time ``until``."""
        time.sleep(max(0.0, until - time.monotonic()))

    def _on_open(self, port: serial.SerialBase) -> None:
        """Called once on every newly opened port."""

    def _prepare(self, label: bytes) -> bytes:
        """The bytes sent for ``label`` (a language may add per-label settings)."""
        return label

    # -- LabelPrinter ---------------------------------------------------------------------

    def send(self, label: bytes) -> PrintJob:
        """Write one label; wait first if ``max_in_flight`` labels are unconfirmed."""
        if self._sent - self._printed >= self.config.max_in_flight:
            self.confirm(PrintJob(self._sent - self.config.max_in_flight + 1, 0, self._epoch))
        data = self._prepare(label)
        self._io(lambda port: port.write(data))
        self._sent += 1
        return PrintJob(self._sent, len(data), self._epoch)

    def confirm(self, job: PrintJob, timeout: float | None = None) -> None:
        """Return once ``job`` is out; raise the fault that stops it, PrinterTimeout, or
        LabelCancelled for a job cancelled in the printer."""
        if job.epoch != self._epoch:  # sent before a cancellation: out then, or never
            if job.sequence <= self._epoch_printed.get(job.epoch, 0):
                return
            raise LabelCancelled(f"job {job.sequence}: cancelled in the printer, never printed")
        if job.sequence <= self._printed:
            return
        limit = self.config.confirm_timeout if timeout is None else timeout
        interval = self.status_interval
        if interval is None:
            interval = self.config.poll_interval
        start = time.monotonic()
        deadline = start + limit
        next_poll = start if self.poll_at_once else start + interval
        status: S | None = None
        error: PrinterError | None = None
        while True:
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + interval
                try:
                    status = self._poll()
                except (PrinterTimeout, PrinterProtocolError) as exc:
                    error = exc
                else:
                    error = None
                    if job.sequence <= self._printed:
                        return
                    raise_for_faults(status)
            if job.sequence <= self._printed:
                return
            if time.monotonic() >= deadline:
                if error is not None:
                    raise PrinterTimeout(
                        f"job {job.sequence}: no valid status answer within {limit:.1f} s: {error}",
                        status,
                    ) from error
                pending = self._sent - self._printed
                if status is not None:
                    pending = self._pending(status)
                    raise_for_faults(status, buffer_full=pending)
                raise PrinterTimeout(
                    f"job {job.sequence}: not printed within {limit:.1f} s"
                    f" ({pending} labels pending)",
                    status,
                )
            self._await_output(min(deadline, next_poll))

    def status(self) -> PrinterStatus:
        status = self._poll()
        return PrinterStatus(status.faults, self._pending(status))

    def cancel_pending(self) -> int | None:
        """Cancel every label sent and not yet out, when the printer has stopped on a fault
        (head open, paper or ribbon out, paused): a printer prints the labels in its buffer
        once the fault is cleared, and the host has given up on them. Returns how many
        labels were cancelled; None when nothing was cancelled because the language has no
        command for it or the printer did not report itself stopped (its labels may be
        coming out). Their jobs' :meth:`confirm` raises LabelCancelled; the next label sent
        takes the first cancelled number, so that the numbers go on counting the labels the
        printer prints (a camera that counts its triggers stays in step)."""
        command = self.cancel_command
        if command is None:
            return None
        status = self._poll()
        if not status.faults & STOPPED:
            return None
        cancelled = self._sent - self._printed
        if cancelled:
            self._io(lambda port: port.write(command))
            self._epoch_printed[self._epoch] = self._sent = self._printed
            self._epoch += 1
        return cancelled

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            _close_for_good(port)

    # -- counts and helpers ---------------------------------------------------------------

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def printed(self) -> int:
        """Labels known to be out (as of the last status answer or feedback)."""
        return self._printed

    @property
    def last_status(self) -> S | None:
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

    def _poll(self) -> S:
        status = self._io(self._query_status)
        self._last_status = status
        printed = self._printed_after(status)
        if printed is not None:
            self._printed = max(self._printed, min(self._sent, printed))
        return status

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
        """Close a port that failed, to open it again (a ``socket://`` port pauses 0.3 s after
        it, pyserial's allowance for a server that takes one connection at a time)."""
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


def _close_for_good(port: serial.SerialBase) -> None:
    """Close a port that will not be opened again. A ``socket://`` port's socket is shut
    here: pyserial's own close then sleeps 0.3 s for a quick reconnect that will not come
    (every agent's stop waited it out, once per printer)."""
    sock = getattr(port, "_socket", None)
    if isinstance(port, protocol_socket.Serial) and isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        port._socket = None
        port.is_open = False
        return
    with contextlib.suppress(serial.SerialException, OSError):
        port.close()
