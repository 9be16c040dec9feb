"""A printer language is its commands and parsers only: the send / status-poll / confirm loop
is :class:`SerialPrinter`'s, shared by ZPL, DPL and any language to come.

``TickPrinter`` is a made-up third language, written as a language module would be: one
status command (``?``) whose answer ``<labels out>,<flags>\\n`` it parses. Everything else
(the window of labels in flight, the deadline, the fault errors, the timeouts, ``status()``,
``print_label``, ``drain``) comes from the base, and behaves as it does for ZPL and DPL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
import serial

from edge.printers import (
    DplPrinter,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterProtocolError,
    PrinterSettings,
    PrinterStatus,
    PrinterTimeout,
    RibbonOut,
    SerialPrinter,
    ZplPrinter,
)
from tests.edge.printers.ports import FakePort

# -- the third language: this is all a new language module needs -------------------------

FLAGS = {"p": PrinterFault.PAPER_OUT, "r": PrinterFault.RIBBON_OUT}


@dataclass(frozen=True)
class TickStatus:
    out: int
    faults: frozenset[PrinterFault]

    @classmethod
    def parse(cls, line: bytes) -> TickStatus:
        out, _, flags = line.decode("ascii", "replace").partition(",")
        if not out.isdigit() or set(flags) - set(FLAGS):
            raise PrinterProtocolError(f"tick status: expected '<out>,<flags>', got {line!r}")
        return cls(int(out), frozenset(FLAGS[flag] for flag in flags))


class TickPrinter(SerialPrinter[TickStatus]):
    def _query_status(self, port: serial.SerialBase) -> TickStatus:
        port.write(b"?")
        deadline = time.monotonic() + self.config.reply_timeout
        answer = b""
        while not answer.endswith(b"\n"):
            if time.monotonic() >= deadline:
                raise PrinterTimeout(f"tick status: no answer, got {answer!r}")
            answer += port.read(1)
        return TickStatus.parse(answer[:-1])

    def _printed_after(self, status: TickStatus) -> int:
        return status.out


# -- a scripted tick printer --------------------------------------------------------------


class TickPort(FakePort):
    """Prints one waiting label per status question unless a fault is set."""

    def __init__(self, flags: str = "", answer: bool = True) -> None:
        super().__init__()
        self.flags = flags
        self.answer = answer
        self.labels: list[bytes] = []
        self.out = 0
        self.questions = 0

    def write(self, data: bytes) -> int:
        if data == b"?":
            self.questions += 1
            if not self.flags and self.out < len(self.labels):
                self.out += 1
            if self.answer:
                self.inbox += f"{self.out},{self.flags}\n".encode()
        else:
            self.labels.append(data)
        return len(data)


def tick(port: TickPort, **settings: Any) -> TickPrinter:
    config = PrinterSettings(url="tick://", poll_interval=0, reply_timeout=0.05, **settings)
    return TickPrinter(config, port_factory=lambda url, **kwargs: port)


def test_a_third_language_sends_and_confirms_through_the_base() -> None:
    port = TickPort()
    printer = tick(port)
    jobs = [printer.send(f"label {n}".encode()) for n in range(3)]
    printer.confirm(jobs[1])
    assert (printer.sent, printer.printed, port.questions) == (3, 2, 2)
    printer.confirm(jobs[0])  # already known to be out: no question
    assert port.questions == 2
    printer.drain()
    assert printer.printed == 3 and printer.last_status == TickStatus(3, frozenset())
    assert printer.print_label(b"label 3").sequence == 4
    assert printer.status() == PrinterStatus(frozenset(), 0)


def test_the_window_of_labels_in_flight_is_the_bases() -> None:
    port = TickPort()
    printer = tick(port, max_in_flight=2)
    for n in range(3):
        printer.send(f"label {n}".encode())
    assert (port.questions, printer.printed) == (1, 1)  # the third send waited for the first


@pytest.mark.parametrize(("flags", "error"), [("p", PaperOut), ("rp", PaperOut), ("r", RibbonOut)])
def test_a_fault_is_raised_as_its_error_with_the_status(
    flags: str, error: type[PrinterError]
) -> None:
    printer = tick(TickPort(flags))
    job = printer.send(b"label")
    with pytest.raises(error) as raised:
        printer.confirm(job)
    assert raised.value.status == printer.last_status


def test_a_label_that_never_comes_out_and_a_silent_printer_time_out() -> None:
    port = TickPort()
    printer = tick(port)
    job = printer.send(b"label")
    port.labels.clear()  # the printer lost it: it answers, but never prints it
    with pytest.raises(PrinterTimeout, match=r"^job 1: not printed within 0\.1 s \(1 labels"):
        printer.confirm(job, timeout=0.1)
    silent = tick(TickPort(answer=False))
    with pytest.raises(PrinterTimeout, match=r"^job 1: no valid status answer within 0\.1 s"):
        silent.confirm(silent.send(b"label"), timeout=0.1)


def test_a_language_that_cannot_ask_its_status_is_not_a_printer() -> None:
    class Mute(SerialPrinter[TickStatus]):
        pass

    with pytest.raises(TypeError, match="_query_status"):
        Mute(PrinterSettings(url="loop://"))  # type: ignore[abstract]


@pytest.mark.parametrize("driver", [ZplPrinter, DplPrinter, TickPrinter])
def test_no_language_keeps_its_own_copy_of_the_loop(driver: type) -> None:
    loop = {"send", "confirm", "status", "print_label", "drain", "_poll", "sent", "printed"}
    assert loop.isdisjoint(vars(driver)), f"{driver.__name__} overrides the shared loop"
