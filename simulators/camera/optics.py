"""How the simulated camera sees a label: placement, optics, light and sensor faults.

:func:`compose_frame` puts one label image into a camera frame. Every degradation is drawn
from a :class:`numpy.random.Generator`, uniformly between none and the configured maximum,
so a frame is fully determined by the label, the :class:`Optics` and the generator's seed.
The order follows the physics: the label fades (low contrast) and may be covered
(occlusion) before it is placed in perspective on the conveyor; the scene is lit
unevenly; the lens blurs it, the moving belt smears it; the sensor adds noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from simulators.errors import ConfigError

GreyImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Optics:
    """Frame size and the maximum of each degradation (0 = off)."""

    frame_width: int = 1280
    frame_height: int = 1024
    label_scale: float = 1.0
    """Frame pixels per label pixel (shrunk further if the label would not fit)."""
    max_shift: float = 0.3
    """Label centre offset, as a fraction of the free space around it."""
    max_rotation_deg: float = 0.0
    max_perspective: float = 0.0
    """Largest corner displacement, as a fraction of the label's shorter side."""
    max_blur_sigma: float = 0.0
    """Gaussian defocus, in frame pixels."""
    max_motion_blur_px: float = 0.0
    """Smear along the belt (x), in frame pixels."""
    max_noise_sigma: float = 0.0
    """Sensor noise, in grey levels."""
    max_uneven_light: float = 0.0
    """Darkest corner's loss of light, 0..1."""
    max_low_contrast: float = 0.0
    """Fraction of print contrast lost (faded ink), 0..1."""
    no_label_rate: float = 0.0
    """Probability that a frame shows the empty belt instead of the label."""
    occlusion_rate: float = 0.0
    """Probability that something covers part of the label."""
    occlusion_size: float = 0.5
    """Side of the covering object, as a fraction of the label's shorter side."""
    background: int = 70
    """Grey level of the conveyor belt."""

    def __post_init__(self) -> None:
        for name in ("frame_width", "frame_height"):
            value = getattr(self, name)
            if not 16 <= value <= 10_000:
                raise ConfigError(f"{name}: expected 16 to 10000 pixels, got {value!r}")
        for name in (
            "max_shift",
            "max_uneven_light",
            "max_low_contrast",
            "no_label_rate",
            "occlusion_rate",
            "occlusion_size",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}: expected a number from 0 to 1, got {value!r}")
        for name in (
            "label_scale",
            "max_rotation_deg",
            "max_perspective",
            "max_blur_sigma",
            "max_motion_blur_px",
            "max_noise_sigma",
        ):
            value = getattr(self, name)
            if value < 0 or not math.isfinite(value):
                raise ConfigError(f"{name}: expected a finite number >= 0, got {value!r}")
        if not 0 <= self.background <= 255:
            raise ConfigError(f"background: expected a grey level 0..255, got {self.background!r}")

    def with_changes(self, **changes: Any) -> Optics:
        """A copy with some settings changed (validated again)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"optics: unknown setting {unknown[0]!r}, expected one of {sorted(known)}"
            )
        return replace(self, **changes)


PRESETS: dict[str, Optics] = {
    "clean": Optics(),
    "degraded": Optics(
        max_rotation_deg=12.0,
        max_perspective=0.04,
        max_blur_sigma=1.2,
        max_motion_blur_px=4.0,
        max_noise_sigma=8.0,
        max_uneven_light=0.45,
        max_low_contrast=0.45,
    ),
    "harsh": Optics(
        max_rotation_deg=45.0,
        max_perspective=0.08,
        max_blur_sigma=2.5,
        max_motion_blur_px=8.0,
        max_noise_sigma=16.0,
        max_uneven_light=0.7,
        max_low_contrast=0.7,
        occlusion_rate=0.1,
    ),
}
"""Named optics: ``clean`` (placement only), ``degraded`` (every fault, moderate) and
``harsh`` (beyond what a line should tolerate)."""


@dataclass(frozen=True)
class Shot:
    """A composed frame and what was done to it (names in ``faults``, amounts in ``effects``)."""

    image: GreyImage
    faults: tuple[str, ...]
    effects: dict[str, float]


def compose_frame(label: GreyImage, optics: Optics, rng: np.random.Generator) -> Shot:
    """Place ``label`` (8-bit grey, white paper) in a frame as ``optics`` says."""
    width, height = optics.frame_width, optics.frame_height
    effects: dict[str, float] = {}
    if optics.no_label_rate and rng.random() < optics.no_label_rate:
        effects["no_label"] = 1.0
        scene = np.full((height, width), optics.background, dtype=np.uint8)
    else:
        scene = _place(_prepare_label(label, optics, rng, effects), optics, rng, effects)
    image = _photograph(scene, optics, rng, effects)
    return Shot(image, tuple(effects), effects)


def _prepare_label(
    label: GreyImage, optics: Optics, rng: np.random.Generator, effects: dict[str, float]
) -> GreyImage:
    out = label
    fade = rng.uniform(0.0, optics.max_low_contrast) if optics.max_low_contrast else 0.0
    if fade >= 0.01:
        effects["low_contrast"] = round(fade, 3)
        out = (255.0 - (255.0 - out.astype(np.float32)) * (1.0 - fade)).astype(np.uint8)
    if optics.occlusion_rate and rng.random() < optics.occlusion_rate:
        out = out.copy() if out is label else out
        side = max(2, int(min(out.shape) * optics.occlusion_size))
        y = int(rng.integers(0, max(1, out.shape[0] - side)))
        x = int(rng.integers(0, max(1, out.shape[1] - side)))
        out[y : y + side, x : x + side] = int(rng.integers(20, 120))
        effects["occluded"] = round(optics.occlusion_size, 3)
    return out


def _place(
    label: GreyImage, optics: Optics, rng: np.random.Generator, effects: dict[str, float]
) -> GreyImage:
    width, height = optics.frame_width, optics.frame_height
    label_h, label_w = label.shape[:2]
    scale = min(optics.label_scale, 0.9 * width / label_w, 0.9 * height / label_h)
    w, h = label_w * scale, label_h * scale
    free_x, free_y = (width - w) / 2, (height - h) / 2
    cx = width / 2 + rng.uniform(-1, 1) * optics.max_shift * free_x
    cy = height / 2 + rng.uniform(-1, 1) * optics.max_shift * free_y
    angle = rng.uniform(-1, 1) * optics.max_rotation_deg if optics.max_rotation_deg else 0.0
    if abs(angle) >= 0.1:
        effects["rotation"] = round(angle, 2)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = []
    jitter = optics.max_perspective * min(w, h)
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        dx, dy = sx * w / 2, sy * h / 2
        if jitter:
            dx += rng.uniform(-1, 1) * jitter
            dy += rng.uniform(-1, 1) * jitter
        corners.append((cx + dx * cos + dy * sin, cy - dx * sin + dy * cos))
    if jitter:
        effects["perspective"] = round(optics.max_perspective, 3)
    source = np.array([(0, 0), (label_w, 0), (label_w, label_h), (0, label_h)], np.float32)
    transform = cv2.getPerspectiveTransform(source, np.array(corners, np.float32))
    return cv2.warpPerspective(  # type: ignore[return-value]
        label,
        transform,
        (width, height),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=optics.background,
    )


def _photograph(
    scene: GreyImage, optics: Optics, rng: np.random.Generator, effects: dict[str, float]
) -> GreyImage:
    height, width = scene.shape[:2]
    image = scene.astype(np.float32)
    loss = rng.uniform(0.0, optics.max_uneven_light) if optics.max_uneven_light else 0.0
    if loss >= 0.01:
        effects["uneven_light"] = round(loss, 3)
        direction = rng.uniform(0, 2 * math.pi)
        xs = np.linspace(-0.5, 0.5, width, dtype=np.float32) * math.cos(direction)
        ys = np.linspace(-0.5, 0.5, height, dtype=np.float32) * math.sin(direction)
        ramp = ys[:, None] + xs[None, :]  # -0.71..0.71 across the frame
        image *= 1.0 - loss * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    sigma = rng.uniform(0.0, optics.max_blur_sigma) if optics.max_blur_sigma else 0.0
    if sigma >= 0.3:
        effects["blur"] = round(sigma, 3)
        image = np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.float32)
    smear = rng.uniform(0.0, optics.max_motion_blur_px) if optics.max_motion_blur_px else 0.0
    if smear >= 1.5:
        effects["motion_blur"] = round(smear, 2)
        length = round(smear)
        kernel = np.full((1, length), 1.0 / length, dtype=np.float32)
        image = np.asarray(
            cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE), dtype=np.float32
        )
    noise = rng.uniform(0.0, optics.max_noise_sigma) if optics.max_noise_sigma else 0.0
    if noise >= 0.5:
        effects["noise"] = round(noise, 2)
        image += rng.standard_normal((height, width), dtype=np.float32) * noise
    return np.clip(image, 0, 255).astype(np.uint8)
