"""The camera simulator: printed labels -> camera frames, with reproducible degradations.

- :class:`~simulators.camera.optics.Optics` and :data:`~simulators.camera.optics.PRESETS`:
  frame size and the degradations (position, rotation, perspective, blur, motion blur,
  noise, uneven light, low contrast, occlusion, no label).
- :class:`~simulators.camera.camera.CameraSimulator`: a ``LabelSink`` for the virtual printer
  that publishes :class:`~simulators.camera.camera.CameraFrame` values to frame sinks.
- :mod:`simulators.camera.transport`: in-process queue, folder, MJPEG-over-HTTP stream.
- :func:`~simulators.camera.testcard.render_label`: GS1 test labels without a printer.
"""

from __future__ import annotations

from simulators.camera.camera import (
    CameraFrame,
    CameraSimulator,
    FrameSink,
    label_files,
    read_labels,
)
from simulators.camera.optics import PRESETS, Optics, Shot, compose_frame
from simulators.camera.testcard import render_label
from simulators.camera.transport import FolderWriter, FrameQueue, MjpegServer

__all__ = [
    "PRESETS",
    "CameraFrame",
    "CameraSimulator",
    "FolderWriter",
    "FrameQueue",
    "FrameSink",
    "MjpegServer",
    "Optics",
    "Shot",
    "compose_frame",
    "label_files",
    "read_labels",
    "render_label",
]
