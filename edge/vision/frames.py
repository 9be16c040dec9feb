"""Frame sources: where the verifier's images come from, each frame timestamped.

- :class:`VideoCaptureSource`: OpenCV ``VideoCapture`` on a device index (``"0"``), a video
  file, or an RTSP/HTTP URL (the camera simulator's MJPEG stream works:
  ``http://127.0.0.1:8554/stream.mjpg``).
- :class:`FolderSource`: image files in a folder, in name order; with ``watch=True`` it
  waits for new files (the camera simulator's folder output writes them atomically).
- :class:`QueueSource`: frames handed over in-process through a ``queue.Queue`` (the camera
  simulator's :class:`~simulators.camera.transport.FrameQueue` in the same process).

Every source returns 8-bit greyscale frames. :class:`TriggeredCapture` pairs a unit's
trigger (from the PLC or the printer) with the first frame taken at or after it.
"""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.vision.decoding import GreyImage
from edge.vision.errors import ConfigError, FrameSourceError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".pgm"})


@dataclass(frozen=True)
class Trigger:
    """A unit is in front of the camera: ``unit`` names it (label index or serial)."""

    unit: str
    timestamp: float
    origin: str = "plc"


@dataclass(frozen=True)
class Frame:
    """One greyscale frame; ``timestamp`` in seconds since the epoch (``time.time()``)."""

    image: GreyImage = field(compare=False, repr=False)
    sequence: int
    timestamp: float
    source: str
    trigger: Trigger | None = None


class FrameSource(Protocol):
    """Yields frames; ``read`` returns ``None`` when no frame came within ``timeout`` s
    (``None`` = wait as the source does) or the source has ended."""

    name: str

    def read(self, timeout: float | None = None) -> Frame | None: ...

    def close(self) -> None: ...


def to_grey(image: np.ndarray) -> GreyImage:
    """8-bit greyscale from a greyscale, BGR or BGRA image."""
    if image.ndim == 2:
        return image if image.dtype == np.uint8 else image.astype(np.uint8)
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code)  # type: ignore[return-value]


class VideoCaptureSource:
    """OpenCV ``VideoCapture``: ``"0"``/``0`` for a device, else a file path or URL."""

    def __init__(self, target: str | int, *, open_timeout_ms: int = 5000) -> None:
        self.name = str(target)
        device = _device_index(target)
        if device is not None:
            self._capture = cv2.VideoCapture(device)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                open_timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                open_timeout_ms,
            ]
            self._capture = cv2.VideoCapture(str(target), cv2.CAP_FFMPEG, params)
        if not self._capture.isOpened():
            raise FrameSourceError(f"camera: cannot open {self.name!r}")
        self._sequence = 0

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame; ``None`` at the end of a file or stream. ``timeout`` is fixed at
        open time for streams (OpenCV's read timeout) and not applied to devices."""
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        self._sequence += 1
        return Frame(to_grey(image), self._sequence, time.time(), self.name)

    def close(self) -> None:
        self._capture.release()


class FolderSource:
    """Image files of a folder in name order; ``watch`` waits for files still to come."""

    def __init__(self, folder: Path | str, *, watch: bool = False, poll_s: float = 0.01) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FrameSourceError(f"folder: expected a directory, got {str(self.folder)!r}")
        self.name = str(self.folder)
        self.watch = watch
        self.poll_s = poll_s
        self._seen: set[str] = set()
        self._pending: list[Path] = []
        self._sequence = 0

    def read(self, timeout: float | None = None) -> Frame | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._pending:
                self._scan()
            while self._pending:
                path = self._pending.pop(0)
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if image is None:  # not an image after all: skip it, as a camera drops frames
                    continue
                self._sequence += 1
                return Frame(
                    np.asarray(image, dtype=np.uint8),
                    self._sequence,
                    path.stat().st_mtime,
                    str(path),
                )
            if not self.watch or (deadline is not None and time.monotonic() >= deadline):
                return None
            time.sleep(self.poll_s)

    def _scan(self) -> None:
        with os.scandir(self.folder) as entries:
            names = sorted(
                entry.name
                for entry in entries
                if entry.name not in self._seen
                and not entry.name.startswith(".")
                and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES
            )
        self._seen.update(names)
        self._pending.extend(self.folder / name for name in names)

    def close(self) -> None:
        self._pending.clear()


class PublishedFrame(Protocol):
    """What an in-process publisher puts on the queue (the camera simulator's frames)."""

    @property
    def image(self) -> np.ndarray: ...

    @property
    def timestamp(self) -> float: ...


class PublishedFrames(Protocol):
    """An in-process queue of :class:`PublishedFrame` items (``queue.Queue`` or the camera
    simulator's ``FrameQueue``)."""

    def get(self, block: bool = True, timeout: float | None = None) -> PublishedFrame: ...


class QueueSource:
    """Frames from an in-process ``queue.Queue`` of :class:`PublishedFrame` items."""

    def __init__(self, frames: PublishedFrames, *, name: str = "queue") -> None:
        self.frames = frames
        self.name = name
        self._sequence = 0

    def read(self, timeout: float | None = None) -> Frame | None:
        try:
            item = self.frames.get(timeout=timeout)
        except queue.Empty:
            return None
        self._sequence += 1
        return Frame(to_grey(item.image), self._sequence, item.timestamp, self.name)

    def close(self) -> None:
        """Nothing to release: the queue belongs to whoever created it."""


class TriggeredCapture:
    """The frame for a unit: the first frame taken at or after its trigger.

    Older frames still buffered in the source are dropped. ``None`` when no such frame
    comes within ``timeout`` seconds (the unit is then a ``no_read``).
    """

    def __init__(self, source: FrameSource) -> None:
        self.source = source

    def capture(self, trigger: Trigger, timeout: float) -> Frame | None:
        if timeout <= 0:
            raise ConfigError(f"timeout: expected more than 0 s, got {timeout!r}")
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            frame = self.source.read(timeout=remaining)
            if frame is None:
                return None
            if frame.timestamp >= trigger.timestamp:
                return Frame(frame.image, frame.sequence, frame.timestamp, frame.source, trigger)
        return None


def open_source(spec: str, *, watch: bool = False) -> FrameSource:
    """A frame source from a configuration string: a folder path, a device index, a video
    file or a URL (``rtsp://``, ``http://``)."""
    if not spec:
        raise ConfigError("camera: expected a device index, folder, file or URL, got ''")
    if Path(spec).is_dir():
        return FolderSource(spec, watch=watch)
    return VideoCaptureSource(spec)


def _device_index(target: str | int) -> int | None:
    if isinstance(target, int):
        return target
    return int(target) if target.isdigit() else None
