"""Serial barcode scanners: line framing, symbology identifiers, GS1 data.

- :class:`ScannerConfig`: terminator, prefix/suffix, symbology identifiers, GS substitute.
- :class:`SerialScanner`: the driver on any pyserial URL; each scan a :class:`ScanResult`.
- :class:`LineFramer` and :func:`interpret`: the framing and meaning layers on their own.
"""

from __future__ import annotations

from edge.scanners.config import ScannerConfig, escaped_bytes, terminator_from_name
from edge.scanners.driver import SerialScanner
from edge.scanners.errors import ConfigError, PortError, ScannerError
from edge.scanners.framing import FrameKind, LineFrame, LineFramer
from edge.scanners.scan import ScanOutcome, ScanResult, interpret

__all__ = [
    "ConfigError",
    "FrameKind",
    "LineFrame",
    "LineFramer",
    "PortError",
    "ScanOutcome",
    "ScanResult",
    "ScannerConfig",
    "ScannerError",
    "SerialScanner",
    "escaped_bytes",
    "interpret",
    "terminator_from_name",
]
