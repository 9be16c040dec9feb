"""What an ISO/IEC 15415 grading says: parameters with value and grade, the scan grade, the
overall symbol grade over several images, and the report a verifier prints.

Grades are integers 0-4 per parameter (4 = A, 0 = F); the scan grade of one image is its
lowest parameter grade; the overall symbol grade is the arithmetic mean of the scan grades of
the images of one symbol (:class:`SymbolGrade`: five orientations for ``vision grade``, one
image on the line), to one decimal, with its letter: A >= 3.5, B >= 2.5, C >= 1.5,
D >= 0.5, else F. An image in which the symbol does not decode has scan grade 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.vision.decoding import Decoded

PARAMETERS = (
    "decode",
    "symbol_contrast",
    "modulation",
    "reflectance_margin",
    "fixed_pattern_damage",
    "axial_nonuniformity",
    "grid_nonuniformity",
    "unused_error_correction",
)
"""The graded parameters, in the order a report lists them."""

ABBREVIATIONS = {
    "decode": "DEC",
    "symbol_contrast": "SC",
    "modulation": "MOD",
    "reflectance_margin": "RM",
    "fixed_pattern_damage": "FPD",
    "axial_nonuniformity": "AN",
    "grid_nonuniformity": "GN",
    "unused_error_correction": "UEC",
}

TITLES = {
    "decode": "Decode",
    "symbol_contrast": "Symbol contrast",
    "modulation": "Modulation",
    "reflectance_margin": "Reflectance margin",
    "fixed_pattern_damage": "Fixed pattern damage",
    "axial_nonuniformity": "Axial non-uniformity",
    "grid_nonuniformity": "Grid non-uniformity",
    "unused_error_correction": "Unused error correction",
}


def letter(grade: float) -> str:
    """ISO/IEC 15415 letter of a numeric grade (overall grades may be fractional)."""
    if grade >= 3.5:
        return "A"
    if grade >= 2.5:
        return "B"
    if grade >= 1.5:
        return "C"
    if grade >= 0.5:
        return "D"
    return "F"


def grade_at_least(value: float, thresholds: Sequence[float]) -> int:
    """4..0: the number of ``thresholds`` (for grades 4, 3, 2, 1, descending) that ``value``
    reaches, counted from the top."""
    for grade, threshold in zip((4, 3, 2, 1), thresholds, strict=True):
        if value >= threshold:
            return grade
    return 0


def grade_at_most(value: float, thresholds: Sequence[float]) -> int:
    """4..0 for a parameter where smaller is better (``thresholds`` ascending, for 4..1)."""
    for grade, threshold in zip((4, 3, 2, 1), thresholds, strict=True):
        if value <= threshold:
            return grade
    return 0


SC_THRESHOLDS = (0.70, 0.55, 0.40, 0.20)
MOD_THRESHOLDS = (0.50, 0.40, 0.30, 0.20)
AN_THRESHOLDS = (0.06, 0.08, 0.10, 0.12)
GN_THRESHOLDS = (0.38, 0.50, 0.63, 0.75)
UEC_THRESHOLDS = (0.62, 0.50, 0.37, 0.25)
FPD_DAMAGE_THRESHOLDS = (0.0, 0.09, 0.13, 0.17)
"""Largest fraction of modules in error of a fixed-pattern segment for grades 4..1 (see
docs/vision.md for where this comes from)."""


@dataclass(frozen=True)
class Parameter:
    """One graded parameter: its measured ``value`` (None where it has none, e.g. decode)
    and its grade 0-4."""

    name: str
    value: float | None
    grade: int

    @property
    def letter(self) -> str:
        return letter(self.grade)

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": None if self.value is None else round(self.value, 3),
            "grade": self.grade,
            "letter": self.letter,
        }


@dataclass(frozen=True)
class GradeReport:
    """The ISO/IEC 15415 grading of one image of one DataMatrix.

    ``parameters`` by name (see :data:`PARAMETERS`); ``segments`` are the fixed pattern
    damage segment grades (``L1``, ``L2``, ``QZL1``, ``QZL2``, ``OCTASA``, ``AG``);
    ``print_growth`` the horizontal and vertical growth of dark modules as a fraction of the
    module size (reported, not graded); ``reflectance`` Rmax, Rmin and the global threshold
    (0..1). ``error`` says why grading stopped early (every parameter is then 0).
    """

    parameters: dict[str, Parameter]
    segments: dict[str, int]
    print_growth: tuple[float, float]
    reflectance: tuple[float, float, float]
    symbol_size: str
    module_px: float
    aperture: float
    aperture_px: float
    wavelength_nm: int
    data: str | None
    corrected: tuple[int, ...]
    """Codewords corrected per Reed-Solomon block."""
    ec_capacity: int
    elapsed_ms: float
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scan_grade(self) -> int:
        """The lowest parameter grade (ISO/IEC 15415: the grade of this image)."""
        return min(p.grade for p in self.parameters.values())

    @property
    def overall(self) -> float:
        """The overall symbol grade of this one image (the mean over one scan grade)."""
        return float(self.scan_grade)

    @property
    def letter(self) -> str:
        return letter(self.scan_grade)

    @property
    def limiting(self) -> tuple[str, ...]:
        """The parameters at the scan grade: what limits this symbol."""
        lowest = self.scan_grade
        return tuple(name for name in PARAMETERS if self.parameters[name].grade == lowest)

    def iso_notation(self) -> str:
        """``grade/aperture/wavelength`` as ISO/IEC 15415 5.4 writes a grade, with the
        aperture as a fraction of the module size (``08`` = 0.8 X)."""
        return f"{self.overall:.1f}/{round(self.aperture * 10):02d}/{self.wavelength_nm}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall_grade": round(self.overall, 1),
            "letter": self.letter,
            "iso": self.iso_notation(),
            "limiting": list(self.limiting),
            "parameters": {name: self.parameters[name].as_dict() for name in PARAMETERS},
            "fixed_pattern_segments": dict(self.segments),
            "print_growth": {
                "horizontal": round(self.print_growth[0], 3),
                "vertical": round(self.print_growth[1], 3),
            },
            "reflectance": {
                "rmax": round(self.reflectance[0], 3),
                "rmin": round(self.reflectance[1], 3),
                "global_threshold": round(self.reflectance[2], 3),
            },
            "symbol_size": self.symbol_size,
            "module_px": round(self.module_px, 2),
            "aperture": {"x": self.aperture, "px": round(self.aperture_px, 2)},
            "wavelength_nm": self.wavelength_nm,
            "ec_corrected": list(self.corrected),
            "ec_capacity": self.ec_capacity,
            "data": self.data,
            "contrast_uniformity": self.extra.get("contrast_uniformity"),
            "modules_in_error": self.extra.get("modules_in_error"),
            "elapsed_ms": round(self.elapsed_ms, 2),
            "error": self.error,
        }

    def text(self, source: str = "") -> str:
        """The report as a verifier prints it."""
        lines = []
        if source:
            lines.append(source)
        lines.append(
            f"ISO/IEC 15415 DataMatrix {self.symbol_size}  overall grade "
            f"{self.overall:.1f} ({self.letter})  {self.iso_notation()}"
        )
        lines.extend(self.detail_lines())
        return "\n".join(lines)

    def detail_lines(self) -> list[str]:
        """The report without its heading: data, light, reflectance, every parameter."""
        lines: list[str] = []
        if self.error:
            lines.append(f"  not graded: {self.error}")
        if self.data is not None:
            lines.append(f"  data: {printable(self.data)}")
        lines.append(
            f"  module {self.module_px:.2f} px, aperture {self.aperture:.2f} X "
            f"({self.aperture_px:.2f} px), light {self.wavelength_nm} nm"
        )
        rmax, rmin, gt = self.reflectance
        lines.append(f"  Rmax {rmax:.1%}  Rmin {rmin:.1%}  GT {gt:.1%}")
        for name in PARAMETERS:
            parameter = self.parameters[name]
            value = "" if parameter.value is None else _format_value(name, parameter.value)
            marker = "  <" if name in self.limiting and self.scan_grade < 4 else ""
            lines.append(
                f"  {ABBREVIATIONS[name]:4} {TITLES[name]:26} {value:>8}   "
                f"{parameter.grade} ({parameter.letter}){marker}"
            )
        uniformity = self.extra.get("contrast_uniformity")
        if uniformity is not None:
            lines.append(
                f"       contrast uniformity (lowest module modulation): {uniformity:.0%}; "
                "MOD and RM values are the notional UEC their grade came from"
            )
        segments = "  ".join(f"{k} {v}" for k, v in self.segments.items())
        if segments:
            lines.append(f"       fixed pattern segments: {segments}")
        lines.append(
            f"       print growth: horizontal {self.print_growth[0]:+.1%}, "
            f"vertical {self.print_growth[1]:+.1%} (not graded)"
        )
        if self.corrected:
            lines.append(
                f"       error correction: {', '.join(map(str, self.corrected))} of "
                f"{self.ec_capacity} codewords per block used"
            )
        return lines


def _format_value(name: str, value: float) -> str:
    if name in ("axial_nonuniformity", "grid_nonuniformity"):
        return f"{value:.3f}"
    return f"{value:.0%}"


def printable(data: str) -> str:
    """Data with control characters shown as <GS>, <RS>, <EOT> or \\xNN."""
    names = {"\x1d": "<GS>", "\x1e": "<RS>", "\x04": "<EOT>"}
    return "".join(names.get(ch, ch if ch.isprintable() else f"\\x{ord(ch):02x}") for ch in data)


def mean_grade(scan_grades: Sequence[int]) -> float:
    """ISO/IEC 15415 overall symbol grade: the arithmetic mean of the scan grades of the
    images of one symbol, to one decimal (0.0 for none)."""
    if not scan_grades:
        return 0.0
    return round(sum(scan_grades) / len(scan_grades), 1)


def overall_grade(reports: Sequence[GradeReport]) -> float:
    """ISO/IEC 15415 overall symbol grade of the graded images ``reports`` of one symbol."""
    return mean_grade([report.scan_grade for report in reports])


@dataclass(frozen=True)
class Scan:
    """One image of a symbol, graded: the image turned ``angle_deg`` counter-clockwise, its
    report, or why it has none (then its scan grade is 0: the symbol did not decode)."""

    angle_deg: float
    report: GradeReport | None
    error: str | None = None
    decoded: Decoded | None = None
    """What the decoder read in this image (None when nothing)."""

    @property
    def scan_grade(self) -> int:
        return self.report.scan_grade if self.report is not None else 0

    def to_dict(self) -> dict[str, Any]:
        report = self.report
        return {
            "angle_deg": round(self.angle_deg, 1),
            "scan_grade": self.scan_grade,
            "letter": letter(self.scan_grade),
            "limiting": list(report.limiting) if report is not None else ["decode"],
            "elapsed_ms": round(report.elapsed_ms, 2) if report is not None else None,
            "error": self.error if report is None else report.error,
        }


@dataclass(frozen=True)
class SymbolGrade:
    """The overall symbol grade of one symbol over several images (``scans``, in order):
    the arithmetic mean of their scan grades (:func:`mean_grade`)."""

    scans: tuple[Scan, ...]

    @property
    def overall(self) -> float:
        return mean_grade([scan.scan_grade for scan in self.scans])

    @property
    def letter(self) -> str:
        return letter(self.overall)

    @property
    def first_graded(self) -> Scan | None:
        """The first scan graded (the symbol as it lies, when it decodes there)."""
        return next((scan for scan in self.scans if scan.report is not None), None)

    @property
    def detail(self) -> GradeReport | None:
        """The report of the first scan graded."""
        first = self.first_graded
        return first.report if first is not None else None

    def iso_notation(self) -> str:
        """``grade/aperture/wavelength`` of the overall grade (ISO/IEC 15415 5.4)."""
        detail = self.detail
        if detail is None:
            return f"{self.overall:.1f}"
        return f"{self.overall:.1f}/{round(detail.aperture * 10):02d}/{detail.wavelength_nm}"

    def to_dict(self) -> dict[str, Any]:
        """The first graded image's report with the overall grade of all the scans, and each
        scan's grade."""
        detail = self.detail
        record = detail.to_dict() if detail is not None else {}
        record.update(
            {
                "overall_grade": self.overall,
                "letter": self.letter,
                "iso": self.iso_notation(),
                "orientations": len(self.scans),
                "scans": [scan.to_dict() for scan in self.scans],
            }
        )
        return record

    def text(self, source: str = "") -> str:
        """As a verifier prints it: the overall grade, each scan grade, then the detailed
        report of the first image graded."""
        lines = [source] if source else []
        detail = self.detail
        size = detail.symbol_size if detail is not None else "?"
        lines.append(
            f"ISO/IEC 15415 DataMatrix {size}  overall grade {self.overall:.1f} "
            f"({self.letter})  {self.iso_notation()}"
        )
        lines.append(f"  mean of {len(self.scans)} scan grades, the image turned:")
        for scan in self.scans:
            if scan.report is None:
                why = f"not graded: {scan.error}"
            elif scan.scan_grade < 4:
                why = "lowest: " + ", ".join(ABBREVIATIONS[n] for n in scan.report.limiting)
            else:
                why = ""
            lines.append(
                f"  {scan.angle_deg:5g}°  {scan.scan_grade} ({letter(scan.scan_grade)})"
                f"{'  ' + why if why else ''}"
            )
        first = self.first_graded
        if first is not None and first.report is not None:
            lines.append(
                f"  scan at {first.angle_deg:g}°: grade {first.scan_grade} "
                f"({first.report.letter})  {first.report.iso_notation()}"
            )
            lines.extend(first.report.detail_lines())
        return "\n".join(lines)
