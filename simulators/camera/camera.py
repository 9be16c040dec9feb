"""The camera simulator: a :data:`~simulators.labels.LabelSink` that turns labels into frames.

Plug it into the virtual printer (``printer.subscribe(camera)``) or feed it a folder of
label images (:meth:`CameraSimulator.run_folder`). Each frame goes to every
:data:`FrameSink` (an in-process queue, a folder, an MJPEG stream). Frame ``n`` depends only
on the label, the :class:`~simulators.camera.optics.Optics` and ``(seed, n)``: the same seed
gives the same frames in any run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from simulators.camera.optics import GreyImage, Optics, compose_frame
from simulators.labels import PrintedLabel

LABEL_SUFFIXES = frozenset({".png", ".bmp", ".pgm", ".tif", ".tiff", ".jpg", ".jpeg"})


@dataclass(frozen=True)
class CameraFrame:
    """One simulated frame and its ground truth.

    ``label_index`` is the printed label's index (``None`` for a folder label without
    one); ``data`` is what the label carries (the printer's field data, or the ``.txt``
    beside a label file, under ``"datamatrix"``); ``faults`` names the degradations applied
    (``"no_label"`` when the label is not in the frame) and ``effects`` their amounts.
    """

    index: int
    image: GreyImage = field(compare=False, repr=False)
    timestamp: float
    label_index: int | None
    data: dict[str, str]
    faults: tuple[str, ...]
    effects: dict[str, float]


FrameSink = Callable[[CameraFrame], None]


class CameraSimulator:
    """Composes frames from labels and hands each to every sink."""

    def __init__(
        self,
        optics: Optics | None = None,
        sinks: Sequence[FrameSink] = (),
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.optics = optics or Optics()
        self.sinks = list(sinks)
        self.seed = seed
        self.clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._lose = 0  # labels still to miss (lose_frames)
        self._shift = 0  # added to every label index from now on (skip_triggers)
        self.lost = 0

    @property
    def frames_taken(self) -> int:
        return self._count

    def lose_frames(self, count: int) -> None:
        """Fault injection: the next ``count`` labels get no frame (a stalled or overrun
        camera drops them); later frames keep their own trigger count."""
        with self._lock:
            self._lose += count

    def skip_triggers(self, count: int) -> None:
        """Fault injection: the camera's trigger counter jumps ahead by ``count`` (a counter
        reset or double triggers): its frames no longer name the labels they show."""
        with self._lock:
            self._shift += count

    def __call__(self, label: PrintedLabel) -> None:
        """LabelSink: photograph a label as the printer hands it on; the frame is tagged
        with the label's index (the camera's trigger count)."""
        with self._lock:
            if self._lose > 0:
                self._lose -= 1
                self.lost += 1
                return
            shift = self._shift
        self.shoot(label.image, label_index=label.index + shift, data=label.data)

    def shoot(
        self,
        label: GreyImage,
        *,
        label_index: int | None = None,
        data: dict[str, str] | None = None,
    ) -> CameraFrame:
        """Compose, publish and return the next frame of ``label``."""
        with self._lock:
            index = self._count
            self._count += 1
        rng = np.random.default_rng([self.seed, index])
        shot = compose_frame(label, self.optics, rng)
        frame = CameraFrame(
            index=index,
            image=shot.image,
            timestamp=self.clock(),
            label_index=label_index,
            data=dict(data or {}),
            faults=shot.faults,
            effects=shot.effects,
        )
        for sink in self.sinks:
            sink(frame)
        return frame

    def run(
        self,
        labels: Iterable[tuple[GreyImage, dict[str, str]]],
        *,
        fps: float,
        stop: threading.Event | None = None,
    ) -> int:
        """Shoot each label at ``fps`` frames per second until done or ``stop`` is set.

        Returns the number of frames taken. Pacing keeps to the schedule (it does not drift
        when one frame takes longer to compose).
        """
        if fps <= 0:
            raise ValueError(f"fps: expected more than 0, got {fps!r}")
        started = time.monotonic()
        taken = 0
        for image, data in labels:
            if stop is not None and stop.is_set():
                break
            delay = started + taken / fps - time.monotonic()
            if delay > 0 and (stop.wait(delay) if stop is not None else _sleep(delay)):
                break
            self.shoot(image, data=data)
            taken += 1
        return taken


def label_files(folder: Path | str) -> list[Path]:
    """Label images of ``folder`` in name order."""
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"labels: expected a folder of label images, got {str(path)!r}")
    return sorted(p for p in path.iterdir() if p.suffix.lower() in LABEL_SUFFIXES)


def read_labels(
    paths: Sequence[Path], *, loop: bool = False
) -> Iterator[tuple[GreyImage, dict[str, str]]]:
    """Label images and their truth (``<name>.txt`` beside the image, if any)."""
    if not paths:
        return
    while True:
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                continue
            truth = path.with_suffix(".txt")
            data = (
                {"datamatrix": truth.read_text(encoding="utf-8").strip()} if truth.is_file() else {}
            )
            yield np.asarray(image, dtype=np.uint8), data
        if not loop:
            return


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False
