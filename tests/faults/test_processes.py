"""The fault suite's tools: a disk that really runs full, a camera that really stalls."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from serialtrace.faults.processes import SmallDisk
from serialtrace.faults.stack import StallingCamera
from simulators.camera.camera import CameraFrame


def test_a_small_disk_runs_full_and_is_freed(tmp_path: Path) -> None:
    if SmallDisk.available() is not None:
        pytest.skip(str(SmallDisk.available()))
    disk = SmallDisk(tmp_path / "disk", size_mb=4).mount()
    try:
        written = disk.fill()
        assert written > 3 * (1 << 20)
        with pytest.raises(OSError) as refused:
            (tmp_path / "disk" / "more").write_bytes(b"x" * 65536)
        assert refused.value.errno == errno.ENOSPC
        disk.free()
        (tmp_path / "disk" / "more").write_bytes(b"x" * 65536)
        assert disk.free_bytes() > 3 * (1 << 20)
    finally:
        disk.unmount()
    assert not disk.mounted


def frame(index: int) -> CameraFrame:
    return CameraFrame(
        index=index,
        timestamp=float(index),
        image=np.full((8, 8), 255, dtype=np.uint8),
        label_index=index,
        data={},
        faults=(),
        effects={},
    )


def test_a_stalled_camera_holds_its_frames_back_and_delivers_them_late(tmp_path: Path) -> None:
    camera = StallingCamera(tmp_path)
    camera(frame(1))
    camera.stall()
    camera(frame(2))
    camera(frame(3))
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["frame-000001.json"]
    camera.recover()
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert names == ["frame-000001.json", "frame-000002.json", "frame-000003.json"]
    assert json.loads((tmp_path / "frame-000003.json").read_text())["label_index"] == 3
    assert camera.held_back == 2
