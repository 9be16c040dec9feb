"""Verification of one printed unit code: decode, scheme check, parse, match, print quality.

:meth:`Verifier.verify` never raises for anything the frame contains; every outcome is a
:class:`VerifyResult` value::

    verifier = Verifier(make_decoder(DecoderKind.ZXING))
    result = verifier.verify(frame, expected=unit_code)
    if result.outcome is Outcome.OK: ...
    result.save(qa_folder)           # image + JSON, for QA

The expected code is any :class:`identity.UnitIdentity`: its
:meth:`~identity.UnitIdentity.matches` says whether the scan is its scheme's code and which
fields differ. Without an expected code the frame is read as GS1.

Order of checks: nothing reads -> ``no_read``; not a GS1 DataMatrix (a symbology
identifier without FNC1 in first position, see
:data:`~edge.vision.decoding.GS1_DATAMATRIX_IDENTIFIERS`) or GS1 data that does not parse
-> ``not_gs1`` (for an expected code of another scheme: a scan that is not that scheme's
code -> ``wrong_data``, with the scheme's reason as ``error``); parsed data differs from
the expected unit (GTIN, serial, lot, expiry for GS1; the scheme's fields otherwise)
-> ``wrong_data``; any quality check fails, or the ISO/IEC 15415 grade is
below ``min_grade`` -> ``poor_quality``; else ``ok``. Quality (and the grade, with a
:class:`~edge.vision.grading.Grader`) is measured whenever a symbol was decoded, so every
result that read something records what was read and how well it is printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2

from edge.errors import ConfigError
from edge.vision.decoding import GS1_DATAMATRIX_IDENTIFIERS, Decoded, Decoder, GreyImage
from edge.vision.grading import Grader, GradeReport, letter
from edge.vision.quality import Quality, QualityThresholds, measure_quality
from gs1 import Gs1Error, UnitCode
from gs1 import parse as parse_gs1
from identity import UnitIdentity


class Outcome(StrEnum):
    OK = "ok"
    NO_READ = "no_read"
    WRONG_DATA = "wrong_data"
    NOT_GS1 = "not_gs1"
    POOR_QUALITY = "poor_quality"


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on one frame, with everything needed to explain it.

    ``parsed`` is what the expected code's scheme (GS1 without one: :func:`gs1.parse`)
    made of the symbol (a :class:`gs1.UnitCode` for a GS1 unit label); ``mismatches`` name
    each expected field that differs, as ``"serial: expected 'A1', got 'A2'"``; ``error``
    says why a symbol was not accepted as the scheme's code or why decoding failed.
    ``image`` is the frame verified (kept for :meth:`save`, left out of comparisons and
    ``repr``).
    """

    outcome: Outcome
    decoded: Decoded | None
    parsed: object | None
    expected: UnitIdentity | None
    mismatches: tuple[str, ...]
    quality: Quality | None
    elapsed_ms: float
    error: str | None = None
    source: str = ""
    image: GreyImage | None = field(default=None, compare=False, repr=False)
    grade: GradeReport | None = None
    failures: tuple[str, ...] = ()
    """Why the result is ``poor_quality``: the quality checks and the grade that failed."""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def step(self) -> str | None:
        """The decoding ladder step that read the symbol (None without a read)."""
        return self.decoded.step or None if self.decoded else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``serialtrace vision read`` line and the QA record)."""
        decoded = self.decoded
        return {
            "source": self.source,
            "outcome": self.outcome.value,
            "symbology_identifier": decoded.symbology_identifier if decoded else None,
            "data": decoded.data if decoded else None,
            "decoder": decoded.decoder if decoded else None,
            "step": self.step,
            "corners": [[round(p.x, 1), round(p.y, 1)] for p in decoded.corners]
            if decoded
            else None,
            "symbol_size": f"{decoded.rows}x{decoded.columns}" if decoded else None,
            "parsed": code_fields(self.parsed),
            "expected": code_fields(self.expected),
            "mismatches": list(self.mismatches),
            "quality": _quality_dict(self.quality),
            "grade": self.grade.to_dict() if self.grade is not None else None,
            "failures": list(self.failures),
            "elapsed_ms": round(self.elapsed_ms, 3),
            "error": self.error,
        }

    def save(self, folder: Path | str) -> Path:
        """Write ``<time>-<outcome>.png`` (when the image is kept) and ``.json`` to ``folder``.

        Returns the JSON file's path. Names are unique per call (UTC time to the microsecond
        plus a counter on collision).
        """
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        stem = f"{stamp}-{self.outcome.value}"
        counter = 0
        while (target / f"{stem}.json").exists():
            counter += 1
            stem = f"{stamp}-{self.outcome.value}-{counter}"
        record = self.to_dict()
        if self.image is not None:
            image_path = target / f"{stem}.png"
            cv2.imwrite(str(image_path), self.image)
            record["image"] = image_path.name
        json_path = target / f"{stem}.json"
        json_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return json_path


class Verifier:
    """Verifies frames with one decoder, one set of quality thresholds and, optionally, an
    ISO/IEC 15415 grader with a minimum overall grade.

    ``keep_images``: keep each verified frame in its result (needed for
    :meth:`VerifyResult.save`; the frame is referenced, not copied). ``min_grade`` (0-4,
    e.g. 1.5 = C, GS1's recommendation for healthcare) needs a ``grader``.
    """

    def __init__(
        self,
        decoder: Decoder,
        thresholds: QualityThresholds | None = None,
        *,
        keep_images: bool = True,
        grader: Grader | None = None,
        min_grade: float | None = None,
    ) -> None:
        if min_grade is not None and not 0.0 <= min_grade <= 4.0:
            raise ConfigError(f"min_grade: expected 0 to 4, got {min_grade!r}")
        if min_grade is not None and grader is None:
            raise ConfigError("min_grade: expected a grader to grade with, got none")
        self.decoder = decoder
        self.thresholds = thresholds or QualityThresholds()
        self.keep_images = keep_images
        self.grader = grader
        self.min_grade = min_grade

    def verify(
        self,
        image: GreyImage,
        expected: UnitIdentity | None = None,
        *,
        source: str = "",
        grade: bool = True,
    ) -> VerifyResult:
        """Verify one frame; ``grade`` False skips the grading (never when a minimum grade
        is set: the rule needs it)."""
        started = time.perf_counter()
        grading = grade or self.min_grade is not None
        kept = image if self.keep_images else None

        def result(
            outcome: Outcome,
            decoded: Decoded | None = None,
            parsed: object | None = None,
            mismatches: tuple[str, ...] = (),
            quality: Quality | None = None,
            error: str | None = None,
            grade: GradeReport | None = None,
            failures: tuple[str, ...] = (),
        ) -> VerifyResult:
            elapsed = (time.perf_counter() - started) * 1000.0
            return VerifyResult(
                outcome=outcome,
                decoded=decoded,
                parsed=parsed,
                expected=expected,
                mismatches=mismatches,
                quality=quality,
                elapsed_ms=elapsed,
                error=error,
                source=source,
                image=kept,
                grade=grade,
                failures=failures,
            )

        try:
            decoded = self.decoder.decode(image)
        except Exception as exc:  # a decoder library fault must not stop the line
            return result(Outcome.NO_READ, error=f"decoder {self.decoder.name}: {exc}")
        if decoded is None:
            return result(Outcome.NO_READ)
        quality = measure_quality(image, decoded, self.thresholds)
        report = self._grade(image, decoded) if grading else None
        if expected is not None:
            match = expected.matches(decoded.transmitted)
            if match.error is not None:
                outcome = Outcome.NOT_GS1 if expected.scheme == "gs1" else Outcome.WRONG_DATA
                return result(outcome, decoded, quality=quality, grade=report, error=match.error)
            parsed: object = match.read
            if match.mismatches:
                return result(
                    Outcome.WRONG_DATA, decoded, parsed, match.mismatches, quality, grade=report
                )
            return self._judged(result, decoded, parsed, quality, report)
        if not decoded.is_gs1:
            expected_ids = ", ".join(GS1_DATAMATRIX_IDENTIFIERS)
            return result(
                Outcome.NOT_GS1,
                decoded,
                quality=quality,
                grade=report,
                error=f"symbology_identifier: expected a GS1 DataMatrix ({expected_ids}), "
                f"got {decoded.symbology_identifier!r}",
            )
        try:
            parsed = parse_gs1(decoded.transmitted)
        except Gs1Error as exc:
            return result(Outcome.NOT_GS1, decoded, quality=quality, grade=report, error=str(exc))
        return self._judged(result, decoded, parsed, quality, report)

    def _judged(
        self,
        result: Callable[..., VerifyResult],
        decoded: Decoded,
        parsed: object,
        quality: Quality,
        report: GradeReport | None,
    ) -> VerifyResult:
        """The verdict on a symbol whose data is right: ``ok`` or ``poor_quality``."""
        failures = list(quality.failures)
        if self.min_grade is not None and report is not None and report.overall < self.min_grade:
            failures.append(
                f"grade: expected at least {self.min_grade:.1f} ({letter(self.min_grade)}), "
                f"got {report.overall:.1f} ({report.letter}); lowest: {', '.join(report.limiting)}"
            )
        if failures:
            return result(
                Outcome.POOR_QUALITY,
                decoded,
                parsed,
                quality=quality,
                grade=report,
                failures=tuple(failures),
            )
        return result(Outcome.OK, decoded, parsed, quality=quality, grade=report)

    def _grade(self, image: GreyImage, decoded: Decoded) -> GradeReport | None:
        if self.grader is None:
            return None
        return self.grader.grade(image, decoded)


def code_fields(code: object | None) -> dict[str, Any] | None:
    """The fields of a parsed or expected code as plain JSON values: GTIN, expiry, lot,
    serial and HRI for GS1; scheme, product, serial, lot and HRI for another scheme."""
    if code is None:
        return None
    if isinstance(code, UnitCode):
        return {
            "gtin": code.gtin.value,
            "expiry": _expiry(code),
            "lot": code.lot,
            "serial": code.serial,
            "hri": code.hri(),
        }
    if isinstance(code, UnitIdentity):
        key = code.key()
        return {
            "scheme": key.scheme,
            "product": key.product,
            "serial": key.serial,
            "lot": code.lot,
            "hri": code.hri(),
        }
    value = getattr(code, "value", None)
    return {"type": type(code).__name__, "value": value if value is not None else str(code)}


def _expiry(code: UnitCode) -> str | None:
    return code.expiry.yymmdd() if code.expiry is not None else None


def _quality_dict(quality: Quality | None) -> dict[str, Any] | None:
    if quality is None:
        return None
    return {
        "symbol_contrast": quality.symbol_contrast,
        "module_px": quality.module_px,
        "quiet_zone_dark": quality.quiet_zone_dark,
        "angle_deg": quality.angle_deg,
        "failures": list(quality.failures),
    }
