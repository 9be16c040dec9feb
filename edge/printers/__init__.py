"""Label printers: ZPL label builder, templates, and drivers over pyserial URLs.

``LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(code)`` gives the ZPL of
one unit label; ``ZplPrinter(PrinterConfig(url=...))`` sends it and confirms it through the
printer's host status. ``open_printer(settings)`` and ``label_builder(language, template)``
pick the driver and builder of the configured language (ZPL or DPL, :mod:`.registry`). See
``docs/printers.md``.
"""

from __future__ import annotations

from edge.printers.builder import LabelBuilder
from edge.printers.config import (
    FlowControl,
    PrinterConfig,
    PrinterLanguage,
    PrinterSettings,
)
from edge.printers.dpl import DplLabelBuilder, DplPrinter, DplStatus
from edge.printers.driver import LabelPrinter, PrintJob, SerialPrinter
from edge.printers.errors import (
    BufferFull,
    HeadOpen,
    LabelCancelled,
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
from edge.printers.registry import (
    LANGUAGES,
    PRINTER_DRIVERS,
    LabelFormatter,
    Language,
    label_builder,
    open_printer,
)
from edge.printers.status import HostStatus, PrinterFault, PrinterStatus
from edge.printers.templates import LabelKind, LabelTemplate, load_template
from edge.printers.zpl import ZplPrinter

__all__ = [
    "LANGUAGES",
    "PRINTER_DRIVERS",
    "BufferFull",
    "DplLabelBuilder",
    "DplPrinter",
    "DplStatus",
    "FlowControl",
    "HeadOpen",
    "HostStatus",
    "LabelBuilder",
    "LabelCancelled",
    "LabelDataError",
    "LabelError",
    "LabelFormatter",
    "LabelKind",
    "LabelPrinter",
    "LabelTemplate",
    "Language",
    "PaperOut",
    "Paused",
    "PrintJob",
    "PrinterConfig",
    "PrinterDisconnected",
    "PrinterError",
    "PrinterFault",
    "PrinterLanguage",
    "PrinterProtocolError",
    "PrinterSettings",
    "PrinterStatus",
    "PrinterTimeout",
    "RibbonOut",
    "SerialPrinter",
    "TemplateError",
    "ZplPrinter",
    "label_builder",
    "load_template",
    "open_printer",
]
