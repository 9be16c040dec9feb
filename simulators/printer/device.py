"""The virtual label printer (ZPL or DPL): receive buffer, print engine, status, faults,
label output.

Transports (pty, TCP) hand every received chunk to :meth:`VirtualPrinter.receive` and send
back what it returns (the ``~HS`` answer). Formats queue in the receive buffer; the print
engine thread takes one at a time, spends the time a real printer would (label length /
print speed), renders it and hands a :class:`~simulators.labels.PrintedLabel` to every
subscriber. A fault that stops a printer (paper out, ribbon out, head open, paused) stops the
engine until it is cleared; formats stay in the buffer, as on a real printer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from simulators.errors import ConfigError
from simulators.labels import LabelSink, PrintedLabel
from simulators.printer.dpl import FEEDBACK, STATUS, TOGGLE_PAUSE, DplReader
from simulators.printer.faults import LABEL_FAULTS, FaultConfig, LineNoise, apply_label_fault
from simulators.printer.render import render
from simulators.printer.zpl import FormatReader, Immediate, LabelFormat, PrintSpeed, ZplIssue

log = logging.getLogger(__name__)

STATES = ("paper_out", "ribbon_out", "head_open", "paused")
BAUD_CODES = {
    110: 0b0000, 300: 0b0001, 600: 0b0010, 1200: 0b0011, 2400: 0b0100, 4800: 0b0101,
    9600: 0b0110, 19200: 0b0111, 28800: 0b1000, 38400: 0b1001, 57600: 0b1010, 14400: 0b1011,
    115200: 0b1100,
}  # fmt: skip
"""~HS baud bits a8,a2,a1,a0 (ZPL II guide); 115200 is beyond the 2006 guide's table."""
MAX_ISSUES_KEPT = 100
LANGUAGES = ("zpl", "dpl")

Manipulator = Callable[[bytes], bytes]
FEEDBACK_LABEL_OUT = b"\x1e"
"""DPL feedback character: RS after each label printed."""


@dataclass(frozen=True)
class PrinterSimConfig:
    language: str = "zpl"
    """``zpl`` (Zebra ZPL II, ``~HS``) or ``dpl`` (Honeywell DPL, ``<SOH>A``, feedback RS)."""
    dpi: int = 203
    width: int = 400
    """Label width in dots when a format has no ^PW."""
    length: int = 240
    """Label length in dots when a format has no ^LL."""
    print_speed: int = 6
    """Inches per second until a ^PR changes it."""
    baudrate: int = 115200
    """The serial port's speed: reported in ~HS, and emulated on the pty (10 bits a byte)."""
    line_timing: bool = True
    """Hold received and sent bytes back as the baud rate would (pty transport only)."""
    print_time: bool = True
    """Take label length / print speed per label, as a real print head does."""
    buffer_capacity: int = 64
    """Formats the receive buffer holds before ~HS reports it full."""
    silent_when_faulted: bool = False
    """Do not answer ~HS while paper/ribbon out or head open (newer Zebra firmware)."""
    out_dir: Path | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PrinterSimConfig:
        values = dict(data)
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"printer: expected keys from {sorted(cls.__dataclass_fields__)}, got {unknown!r}"
            )
        if values.get("language", "zpl") not in LANGUAGES:
            raise ConfigError(
                f"printer.language: expected one of {list(LANGUAGES)}, got {values['language']!r}"
            )
        for key in ("dpi", "width", "length", "print_speed", "buffer_capacity", "baudrate"):
            if key in values and (not isinstance(values[key], int) or values[key] < 1):
                raise ConfigError(f"printer.{key}: expected an integer >= 1, got {values[key]!r}")
        if "faults" in values:
            values["faults"] = FaultConfig.from_mapping(values["faults"])
        if values.get("out_dir") is not None:
            values["out_dir"] = Path(values["out_dir"])
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> PrinterSimConfig:
        """A TOML file with the keys above (``[faults]`` as a table)."""
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        return cls.from_mapping(data.get("printer", data))


@dataclass(frozen=True)
class SimulatorStatus:
    """The printer as the simulator sees it (more than ~HS tells)."""

    labels_printed: int
    formats_in_buffer: int
    printing: bool
    paper_out: bool
    ribbon_out: bool
    head_open: bool
    paused: bool
    buffer_full: bool
    partial_format: bool
    print_speed: int
    bytes_received: int
    zpl_issues: int
    """Count of ZPL the printer did not understand (unknown commands, garbage, bad data)."""
    recent_issues: tuple[ZplIssue, ...]


class VirtualPrinter:
    """A Zebra-compatible printer without hardware. Thread-safe."""

    def __init__(self, config: PrinterSimConfig | None = None) -> None:
        self.config = config or PrinterSimConfig()
        faults = self.config.faults
        self._rng = random.Random(faults.seed)
        self._noise = LineNoise(faults.line_noise, random.Random(faults.seed + 1))
        self._manipulator: Manipulator | None = None
        if self.config.language not in LANGUAGES:
            raise ConfigError(
                f"printer.language: expected one of {list(LANGUAGES)}, got {self.config.language!r}"
            )
        self._reader: FormatReader | DplReader = (
            DplReader(self.config.dpi, self.config.length)
            if self.config.language == "dpl"
            else FormatReader()
        )
        self._feedback = False
        self._output: Callable[[bytes], None] | None = None
        self._cond = threading.Condition()
        self._queue: deque[LabelFormat] = deque()
        self._printing = False
        self._printed = 0
        self._state = {name: bool(getattr(faults, name, False)) for name in STATES}
        self._ribbon_out_after = faults.ribbon_out_after
        self._paper_out_after = faults.paper_out_after
        self._pending_label_faults: dict[str, int] = {}
        self._print_speed = self.config.print_speed
        self._label_length = self.config.length
        self._bytes_received = 0
        self._issue_count = 0
        self._issues: deque[ZplIssue] = deque(maxlen=MAX_ISSUES_KEPT)
        self._sinks: list[LabelSink] = []
        self._stopping = False
        self._engine: threading.Thread | None = None
        if self.config.out_dir is not None:
            self.config.out_dir.mkdir(parents=True, exist_ok=True)
            self.subscribe(_folder_writer(self.config.out_dir))
        self._check_after_counts()

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> VirtualPrinter:
        if self._engine is None:
            self._stopping = False
            self._engine = threading.Thread(target=self._run, name="zpl-print-engine", daemon=True)
            self._engine.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._engine is not None:
            self._engine.join(timeout=5)
            self._engine = None

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def subscribe(self, sink: LabelSink) -> None:
        """Call ``sink`` with every label printed from now on (on the engine thread)."""
        self._sinks.append(sink)

    # -- wire -----------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Bytes from the host in; the bytes to answer with out (often none)."""
        if self._manipulator is not None:
            data = self._manipulator(data)
        data = self._noise(data)
        replies: list[bytes] = []
        with self._cond:
            self._bytes_received += len(data)
            events = self._reader.feed(data)
            for event in events:
                if isinstance(event, LabelFormat):
                    self._queue.append(event)
                    self._cond.notify_all()
                elif isinstance(event, Immediate):
                    replies.append(self._immediate(event.name))
                elif isinstance(event, PrintSpeed):
                    self._print_speed = max(1, min(14, event.inches_per_second))
                else:
                    self._report(event)
        return b"".join(replies)

    def set_output(self, output: Callable[[bytes], None] | None) -> None:
        """Where bytes the printer sends on its own go (DPL feedback characters); the
        transport sets it to its connection."""
        self._output = output

    def _immediate(self, name: str) -> bytes:
        if name == STATUS:
            return self._dpl_status_locked()
        if name == FEEDBACK:
            self._feedback = True
            return b""
        if name == TOGGLE_PAUSE:
            self._state["paused"] = not self._state["paused"]
            self._cond.notify_all()
            return b""
        if name == "HS":
            return self._host_status_locked()
        if name == "PS":
            self._state["paused"] = False
        elif name == "PP":
            self._state["paused"] = True
        elif name == "JA":
            self._queue.clear()
        self._cond.notify_all()
        return b""

    def host_status(self) -> bytes:
        """The ``~HS`` answer for the current state."""
        with self._cond:
            return self._host_status_locked()

    def _host_status_locked(self) -> bytes:
        state = self._state
        if self.config.silent_when_faulted and (
            state["paper_out"] or state["ribbon_out"] or state["head_open"]
        ):
            return b""
        comm = self._comm_settings()
        formats = min(len(self._queue), 999)
        one = (
            f"{comm:03d},{int(state['paper_out'])},{int(state['paused'])},"
            f"{min(self._label_length, 9999):04d},{formats:03d},{int(self._buffer_full())},0,"
            f"{int(self._reader.in_format)},000,0,0,0"
        )
        two = (
            f"001,0,{int(state['head_open'])},{int(state['ribbon_out'])},1,2,6,0,"
            f"{int(self._printing):08d},1,000"
        )
        three = "1234,0"
        return b"".join(b"\x02" + s.encode("ascii") + b"\x03\r\n" for s in (one, two, three))

    def _dpl_status_locked(self) -> bytes:
        """``<SOH>A``: eight Y/N flags and CR (interpreter busy, paper out or fault, ribbon
        out, printing batch, busy printing, paused, label presented, reserved)."""
        state = self._state
        flags = (
            False,
            state["paper_out"] or state["head_open"],
            state["ribbon_out"],
            bool(self._queue),
            self._printing,
            state["paused"],
            False,
            False,
        )
        return "".join("Y" if flag else "N" for flag in flags).encode("ascii") + b"\r"

    def _comm_settings(self) -> int:
        code = BAUD_CODES.get(self.config.baudrate, BAUD_CODES[9600])
        baud_bits = ((code >> 3) << 8) | (code & 0b111)
        return baud_bits | 0b0001_1000  # 8 data bits, 1 stop bit, no parity, Xon/Xoff

    def _buffer_full(self) -> bool:
        return len(self._queue) >= self.config.buffer_capacity

    def _report(self, issue: ZplIssue) -> None:
        self._issue_count += 1
        self._issues.append(issue)
        log.warning("ZPL not understood: %s: %r", issue.reason, issue.text[:200])

    # -- faults ---------------------------------------------------------------------------

    def set_state(self, name: str, on: bool = True) -> None:
        """Switch a printer state: ``paper_out``, ``ribbon_out``, ``head_open``, ``paused``."""
        if name not in STATES:
            raise ValueError(f"printer state: expected one of {STATES}, got {name!r}")
        with self._cond:
            self._state[name] = on
            if not on and name == "ribbon_out":
                self._ribbon_out_after = None
            if not on and name == "paper_out":
                self._paper_out_after = None
            self._cond.notify_all()

    def clear_faults(self) -> None:
        """Operator fixes everything: new ribbon and labels, head closed, printing resumed."""
        for name in STATES:
            self.set_state(name, False)

    def inject(self, label_fault: str, count: int = 1) -> None:
        """Give the next ``count`` labels a print defect (see ``LABEL_FAULTS``)."""
        if label_fault not in LABEL_FAULTS:
            raise ValueError(f"label fault: expected one of {LABEL_FAULTS}, got {label_fault!r}")
        with self._cond:
            self._pending_label_faults[label_fault] = (
                self._pending_label_faults.get(label_fault, 0) + count
            )

    def fail_after(self, name: str, labels: int) -> None:
        """``ribbon_out`` or ``paper_out`` after ``labels`` more labels."""
        with self._cond:
            if name == "ribbon_out":
                self._ribbon_out_after = self._printed + labels
            elif name == "paper_out":
                self._paper_out_after = self._printed + labels
            else:
                raise ValueError(f"fail_after: expected ribbon_out or paper_out, got {name!r}")
            self._check_after_counts()

    def set_line_noise(self, probability: float) -> None:
        """Corrupt each received byte with this probability (0 switches noise off)."""
        self._noise.probability = probability

    def set_manipulator(self, manipulator: Manipulator | None) -> None:
        """Rewrite received bytes before the printer reads them (tests: split, corrupt)."""
        self._manipulator = manipulator

    def _check_after_counts(self) -> None:
        if self._ribbon_out_after is not None and self._printed >= self._ribbon_out_after:
            self._state["ribbon_out"] = True
        if self._paper_out_after is not None and self._printed >= self._paper_out_after:
            self._state["paper_out"] = True

    # -- status ---------------------------------------------------------------------------

    def status(self) -> SimulatorStatus:
        with self._cond:
            return SimulatorStatus(
                labels_printed=self._printed,
                formats_in_buffer=len(self._queue),
                printing=self._printing,
                buffer_full=self._buffer_full(),
                partial_format=self._reader.in_format,
                print_speed=self._print_speed,
                bytes_received=self._bytes_received,
                zpl_issues=self._issue_count,
                recent_issues=tuple(self._issues),
                **self._state,
            )

    def wait_printed(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` labels in all are printed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._printed >= count, timeout)

    # -- print engine ---------------------------------------------------------------------

    def _blocked(self) -> bool:
        return any(self._state.values())

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or (self._queue and not self._blocked()))
                if self._stopping:
                    return
                label = self._queue.popleft()
                self._printing = True
                speed = self._print_speed
                faults = self._take_label_faults(self._printed + 1)
                index = self._printed + 1
            started = time.monotonic()
            printed = self._print(label, index, faults)
            if self.config.print_time:
                length = label.length or self.config.length
                remaining = length / self.config.dpi / speed - (time.monotonic() - started)
                if remaining > 0:
                    time.sleep(remaining)
            with self._cond:
                self._printing = False
                self._printed = index
                self._label_length = label.length or self.config.length
                self._check_after_counts()
                self._cond.notify_all()
                output = self._output if self._feedback else None
            for sink in self._sinks:
                try:
                    sink(printed)
                except Exception:
                    log.exception("label subscriber %r failed on label %d", sink, index)
            if output is not None:  # the label is out (and seen by the sinks): RS
                try:
                    output(FEEDBACK_LABEL_OUT)
                except OSError:
                    log.warning("feedback character for label %d not sent", index)

    def _take_label_faults(self, index: int) -> tuple[str, ...]:
        names = []
        for name in LABEL_FAULTS:
            pending = self._pending_label_faults.get(name, 0)
            rule = self.config.faults.label.get(name)
            if pending:
                self._pending_label_faults[name] = pending - 1
                names.append(name)
            elif rule is not None and rule.hits(index, self._rng):
                names.append(name)
        return tuple(names)

    def _print(self, label: LabelFormat, index: int, faults: tuple[str, ...]) -> PrintedLabel:
        rendered = render(label, self.config.width, self.config.length)
        for error in rendered.errors:
            with self._cond:
                self._report(ZplIssue(error, ""))
        image = rendered.image
        for name in faults:
            image = apply_label_fault(name, image, rendered.barcodes, self._rng)
        return PrintedLabel(
            index=index,
            image=image,
            dpi=self.config.dpi,
            zpl=label.raw.decode("latin-1"),
            data=rendered.data,
            faults=faults,
            printed_at=time.time(),
        )


def _folder_writer(folder: Path) -> LabelSink:
    def write(label: PrintedLabel) -> None:
        cv2.imwrite(str(folder / f"label-{label.index:06d}.png"), label.image)

    return write
