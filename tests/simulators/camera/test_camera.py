from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from simulators.camera import (
    PRESETS,
    CameraSimulator,
    FolderWriter,
    FrameQueue,
    MjpegServer,
    Optics,
    compose_frame,
    render_label,
)
from simulators.labels import PrintedLabel

HRI = "(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3"
SMALL = Optics(frame_width=320, frame_height=240)


@pytest.fixture(scope="module")
def label() -> np.ndarray:
    return render_label(HRI, module_px=3)


def test_same_seed_same_frames_other_seed_other_frames(label: np.ndarray) -> None:
    optics = PRESETS["harsh"].with_changes(frame_width=320, frame_height=240)
    first = CameraSimulator(optics, seed=7).shoot(label)
    again = CameraSimulator(optics, seed=7).shoot(label)
    other = CameraSimulator(optics, seed=8).shoot(label)
    assert np.array_equal(first.image, again.image) and first.effects == again.effects
    assert not np.array_equal(first.image, other.image)


@pytest.mark.parametrize(
    ("setting", "fault"),
    [
        ({"max_rotation_deg": 20.0}, "rotation"),
        ({"max_perspective": 0.05}, "perspective"),
        ({"max_blur_sigma": 3.0}, "blur"),
        ({"max_motion_blur_px": 10.0}, "motion_blur"),
        ({"max_noise_sigma": 10.0}, "noise"),
        ({"max_uneven_light": 0.8}, "uneven_light"),
        ({"max_low_contrast": 0.8}, "low_contrast"),
        ({"occlusion_rate": 1.0}, "occluded"),
        ({"no_label_rate": 1.0}, "no_label"),
    ],
)
def test_each_degradation_is_applied_and_named(
    label: np.ndarray, setting: dict[str, float], fault: str
) -> None:
    optics = SMALL.with_changes(**setting)
    clean = compose_frame(label, SMALL, np.random.default_rng(3))
    shots = [compose_frame(label, optics, np.random.default_rng(seed)) for seed in range(4)]
    named = [shot for shot in shots if fault in shot.faults]
    assert named, f"{fault} never applied"
    assert all(set(shot.faults) == {fault} for shot in named)
    assert not np.array_equal(named[0].image, clean.image)


def test_no_label_frame_shows_only_the_belt(label: np.ndarray) -> None:
    shot = compose_frame(label, SMALL.with_changes(no_label_rate=1.0), np.random.default_rng(1))
    assert shot.faults == ("no_label",)
    assert int(shot.image.max()) == SMALL.background == int(shot.image.min())


def test_frame_has_configured_size_and_the_label_is_in_it(label: np.ndarray) -> None:
    shot = compose_frame(label, Optics(frame_width=640, frame_height=480), np.random.default_rng(1))
    assert shot.image.shape == (480, 640) and shot.image.dtype == np.uint8
    assert int(shot.image.max()) == 255  # white paper


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frame_width": 8}, "frame_width: expected 16 to 10000 pixels, got 8"),
        ({"max_low_contrast": 1.5}, "max_low_contrast: expected a number from 0 to 1, got 1.5"),
        ({"max_blur_sigma": -1.0}, "max_blur_sigma: expected a finite number >= 0, got -1.0"),
        ({"background": 300}, "background: expected a grey level 0..255, got 300"),
    ],
)
def test_bad_optics_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Optics().with_changes(**changes)
    assert str(caught.value) == message


def test_unknown_optics_setting_is_named() -> None:
    with pytest.raises(ValueError, match="optics: unknown setting 'blurr'"):
        Optics().with_changes(blurr=1.0)


def test_camera_is_a_label_sink_for_the_printer(label: np.ndarray) -> None:
    frames = FrameQueue()
    camera = CameraSimulator(SMALL, [frames], seed=1, clock=lambda: 5.0)
    camera(PrintedLabel(index=41, image=label, dpi=203, zpl="^XA^XZ", data={"datamatrix": "x"}))
    frame = frames.get_nowait()
    assert (frame.index, frame.label_index, frame.timestamp) == (0, 41, 5.0)
    assert frame.data == {"datamatrix": "x"} and frame.image.shape == (240, 320)


def test_frame_queue_drops_the_oldest_when_full(label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=2)
    camera = CameraSimulator(SMALL, [frames])
    for _ in range(3):
        camera.shoot(label)
    assert frames.dropped == 1
    assert [frames.get_nowait().index, frames.get_nowait().index] == [1, 2]


def test_folder_writer_writes_png_and_truth(tmp_path: Path, label: np.ndarray) -> None:
    camera = CameraSimulator(
        SMALL.with_changes(max_blur_sigma=2.0), [FolderWriter(tmp_path)], seed=2
    )
    camera.shoot(label, label_index=3, data={"hri": HRI})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame-000000.json", "frame-000000.png"]
    truth = json.loads((tmp_path / "frame-000000.json").read_text())
    assert truth["label_index"] == 3 and truth["data"] == {"hri": HRI}
    assert truth["faults"] == list(truth["effects"]) == ["blur"]


def test_run_paces_frames_and_stops(label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=100)
    camera = CameraSimulator(SMALL, [frames])
    taken = camera.run(((label, {}) for _ in range(5)), fps=200)
    assert taken == 5 and frames.qsize() == 5
    with pytest.raises(ValueError, match="fps: expected more than 0, got 0"):
        camera.run(iter([]), fps=0)


def test_mjpeg_server_serves_the_latest_frame(label: np.ndarray) -> None:
    with MjpegServer() as server:
        base = server.url.removesuffix("/stream.mjpg")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{base}/frame.jpg", timeout=5)
        assert caught.value.code == 503
        CameraSimulator(SMALL, [server]).shoot(label)
        with urllib.request.urlopen(f"{base}/frame.jpg", timeout=5) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.read()[:2] == b"\xff\xd8"


def test_render_label_refuses_non_gs1_data() -> None:
    with pytest.raises(ValueError, match="hri: expected GS1 data"):
        render_label("(01)12")
