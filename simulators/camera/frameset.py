"""Seeded sets of camera frames of GS1 unit codes, for the vision benchmark and tests.

Each frame carries one GS1 DataMatrix (its own serial) printed with random
:class:`~simulators.camera.symbols.PrintDefects` and photographed through random
:class:`~simulators.camera.optics.Optics`; :class:`SetSpec` gives the ranges. Frame ``n`` of
a set depends only on the spec, the seed and ``n``.

- :data:`LINE`: what the line's camera sees: the label square to the belt give or take the
  ``degraded`` preset's faults, a sound print.
- :data:`HARD`: any angle (0-360°), perspective, blur up to 5 px, 40-100 % contrast, noise,
  uneven light, and partial damage (ink or white-out spots over the symbol) on half of them.
- :data:`EMPTY`: the belt with no label (what the ladder costs on a miss).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from simulators.camera.optics import PRESETS, GreyImage, Optics, compose_frame
from simulators.camera.symbols import PrintDefects, Spot, on_label, render_symbol, symbol_modules

GTIN = "09506000134352"
SERIAL_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class SetSpec:
    """Ranges a frame set draws from (uniformly)."""

    name: str
    optics: Optics
    module_px: tuple[float, float] = (6.0, 6.0)
    contrast: tuple[float, float] = (0.85, 0.85)
    """Print contrast: light minus dark reflectance (paper at 0.90)."""
    dot_gain: tuple[float, float] = (0.0, 0.0)
    damage_rate: float = 0.0
    """Share of frames with partial damage (1-3 spots of ink or white-out)."""
    damage_radius: tuple[float, float] = (0.6, 1.6)
    """Spot radius in modules."""
    label: bool = True


LINE = SetSpec(
    "line",
    PRESETS["degraded"],
    module_px=(5.0, 7.0),
    contrast=(0.7, 0.85),
    dot_gain=(-0.1, 0.15),
)
HARD = SetSpec(
    "hard",
    Optics(
        max_rotation_deg=180.0,
        max_perspective=0.06,
        max_blur_sigma=2.5,
        max_noise_sigma=8.0,
        max_uneven_light=0.3,
    ),
    module_px=(4.0, 8.0),
    contrast=(0.36, 0.9),
    dot_gain=(-0.15, 0.25),
    damage_rate=0.5,
)
EMPTY = SetSpec(
    "empty",
    Optics(no_label_rate=1.0, max_noise_sigma=8.0, max_uneven_light=0.4),
    label=False,
)
SETS = {spec.name: spec for spec in (LINE, HARD, EMPTY)}


@dataclass(frozen=True)
class GeneratedFrame:
    """One frame and its truth: ``hri`` and ``element_string`` of the code printed (empty
    for a frame without a label) and what was done to it."""

    index: int
    image: GreyImage = field(repr=False, compare=False)
    hri: str
    element_string: str
    effects: dict[str, float]


def unit_hri(rng: random.Random) -> tuple[str, str]:
    """A GS1 unit code with a random 12-character serial: (HRI, element string)."""
    serial = "".join(rng.choice(SERIAL_ALPHABET) for _ in range(12))
    hri = f"(01){GTIN}(17)281130(10)LOT2611(21){serial}"
    return hri, f"01{GTIN}1728113010LOT2611\x1d21{serial}"


def frames(
    spec: SetSpec,
    count: int,
    *,
    seed: int = 1,
    size: tuple[int, int] = (1280, 1024),
) -> Iterator[GeneratedFrame]:
    """``count`` frames of ``spec`` (width x height ``size``), reproducible for ``seed``."""
    if count < 0:
        raise ValueError(f"count: expected 0 or more, got {count!r}")
    optics = spec.optics.with_changes(frame_width=size[0], frame_height=size[1])
    for index in range(count):
        rng = random.Random(f"{spec.name}-{seed}-{index}")
        effects: dict[str, float] = {}
        if not spec.label:
            label = np.full((64, 64), 255, dtype=np.uint8)
            hri = element = ""
        else:
            hri, element = unit_hri(rng)
            modules = symbol_modules(hri)
            contrast = rng.uniform(*spec.contrast)
            defects = PrintDefects(
                light_reflectance=0.90,
                dark_reflectance=max(0.0, 0.90 - contrast),
                dot_gain=rng.uniform(*spec.dot_gain),
                spots=_spots(rng, spec, modules.shape) if rng.random() < spec.damage_rate else (),
            )
            effects.update(
                print_contrast=round(contrast, 3),
                dot_gain=round(defects.dot_gain, 3),
                damage_spots=float(len(defects.spots)),
            )
            symbol = render_symbol(modules, module_px=rng.uniform(*spec.module_px), defects=defects)
            label = on_label(symbol, margin_px=24)
        shot = compose_frame(label, optics, np.random.default_rng([seed, index]))
        effects.update(shot.effects)
        yield GeneratedFrame(index, shot.image, hri, element, effects)


def _spots(rng: random.Random, spec: SetSpec, shape: tuple[int, ...]) -> tuple[Spot, ...]:
    rows, columns = shape[0], shape[1]
    return tuple(
        Spot(
            column=rng.uniform(1, columns - 1),
            row=rng.uniform(1, rows - 1),
            radius=rng.uniform(*spec.damage_radius),
            dark=rng.random() < 0.5,
        )
        for _ in range(rng.randint(1, 3))
    )
