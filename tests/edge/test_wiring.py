"""The camera verifier the wiring builds: a unit's frame is waited for from its printing,
and it keeps step with the labels or stops the line."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest

import gs1
from edge.devices import DeviceFault
from edge.vision import DecodingLadder, QueueSource
from edge.vision.frames import Frame
from edge.vision.verify import Verifier
from edge.wiring import CameraVerifier
from simulators.camera import render_label

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


# -- keeping step -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """A camera frame as the simulator hands it on: the camera's count is ``label_index``."""

    image: np.ndarray
    timestamp: float
    label_index: int


@cache
def code(n: int) -> gs1.UnitCode:
    return gs1.UnitCode.create(GTIN, serial=f"S{n}")


@cache
def photo(n: int) -> np.ndarray:
    """The frame of label ``n`` (its DataMatrix on a grey belt)."""
    label = render_label(code(n).hri())
    frame = np.full((label.shape[0] + 80, label.shape[1] + 80), 70, np.uint8)
    frame[40 : 40 + label.shape[0], 40 : 40 + label.shape[1]] = label
    return frame


def camera_on(frames: queue.Queue[Shot]) -> CameraVerifier:
    return CameraVerifier(QueueSource(frames), Verifier(DecodingLadder()), 0.5)


def test_labels_a_stopped_printer_held_print_on_resume_and_the_count_still_holds() -> None:
    frames: queue.Queue[Shot] = queue.Queue()
    camera = camera_on(frames)
    for n in (1, 2):  # the camera counts from 1 as the printer does
        frames.put(Shot(photo(n), 100.0 + n, n))
        assert camera.verify(code(n), 100.0 + n, label=n).ok
    # Labels 3-5 were sent when the ribbon ran out (their units scrapped) and stayed in the
    # printer's buffer; the operator changed the ribbon and resumed. The printer prints them
    # (the camera counts them) while unit 6, the first after the resume, is already printing:
    # on a busy machine their frames come after unit 6 was sent. Matching the count afresh by
    # time would pair unit 6 with label 3's frame, and every unit after with the wrong one.
    camera.resync()
    sent = 200.0
    for n in (3, 4, 5, 6, 7):
        frames.put(Shot(photo(n), sent + 0.01 * n, n))
    assert camera.verify(code(6), sent, label=6).ok
    assert camera.verify(code(7), sent + 0.1, label=7).ok


def test_units_in_a_row_that_read_another_code_stop_the_line_and_resume_in_step() -> None:
    frames: queue.Queue[Shot] = queue.Queue()
    camera = camera_on(frames)
    frames.put(Shot(photo(1), 101.0, 1))
    assert camera.verify(code(1), 101.0, label=1).ok
    # The printer dropped label 2 (the camera never saw it): from here the camera's count is
    # one behind, and each unit's frame shows the next unit's label.
    for n in (2, 3, 4, 5):
        frames.put(Shot(photo(n + 1), 101.0 + n + 0.01, n))
    for n in (2, 3):
        verdict = camera.verify(code(n), 101.0 + n, label=n)
        assert verdict.outcome == "wrong_data" and f"got 'S{n + 1}'" in verdict.detail
    with pytest.raises(DeviceFault, match="camera out of step: 3 units in a row read another"):
        camera.verify(code(4), 105.0, label=4)  # never a fourth: the line stops
    # the operator cleared the line and resumed: the count is matched afresh
    camera.resync()
    frames.queue.clear()
    frames.put(Shot(photo(10), 110.01, 9))  # label 10's frame, the camera's 9th
    assert camera.verify(code(10), 110.0, label=10).ok


def test_a_wrong_code_now_and_then_is_the_units_own_reject_not_a_stop() -> None:
    frames: queue.Queue[Shot] = queue.Queue()
    camera = camera_on(frames)
    shown = {1: 1, 2: 9, 3: 3, 4: 8, 5: 7, 6: 6}  # labels 2, 4 and 5 misprinted
    for n, label in shown.items():
        frames.put(Shot(photo(label), 100.0 + n, n))
    outcomes = [camera.verify(code(n), 100.0 + n - 0.01, label=n).outcome for n in shown]
    assert outcomes == ["ok", "wrong_data", "ok", "wrong_data", "wrong_data", "ok"]
