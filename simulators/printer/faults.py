"""Fault injection: from config (a TOML table or dict) or at run time.

Printer states (seen by a driver through ``~HS``): ``ribbon_out_after`` / ``paper_out_after``
N labels, ``head_open``, ``paused``, a small ``buffer_capacity``. Print defects (seen by a
camera): ``missed`` (a blank label), ``smudge``, ``void`` (part of the code not printed),
``low_contrast``, ``skew``. Each defect has a rule: every Nth label, a probability, or given
label numbers. ``line_noise`` is the probability that a received byte is corrupted, like
noise on an RS-232 line; the printer then reports the ZPL it cannot read.

Example::

    [faults]
    ribbon_out_after = 500
    line_noise = 0.0001
    seed = 7
    [faults.label.smudge]
    every = 50
    [faults.label.low_contrast]
    probability = 0.01
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from simulators.errors import ConfigError
from simulators.printer.render import Image, Region

LABEL_FAULTS = ("missed", "smudge", "void", "low_contrast", "skew")


@dataclass(frozen=True)
class LabelFaultRule:
    """When a print defect happens: every Nth label, with a probability, or on given labels."""

    every: int | None = None
    probability: float = 0.0
    labels: frozenset[int] = frozenset()

    def hits(self, index: int, rng: random.Random) -> bool:
        if index in self.labels or (self.every and index % self.every == 0):
            return True
        return self.probability > 0 and rng.random() < self.probability


@dataclass(frozen=True)
class FaultConfig:
    ribbon_out_after: int | None = None
    paper_out_after: int | None = None
    head_open: bool = False
    paused: bool = False
    line_noise: float = 0.0
    label: Mapping[str, LabelFaultRule] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FaultConfig:
        known = {"ribbon_out_after", "paper_out_after", "head_open", "paused", "line_noise",
                 "label", "seed"}  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"faults: expected keys from {sorted(known)}, got {unknown!r}")
        for key in ("ribbon_out_after", "paper_out_after"):
            value = data.get(key)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"faults.{key}: expected an integer >= 0, got {value!r}")
        noise = data.get("line_noise", 0.0)
        if not isinstance(noise, int | float) or not 0 <= noise <= 1:
            raise ConfigError(f"faults.line_noise: expected a probability 0..1, got {noise!r}")
        rules: dict[str, LabelFaultRule] = {}
        for name, rule in dict(data.get("label", {})).items():
            if name not in LABEL_FAULTS:
                raise ConfigError(f"faults.label: expected one of {LABEL_FAULTS}, got {name!r}")
            rules[name] = _rule(name, rule)
        return cls(
            ribbon_out_after=data.get("ribbon_out_after"),
            paper_out_after=data.get("paper_out_after"),
            head_open=bool(data.get("head_open", False)),
            paused=bool(data.get("paused", False)),
            line_noise=float(noise),
            label=rules,
            seed=int(data.get("seed", 0)),
        )


def _rule(name: str, rule: Any) -> LabelFaultRule:
    if not isinstance(rule, Mapping) or set(rule) - {"every", "probability", "labels"}:
        raise ConfigError(
            f"faults.label.{name}: expected a table with every, probability or labels, got {rule!r}"
        )
    every = rule.get("every")
    probability = rule.get("probability", 0.0)
    labels = rule.get("labels", [])
    if every is not None and (not isinstance(every, int) or every < 1):
        raise ConfigError(f"faults.label.{name}.every: expected an integer >= 1, got {every!r}")
    if not isinstance(probability, int | float) or not 0 <= probability <= 1:
        raise ConfigError(f"faults.label.{name}.probability: expected 0..1, got {probability!r}")
    if not isinstance(labels, list) or not all(isinstance(i, int) for i in labels):
        raise ConfigError(f"faults.label.{name}.labels: expected label numbers, got {labels!r}")
    return LabelFaultRule(every, float(probability), frozenset(labels))


class LineNoise:
    """Corrupts received bytes with a probability per byte (a noisy serial line)."""

    def __init__(self, probability: float, rng: random.Random) -> None:
        self.probability = probability
        self._rng = rng

    def __call__(self, data: bytes) -> bytes:
        if self.probability <= 0 or not data:
            return data
        rng = self._rng
        out = bytearray(data)
        # Skip straight to the next corrupted byte (geometric gaps): cheap at low rates.
        pos = self._gap()
        while pos < len(out):
            out[pos] = rng.randrange(256)
            pos += 1 + self._gap()
        return bytes(out)

    def _gap(self) -> int:
        if self.probability >= 1:
            return 0
        return int(math.log(1.0 - self._rng.random()) / math.log(1.0 - self.probability))


def apply_label_fault(
    name: str, image: Image, barcodes: tuple[Region, ...], rng: random.Random
) -> Image:
    """The label image with one print defect; ``image`` is not changed."""
    if name == "missed":
        return np.full_like(image, 255)
    if name == "low_contrast":
        # Black prints as light grey: 0 -> 190, white stays 255.
        return (255 - (255 - image.astype(np.uint16)) // 4).astype(np.uint8)
    if name == "skew":
        angle = rng.choice((-1, 1)) * rng.uniform(4.0, 8.0)
        height, width = image.shape
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        return np.asarray(
            cv2.warpAffine(image, matrix, (width, height), borderValue=255), dtype=np.uint8
        )
    out = image.copy()
    for region in barcodes or (Region(0, 0, image.shape[1], image.shape[0]),):
        w, h = region.x1 - region.x0, region.y1 - region.y0
        if name == "void":
            # Burnt-out head dots: white bands across a third of the symbol.
            band = max(1, h // 6)
            for start in range(region.y0 + band, region.y1, band * 3):
                out[start : start + band, region.x0 : region.x1] = 255
        elif name == "smudge":
            centre = (region.x0 + w // 2 + rng.randint(-w // 8, w // 8), region.y0 + h // 2)
            axes = (max(1, w // 2), max(1, h // 4))
            # A dark smear across the middle of the symbol, its edges run.
            cv2.ellipse(out, centre, axes, rng.uniform(-30, 30), 0, 360, 40, -1)
            area = out[region.y0 : region.y1, region.x0 : region.x1]
            area[:] = cv2.GaussianBlur(area, (0, 0), max(1.0, w / 40))
        else:
            raise ValueError(f"label fault: expected one of {LABEL_FAULTS}, got {name!r}")
    return out
