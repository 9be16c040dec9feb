"""The virtual ZPL printer: ``VirtualPrinter`` on a ``PtyTransport`` or ``TcpTransport``.

It reads the ZPL subset ``edge.printers`` writes, answers ``~HS`` from its real state, takes
the time a printer takes, renders each label (GS1 DataMatrix, GS1-128, text) and hands it on
as a :class:`simulators.labels.PrintedLabel`. Faults come from config or method calls.
"""

from __future__ import annotations

from simulators.printer.device import PrinterSimConfig, SimulatorStatus, VirtualPrinter
from simulators.printer.faults import LABEL_FAULTS, FaultConfig, LabelFaultRule
from simulators.printer.transport import PtyTransport, TcpTransport

__all__ = [
    "LABEL_FAULTS",
    "FaultConfig",
    "LabelFaultRule",
    "PrinterSimConfig",
    "PtyTransport",
    "SimulatorStatus",
    "TcpTransport",
    "VirtualPrinter",
]
