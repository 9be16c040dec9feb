"""Camera capture, DataMatrix decoding and verification of printed unit codes.

- :mod:`edge.vision.config`: :class:`CameraSettings`, the ``[devices.camera]`` table.
- :mod:`edge.vision.frames`: frame sources (OpenCV ``VideoCapture``, folders, in-process
  queues) and trigger pairing.
- :mod:`edge.vision.decoding`: the :class:`Decoder` protocol, :class:`Decoded` and the
  registry keyed by :class:`DecoderKind` (``ladder`` default, ``zxing``, ``libdmtx``).
- :mod:`edge.vision.ladder`: the decoding ladder (cheap zxing-cpp reads first, rotation,
  full size, inversion and libdmtx only on a miss, a hard deadline per frame).
- :mod:`edge.vision.quality`: cheap line checks (contrast, module size, quiet zone, angle).
- :mod:`edge.vision.grading`: ISO/IEC 15415 grading (:class:`Grader`, :class:`GradeReport`).
- :mod:`edge.vision.trend`: the moving grade of a line and its alarms.
- :mod:`edge.vision.verify`: :class:`Verifier` and its :class:`VerifyResult` values.
"""

from __future__ import annotations

from edge.errors import ConfigError
from edge.vision.config import CalibrationSettings, CameraSettings
from edge.vision.decoding import (
    GS1_DATAMATRIX,
    GS1_DATAMATRIX_IDENTIFIERS,
    Decoded,
    Decoder,
    DecoderKind,
    Point,
    decoder_kind,
    make_decoder,
)
from edge.vision.errors import DecoderError, FrameSourceError, VisionError
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
from edge.vision.grading import (
    STANDARD_ORIENTATIONS,
    Calibration,
    Grader,
    GradeReport,
    GradingSettings,
    SymbolGrade,
    grade_orientations,
    letter,
    overall_grade,
)
from edge.vision.ladder import DecodingLadder, LadderResult, LadderStep
from edge.vision.quality import Quality, QualityThresholds, measure_quality
from edge.vision.verify import Outcome, Verifier, VerifyResult

__all__ = [
    "GS1_DATAMATRIX",
    "GS1_DATAMATRIX_IDENTIFIERS",
    "STANDARD_ORIENTATIONS",
    "Calibration",
    "CalibrationSettings",
    "CameraSettings",
    "ConfigError",
    "Decoded",
    "Decoder",
    "DecoderError",
    "DecoderKind",
    "DecodingLadder",
    "FolderSource",
    "Frame",
    "FrameSource",
    "FrameSourceError",
    "GradeReport",
    "Grader",
    "GradingSettings",
    "LadderResult",
    "LadderStep",
    "Outcome",
    "Point",
    "Quality",
    "QualityThresholds",
    "QueueSource",
    "SymbolGrade",
    "Trigger",
    "TriggeredCapture",
    "Verifier",
    "VerifyResult",
    "VideoCaptureSource",
    "VisionError",
    "decoder_kind",
    "grade_orientations",
    "letter",
    "make_decoder",
    "measure_quality",
    "open_source",
    "overall_grade",
]
