"""Basic print-quality measurements of a decoded DataMatrix, cheap enough for every frame.

This is **not** an ISO/IEC 15415 grade. It measures, from the symbol's corners that the
decoder returned:

- **symbol contrast**: the module centres and the quiet zone are sampled through a box
  aperture of about half a module (ISO 15415 style, simplified); SC = R95 - R5, the 95th
  minus the 5th percentile of reflectance (0..1, 255 = 1.0). Percentiles rather than
  max-min keep single noisy pixels out.
- **module size** in pixels (mean module pitch along both axes).
- **quiet zone**: points half the required quiet-zone width outside each edge, every half
  module, must be light (above the midpoint between R5 and R95); the measure is the
  fraction that is dark. A point outside the frame counts as dark.
- **angle** of the symbol's top edge against the frame's x axis, in degrees.

Each is compared with a :class:`QualityThresholds`; the names of failed checks are in
:attr:`Quality.failures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.vision.decoding import Decoded, GreyImage

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class QualityThresholds:
    """Limits below (or above) which a symbol is ``poor_quality``; with ``enforce`` False
    everything is still measured but nothing fails (``serialtrace vision read`` without
    ``--thresholds``)."""

    min_symbol_contrast: float = 0.40
    """ISO 15415 grade C starts at 40 % symbol contrast."""
    min_module_px: float = 3.0
    quiet_zone_modules: float = 1.0
    """Required quiet zone around the symbol, in modules (ISO/IEC 16022: 1 module)."""
    max_quiet_zone_dark: float = 0.05
    """Largest fraction of quiet-zone samples that may be dark."""
    max_angle_deg: float = 15.0
    """Largest rotation of the symbol against the frame, either way."""
    enforce: bool = True

    def __post_init__(self) -> None:
        _check_range("min_symbol_contrast", self.min_symbol_contrast, 0.0, 1.0)
        _check_range("min_module_px", self.min_module_px, 0.0, 1000.0)
        _check_range("quiet_zone_modules", self.quiet_zone_modules, 0.0, 20.0)
        _check_range("max_quiet_zone_dark", self.max_quiet_zone_dark, 0.0, 1.0)
        _check_range("max_angle_deg", self.max_angle_deg, 0.0, 180.0)


@dataclass(frozen=True)
class Quality:
    """Measured print quality of one symbol and the checks it failed (empty when fine)."""

    symbol_contrast: float
    module_px: float
    quiet_zone_dark: float
    angle_deg: float
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def measure_quality(
    image: GreyImage, decoded: Decoded, thresholds: QualityThresholds | None = None
) -> Quality:
    """Measure ``decoded``'s symbol in ``image`` (the frame it was decoded from)."""
    limits = thresholds or QualityThresholds()
    rows, columns = decoded.rows, decoded.columns
    module = decoded.module_size
    angle = decoded.angle_deg
    if rows <= 0 or columns <= 0 or module <= 0.0:
        return Quality(0.0, 0.0, 1.0, angle, ("symbol size unknown: cannot measure",))

    corners = np.array([(p.x, p.y) for p in decoded.corners], dtype=np.float32)
    grid = np.array([(0, 0), (columns, 0), (columns, rows), (0, rows)], dtype=np.float32)
    transform = np.asarray(cv2.getPerspectiveTransform(grid, corners), dtype=np.float64)
    quiet = limits.quiet_zone_modules
    margin = max(quiet, 0.5)
    patch, origin = _aperture_patch(image, corners, module, margin)

    modules = _sample(patch, origin, transform, _module_centres(rows, columns))
    ring = _sample(patch, origin, transform, _quiet_zone_points(rows, columns, max(quiet, 0.5)))
    inside = modules[~np.isnan(modules)]
    if inside.size == 0:
        return Quality(0.0, module, 1.0, angle, ("symbol outside the frame",))
    ring_inside = ring[~np.isnan(ring)]
    everything = np.concatenate((inside, ring_inside)) if quiet > 0 else inside
    r_min, r_max = np.percentile(everything, (5.0, 95.0))
    contrast = float(r_max - r_min) / 255.0
    threshold = (r_min + r_max) / 2.0
    dark = np.isnan(ring) | (np.nan_to_num(ring, nan=0.0) < threshold)
    quiet_zone_dark = float(dark.mean()) if quiet > 0 else 0.0

    failures: list[str] = []
    if limits.enforce and contrast < limits.min_symbol_contrast:
        failures.append(
            f"symbol_contrast: expected at least {limits.min_symbol_contrast:.2f}, "
            f"got {contrast:.2f}"
        )
    if limits.enforce and module < limits.min_module_px:
        failures.append(
            f"module_px: expected at least {limits.min_module_px:.1f}, got {module:.1f}"
        )
    if limits.enforce and quiet > 0 and quiet_zone_dark > limits.max_quiet_zone_dark:
        failures.append(
            f"quiet_zone: expected at most {limits.max_quiet_zone_dark:.0%} dark, "
            f"got {quiet_zone_dark:.0%}"
        )
    if limits.enforce and abs(angle) > limits.max_angle_deg:
        failures.append(f"angle_deg: expected within ±{limits.max_angle_deg:.0f}, got {angle:.1f}")
    return Quality(
        symbol_contrast=round(contrast, 3),
        module_px=round(module, 2),
        quiet_zone_dark=round(quiet_zone_dark, 3),
        angle_deg=round(angle, 1),
        failures=tuple(failures),
    )


def _aperture_patch(
    image: GreyImage, corners: FloatArray, module: float, margin_modules: float
) -> tuple[GreyImage, tuple[int, int]]:
    """The symbol's bounding box plus margin, box-filtered with a ~half-module aperture."""
    height, width = image.shape[:2]
    pad = math.ceil(margin_modules * module * 1.5) + 2
    x0 = max(int(corners[:, 0].min()) - pad, 0)
    y0 = max(int(corners[:, 1].min()) - pad, 0)
    x1 = min(math.ceil(corners[:, 0].max()) + pad + 1, width)
    y1 = min(math.ceil(corners[:, 1].max()) + pad + 1, height)
    patch = image[y0:y1, x0:x1]
    aperture = max(1, round(module / 2))
    if aperture > 1 and patch.size:
        patch = np.asarray(cv2.blur(patch, (aperture, aperture)), dtype=np.uint8)
    return patch, (x0, y0)


def _sample(
    patch: GreyImage,
    origin: tuple[int, int],
    transform: npt.NDArray[np.float64],
    points: FloatArray,
) -> FloatArray:
    """Patch values at grid points mapped into the frame; NaN where outside the patch."""
    mapped = cv2.perspectiveTransform(points, transform).reshape(-1, 2)
    xs = np.rint(mapped[:, 0] - origin[0]).astype(np.int64)
    ys = np.rint(mapped[:, 1] - origin[1]).astype(np.int64)
    height, width = patch.shape[:2]
    valid = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    values = np.full(len(xs), np.nan, dtype=np.float32)
    values[valid] = patch[ys[valid], xs[valid]]
    return values


@lru_cache(maxsize=64)
def _module_centres(rows: int, columns: int) -> FloatArray:
    ys, xs = np.mgrid[0:rows, 0:columns].astype(np.float32) + 0.5
    points = np.stack((xs.ravel(), ys.ravel()), axis=1).reshape(-1, 1, 2)
    points.flags.writeable = False
    return points


@lru_cache(maxsize=64)
def _quiet_zone_points(rows: int, columns: int, quiet_modules: float) -> FloatArray:
    """Points half the quiet zone outside each edge, every half module, corners included."""
    offset = quiet_modules / 2
    xs = np.arange(-offset, columns + offset + 1e-6, 0.5, dtype=np.float32)
    ys = np.arange(-offset, rows + offset + 1e-6, 0.5, dtype=np.float32)
    top = np.stack((xs, np.full_like(xs, -offset)), axis=1)
    bottom = np.stack((xs, np.full_like(xs, rows + offset)), axis=1)
    left = np.stack((np.full_like(ys, -offset), ys), axis=1)
    right = np.stack((np.full_like(ys, columns + offset), ys), axis=1)
    points = np.concatenate((top, bottom, left, right)).reshape(-1, 1, 2)
    points.flags.writeable = False
    return points


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected a number from {low:g} to {high:g}, got {value!r}")
