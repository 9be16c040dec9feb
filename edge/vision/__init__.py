"""Camera capture, DataMatrix decoding and verification of printed unit codes.

- :mod:`edge.vision.frames`: frame sources (OpenCV ``VideoCapture``, folders, in-process
  queues) and trigger pairing.
- :mod:`edge.vision.decoding`: the :class:`Decoder` protocol, :class:`Decoded` and the
  registry keyed by :class:`DecoderKind` (``zxing`` default, ``libdmtx``).
- :mod:`edge.vision.quality`: cheap print-quality measurements (not an ISO 15415 grade).
- :mod:`edge.vision.verify`: :class:`Verifier` and its :class:`VerifyResult` values.
"""

from __future__ import annotations

from edge.vision.decoding import (
    GS1_DATAMATRIX,
    Decoded,
    Decoder,
    DecoderKind,
    Point,
    decoder_kind,
    make_decoder,
)
from edge.vision.errors import ConfigError, DecoderError, FrameSourceError, VisionError
from edge.vision.frames import (
    FolderSource,
    Frame,
    FrameSource,
    QueueSource,
    Trigger,
    TriggeredCapture,
    VideoCaptureSource,
    open_source,
)
from edge.vision.quality import Quality, QualityThresholds, measure_quality
from edge.vision.verify import Outcome, Verifier, VerifyResult

__all__ = [
    "GS1_DATAMATRIX",
    "ConfigError",
    "Decoded",
    "Decoder",
    "DecoderError",
    "DecoderKind",
    "FolderSource",
    "Frame",
    "FrameSource",
    "FrameSourceError",
    "Outcome",
    "Point",
    "Quality",
    "QualityThresholds",
    "QueueSource",
    "Trigger",
    "TriggeredCapture",
    "Verifier",
    "VerifyResult",
    "VideoCaptureSource",
    "VisionError",
    "decoder_kind",
    "make_decoder",
    "measure_quality",
    "open_source",
]
