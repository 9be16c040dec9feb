"""``serialtrace vision read FILE...``: decode and verify DataMatrix images, one JSON line each.

Each line holds the decoded data, symbology identifier, parsed GS1 fields, the verification
outcome (against ``--expect`` when given), print quality and the time taken. Exit status 0
when every image is ``ok``, 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from edge.vision import (
    ConfigError,
    DecoderKind,
    QualityThresholds,
    Verifier,
    make_decoder,
)
from gs1 import Gs1Error, UnitCode
from gs1 import parse as parse_gs1
from serialtrace.cli import CliError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("vision", help="camera verification of DataMatrix codes")
    vision = parser.add_subparsers(dest="vision_command", metavar="ACTION", required=True)
    read = vision.add_parser(
        "read",
        help="decode and verify DataMatrix images, one JSON line per image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    read.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files")
    read.add_argument(
        "--decoder", choices=[kind.value for kind in DecoderKind], default=DecoderKind.ZXING.value
    )
    read.add_argument(
        "--expect", metavar="CODE", help="expected unit code in any GS1 form, e.g. (01)…(21)…"
    )
    defaults = QualityThresholds()
    read.add_argument("--min-contrast", type=float, default=defaults.min_symbol_contrast)
    read.add_argument("--min-module-px", type=float, default=defaults.min_module_px)
    read.add_argument(
        "--quiet-zone", type=float, default=defaults.quiet_zone_modules, metavar="MODULES"
    )
    read.add_argument("--max-angle", type=float, default=defaults.max_angle_deg, metavar="DEG")
    read.add_argument("--save-dir", type=Path, metavar="DIR", help="save image + JSON per result")
    read.set_defaults(handler=run_read)


def run_read(args: argparse.Namespace) -> int:
    expected = _expected(args.expect)
    try:
        thresholds = QualityThresholds(
            min_symbol_contrast=args.min_contrast,
            min_module_px=args.min_module_px,
            quiet_zone_modules=args.quiet_zone,
            max_angle_deg=args.max_angle,
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        raise CliError(f"FILE: expected an existing image file, got {missing[0]!r}")
    verifier = Verifier(
        make_decoder(args.decoder), thresholds, keep_images=args.save_dir is not None
    )
    all_ok = True
    for path in args.files:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            record = {"source": str(path), "outcome": None, "error": "file: not a readable image"}
            all_ok = False
        else:
            result = verifier.verify(image, expected, source=str(path))
            if args.save_dir is not None:
                result.save(args.save_dir)
            record = result.to_dict()
            all_ok = all_ok and result.ok
        print(json.dumps(record, ensure_ascii=True), flush=True)
    return 0 if all_ok else 1


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
