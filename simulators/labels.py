"""What the virtual printer hands on when a label comes out: the seam to the camera simulator.

The printer simulator calls every subscriber with a :class:`PrintedLabel`; the camera
simulator (or a folder writer) turns it into frames. Nothing here imports a device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PrintedLabel:
    """One label as it left the print head.

    ``image`` is 8-bit greyscale (white paper = 255) at the printer's resolution; ``data`` is
    the decoded content of the label's fields by field name (e.g. ``{"datamatrix": "...",
    "hri": "..."}``) as the printer understood them; ``faults`` names every print defect
    injected on this label (``"smudge"``, ``"void"``, ``"low_contrast"``, ``"skew"``,
    ``"missed"``, …), empty for a good label.
    """

    index: int
    image: npt.NDArray[np.uint8]
    dpi: int
    zpl: str
    data: dict[str, str] = field(default_factory=dict)
    faults: tuple[str, ...] = ()
    printed_at: float = 0.0


LabelSink = Callable[[PrintedLabel], None]
