"""Synthetic GS1 labels through every camera degradation, read by both decoders.

Frames are reproducible (seeded), so the read counts are exact: a change that reads fewer
frames fails here. The floors are what each decoder read when they were set. libdmtx stops
at a deadline, so what it reads depends on machine load: it runs here with a generous
500 ms deadline, against the (lower) counts it reached with its 60 ms default.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge.vision import Decoder, Outcome, Verifier
from edge.vision.libdmtx_decoder import LibdmtxDecoder
from edge.vision.zxing_decoder import ZxingDecoder
from simulators.camera import PRESETS, Optics, compose_frame
from tests.edge.vision.conftest import UNIT

FRAMES = 12
DEGRADATIONS: dict[str, Optics] = {
    "position": Optics(max_shift=1.0),
    "rotation": Optics(max_rotation_deg=30.0),
    "perspective": Optics(max_perspective=0.06),
    "blur": Optics(max_blur_sigma=2.0),
    "motion_blur": Optics(max_motion_blur_px=6.0),
    "noise": Optics(max_noise_sigma=12.0),
    "uneven_light": Optics(max_uneven_light=0.6),
    "low_contrast": Optics(max_low_contrast=0.6),
    "small_frame": Optics(frame_width=640, frame_height=480, max_rotation_deg=10.0),
    "degraded": PRESETS["degraded"],
}
FLOORS = {
    "zxing": dict.fromkeys(DEGRADATIONS, FRAMES),
    "libdmtx": {
        **dict.fromkeys(DEGRADATIONS, FRAMES - 1),
        "position": FRAMES,
        "rotation": FRAMES,
        "perspective": FRAMES,
    },
}


@pytest.mark.parametrize("decoder", ["zxing", "libdmtx"])
@pytest.mark.parametrize("degradation", list(DEGRADATIONS))
def test_reads_under_degradation(unit_label: np.ndarray, decoder: str, degradation: str) -> None:
    chosen: Decoder = ZxingDecoder() if decoder == "zxing" else LibdmtxDecoder(timeout_ms=2_000)
    verifier = Verifier(chosen, keep_images=False)
    optics = DEGRADATIONS[degradation]
    reads = 0
    for index in range(FRAMES):
        shot = compose_frame(unit_label, optics, np.random.default_rng([3, index]))
        result = verifier.verify(shot.image, UNIT)
        assert result.outcome is not Outcome.WRONG_DATA and result.outcome is not Outcome.NOT_GS1
        if result.decoded is not None:
            assert result.decoded.data == UNIT.element_string()
            reads += 1
    assert reads >= FLOORS[decoder][degradation], f"{decoder} read {reads}/{FRAMES}"
