from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.vision import (
    ConfigError,
    FolderSource,
    FrameSourceError,
    QueueSource,
    Trigger,
    TriggeredCapture,
    VideoCaptureSource,
    make_decoder,
    open_source,
)
from simulators.camera import CameraSimulator, FolderWriter, FrameQueue, MjpegServer, Optics
from tests.edge.vision.conftest import UNIT

SMALL = Optics(frame_width=640, frame_height=480)


def test_folder_source_reads_images_in_name_order_as_grey(tmp_path: Path) -> None:
    for name, level in [("b.png", 20), ("a.png", 10), ("c.jpg", 30)]:
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), level, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    source = FolderSource(tmp_path)
    frames = [source.read(), source.read(), source.read()]
    assert [Path(f.source).name for f in frames if f] == ["a.png", "b.png", "c.jpg"]
    assert all(f is not None and f.image.ndim == 2 for f in frames)
    assert [f.sequence for f in frames if f] == [1, 2, 3]
    assert source.read() is None


def test_folder_source_watches_for_frames_the_camera_simulator_writes(
    tmp_path: Path, unit_label: np.ndarray
) -> None:
    source = FolderSource(tmp_path, watch=True)
    assert source.read(timeout=0.05) is None
    camera = CameraSimulator(SMALL, [FolderWriter(tmp_path)], seed=1)
    threading.Timer(0.1, lambda: camera.shoot(unit_label)).start()
    frame = source.read(timeout=5)
    assert frame is not None and Path(frame.source).name == "frame-000000.png"
    decoded = make_decoder("zxing").decode(frame.image)
    assert decoded is not None and decoded.data == UNIT.element_string()


def test_folder_source_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError) as caught:
        FolderSource(tmp_path / "missing")
    assert str(caught.value) == f"folder: expected a directory, got {str(tmp_path / 'missing')!r}"


def test_queue_source_takes_frames_in_process(unit_label: np.ndarray) -> None:
    frames = FrameQueue()
    camera = CameraSimulator(SMALL, [frames], seed=1, clock=lambda: 1234.5)
    camera.shoot(unit_label)
    source = QueueSource(frames)
    frame = source.read(timeout=1)
    assert frame is not None and frame.timestamp == 1234.5 and frame.image.shape == (480, 640)
    assert source.read(timeout=0.01) is None


def test_video_capture_reads_the_simulators_mjpeg_stream(unit_label: np.ndarray) -> None:
    with MjpegServer() as server:
        camera = CameraSimulator(SMALL, [server], seed=1)
        stop = threading.Event()

        def labels():  # type: ignore[no-untyped-def]
            while True:
                yield unit_label, {}

        shooter = threading.Thread(
            target=camera.run, args=(labels(),), kwargs={"fps": 20, "stop": stop}
        )
        shooter.start()
        try:
            source = open_source(server.url)
            assert isinstance(source, VideoCaptureSource)
            frame = source.read()
            source.close()
        finally:
            stop.set()
            shooter.join()
    assert frame is not None and frame.image.shape == (480, 640)
    decoded = make_decoder("zxing").decode(frame.image)
    assert decoded is not None and decoded.data == UNIT.element_string()


def test_video_capture_that_cannot_open_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError) as caught:
        VideoCaptureSource(str(tmp_path / "nothing.avi"))
    assert "camera: cannot open" in str(caught.value)


def test_open_source_rejects_an_empty_spec() -> None:
    with pytest.raises(ConfigError):
        open_source("")


def test_triggered_capture_skips_frames_older_than_the_trigger(unit_label: np.ndarray) -> None:
    frames = FrameQueue()
    clock = iter([10.0, 11.0, 12.0])
    camera = CameraSimulator(SMALL, [frames], seed=1, clock=lambda: next(clock))
    for _ in range(3):
        camera.shoot(unit_label)
    capture = TriggeredCapture(QueueSource(frames))
    trigger = Trigger(unit="S1", timestamp=11.0, origin="printer")
    frame = capture.capture(trigger, timeout=1)
    assert frame is not None and frame.timestamp == 11.0 and frame.trigger == trigger
    assert capture.capture(Trigger("S2", 99.0), timeout=0.05) is None  # 12.0 is too old


def test_triggered_capture_times_out_without_frames() -> None:
    capture = TriggeredCapture(QueueSource(FrameQueue()))
    started = time.monotonic()
    assert capture.capture(Trigger("S1", 0.0), timeout=0.05) is None
    assert time.monotonic() - started < 1.0
