"""Grade the real DataMatrix images of shared/refdata/datamatrix (zxing-cpp's test samples)
and print the results as the Markdown table of docs/vision.md.

    .venv/bin/python benchmarks/vision_refdata.py [--refdata DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.vision import DecodingLadder, Grader
from edge.vision.grading.report import ABBREVIATIONS, PARAMETERS

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "refdata"
    parser.add_argument("--refdata", type=Path, default=default)
    args = parser.parse_args()
    ladder = DecodingLadder(deadline_ms=1000.0, libdmtx_ms=500.0)
    grader = Grader()
    columns = [ABBREVIATIONS[name] for name in PARAMETERS]
    print("| image | size | step | grade | " + " | ".join(columns) + " | zxing UEC | note |")
    print("|---|---|---|---|" + "---|" * len(columns) + "---|---|")
    read = graded = total = 0
    for path in sorted((args.refdata / "datamatrix").glob("datamatrix-*/*")):
        if path.suffix.lower() not in SUFFIXES or not path.with_suffix(".txt").is_file():
            continue
        total += 1
        image = np.asarray(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
        name = f"{path.parent.name}/{path.name}"
        decoded = ladder.decode(image)
        if decoded is None:
            print(f"| {name} | | | no read | " + " | " * len(columns) + " | |")
            continue
        read += 1
        report = grader.grade(image, decoded)
        zx = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)
        )
        extra = zx[0].extra if zx else None
        zxing_uec = (
            f"{float(extra['UEC']):.2f}" if isinstance(extra, dict) and "UEC" in extra else ""
        )
        grades = " | ".join(str(report.parameters[p].grade) for p in PARAMETERS)
        note = report.error or ""
        if report.parameters["symbol_contrast"].value is not None:
            graded += 1
        print(
            f"| {name} | {report.symbol_size} | {decoded.step} | "
            f"{report.overall:.1f} {report.letter} | {grades} | {zxing_uec} | {note} |"
        )
    print()
    print(f"{total} images with an expected text, {read} read by the ladder, {graded} graded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
