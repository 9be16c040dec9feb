"""ISO/IEC 15415 grading of a DataMatrix ECC 200 in a camera image.

The steps follow ISO/IEC 15415:2011 section 7 and ISO/IEC 16022:2006 (reference decode,
Annex M) as far as they are public; docs/vision.md says where a detail had to be assumed.

1. **Reflectance**: grey levels become reflectance through a :class:`Calibration` (two
   reference grey levels of known reflectance, measured under the line's light).
2. **Reference grey-scale image**: the symbol area convolved with a circular synthetic
   aperture of ``aperture`` x the module size (0.5-0.8 X).
3. **Grid**: the decoder's corners are put in symbol orientation (the solid L left and
   bottom), refined to the symbol's outer edges, and the module centres found from the
   clock tracks' edges (every data region's top and right alternating patterns), as the
   reference decode algorithm builds its sampling grid.
4. **Samples**: the reference image at every module centre and one module into the quiet
   zone; Rmax and Rmin from those, SC = Rmax - Rmin, global threshold GT = (Rmax + Rmin) / 2.
5. **Reference decode**: modules darker than GT are dark; their codewords are corrected
   with Reed-Solomon per block (counting errors) and the data decoded; Decode passes when
   every block corrects and the data agrees with the decoder's.
6. **Parameters**: modulation per module 2|R - GT| / SC, graded per codeword (its lowest
   module) and combined with the error correction left ("grade overlay"); reflectance
   margin the same with modules in error at grade 0; fixed pattern damage per segment
   (L1, L2, QZL1, QZL2, every clock track with its adjacent solid area or quiet zone);
   axial and grid non-uniformity from the grid against its best affine fit; unused error
   correction 1 - (e + 2t) / d per block, the lowest block; print growth from the clock
   tracks' dark and light widths (reported).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.vision.decoding import Decoded, GreyImage
from edge.vision.errors import VisionError
from edge.vision.grading import ecc200
from edge.vision.grading.ecc200 import FIXED_DATA, SymbolSize
from edge.vision.grading.report import (
    AN_THRESHOLDS,
    FPD_DAMAGE_THRESHOLDS,
    GN_THRESHOLDS,
    MOD_THRESHOLDS,
    PARAMETERS,
    SC_THRESHOLDS,
    UEC_THRESHOLDS,
    GradeReport,
    Parameter,
    grade_at_least,
    grade_at_most,
)

FloatArray = npt.NDArray[np.float64]
BoolImage = npt.NDArray[np.bool_]

MIN_APERTURE = 0.5
MAX_APERTURE = 0.8
MIN_MODULE_PX = 1.5
"""Below this many pixels per module a camera image cannot be graded meaningfully."""


@dataclass(frozen=True)
class Calibration:
    """Grey level to reflectance: two references of known reflectance (0..1) imaged under
    the line's light. The default maps grey 0 to 0 % and 255 to 100 % (uncalibrated)."""

    black_grey: float = 0.0
    white_grey: float = 255.0
    black_reflectance: float = 0.0
    white_reflectance: float = 1.0

    def __post_init__(self) -> None:
        for name in ("black_grey", "white_grey"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 255.0):
                raise ConfigError(f"calibration.{name}: expected 0 to 255, got {value!r}")
        for name in ("black_reflectance", "white_reflectance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ConfigError(f"calibration.{name}: expected 0 to 1, got {value!r}")
        if self.white_grey - self.black_grey < 10:
            raise ConfigError(
                "calibration.white_grey: expected at least 10 grey levels above black_grey "
                f"({self.black_grey!r}), got {self.white_grey!r}"
            )
        if self.white_reflectance <= self.black_reflectance:
            raise ConfigError(
                "calibration.white_reflectance: expected more than black_reflectance "
                f"({self.black_reflectance!r}), got {self.white_reflectance!r}"
            )

    def reflectance(self, grey: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
        scale = (self.white_reflectance - self.black_reflectance) / (
            self.white_grey - self.black_grey
        )
        out = (grey.astype(np.float32) - self.black_grey) * scale + self.black_reflectance
        return np.clip(out, 0.0, 1.0, out=out)


@dataclass(frozen=True)
class GradingSettings:
    """``aperture``: synthetic aperture diameter as a fraction of the module size;
    ``wavelength_nm`` is the light's peak wavelength, printed with the grade."""

    aperture: float = 0.8
    calibration: Calibration = Calibration()
    wavelength_nm: int = 660

    def __post_init__(self) -> None:
        if not (math.isfinite(self.aperture) and MIN_APERTURE <= self.aperture <= MAX_APERTURE):
            raise ConfigError(
                f"aperture: expected {MIN_APERTURE} to {MAX_APERTURE} of the module size, "
                f"got {self.aperture!r}"
            )
        if not 300 <= self.wavelength_nm <= 1100:
            raise ConfigError(f"wavelength_nm: expected 300 to 1100 nm, got {self.wavelength_nm!r}")


class GradingFailed(VisionError):
    """Internal: why a symbol could not be graded (becomes the report's ``error``)."""


class Grader:
    """Grades decoded DataMatrix symbols in frames; one instance per camera (thread-safe:
    it keeps no state between calls)."""

    def __init__(self, settings: GradingSettings | None = None) -> None:
        self.settings = settings or GradingSettings()

    def grade(
        self, image: GreyImage, decoded: Decoded, *, shown: BoolImage | None = None
    ) -> GradeReport:
        """Grade the symbol ``decoded`` found in ``image``; never raises for what the image
        holds (a symbol that cannot be graded gets grade 0 and the reason).

        ``shown`` (the image's shape) marks the pixels the camera saw, when not all of them
        are (an image turned in software has corners nobody saw); what lies outside them is
        treated like what lies outside the image: quiet zone there counts as damaged."""
        started = time.perf_counter()
        size = ecc200.size_of(decoded.rows, decoded.columns)
        module = decoded.module_size
        try:
            if image.ndim != 2 or image.dtype != np.uint8:
                raise GradingFailed("image: expected 8-bit greyscale")
            if size is None:
                raise GradingFailed(
                    f"symbol size: expected an ECC 200 size, got {decoded.rows}x{decoded.columns}"
                )
            if not (math.isfinite(module) and module >= MIN_MODULE_PX):
                raise GradingFailed(
                    f"module size: expected at least {MIN_MODULE_PX:g} px, got {module:.2f}"
                )
            if shown is not None and shown.shape != image.shape:
                raise GradingFailed(
                    f"shown: expected the image's shape {image.shape}, got {shown.shape}"
                )
            return _Measurement(image, decoded, size, self.settings, started, shown).run()
        except GradingFailed as exc:
            return _failed(decoded, size, self.settings, module, started, str(exc))
        except (cv2.error, np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            return _failed(decoded, size, self.settings, module, started, f"grid: {exc}")


def _failed(
    decoded: Decoded,
    size: SymbolSize | None,
    settings: GradingSettings,
    module: float,
    started: float,
    reason: str,
) -> GradeReport:
    return GradeReport(
        parameters={name: Parameter(name, None, 0) for name in PARAMETERS},
        segments={},
        print_growth=(0.0, 0.0),
        reflectance=(0.0, 0.0, 0.0),
        symbol_size=size.name if size else f"{decoded.rows}x{decoded.columns}",
        module_px=module if math.isfinite(module) else 0.0,
        aperture=settings.aperture,
        aperture_px=settings.aperture * (module if math.isfinite(module) else 0.0),
        wavelength_nm=settings.wavelength_nm,
        data=decoded.data,
        corrected=(),
        ec_capacity=size.ec_per_block if size else 0,
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
        error=reason,
    )


# -- geometry -------------------------------------------------------------------------------


def _homography(corners: FloatArray, columns: int, rows: int) -> FloatArray:
    """Module space (u right, v down; the symbol spans [0, columns] x [0, rows]) to image."""
    source = np.array([(0, 0), (columns, 0), (columns, rows), (0, rows)], dtype=np.float32)
    return cv2.getPerspectiveTransform(source, corners.astype(np.float32)).astype(np.float64)


def _map(h: FloatArray, points: FloatArray) -> FloatArray:
    """Apply homography ``h`` to an (..., 2) array of points."""
    flat = points.reshape(-1, 2)
    ones = np.ones((flat.shape[0], 1))
    mapped = np.hstack((flat, ones)) @ h.T
    return (mapped[:, :2] / mapped[:, 2:3]).reshape(points.shape)


def _sample(image: npt.NDArray[np.float32], points: FloatArray) -> npt.NDArray[np.float32]:
    """Bilinear samples of ``image`` at (x, y) ``points`` (any leading shape)."""
    flat = points.reshape(-1, 2).astype(np.float32)
    values = cv2.remap(
        image,
        flat[:, 0].reshape(-1, 1),
        flat[:, 1].reshape(-1, 1),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(values, dtype=np.float32).reshape(points.shape[:-1])


@lru_cache(maxsize=64)
def _disc(diameter_px: float) -> npt.NDArray[np.float32]:
    """A normalised circular aperture of ``diameter_px`` pixels, edges anti-aliased by
    supersampling (so a 3.2 px aperture differs from a 3.0 px one)."""
    radius = diameter_px / 2.0
    half = math.ceil(radius)
    oversample = 8
    coords = (np.arange((2 * half + 1) * oversample) + 0.5) / oversample - (half + 0.5)
    xx, yy = np.meshgrid(coords, coords)
    inside = (xx**2 + yy**2 <= radius**2).astype(np.float32)
    kernel = inside.reshape(2 * half + 1, oversample, 2 * half + 1, oversample).mean(axis=(1, 3))
    kernel /= kernel.sum()
    out = np.asarray(kernel, dtype=np.float32)
    out.flags.writeable = False
    return out


def _crossing_positions(
    profiles: npt.NDArray[np.float32], start: float, step: float
) -> npt.NDArray[np.float64]:
    """For every sample interval of every profile (rows of ``profiles``, sampled from
    ``start`` every ``step``), where the profile crosses the middle of its own dark and light
    levels (5th and 95th percentile), linearly interpolated; NaN where it does not. Edges
    are found where a symmetric blur leaves them, whatever the global threshold."""
    values = profiles.astype(np.float64)
    ordered = np.sort(values, axis=1)
    last = values.shape[1] - 1
    low = ordered[:, round(0.05 * last)]
    high = ordered[:, round(0.95 * last)]
    s = values - ((low + high) / 2)[:, None]
    s[(high - low) < 0.05] = np.nan  # no edge in a flat profile
    a, b = s[:, :-1], s[:, 1:]
    change = (a * b < 0) | ((a == 0) & (b != 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(change, a / (a - b), np.nan)
    return start + (np.arange(last)[None, :] + fraction) * step


def _crossings(profiles: npt.NDArray[np.float32], start: float, step: float) -> list[FloatArray]:
    """The crossings of each profile (see :func:`_crossing_positions`), in order."""
    return [row[~np.isnan(row)] for row in _crossing_positions(profiles, start, step)]


def _nearest_crossing(
    profiles: npt.NDArray[np.float32], start: float, step: float, window: float
) -> FloatArray:
    """For each profile, its crossing nearest position 0 within ``window``; NaN if none."""
    positions = _crossing_positions(profiles, start, step)
    distance = np.where(np.isnan(positions), np.inf, np.abs(positions))
    best = np.argmin(distance, axis=1)
    rows = np.arange(positions.shape[0])
    chosen = positions[rows, best]
    return np.where(distance[rows, best] <= window, chosen, np.nan)


def _nearest(crossings: FloatArray, expected: FloatArray, window: float) -> FloatArray:
    """For each expected position the nearest crossing within ``window``; NaN if none."""
    out = np.full(expected.shape, np.nan)
    if crossings.size == 0:
        return out
    found = np.searchsorted(crossings, expected)
    index = np.minimum(np.maximum(found, 1), crossings.size) - 1
    left = crossings[index]
    right = crossings[np.minimum(index + 1, crossings.size - 1)]
    best = np.where(np.abs(left - expected) <= np.abs(right - expected), left, right)
    return np.where(np.abs(best - expected) <= window, best, out)


def _boundaries(crossings: FloatArray, nominal: FloatArray) -> FloatArray:
    """The module boundaries of a clock track from its edge crossings: in order when there
    is one crossing per boundary, each within a module of where it should be (a displaced
    module moves its edges up to that far); otherwise the crossing nearest each nominal
    boundary within 0.45 module, the nominal position where none is (damage)."""
    if crossings.size == nominal.size and np.all(np.abs(crossings - nominal) < 0.95):
        return crossings
    near = _nearest(crossings, nominal, 0.45)
    return np.where(np.isnan(near), nominal, near)


def _fit_line(points: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """Robust total-least-squares line (point, unit direction); None for too few points."""
    pts = points[np.all(np.isfinite(points), axis=1)]
    for _ in range(2):
        if len(pts) < 2:
            return None
        centre = pts.mean(axis=0)
        _, _, vt = np.linalg.svd(pts - centre)
        direction = vt[0]
        normal = np.array([-direction[1], direction[0]])
        residual = np.abs((pts - centre) @ normal)
        limit = max(3.0 * float(np.median(residual)), 0.5)
        keep = residual <= limit
        if keep.all():
            break
        pts = pts[keep]
    return centre, direction


def _intersect(a: tuple[FloatArray, FloatArray], b: tuple[FloatArray, FloatArray]) -> FloatArray:
    (p, d), (q, e) = a, b
    matrix = np.array([[d[0], -e[0]], [d[1], -e[1]]])
    t = np.linalg.solve(matrix, q - p)
    return np.asarray(p + t[0] * d, dtype=np.float64)


# -- the measurement ------------------------------------------------------------------------


class _Measurement:
    """One grading: holds the intermediate images and the grid while :meth:`run` goes."""

    def __init__(
        self,
        image: GreyImage,
        decoded: Decoded,
        size: SymbolSize,
        settings: GradingSettings,
        started: float,
        shown: BoolImage | None = None,
    ) -> None:
        self.decoded = decoded
        self.size = size
        self.settings = settings
        self.started = started
        self.module = decoded.module_size
        corners = np.array([(p.x, p.y) for p in decoded.corners], dtype=np.float64)
        if not np.all(np.isfinite(corners)):
            raise GradingFailed("corners: expected finite positions")
        height, width = image.shape
        margin = 4 * self.module
        x0 = max(int(corners[:, 0].min() - margin), 0)
        y0 = max(int(corners[:, 1].min() - margin), 0)
        x1 = min(int(corners[:, 0].max() + margin) + 1, width)
        y1 = min(int(corners[:, 1].max() + margin) + 1, height)
        if x1 - x0 < 4 or y1 - y0 < 4:
            raise GradingFailed("symbol: expected it inside the image")
        self.origin = np.array([x0, y0], dtype=np.float64)
        self.shape = (y1 - y0, x1 - x0)
        self.shown = shown[y0:y1, x0:x1] if shown is not None else None
        self.corners = corners - self.origin
        self.reflectance = settings.calibration.reflectance(image[y0:y1, x0:x1])
        self.aperture_px = settings.aperture * self.module
        kernel = _disc(round(self.aperture_px, 2))
        self.reference: npt.NDArray[np.float32] = (
            np.asarray(
                cv2.filter2D(self.reflectance, -1, kernel, borderType=cv2.BORDER_REPLICATE),
                dtype=np.float32,
            )
            if kernel.size > 1
            else self.reflectance
        )
        sigma = 0.12 * self.module
        self.edges: npt.NDArray[np.float32] = (
            np.asarray(cv2.GaussianBlur(self.reflectance, (0, 0), sigma), dtype=np.float32)
            if sigma >= 0.3
            else self.reflectance
        )

    # grid ------------------------------------------------------------------------------

    def _shown(self, points: FloatArray) -> npt.NDArray[np.bool_]:
        """Whether the camera saw each (x, y) of ``points`` (crop coordinates)."""
        if self.shown is None:
            return np.ones(points.shape[0], dtype=bool)
        ph, pw = self.shape
        x = np.clip(np.rint(points[:, 0]), 0, pw - 1).astype(np.intp)
        y = np.clip(np.rint(points[:, 1]), 0, ph - 1).astype(np.intp)
        return np.asarray(self.shown[y, x], dtype=bool)

    def _border_score(self, h: FloatArray, threshold: float) -> float:
        size = self.size
        rows, cols = size.rows, size.columns
        r = np.arange(rows) + 0.5
        c = np.arange(cols) + 0.5
        points = np.concatenate(
            (
                np.stack((np.full(rows, 0.5), r), axis=1),  # left: dark
                np.stack((c, np.full(cols, rows - 0.5)), axis=1),  # bottom: dark
                np.stack((c, np.full(cols, 0.5)), axis=1),  # top: dark at even columns
                np.stack((np.full(rows, cols - 0.5), r), axis=1),  # right: dark at odd rows
            )
        )
        expected = np.concatenate(
            (
                np.ones(rows, bool),
                np.ones(cols, bool),
                np.arange(cols) % 2 == 0,
                np.arange(rows) % 2 == 1,
            )
        )
        values = _sample(self.reference, _map(h, points))
        return float(np.mean((values < threshold) == expected))

    def _orient(self) -> FloatArray:
        """The homography whose module space has the L left and bottom (any of the eight
        ways the decoder may have ordered the corners, mirrored symbols included)."""
        size = self.size
        lo, hi = np.percentile(self.reference, (5, 95))
        threshold = float(lo + hi) / 2
        best: tuple[float, FloatArray] | None = None
        order = list(range(4))
        for mirrored in (False, True):
            sequence = order[::-1] if mirrored else order
            for shift in range(4):
                rolled = [sequence[(i + shift) % 4] for i in range(4)]
                h = _homography(self.corners[rolled], size.columns, size.rows)
                score = self._border_score(h, threshold)
                if best is None or score > best[0]:
                    best = (score, h)
                if score >= 0.95:  # the decoders give symbol orientation: usually the first
                    return h
        assert best is not None
        if best[0] < 0.75:
            raise GradingFailed(
                f"fixed pattern: expected the L and clock tracks, found {best[0]:.0%} of "
                "their modules"
            )
        return best[1]

    def _edge_points(self, h: FloatArray, fixed: list[tuple[float, float, str]]) -> FloatArray:
        """Image points of the outer edge crossing nearest each (u, v, axis) position."""
        if not fixed:
            return np.empty((0, 2))
        step = 0.05
        offsets = np.arange(-0.8, 0.8 + 1e-9, step)
        lines = []
        for u, v, axis in fixed:
            if axis == "u":
                lines.append(np.stack((u + offsets, np.full_like(offsets, v)), axis=1))
            else:
                lines.append(np.stack((np.full_like(offsets, u), v + offsets), axis=1))
        profiles = _sample(self.edges, _map(h, np.array(lines)))
        near = _nearest_crossing(profiles, -0.8, step, 0.6)
        base = np.array([(u, v) for u, v, _ in fixed], dtype=np.float64)
        along_u = np.array([axis == "u" for _, _, axis in fixed])
        base[along_u, 0] += near[along_u]
        base[~along_u, 1] += near[~along_u]
        found = base[~np.isnan(near)]
        return _map(h, found) if len(found) else np.empty((0, 2))

    def _refine(self, h: FloatArray) -> FloatArray:
        size = self.size
        rows, cols = size.rows, size.columns
        left = [(0.0, r + 0.5, "u") for r in range(rows)]
        bottom = [(c + 0.5, float(rows), "v") for c in range(cols)]
        top = [(c + 0.5, 0.0, "v") for c in range(0, cols, 2)]
        right = [(float(cols), r + 0.5, "u") for r in range(1, rows, 2)]
        lines = []
        for side in (top, right, bottom, left):
            fitted = _fit_line(self._edge_points(h, side))
            if fitted is None:
                return h
            lines.append(fitted)
        top_line, right_line, bottom_line, left_line = lines
        corners = np.array(
            [
                _intersect(top_line, left_line),
                _intersect(top_line, right_line),
                _intersect(bottom_line, right_line),
                _intersect(bottom_line, left_line),
            ]
        )
        nominal = _map(h, np.array([(0, 0), (cols, 0), (cols, rows), (0, rows)], float))
        if np.max(np.linalg.norm(corners - nominal, axis=1)) > 1.5 * self.module:
            return h  # the edges disagree with the decoder: keep its corners
        return _homography(corners, cols, rows)

    def _clock_centres(
        self, h: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Module centres along u for every region band (from its top clock track) and along
        v for every region column (from its right clock track), with the dark and light
        widths measured on the outer tracks."""
        size = self.size
        rows, cols = size.rows, size.columns
        step = 0.05
        band_rows = [j * (size.region_rows + 2) for j in range(size.regions_vertical)]
        band_cols = [
            (i + 1) * (size.region_columns + 2) - 1 for i in range(size.regions_horizontal)
        ]
        us = np.arange(-0.6, cols + 0.6, step)
        vs = np.arange(-0.6, rows + 0.6, step)
        horizontal = np.array(
            [np.stack((us, np.full_like(us, r + 0.5)), axis=1) for r in band_rows]
        )
        vertical = np.array([np.stack((np.full_like(vs, c + 0.5), vs), axis=1) for c in band_cols])
        h_profiles = _sample(self.edges, _map(h, horizontal))
        v_profiles = _sample(self.edges, _map(h, vertical))
        u_bound = np.arange(0, cols, dtype=np.float64)  # boundaries before columns 0..cols-1
        v_bound = np.arange(1, rows + 1, dtype=np.float64)  # boundaries after rows 0..rows-1
        u_centres = np.empty((len(band_rows), cols))
        v_centres = np.empty((len(band_cols), rows))
        widths_u = widths_v = np.empty(0)
        for j, crossings in enumerate(_crossings(h_profiles, -0.6, step)):
            bound = _boundaries(crossings, u_bound)
            widths = np.diff(bound)  # column c spans bound[c]..bound[c+1]; 0 dark, 1 light
            centres = np.empty(cols)
            centres[:-1] = (bound[:-1] + bound[1:]) / 2
            # the last column is light, its right edge meets the quiet zone: its left edge
            # is where the dark module before it grew to (growth = (dark - light) / 4)
            pitch, grow = _pitch_and_growth(widths)
            centres[-1] = bound[-1] - grow + 0.5 * pitch
            u_centres[j] = centres
            if j == 0:
                widths_u = widths
        for i, crossings in enumerate(_crossings(v_profiles, -0.6, step)):
            bound = _boundaries(crossings, v_bound)
            widths = np.diff(bound)  # row r + 1 spans bound[r]..bound[r+1]; row 1 dark
            centres = np.empty(rows)
            centres[1:] = (bound[:-1] + bound[1:]) / 2
            pitch, grow = _pitch_and_growth(widths)
            centres[0] = bound[0] + grow - 0.5 * pitch  # row 0 is light, quiet zone above
            v_centres[i] = centres
            if i == len(band_cols) - 1:
                widths_v = widths
        return u_centres, v_centres, widths_u, widths_v

    def _print_growth(self, widths_u: FloatArray, widths_v: FloatArray) -> tuple[float, float]:
        """(dark - light) / (dark + light) of the clock modules' widths: with dark modules
        grown by g on each side that is 2g / X."""

        def growth(widths: FloatArray, dark_first: bool) -> float:
            if widths.size < 2:
                return 0.0
            first = widths[0::2]
            second = widths[1::2]
            dark, light = (first, second) if dark_first else (second, first)
            total = float(dark.mean() + light.mean())
            return float(dark.mean() - light.mean()) / total if total > 0 else 0.0

        # widths_u[c]: column c of the top track (0 dark, 1 light, ...); widths_v[k]: row k + 1
        # of the right track (row 1 dark, row 2 light, ...)
        return growth(widths_u, dark_first=True), growth(widths_v, dark_first=True)

    # grading ---------------------------------------------------------------------------

    def run(self) -> GradeReport:
        size = self.size
        rows, cols = size.rows, size.columns
        h = self._refine(self._orient())
        u_centres, v_centres, widths_u, widths_v = self._clock_centres(h)

        block_h, block_w = size.region_rows + 2, size.region_columns + 2
        band_of_row = np.arange(rows) // block_h
        band_of_col = np.arange(cols) // block_w
        u = u_centres[band_of_row][:, :]  # (rows, cols)
        v = v_centres[band_of_col].T  # (rows, cols)
        centres_uv = np.stack((u, v), axis=-1)
        centres = _map(h, centres_uv)
        ph, pw = self.shape
        if (
            np.any(centres < 0)
            or np.any(centres[..., 0] > pw - 1)
            or np.any(centres[..., 1] > ph - 1)
        ):
            raise GradingFailed("symbol: expected every module inside the image")
        if not self._shown(centres.reshape(-1, 2)).all():
            raise GradingFailed("symbol: expected every module inside the image")
        samples = _sample(self.reference, centres).astype(np.float64)

        quiet_uv = np.concatenate(
            (
                np.stack((u_centres[0], np.full(cols, -0.5)), axis=1),
                np.stack((u_centres[-1], np.full(cols, rows + 0.5)), axis=1),
                np.stack((np.full(rows, -0.5), v_centres[0]), axis=1),
                np.stack((np.full(rows, cols + 0.5), v_centres[-1]), axis=1),
                np.array(
                    [(-0.5, -0.5), (cols + 0.5, -0.5), (cols + 0.5, rows + 0.5), (-0.5, rows + 0.5)]
                ),
            )
        )
        quiet_points = _map(h, quiet_uv)
        # quiet zone the image does not show is not measured: it cannot set Rmax or Rmin,
        # and counts as damaged in the fixed pattern segments
        seen = (
            (quiet_points[:, 0] >= 0)
            & (quiet_points[:, 1] >= 0)
            & (quiet_points[:, 0] <= pw - 1)
            & (quiet_points[:, 1] <= ph - 1)
        )
        seen &= self._shown(quiet_points)
        quiet = _sample(self.reference, quiet_points).astype(np.float64)

        everything = np.concatenate((samples.ravel(), quiet[seen]))
        rmax, rmin = float(everything.max()), float(everything.min())
        sc = rmax - rmin
        gt = (rmax + rmin) / 2
        dark = samples < gt
        quiet_dark = quiet < gt

        # reference decode
        codewords = ecc200.codewords_from(size, dark)
        correction = ecc200.correct(size, codewords)
        decode_ok = correction.ok
        data: str | None = None
        decode_error: str | None = None
        if decode_ok:
            try:
                message = ecc200.decode_data(correction.data)
            except ecc200.DataError as exc:
                decode_ok = False
                decode_error = str(exc)
            else:
                data = message.text
                if not _same_data(message.text, self.decoded.data):
                    decode_ok = False
                    decode_error = "reference decode: data differs from the decoder's"
        else:
            decode_error = "reference decode: more damage than the error correction repairs"

        # what each module should be
        fixed = ecc200.fixed_pattern(size)
        expected = np.where(fixed == FIXED_DATA, dark, fixed == 1)
        placement_cw, placement_bit = ecc200.placement(size)
        if decode_ok:
            corrected = np.array(correction.corrected, dtype=np.int64)
            data_modules = placement_cw >= 0
            expected[data_modules] = (
                (corrected[placement_cw[data_modules]] >> placement_bit[data_modules]) & 1
            ).astype(bool)
            for r, c in ecc200.unplaced_corner(size):
                expected[r, c] = bool(ecc200.unplaced_corner_colour(size, r, c))

        modulation = 2.0 * np.abs(samples - gt) / sc if sc > 0 else np.zeros_like(samples)
        module_grades = _grades_at_least(modulation, MOD_THRESHOLDS)
        margin_grades = np.where(dark == expected, module_grades, 0)
        quiet_modulation = 2.0 * np.abs(quiet - gt) / sc if sc > 0 else np.zeros_like(quiet)
        quiet_grades = np.where(
            quiet_dark | ~seen, 0, _grades_at_least(quiet_modulation, MOD_THRESHOLDS)
        )

        layout = ecc200.block_layout(size)
        mod_grade, mod_value = _overlay(size, layout, placement_cw, module_grades)
        rm_grade, rm_value = _overlay(size, layout, placement_cw, margin_grades)

        errors = tuple(block.errors for block in correction.blocks)
        if decode_ok:
            uec = min(
                1.0 - (b.erasures + 2 * b.errors) / size.ec_per_block for b in correction.blocks
            )
        else:
            uec = 0.0
        uec = max(uec, 0.0)

        segments = _fixed_pattern_segments(size, margin_grades, quiet_grades, rows, cols)
        fpd_grade = min(segments.values())

        an, gn, pitch = _uniformity(centres_uv, centres)
        growth = self._print_growth(widths_u, widths_v)

        parameters = {
            "decode": Parameter("decode", None, 4 if decode_ok else 0),
            "symbol_contrast": Parameter("symbol_contrast", sc, grade_at_least(sc, SC_THRESHOLDS)),
            "modulation": Parameter("modulation", mod_value, mod_grade),
            "reflectance_margin": Parameter("reflectance_margin", rm_value, rm_grade),
            "fixed_pattern_damage": Parameter("fixed_pattern_damage", None, fpd_grade),
            "axial_nonuniformity": Parameter(
                "axial_nonuniformity", an, grade_at_most(an, AN_THRESHOLDS)
            ),
            "grid_nonuniformity": Parameter(
                "grid_nonuniformity", gn, grade_at_most(gn, GN_THRESHOLDS)
            ),
            "unused_error_correction": Parameter(
                "unused_error_correction", uec, grade_at_least(uec, UEC_THRESHOLDS)
            ),
        }
        return GradeReport(
            parameters=parameters,
            segments=segments,
            print_growth=growth,
            reflectance=(rmax, rmin, gt),
            symbol_size=size.name,
            module_px=pitch,
            aperture=self.settings.aperture,
            aperture_px=self.aperture_px,
            wavelength_nm=self.settings.wavelength_nm,
            data=data if data is not None else self.decoded.data,
            corrected=errors,
            ec_capacity=size.ec_per_block,
            elapsed_ms=(time.perf_counter() - self.started) * 1000.0,
            error=decode_error,
            extra={
                "modules_in_error": int(np.count_nonzero(dark != expected)),
                "contrast_uniformity": round(float(modulation.min()), 3),
                "quiet_zone_outside_image": int(np.count_nonzero(~seen)),
                "corners": (
                    _map(h, np.array([(0, 0), (cols, 0), (cols, rows), (0, rows)], float))
                    + self.origin
                )
                .round(2)
                .tolist(),
            },
        )


def _pitch_and_growth(widths: FloatArray) -> tuple[float, float]:
    """Mean pitch and how far each dark module reaches into its light neighbours, from the
    widths of an alternating track starting with a dark module."""
    dark, light = widths[0::2], widths[1::2]
    if dark.size == 0 or light.size == 0:
        return 1.0, 0.0
    d, lt = float(dark.mean()), float(light.mean())
    return (d + lt) / 2, (d - lt) / 4


@lru_cache(maxsize=64)
def _module_grid(rows: int, columns: int) -> FloatArray:
    ys, xs = np.mgrid[0:rows, 0:columns].astype(np.float64) + 0.5
    grid = np.stack((xs, ys), axis=-1)
    grid.flags.writeable = False
    return grid


def _grades_at_least(values: FloatArray, thresholds: tuple[float, ...]) -> npt.NDArray[np.int64]:
    out = np.zeros(values.shape, dtype=np.int64)
    for grade, threshold in zip((1, 2, 3, 4), reversed(thresholds), strict=True):
        out[values >= threshold] = grade
    return out


def _overlay(
    size: SymbolSize,
    layout: list[list[int]],
    placement_cw: npt.NDArray[np.int32],
    module_grades: npt.NDArray[np.int64],
) -> tuple[int, float]:
    """ISO/IEC 15415 grade overlay for modulation-type parameters.

    A codeword's grade is its lowest module's; for each grade level, the codewords below it
    are taken as unreadable (erasures) and the notional unused error correction of each
    block graded; the level's result is the lower of the level and that grade (lowest
    block); the parameter's grade is the best level result. The value returned is the
    notional UEC at the level that gave the grade.
    """
    codeword_grades = np.full(size.total_codewords, 4, dtype=np.int64)
    data = placement_cw >= 0
    np.minimum.at(codeword_grades, placement_cw[data], module_grades[data])
    best_grade, best_value = 0, 0.0
    for level in (4, 3, 2, 1):
        notional = min(
            1.0 - float(np.count_nonzero(codeword_grades[indexes] < level)) / size.ec_per_block
            for indexes in layout
        )
        result = min(level, grade_at_least(max(notional, 0.0), UEC_THRESHOLDS))
        if result > best_grade:
            best_grade, best_value = result, max(notional, 0.0)
    if best_grade == 0:
        best_value = max(
            0.0,
            min(
                1.0 - float(np.count_nonzero(codeword_grades[indexes] < 1)) / size.ec_per_block
                for indexes in layout
            ),
        )
    return best_grade, best_value


def _segment_grade(grades: npt.NDArray[np.int64]) -> int:
    """Grade of one fixed-pattern segment from its modules' grades (0 = in error): for each
    level the modules below it count as damaged, graded by the damaged fraction; the best
    of min(level, that grade)."""
    if grades.size == 0:
        return 4
    best = 0
    for level in (4, 3, 2, 1):
        damaged = float(np.count_nonzero(grades < level)) / grades.size
        notional = grade_at_most(damaged, FPD_DAMAGE_THRESHOLDS)
        best = max(best, min(level, notional))
    return best


def _fixed_pattern_segments(
    size: SymbolSize,
    module_grades: npt.NDArray[np.int64],
    quiet_grades: npt.NDArray[np.int64],
    rows: int,
    cols: int,
) -> dict[str, int]:
    """L1 (left), L2 (bottom), QZL1, QZL2 (the quiet zone beside them), OCTASA (the lowest
    clock-track segment: every data region's top and right clock track with the quiet zone
    or solid bar beyond it) and AG, the mean of those five."""
    q_top = quiet_grades[:cols]
    q_bottom = quiet_grades[cols : 2 * cols]
    q_left = quiet_grades[2 * cols : 2 * cols + rows]
    q_right = quiet_grades[2 * cols + rows : 2 * cols + 2 * rows]
    q_corners = quiet_grades[2 * cols + 2 * rows :]
    l1 = _segment_grade(module_grades[:, 0])
    l2 = _segment_grade(module_grades[rows - 1, :])
    qzl1 = _segment_grade(np.concatenate((q_left, q_corners[[0, 3]])))
    qzl2 = _segment_grade(np.concatenate((q_bottom, q_corners[[2]])))
    block_h, block_w = size.region_rows + 2, size.region_columns + 2
    clock_segments = []
    for j in range(size.regions_vertical):
        top = j * block_h
        for i in range(size.regions_horizontal):
            left, right = i * block_w, (i + 1) * block_w - 1
            track = module_grades[top, left : right + 1]
            beyond = q_top[left : right + 1] if j == 0 else module_grades[top - 1, left : right + 1]
            clock_segments.append(_segment_grade(np.concatenate((track, beyond))))
            bottom = (j + 1) * block_h - 1
            side = module_grades[top : bottom + 1, right]
            if i == size.regions_horizontal - 1:
                outside = q_right[top : bottom + 1]
            else:
                outside = module_grades[top : bottom + 1, right + 1]
            clock_segments.append(_segment_grade(np.concatenate((side, outside))))
    octasa = min(clock_segments)
    grades = {"L1": l1, "L2": l2, "QZL1": qzl1, "QZL2": qzl2, "OCTASA": octasa}
    grades["AG"] = sum(grades.values()) // len(grades)
    del q_corners
    return grades


def _uniformity(uv: FloatArray, image_points: FloatArray) -> tuple[float, float, float]:
    """Axial non-uniformity, grid non-uniformity (in module sizes) and the module pitch (px),
    from the measured module centres against their least-squares affine grid."""
    ideal_uv = _module_grid(uv.shape[0], uv.shape[1]).reshape(-1, 2)
    measured = image_points.reshape(-1, 2)
    design = np.hstack((ideal_uv, np.ones((ideal_uv.shape[0], 1))))
    solution, *_ = np.linalg.lstsq(design, measured, rcond=None)
    x_pitch = float(np.linalg.norm(solution[0]))
    y_pitch = float(np.linalg.norm(solution[1]))
    mean_pitch = (x_pitch + y_pitch) / 2
    an = abs(x_pitch - y_pitch) / mean_pitch if mean_pitch > 0 else 1.0
    deviation = np.linalg.norm(design @ solution - measured, axis=1)
    gn = float(deviation.max()) / mean_pitch if mean_pitch > 0 else 1.0
    return an, gn, mean_pitch


def _same_data(reference: str, decoder: str) -> bool:
    """The reference decode and the decoder agree (Latin-1 bytes the decoder read as UTF-8
    count as the same)."""
    if reference == decoder:
        return True
    try:
        return reference.encode("latin-1").decode("utf-8") == decoder
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
