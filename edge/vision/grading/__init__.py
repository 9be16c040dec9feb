"""ISO/IEC 15415 print-quality grading of DataMatrix ECC 200 symbols.

- :class:`Grader` / :class:`GradingSettings` / :class:`Calibration`: grade a decoded symbol in
  a frame (:mod:`edge.vision.grading.grader`).
- :class:`GradeReport`, :class:`Parameter`, :func:`overall_grade`, :func:`letter`: what a
  grading says and how a verifier prints it (:mod:`edge.vision.grading.report`).
- :func:`grade_orientations` / :class:`SymbolGrade`: the overall symbol grade over several
  orientations of one symbol (:mod:`edge.vision.grading.orientations`).
- :mod:`edge.vision.grading.ecc200` and :mod:`edge.vision.grading.reedsolomon`: the symbol
  structure and error correction the reference decode needs.
"""

from __future__ import annotations

from edge.vision.grading.grader import Calibration, Grader, GradingSettings
from edge.vision.grading.orientations import STANDARD_ORIENTATIONS, grade_orientations
from edge.vision.grading.report import (
    PARAMETERS,
    GradeReport,
    Parameter,
    Scan,
    SymbolGrade,
    letter,
    mean_grade,
    overall_grade,
)

__all__ = [
    "PARAMETERS",
    "STANDARD_ORIENTATIONS",
    "Calibration",
    "GradeReport",
    "Grader",
    "GradingSettings",
    "Parameter",
    "Scan",
    "SymbolGrade",
    "grade_orientations",
    "letter",
    "mean_grade",
    "overall_grade",
]
