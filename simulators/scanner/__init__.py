"""A virtual serial barcode scanner on a pty: types the codes it is given.

See :class:`~simulators.scanner.scanner.ScannerSimulator`; ``serialtrace sim scanner``
runs one from the command line.
"""

from __future__ import annotations

from simulators.scanner.scanner import ScannerProfile, ScannerSimulator, encode_scan

__all__ = ["ScannerProfile", "ScannerSimulator", "encode_scan"]
