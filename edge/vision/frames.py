"""Frame sources: where the verifier's images come from, each frame timestamped.

- :class:`VideoCaptureSource`: OpenCV ``VideoCapture`` on a device index (``"0"``), a video
  file, or an RTSP/HTTP URL (the camera simulator's MJPEG stream works:
  ``http://127.0.0.1:8554/stream.mjpg``).
- :class:`FolderSource`: image files in a folder, in name order; with ``watch=True`` it
  waits for new files (the camera simulator's folder output writes them atomically).
- :class:`QueueSource`: frames handed over in-process through a ``queue.Queue`` (the camera
  simulator's :class:`~simulators.camera.transport.FrameQueue` in the same process).

Every source returns 8-bit greyscale frames. :class:`TriggeredCapture` pairs a unit with its
frame by the camera's trigger count (``Frame.tag``) when the source has one, else by time (the
first frame taken at or after the unit's trigger), never by position in the stream alone.
"""

from __future__ import annotations

import json
import math
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.errors import ConfigError
from edge.vision.decoding import GreyImage
from edge.vision.errors import FrameSourceError

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
    tag: int | None = None
    """The camera's trigger count for this frame (the label it was shot for), if it has one."""


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
                taken, tag = _sidecar(path)
                return Frame(
                    np.asarray(image, dtype=np.uint8),
                    self._sequence,
                    path.stat().st_mtime if taken is None else taken,
                    str(path),
                    tag=tag,
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


SIDECAR_MAX_BYTES = 64 * 1024


def _sidecar(path: Path) -> tuple[float | None, int | None]:
    """When and for which trigger the camera took an image file, from its JSON sidecar
    (``frame-000123.json`` beside ``frame-000123.png``: ``timestamp``, seconds since the
    epoch, and ``trigger`` or ``label_index``, the camera's trigger count), so that a frame
    delivered late still meets its own unit. Missing, oversized or malformed: (None, None),
    and the file's time is used (matched by time)."""
    sidecar = path.with_suffix(".json")
    try:
        if sidecar.stat().st_size > SIDECAR_MAX_BYTES:
            return None, None
        data = json.loads(sidecar.read_bytes())
    except (OSError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    taken = data.get("timestamp")
    if isinstance(taken, bool) or not isinstance(taken, int | float) or not math.isfinite(taken):
        taken = None
    tag = data.get("trigger", data.get("label_index"))
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag < 2**53:
        tag = None
    return (None if taken is None else float(taken)), tag


class PublishedFrame(Protocol):
    """What an in-process publisher puts on the queue (the camera simulator's frames)."""

    @property
    def image(self) -> np.ndarray: ...

    @property
    def timestamp(self) -> float: ...

    # optional: ``label_index`` (int), the trigger count the frame was shot for: Frame.tag


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
        tag = getattr(item, "label_index", None)
        return Frame(
            to_grey(item.image),
            self._sequence,
            item.timestamp,
            self.name,
            tag=tag if isinstance(tag, int) and not isinstance(tag, bool) else None,
        )

    def close(self) -> None:
        """Nothing to release: the queue belongs to whoever created it."""


class CameraOutOfStep(FrameSourceError):
    """The camera's frames no longer belong to the units being verified: stop the line."""


class TriggeredCapture:
    """The frame for a unit, matched by the camera's trigger count or by time.

    With ``tag`` (the unit's label number) and tagged frames: the camera's count is
    synchronised once, on the first frame taken at or after a unit's trigger (by time); from
    then on a unit's frame is the one whose tag is the unit's label number plus that offset.
    Frames of earlier units (already decided) are dropped; a frame of a later unit is kept for
    that unit, and this unit has no frame (``None``: a ``no_read``, the line keeps step).
    :class:`CameraOutOfStep` is raised when a frame is from further ahead than ``max_ahead``
    units, or ``max_lost`` units in a row had no frame of their own; ``FrameSourceError`` when
    ``max_lost`` units in a row got no frame at all (a dead camera link).

    Without tags: the first frame taken at or after the unit's trigger; older frames still
    buffered in the source are dropped. ``None`` when no such frame comes within ``timeout``.
    """

    def __init__(self, source: FrameSource, *, max_lost: int = 3, max_ahead: int = 64) -> None:
        self.source = source
        self.max_lost = max_lost
        self.max_ahead = max_ahead
        self.offset: int | None = None  # camera count - label number, once synchronised
        self.lost = 0  # units that had no frame of their own
        self.stale = 0  # frames dropped as belonging to units already decided
        self.timeouts = 0  # units for which no frame came at all
        self._lost_in_row = 0
        self._held: Frame | None = None

    def reset(self) -> None:
        """Synchronise again on the next unit (after the operator cleared an out-of-step)."""
        self.offset = None
        self._lost_in_row = 0
        self._held = None

    def capture(self, trigger: Trigger, timeout: float, *, tag: int | None = None) -> Frame | None:
        if timeout <= 0:
            raise ConfigError(f"timeout: expected more than 0 s, got {timeout!r}")
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0 or self._held is not None:
            frame, self._held = self._held, None
            if frame is None:
                frame = self.source.read(timeout=remaining)
            if frame is None:
                break
            if tag is None or frame.tag is None or self.offset is None:
                if frame.timestamp < trigger.timestamp:
                    self.stale += 1
                    continue
                if tag is not None and frame.tag is not None:
                    self.offset = frame.tag - tag
                self._lost_in_row = 0
                return _for(frame, trigger)
            expected = tag + self.offset
            if frame.tag < expected:
                self.stale += 1
                continue
            if frame.tag == expected:
                self._lost_in_row = 0
                return _for(frame, trigger)
            if frame.tag - expected > self.max_ahead:
                raise CameraOutOfStep(
                    f"camera out of step: frame of trigger {frame.tag} while waiting for "
                    f"{expected} (label {tag}); more than {self.max_ahead} units ahead"
                )
            self._held = frame  # a later unit's frame: this unit's own frame was lost
            self.lost += 1
            self._lost_in_row += 1
            if self._lost_in_row >= self.max_lost:
                raise CameraOutOfStep(
                    f"camera out of step: {self._lost_in_row} units in a row without their "
                    f"frame (waiting for trigger {expected}, label {tag}; next frame is "
                    f"trigger {frame.tag})"
                )
            return None
        self.timeouts += 1  # no frame at all within the timeout
        self._lost_in_row += 1
        if self._lost_in_row >= self.max_lost:
            raise FrameSourceError(
                f"camera: no frame for {self._lost_in_row} units in a row (the last waited "
                f"{timeout:.2f} s; is the camera connected and triggered?)"
            )
        return None


def _for(frame: Frame, trigger: Trigger) -> Frame:
    return Frame(frame.image, frame.sequence, frame.timestamp, frame.source, trigger, frame.tag)


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
