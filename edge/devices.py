"""What the agent needs from its devices: small protocols, so any driver (or a test double
that is just a function) plugs in. The adapters to the real drivers are in
:mod:`edge.wiring`.

:class:`DevicesConfig` is the ``[devices]`` table of the edge configuration: each device's
settings are the driver's own model (:class:`edge.printers.PrinterSettings`,
:class:`edge.scanners.ScannerSettings`, :class:`edge.vision.CameraSettings`), defined once
and embedded here.

Device faults are exceptions (:class:`DeviceFault`); outcomes are values (:class:`Verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

import gs1
from edge.errors import EdgeError
from edge.printers import LANGUAGES, LabelKind, PrinterSettings
from edge.scanners import ScannerSettings
from edge.vision import CameraSettings
from identity import UnitIdentity


class DevicesConfig(BaseModel):
    """The line's devices (``[devices.printer]``, ``case_printer``, ``camera``, ``scanner``).

    ``printer`` prints unit labels, ``case_printer`` case and pallet labels (SSCC), read back
    by ``scanner``; each printer's ``language`` must print its kind of label.

    ``idle_probe_s``: while no batch runs, the agent asks the unit and case printers for
    their status this often (a running line's devices are known by their work)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    printer: PrinterSettings | None = None
    case_printer: PrinterSettings | None = None
    camera: CameraSettings | None = None
    scanner: ScannerSettings | None = None
    idle_probe_s: Annotated[float, Field(gt=0, le=3600)] = 5.0

    @field_validator("printer")
    @classmethod
    def _prints_units(cls, printer: PrinterSettings | None) -> PrinterSettings | None:
        return _prints(printer, LabelKind.UNIT)

    @field_validator("case_printer")
    @classmethod
    def _prints_containers(cls, printer: PrinterSettings | None) -> PrinterSettings | None:
        return _prints(printer, LabelKind.LOGISTIC)


def _prints(printer: PrinterSettings | None, kind: LabelKind) -> PrinterSettings | None:
    if printer is None:
        return None
    able = sorted(language.value for language, entry in LANGUAGES.items() if kind in entry.kinds)
    if printer.language.value not in able:
        raise ValueError(
            f"language: expected one of {able} (the languages that print {kind.value} labels),"
            f" got {printer.language.value!r}"
        )
    return printer


class DeviceFault(EdgeError):
    """A device cannot do its job (offline, ribbon out, timeout): the line must stop.

    ``stop_line`` False means the fault concerns this one item only (e.g. one label
    refused) and the line can go on.
    """

    def __init__(self, device: str, message: str, *, stop_line: bool = True) -> None:
        self.device = device
        self.problem = message
        self.stop_line = stop_line
        super().__init__(f"{device}: {message}")


@dataclass(frozen=True)
class UnitGrade:
    """A unit's ISO/IEC 15415 print-quality grade as the line records it: the overall grade
    (0-4), its ISO notation (``3.0/08/660``: grade, aperture, wavelength), each parameter's
    grade by abbreviation (``DEC``, ``SC``, ``MOD``, ``RM``, ``FPD``, ``AN``, ``GN``,
    ``UEC``) and the parameters at the lowest grade."""

    overall: float
    iso: str
    parameters: Mapping[str, int] = field(default_factory=dict)
    limiting: tuple[str, ...] = ()

    @property
    def letter(self) -> str:
        for threshold, name in ((3.5, "A"), (2.5, "B"), (1.5, "C"), (0.5, "D")):
            if self.overall >= threshold:
                return name
        return "F"

    def as_extension(self) -> dict[str, object]:
        """The ``serialtrace:grade`` extension of the commissioning event (docs/events.md)."""
        return {
            "overall": self.overall,
            "letter": self.letter,
            "iso": self.iso,
            "parameters": dict(self.parameters),
            "limiting": list(self.limiting),
        }


@dataclass(frozen=True)
class Verdict:
    """What the camera said about one printed code.

    ``outcome`` is ``ok`` for a code that was read, is GS1 and carries exactly the expected
    data at an acceptable grade; otherwise the reason (``no_read``, ``wrong_data``,
    ``not_gs1``, ``poor_quality``, …) and a human-readable ``detail``. ``grade`` is the
    print-quality grade when the code was graded.
    """

    outcome: str
    detail: str = ""
    grade: UnitGrade | None = None
    image: npt.NDArray[np.uint8] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class PrintTicket:
    """A label handed to the printer: its number and when it was sent (``time.time()``);
    ``epoch`` is the printer driver's (see :class:`edge.printers.PrintJob`)."""

    sequence: int
    sent_at: float
    epoch: int = 0


class UnitPrinter(Protocol):
    """Prints unit labels: ``send`` returns at once, ``confirm`` waits until that label is out.

    Both raise DeviceFault; they are called from two threads (print and verify stages).
    Optional: ``cancel_pending() -> int | None``, called after a fault stopped the printer:
    cancel the labels sent and not yet out, which it would print once the fault is cleared
    (how many; None if they cannot be)."""

    def send(self, code: UnitIdentity) -> PrintTicket: ...

    def confirm(self, ticket: PrintTicket) -> None: ...

    def close(self) -> None:
        """Release the port; called once when the agent stops."""


class UnitVerifier(Protocol):
    """Captures the label printed after ``printed_after`` and checks it against ``expected``.

    ``label`` is the label's number at the printer (:attr:`PrintTicket.sequence`): a camera
    that counts its triggers matches the frame by it, not by its place in the stream."""

    def verify(
        self, expected: UnitIdentity, printed_after: float, *, label: int | None = None
    ) -> Verdict: ...

    def close(self) -> None:
        """Release the camera; called once when the agent stops."""


class ContainerLabeller(Protocol):
    """Prints a case or pallet label (SSCC) and reads it back."""

    def print_container(self, sscc: gs1.Sscc, level: str, children: int) -> None: ...

    def read_back(self, timeout_s: float) -> str | None:
        """The data read from the label just printed (any GS1 form), None if nothing read."""
        ...

    def close(self) -> None:
        """Release the printer and scanner ports; called once when the agent stops."""


class SerialSource(Protocol):
    """Durably allocated serials of one GTIN (``edge.serials.SerialPool``)."""

    def take(self) -> str: ...


class SsccSource(Protocol):
    """Durably allocated SSCCs (``edge.serials.SsccPool``)."""

    def take(self) -> gs1.Sscc: ...
