"""``serialtrace vision``: read and grade DataMatrix images.

``vision read FILE...`` decodes each image (with the decoding ladder unless ``--decoder``
says otherwise) and prints one JSON line: what was decoded (always, whatever the outcome),
the symbology identifier, the ladder step that read it, the parsed GS1 fields, the outcome
against ``--expect``, the line checks measured and the time taken. No line thresholds
apply unless ``--thresholds FILE`` gives them (a TOML file, see docs/vision.md); then a code
that fails them is ``poor_quality``. Exit status 0 when every image is ``ok``, 1 otherwise,
2 on bad arguments.

``vision grade FILE...`` grades each image per ISO/IEC 15415 and prints the report a
verifier prints (``--json``: one JSON object per line). Each file is one symbol graded in
``--orientations N`` orientations (default 5, as a verifier takes them: the symbol found
once, then the image turned by 360/N degrees each time and graded again); its overall
symbol grade is the arithmetic mean of the N scan grades (0 for an orientation whose
reference decode fails), and every scan grade is printed. ``--orientations 1`` grades the
image as it is. ``--symbol`` treats the files as images of one symbol (e.g. photographed at
the orientations the standard asks for; then each is graded as it is unless
``--orientations`` says otherwise) and adds the overall symbol grade, the mean of all their
scan grades. Exit status 0 when every symbol was graded at ``--min-grade`` or better
(default: when every symbol decoded), 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.vision import (
    STANDARD_ORIENTATIONS,
    Calibration,
    ConfigError,
    Decoder,
    DecoderKind,
    DecodingLadder,
    Grader,
    GradingSettings,
    QualityThresholds,
    SymbolGrade,
    Verifier,
    grade_orientations,
    letter,
    make_decoder,
)
from edge.vision.decoding import GreyImage
from edge.vision.grading.orientations import MAX_ORIENTATIONS, angles
from edge.vision.grading.report import Scan
from edge.vision.ladder import MIN_LIBDMTX_MS
from gs1 import Gs1Error, UnitCode
from gs1 import parse as parse_gs1
from serialtrace.cli import CliError

MAX_IMAGE_PIXELS = 50_000_000
"""Larger images are refused (a hostile file must not exhaust memory)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("vision", help="read and grade DataMatrix images")
    vision = parser.add_subparsers(dest="vision_command", metavar="ACTION", required=True)
    read = vision.add_parser(
        "read",
        help="decode and verify DataMatrix images, one JSON line per image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    read.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files")
    _decoder_options(read)
    read.add_argument(
        "--expect", metavar="CODE", help="expected unit code in any GS1 form, e.g. (01)…(21)…"
    )
    read.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help="TOML file of line thresholds (none apply without it)",
    )
    read.add_argument("--grade", action="store_true", help="also grade each symbol (ISO/IEC 15415)")
    _grading_options(read)
    read.add_argument("--save-dir", type=Path, metavar="DIR", help="save image + JSON per result")
    read.set_defaults(handler=run_read)

    grade = vision.add_parser(
        "grade",
        help="grade DataMatrix images per ISO/IEC 15415, as a verifier prints it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files")
    grade.add_argument("--json", action="store_true", help="one JSON object per line")
    grade.add_argument(
        "--orientations",
        type=int,
        metavar="N",
        help=f"grade each file in N orientations, 360/N degrees apart, and average the scan "
        f"grades (default {STANDARD_ORIENTATIONS}; 1 with --symbol)",
    )
    grade.add_argument(
        "--symbol",
        action="store_true",
        help="the files are images of one symbol: print their overall symbol grade",
    )
    grade.add_argument(
        "--min-grade", type=float, metavar="GRADE", help="exit 1 if any grade is lower (0-4)"
    )
    _decoder_options(grade)
    _grading_options(grade)
    grade.set_defaults(handler=run_grade)


def _decoder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decoder",
        choices=[kind.value for kind in DecoderKind],
        default=DecoderKind.LADDER.value,
        help="ladder (default): zxing-cpp step by step, then libdmtx",
    )
    parser.add_argument(
        "--deadline-ms",
        type=float,
        default=500.0,
        metavar="MS",
        help="the ladder's time limit per image (default 500 ms)",
    )


def _grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aperture",
        type=float,
        default=GradingSettings.aperture,
        metavar="X",
        help="synthetic aperture as a fraction of the module size, 0.5-0.8 (default 0.8)",
    )
    parser.add_argument(
        "--wavelength",
        type=int,
        default=GradingSettings.wavelength_nm,
        metavar="NM",
        help="the light's wavelength, printed with the grade (default 660)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="TOML file: black_grey, white_grey, black_reflectance, white_reflectance",
    )


def run_read(args: argparse.Namespace) -> int:
    expected = _expected(args.expect)
    thresholds, min_grade = _thresholds(args.thresholds)
    checked = _grader(args)  # the grading options are checked even when not grading
    grader = checked if args.grade or min_grade is not None else None
    _check_files(args.files)
    try:
        verifier = Verifier(
            _decoder(args),
            thresholds,
            keep_images=args.save_dir is not None,
            grader=grader,
            min_grade=min_grade,
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    all_ok = True
    for path in args.files:
        image, error = _load(path)
        if image is None:
            record: dict[str, Any] = {"source": str(path), "outcome": None, "error": error}
            all_ok = False
        else:
            result = verifier.verify(image, expected, source=str(path))
            if args.save_dir is not None:
                result.save(args.save_dir)
            record = result.to_dict()
            all_ok = all_ok and result.ok
        print(json.dumps(record, ensure_ascii=True), flush=True)
    return 0 if all_ok else 1


def run_grade(args: argparse.Namespace) -> int:
    if args.min_grade is not None and not 0.0 <= args.min_grade <= 4.0:
        raise CliError(f"--min-grade: expected 0 to 4, got {args.min_grade!r}")
    orientations = args.orientations
    if orientations is None:
        orientations = 1 if args.symbol else STANDARD_ORIENTATIONS
    if not 1 <= orientations <= MAX_ORIENTATIONS:
        raise CliError(f"--orientations: expected 1 to {MAX_ORIENTATIONS}, got {orientations!r}")
    grader = _grader(args)
    decoder = _decoder(args)
    _check_files(args.files)
    scans: list[Scan] = []
    all_ok = True
    for index, path in enumerate(args.files):
        image, error = _load(path)
        if image is None:
            all_ok = False
            scans.extend(Scan(angle, None, error) for angle in angles(orientations))
            if args.json:
                print(json.dumps({"source": str(path), "error": error}), flush=True)
            else:
                print(f"{path}\n  not graded: {error}\n", flush=True)
            continue
        symbol = grade_orientations(image, decoder, grader, orientations)
        scans.extend(symbol.scans)
        first = symbol.first_graded
        if first is None or first.report is None or first.decoded is None:
            all_ok = False
            error = symbol.scans[0].error or "no DataMatrix read"
            if args.json:
                print(json.dumps({"source": str(path), "error": error}), flush=True)
            else:
                print(f"{path}\n  not graded: {error}\n", flush=True)
            continue
        if args.min_grade is not None and symbol.overall < args.min_grade:
            all_ok = False
        if args.json:
            decoded = first.decoded
            record = {
                "source": str(path),
                "symbology_identifier": decoded.symbology_identifier,
                "decoder": decoded.decoder,
                "step": decoded.step or None,
                **(first.report.to_dict() if orientations == 1 else symbol.to_dict()),
            }
            print(json.dumps(record, ensure_ascii=True), flush=True)
        else:
            text = first.report.text(str(path)) if orientations == 1 else symbol.text(str(path))
            print(text, flush=True)
            if index < len(args.files) - 1:
                print(flush=True)
    if args.symbol:
        overall = SymbolGrade(tuple(scans)).overall
        count = f"{len(args.files)} images" + (
            f" x {orientations} orientations" if orientations > 1 else ""
        )
        if args.json:
            print(json.dumps({"overall_grade": overall, "letter": letter(overall)}), flush=True)
        else:
            print(
                f"\noverall symbol grade over {count}: {overall:.1f} ({letter(overall)})",
                flush=True,
            )
        if args.min_grade is not None and overall < args.min_grade:
            all_ok = False
    return 0 if all_ok else 1


def _decoder(args: argparse.Namespace) -> Decoder:
    if args.decoder == DecoderKind.LADDER.value:
        try:
            # offline, libdmtx may use whatever time the deadline leaves
            return DecodingLadder(
                deadline_ms=args.deadline_ms, libdmtx_ms=max(args.deadline_ms, MIN_LIBDMTX_MS)
            )
        except ConfigError as exc:
            raise CliError(f"--deadline-ms: {exc}") from None
    return make_decoder(args.decoder)


def _grader(args: argparse.Namespace) -> Grader:
    calibration = Calibration()
    if args.calibration is not None:
        values = _toml(args.calibration, "--calibration", section="calibration")
        names = {f.name for f in fields(Calibration)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise CliError(
                f"--calibration: unknown key {unknown[0]!r}, expected one of {sorted(names)}"
            )
        try:
            calibration = Calibration(**{k: float(v) for k, v in values.items()})
        except (TypeError, ValueError) as exc:
            raise CliError(f"--calibration: {exc}") from None
    try:
        return Grader(
            GradingSettings(
                aperture=args.aperture, calibration=calibration, wavelength_nm=args.wavelength
            )
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _thresholds(path: Path | None) -> tuple[QualityThresholds, float | None]:
    """No thresholds without a file; with one, its values on top of the line defaults."""
    if path is None:
        return QualityThresholds(enforce=False), None
    values = _toml(path, "--thresholds", section="thresholds")
    min_grade = values.pop("min_grade", None)
    names = {f.name for f in fields(QualityThresholds)} - {"enforce"}
    unknown = sorted(set(values) - names)
    if unknown:
        raise CliError(
            f"--thresholds: unknown key {unknown[0]!r}, expected one of "
            f"{sorted([*names, 'min_grade'])}"
        )
    try:
        numbers: dict[str, Any] = {k: float(v) for k, v in values.items()}
        thresholds = QualityThresholds(**numbers)
        grade = None if min_grade is None else float(min_grade)
    except (TypeError, ValueError) as exc:
        raise CliError(f"--thresholds: {exc}") from None
    if grade is not None and not (math.isfinite(grade) and 0.0 <= grade <= 4.0):
        raise CliError(f"--thresholds: min_grade: expected 0 to 4, got {min_grade!r}")
    return thresholds, grade


def _toml(path: Path, option: str, *, section: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"{option}: cannot read {str(path)!r}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{option}: expected a TOML file, got {str(path)!r}: {exc}") from None
    values = data.get(section, data)
    if not isinstance(values, dict):
        raise CliError(f"{option}: expected a [{section}] table, got {type(values).__name__}")
    bad = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise CliError(f"{option}: {bad[0]}: expected a number, got {values[bad[0]]!r}")
    return dict(values)


def _check_files(files: list[Path]) -> None:
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise CliError(f"FILE: expected an existing image file, got {missing[0]!r}")


def _load(path: Path) -> tuple[GreyImage | None, str]:
    """The image as 8-bit grey, or None and why."""
    header = cv2.haveImageReader(str(path))
    if not header:
        return None, "file: not a readable image"
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None, "file: not a readable image"
    if image.size > MAX_IMAGE_PIXELS:
        return None, f"file: expected at most {MAX_IMAGE_PIXELS} pixels, got {image.size}"
    return np.asarray(image, dtype=np.uint8), ""


def _expected(text: str | None) -> UnitCode | None:
    if text is None:
        return None
    try:
        code = parse_gs1(text)
    except Gs1Error as exc:
        raise CliError(f"--expect: {exc}") from None
    if not isinstance(code, UnitCode):
        raise CliError(
            f"--expect: expected a unit code with AI (01), got {type(code).__name__} from {text!r}"
        )
    return code
