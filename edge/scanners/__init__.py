"""Serial barcode scanners: line framing, symbology identifiers, GS1 data.

- :class:`ScannerConfig`: terminator, prefix/suffix, symbology identifiers, GS substitute.
- :class:`ScannerSettings`: the ``[devices.scanner]`` table (port, read timeout, framing).
- :class:`SerialScanner`: the driver on any pyserial URL; each scan a :class:`ScanResult`;
  :func:`open_scanner` builds it from settings.
- :class:`LineFramer` and :func:`interpret`: the framing and meaning layers on their own.
"""

from __future__ import annotations

from edge.errors import ConfigError
from edge.scanners.config import (
    ScannerConfig,
    ScannerSettings,
    escaped_bytes,
    terminator_from_name,
)
from edge.scanners.driver import SerialScanner, open_scanner
from edge.scanners.errors import PortError, ScannerError
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
    "ScannerSettings",
    "SerialScanner",
    "escaped_bytes",
    "interpret",
    "open_scanner",
    "terminator_from_name",
]
