"""Exceptions of :mod:`edge.scanners`: faults only; a bad scan is a ``ScanResult`` value.

::

    ScannerError (edge.errors.EdgeError)
     ├── ConfigError     a scanner setting is unknown or malformed (at construction)
     └── PortError       the serial port cannot be opened or has failed
"""

from __future__ import annotations

from edge import errors


class ScannerError(errors.EdgeError):
    """Base of every :mod:`edge.scanners` exception."""


class ConfigError(ScannerError, errors.ConfigError):
    """A scanner setting is unknown or malformed; the message names the setting."""


class PortError(ScannerError):
    """The scanner's serial port cannot be opened, or failed while reading."""
