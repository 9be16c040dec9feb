"""The camera verifier the wiring builds: a unit's frame is waited for from its printing."""

from __future__ import annotations

import pytest

import gs1
from edge.devices import DeviceFault
from edge.vision.frames import Frame
from edge.vision.verify import Verifier
from edge.wiring import CameraVerifier

GTIN = "09506000000008"


class SilentCamera:
    """A frame source that never has a frame, and records how long it was asked to wait."""

    name = "silent"

    def __init__(self) -> None:
        self.waits: list[float] = []

    def read(self, timeout: float | None = None) -> Frame | None:
        self.waits.append(0.0 if timeout is None else timeout)
        return None

    def close(self) -> None:
        pass


def test_a_stopped_camera_shows_after_about_one_timeout_not_one_per_unit() -> None:
    camera = SilentCamera()  # no frame ever: the verifier never decodes
    now = [1000.0]
    verifier = CameraVerifier(
        camera,
        Verifier(decoder=None),  # type: ignore[arg-type]
        2.0,
        clock=lambda: now[0],
        max_lost_frames=3,
    )
    printed = [1000.0, 1000.1, 1000.2]  # three units printed 0.1 s apart; the camera is dead

    def unit(n: int) -> gs1.UnitCode:
        return gs1.UnitCode.create(GTIN, serial=f"S{n}")

    first = verifier.verify(unit(0), printed[0], label=0)
    assert first.outcome == "no_read" and "no frame within 2.0 s of printing" in first.detail
    assert camera.waits[0] == pytest.approx(2.0, abs=0.01)  # the whole timeout from printing
    now[0] = 1002.0  # the first unit's timeout ran out
    verifier.verify(unit(1), printed[1], label=1)
    # 0.1 s of its own timeout was left; it waits a third of the timeout at least
    assert camera.waits[-1] == pytest.approx(2.0 / 3, abs=0.01)
    now[0] = 1002.67
    with pytest.raises(DeviceFault, match="no frame for 3 units in a row"):
        verifier.verify(unit(2), printed[2], label=2)
    assert camera.waits[-1] == pytest.approx(2.0 / 3, abs=0.01)
