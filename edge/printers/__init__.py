"""Label printers: ZPL label builder, templates, and drivers over pyserial URLs.

``LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(code)`` gives the ZPL of
one unit label; ``ZplPrinter(PrinterConfig(url=...))`` sends it and confirms it through the
printer's host status. See ``docs/printers.md``.
"""

from __future__ import annotations

from edge.printers.builder import LabelBuilder
from edge.printers.driver import (
    FlowControl,
    LabelPrinter,
    PrinterConfig,
    PrinterLanguage,
    PrintJob,
    ZplPrinter,
    open_printer,
)
from edge.printers.errors import (
    BufferFull,
    HeadOpen,
    LabelDataError,
    LabelError,
    PaperOut,
    Paused,
    PrinterDisconnected,
    PrinterError,
    PrinterProtocolError,
    PrinterTimeout,
    RibbonOut,
    TemplateError,
)
from edge.printers.status import HostStatus, PrinterFault, PrinterStatus
from edge.printers.templates import LabelKind, LabelTemplate, load_template

__all__ = [
    "BufferFull",
    "FlowControl",
    "HeadOpen",
    "HostStatus",
    "LabelBuilder",
    "LabelDataError",
    "LabelError",
    "LabelKind",
    "LabelPrinter",
    "LabelTemplate",
    "PaperOut",
    "Paused",
    "PrintJob",
    "PrinterConfig",
    "PrinterDisconnected",
    "PrinterError",
    "PrinterFault",
    "PrinterLanguage",
    "PrinterProtocolError",
    "PrinterStatus",
    "PrinterTimeout",
    "RibbonOut",
    "TemplateError",
    "ZplPrinter",
    "load_template",
    "open_printer",
]
