"""Exceptions of :mod:`edge.scanners`: faults only; a bad scan is a ``ScanResult`` value.

::

    ScannerError (edge.errors.EdgeError)
     └── PortError       the serial port cannot be opened or has failed

A scanner setting that is unknown or malformed is the edge's one
:class:`edge.errors.ConfigError` (raised at construction; also exported here as
``edge.scanners.ConfigError``).
"""

from __future__ import annotations

from edge import errors


class ScannerError(errors.EdgeError):
    """Base of every :mod:`edge.scanners` exception."""


class PortError(ScannerError):
    """The scanner's serial port cannot be opened, or failed while reading."""
