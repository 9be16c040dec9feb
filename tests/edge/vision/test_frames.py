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
from edge.vision.frames import CameraOutOfStep
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


def test_a_folder_frame_keeps_its_trigger_and_time_from_its_sidecar(tmp_path: Path) -> None:
    """A frame delivered late (a stalled camera link) still names its own trigger."""
    for stem, sidecar in [
        ("f1", b'{"timestamp": 1000.5, "trigger": 7}'),
        ("f2", b'{"timestamp": 1001.0, "label_index": 8}'),
        ("f3", b'{"timestamp": NaN, "trigger": true}'),  # hostile: ignored, file time
        ("f4", b"[1, 2"),
    ]:
        cv2.imwrite(str(tmp_path / f"{stem}.png"), np.full((8, 8), 9, np.uint8))
        (tmp_path / f"{stem}.json").write_bytes(sidecar)
    source = FolderSource(tmp_path)
    frames = [source.read() for _ in range(4)]
    assert [(f.timestamp, f.tag) for f in frames[:2] if f] == [(1000.5, 7), (1001.0, 8)]
    for frame in frames[2:]:
        assert frame is not None and frame.tag is None
        assert abs(frame.timestamp - time.time()) < 600  # the file's own time


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


def _tagged(frames: FrameQueue, label: np.ndarray, tags: list[int], start: float = 10.0) -> None:
    camera = CameraSimulator(SMALL, [frames], seed=1, clock=lambda: start)
    for tag in tags:
        camera.shoot(label, label_index=tag)


def test_queue_source_passes_the_cameras_trigger_count_as_tag(unit_label: np.ndarray) -> None:
    frames = FrameQueue()
    _tagged(frames, unit_label, [7])
    frame = QueueSource(frames).read(timeout=1)
    assert frame is not None and frame.tag == 7


def test_tagged_frames_match_their_own_unit_when_one_is_lost(unit_label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=16)
    _tagged(frames, unit_label, [1, 2, 4, 5])  # label 3's frame was lost
    capture = TriggeredCapture(QueueSource(frames))
    got = [capture.capture(Trigger(str(n), 10.0), timeout=0.2, tag=n) for n in (1, 2, 3, 4, 5)]
    assert [None if f is None else f.tag for f in got] == [1, 2, None, 4, 5]
    assert capture.lost == 1 and capture.offset == 0


def test_tagged_frames_of_decided_units_are_dropped(unit_label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=16)
    _tagged(frames, unit_label, [1, 2, 3])
    capture = TriggeredCapture(QueueSource(frames))
    assert capture.capture(Trigger("1", 10.0), timeout=0.2, tag=1) is not None
    frame = capture.capture(Trigger("3", 10.0), timeout=0.2, tag=3)  # 2 timed out earlier
    assert frame is not None and frame.tag == 3 and capture.stale == 1


def test_the_count_is_synchronised_by_time_then_kept(unit_label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=16)
    _tagged(frames, unit_label, [40], start=5.0)  # before the trigger: an earlier run's
    _tagged(frames, unit_label, [41, 42], start=10.0)
    capture = TriggeredCapture(QueueSource(frames))
    first = capture.capture(Trigger("1", 10.0), timeout=0.2, tag=1)
    assert first is not None and first.tag == 41 and capture.offset == 40
    second = capture.capture(Trigger("2", 10.0), timeout=0.2, tag=2)
    assert second is not None and second.tag == 42


def test_a_count_far_ahead_is_out_of_step(unit_label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=16)
    _tagged(frames, unit_label, [1, 500])
    capture = TriggeredCapture(QueueSource(frames))
    assert capture.capture(Trigger("1", 10.0), timeout=0.2, tag=1) is not None
    with pytest.raises(CameraOutOfStep, match="more than 64 units ahead"):
        capture.capture(Trigger("2", 10.0), timeout=0.2, tag=2)


def test_units_in_a_row_without_their_frame_are_out_of_step(unit_label: np.ndarray) -> None:
    frames = FrameQueue(maxsize=16)
    _tagged(frames, unit_label, [1, 5])
    capture = TriggeredCapture(QueueSource(frames), max_lost=3)
    assert capture.capture(Trigger("1", 10.0), timeout=0.2, tag=1) is not None
    assert capture.capture(Trigger("2", 10.0), timeout=0.2, tag=2) is None
    assert capture.capture(Trigger("3", 10.0), timeout=0.2, tag=3) is None
    with pytest.raises(CameraOutOfStep, match="3 units in a row without their frame"):
        capture.capture(Trigger("4", 10.0), timeout=0.2, tag=4)
    capture.reset()  # the operator resumed: synchronised again, by time
    _tagged(frames, unit_label, [107])
    frame = capture.capture(Trigger("6", 10.0), timeout=0.2, tag=6)
    assert frame is not None and frame.tag == 107 and capture.offset == 101


def test_the_camera_simulator_injects_lost_frames_and_a_jumping_count(
    unit_label: np.ndarray,
) -> None:
    from simulators.labels import PrintedLabel

    frames = FrameQueue(maxsize=16)
    camera = CameraSimulator(SMALL, [frames], seed=1)

    def label(index: int) -> PrintedLabel:
        return PrintedLabel(index=index, image=unit_label, dpi=203, zpl="")

    camera.lose_frames(1)
    camera(label(1))
    camera(label(2))
    camera.skip_triggers(10)
    camera(label(3))
    tags = [frames.get_nowait().label_index for _ in range(frames.qsize())]
    assert tags == [2, 13] and camera.lost == 1


def test_units_in_a_row_without_any_frame_mean_a_dead_camera() -> None:
    capture = TriggeredCapture(QueueSource(FrameQueue()), max_lost=2)
    assert capture.capture(Trigger("1", 0.0), timeout=0.05, tag=1) is None
    with pytest.raises(FrameSourceError, match="no frame for 2 units in a row"):
        capture.capture(Trigger("2", 0.0), timeout=0.05, tag=2)
    assert capture.timeouts == 2
