"""The printer's host status (ZPL ``~HS``) as a typed value.

The printer answers ``~HS`` with three strings, each ``<STX>…<ETX><CR><LF>``::

    1: aaa,b,c,dddd,eee,f,g,h,iii,j,k,l   comm settings, paper out, pause, label length,
                                          formats in buffer, buffer full, comm diagnostics,
                                          partial format, unused, corrupt RAM, under/over temp
    2: mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www   function settings, unused, head up, ribbon out,
                                          thermal transfer, print mode, print width mode,
                                          label waiting, labels remaining, format while
                                          printing, graphics stored
    3: xxxx,y                             password, static RAM installed
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from edge.printers.errors import PrinterProtocolError

STX = b"\x02"
ETX = b"\x03"
FRAME_END = b"\x03\r\n"
HOST_STATUS_REQUEST = b"~HS"

_STRING_1 = re.compile(
    rb"\x02(\d{3}),([01]),([01]),(\d{4}),(\d{3}),([01]),([01]),([01]),(\d{3}),([01]),([01]),([01])"
    rb"\x03\r\n"
)
_STRING_2 = re.compile(
    rb"\x02(\d{3}),(\d),([01]),([01]),([01]),(\d),(\d),([01]),(\d{8}),([01]),(\d{3})\x03\r\n"
)
_STRING_3 = re.compile(rb"\x02(\d{4}),([01])\x03\r\n")


class PrinterFault(StrEnum):
    """A state in which the printer does not print."""

    PAPER_OUT = "paper_out"
    RIBBON_OUT = "ribbon_out"
    HEAD_OPEN = "head_open"
    PAUSED = "paused"
    BUFFER_FULL = "buffer_full"
    OVER_TEMPERATURE = "over_temperature"
    UNDER_TEMPERATURE = "under_temperature"


class StatusReport(Protocol):
    """A parsed status answer of any printer language: the faults it shows."""

    @property
    def faults(self) -> frozenset[PrinterFault]: ...


@dataclass(frozen=True)
class PrinterStatus:
    """What every printer driver can say about its printer, whatever its language."""

    faults: frozenset[PrinterFault]
    pending_labels: int

    @property
    def ready(self) -> bool:
        return not self.faults


@dataclass(frozen=True)
class HostStatus:
    """One ``~HS`` answer, field by field."""

    comm_settings: int
    paper_out: bool
    paused: bool
    label_length: int
    formats_in_buffer: int
    buffer_full: bool
    comm_diagnostics: bool
    partial_format: bool
    corrupt_ram: bool
    under_temperature: bool
    over_temperature: bool
    function_settings: int
    head_up: bool
    ribbon_out: bool
    thermal_transfer: bool
    print_mode: int
    print_width_mode: int
    label_waiting: bool
    labels_remaining: int
    format_while_printing: bool
    graphics_stored: int
    password: str
    static_ram: bool

    @property
    def pending_labels(self) -> int:
        """Labels received but not yet out: formats waiting plus the rest of the batch."""
        return self.formats_in_buffer + self.labels_remaining

    @property
    def faults(self) -> frozenset[PrinterFault]:
        flags = (
            (self.paper_out, PrinterFault.PAPER_OUT),
            (self.ribbon_out, PrinterFault.RIBBON_OUT),
            (self.head_up, PrinterFault.HEAD_OPEN),
            (self.paused, PrinterFault.PAUSED),
            (self.buffer_full, PrinterFault.BUFFER_FULL),
            (self.over_temperature, PrinterFault.OVER_TEMPERATURE),
            (self.under_temperature, PrinterFault.UNDER_TEMPERATURE),
        )
        return frozenset(fault for flag, fault in flags if flag)

    def summary(self) -> PrinterStatus:
        return PrinterStatus(self.faults, self.pending_labels)

    @classmethod
    def parse(cls, raw: bytes) -> HostStatus:
        """Parse the three strings of a ``~HS`` answer (nothing before, nothing after)."""
        one = _STRING_1.match(raw)
        two = one and _STRING_2.match(raw, one.end())
        three = two and _STRING_3.match(raw, two.end())
        if not (one and two and three) or three.end() != len(raw):
            raise PrinterProtocolError(
                "~HS answer: expected three <STX>…<ETX><CR><LF> strings"
                f" 'aaa,b,c,dddd,eee,f,g,h,iii,j,k,l', 'mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www',"
                f" 'xxxx,y', got {raw!r}"
            )
        a = [int(g) for g in one.groups()]
        b = [int(g) for g in two.groups()]
        return cls(
            comm_settings=a[0],
            paper_out=a[1] == 1,
            paused=a[2] == 1,
            label_length=a[3],
            formats_in_buffer=a[4],
            buffer_full=a[5] == 1,
            comm_diagnostics=a[6] == 1,
            partial_format=a[7] == 1,
            corrupt_ram=a[9] == 1,
            under_temperature=a[10] == 1,
            over_temperature=a[11] == 1,
            function_settings=b[0],
            head_up=b[2] == 1,
            ribbon_out=b[3] == 1,
            thermal_transfer=b[4] == 1,
            print_mode=b[5],
            print_width_mode=b[6],
            label_waiting=b[7] == 1,
            labels_remaining=b[8],
            format_while_printing=b[9] == 1,
            graphics_stored=b[10],
            password=three.group(1).decode("ascii"),
            static_ram=three.group(2) == b"1",
        )
