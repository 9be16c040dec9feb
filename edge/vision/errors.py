"""Exceptions of :mod:`edge.vision`: faults of the infrastructure, never verification outcomes.

A code that does not read, reads the wrong data or prints badly is a
:class:`~edge.vision.verify.VerifyResult` value. These exceptions are for what a caller must
handle as a fault::

    VisionError (edge.errors.EdgeError)
     ├── FrameSourceError    a camera, stream or folder cannot be opened or read
     └── DecoderError        a decoder library is missing or failed outside a normal "no read"

A setting out of range or unknown is the edge's one :class:`edge.errors.ConfigError` (raised
at construction; also exported here as ``edge.vision.ConfigError``).
"""

from __future__ import annotations

from edge import errors


class VisionError(errors.EdgeError):
    """Base of every :mod:`edge.vision` exception."""


class FrameSourceError(VisionError):
    """A frame source cannot be opened or has failed."""


class DecoderError(VisionError):
    """A decoder library could not be loaded or failed in a way that is not a plain no-read."""
