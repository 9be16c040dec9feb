"""Read rate on the real DataMatrix images of ``shared/refdata/datamatrix`` (zxing-cpp's test
samples: photographs and renderings, rotated, damaged, mirrored, several codes).

An image counts as read when the decoder returns exactly the text of its ``.txt`` file.
The floors are the counts reached when this test was written (zxing-cpp 3.1.1, libdmtx
0.7.7); they may rise, never fall. libdmtx runs with a 300 ms deadline per image here
(its floors were measured at 200 ms, leaving room for a loaded machine).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edge.vision import Decoder
from edge.vision.libdmtx_decoder import LibdmtxDecoder
from edge.vision.zxing_decoder import ZxingDecoder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".pgm")
IMAGES_PER_FOLDER = {
    "datamatrix-1": 29,
    "datamatrix-2": 13,
    "datamatrix-3": 27,
    "datamatrix-4": 21,
    "datamatrix-5": 5,
}
FLOORS = {
    "zxing": {
        "datamatrix-1": 29,
        "datamatrix-2": 13,
        "datamatrix-3": 26,
        "datamatrix-4": 21,
        "datamatrix-5": 2,
    },
    "libdmtx": {
        "datamatrix-1": 23,
        "datamatrix-2": 9,
        "datamatrix-3": 16,
        "datamatrix-4": 0,
        "datamatrix-5": 0,
    },
}


def _decoder(name: str) -> Decoder:
    # The floors are about what libdmtx reads, not how fast: its wall-clock budget is generous
    # so that a loaded machine (other work on the cores) does not turn into lost reads.
    return ZxingDecoder() if name == "zxing" else LibdmtxDecoder(timeout_ms=2_000)


def _samples(folder: Path) -> list[tuple[Path, str]]:
    return [
        (image, image.with_suffix(".txt").read_bytes().decode("utf-8"))
        for image in sorted(folder.iterdir())
        if image.suffix.lower() in IMAGE_SUFFIXES and image.with_suffix(".txt").is_file()
    ]


@pytest.mark.parametrize("decoder", ["zxing", "libdmtx"])
@pytest.mark.parametrize("folder", list(IMAGES_PER_FOLDER))
def test_read_rate_never_drops(
    refdata: Path, decoder: str, folder: str, record_property: object
) -> None:
    samples = _samples(refdata / "datamatrix" / folder)
    assert len(samples) == IMAGES_PER_FOLDER[folder]
    reader = _decoder(decoder)
    read = 0
    for image_path, expected in samples:
        image = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
        assert image is not None, image_path
        decoded = reader.decode(image)
        read += decoded is not None and decoded.data == expected
    record_property("read", f"{read}/{len(samples)}")  # type: ignore[operator]
    print(f"{decoder} {folder}: read {read}/{len(samples)}")
    assert read >= FLOORS[decoder][folder]
