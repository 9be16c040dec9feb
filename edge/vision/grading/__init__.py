"""ISO/IEC 15415 print-quality grading of DataMatrix ECC 200 symbols.

- :class:`Grader` / :class:`GradingSettings` / :class:`Calibration`: grade a decoded symbol in
  a frame (:mod:`edge.vision.grading.grader`).
- :class:`GradeReport`, :class:`Parameter`, :func:`overall_grade`, :func:`letter`: what a
  grading says and how a verifier prints it (:mod:`edge.vision.grading.report`).
- :mod:`edge.vision.grading.ecc200` and :mod:`edge.vision.grading.reedsolomon`: the symbol
  structure and error correction the reference decode needs.
"""

from __future__ import annotations

from edge.vision.grading.grader import Calibration, Grader, GradingSettings
from edge.vision.grading.report import (
    PARAMETERS,
    GradeReport,
    Parameter,
    letter,
    overall_grade,
)

__all__ = [
    "PARAMETERS",
    "Calibration",
    "GradeReport",
    "Grader",
    "GradingSettings",
    "Parameter",
    "letter",
    "overall_grade",
]
