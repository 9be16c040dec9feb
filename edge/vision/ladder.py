"""The decoding ladder: cheap reads first, dearer ones only when the cheap ones miss.

Steps, in order (each only after the ones before it read nothing):

============  =============================================================================
``fast``      zxing-cpp on a half-size copy (full size for frames narrower than
              ``half_size_min_width``), no rotation: what nearly every line frame needs
``rotate``    the same copy with ``try_rotate`` (symbols turned past about 45°)
``full``      the full frame with rotation and zxing-cpp's own downscaling (small modules,
              heavy blur)
``invert``    the inverted full frame, same options (light-on-dark marks); ``full`` and
              ``invert`` together search everything zxing-cpp's defaults search
``libdmtx``   libdmtx with the time left, at most ``libdmtx_ms`` (damage zxing-cpp's
              detector gives up on)
============  =============================================================================

The step that read the symbol is in :attr:`Decoded.step`. The ladder keeps a hard deadline
per frame: a step starts only if the time it took before (its running mean for this frame
size) still fits, and libdmtx gets the time left (at most ``libdmtx_ms``: on an empty belt it
would otherwise always use the whole deadline). A zxing-cpp call cannot be cut off
once started, so a frame can overrun the deadline by at most the error of that estimate;
:attr:`LadderResult.deadline_hit` says when steps were skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from edge.errors import ConfigError
from edge.vision.decoding import Decoded, GreyImage
from edge.vision.errors import DecoderError
from edge.vision.zxing_decoder import half_size, read


class LadderStep(StrEnum):
    FAST = "fast"
    ROTATE = "rotate"
    FULL = "full"
    INVERT = "invert"
    LIBDMTX = "libdmtx"


ALL_STEPS = tuple(LadderStep)

#: libdmtx is not started with less time left than this (it needs ~10 ms to find anything).
MIN_LIBDMTX_MS = 10.0


@dataclass(frozen=True)
class LadderResult:
    """What the ladder did with one frame: the symbol (or None), the steps tried with their
    times, and whether the deadline cut the ladder short."""

    decoded: Decoded | None
    tried: tuple[tuple[str, float], ...]
    elapsed_ms: float
    deadline_hit: bool


class DecodingLadder:
    """:class:`edge.vision.decoding.Decoder` that climbs the ladder until something reads.

    ``deadline_ms``: hard budget per frame; ``libdmtx_ms``: most of it libdmtx may use;
    ``steps``: which steps to use, in ladder order; ``half_size_min_width``: frames at least
    this wide use a half-size copy for ``fast`` and ``rotate``. Thread-safe (the step cost
    estimates are shared under a lock).
    """

    name = "ladder"

    def __init__(
        self,
        *,
        deadline_ms: float = 150.0,
        libdmtx_ms: float = 60.0,
        steps: Sequence[LadderStep | str] = ALL_STEPS,
        half_size_min_width: int = 800,
    ) -> None:
        if not 1.0 <= deadline_ms <= 10_000.0:
            raise ConfigError(f"deadline_ms: expected 1 to 10000 ms, got {deadline_ms!r}")
        if not MIN_LIBDMTX_MS <= libdmtx_ms <= 10_000.0:
            raise ConfigError(
                f"libdmtx_ms: expected {MIN_LIBDMTX_MS:g} to 10000 ms, got {libdmtx_ms!r}"
            )
        if half_size_min_width < 0:
            raise ConfigError(
                f"half_size_min_width: expected 0 or more pixels, got {half_size_min_width!r}"
            )
        chosen = []
        for step in steps:
            try:
                chosen.append(LadderStep(step))
            except ValueError:
                expected = ", ".join(repr(s.value) for s in LadderStep)
                raise ConfigError(f"steps: expected any of {expected}, got {step!r}") from None
        if not chosen:
            raise ConfigError("steps: expected at least one step, got none")
        self.deadline_ms = deadline_ms
        self.libdmtx_ms = libdmtx_ms
        self.steps = tuple(s for s in ALL_STEPS if s in chosen)
        self.half_size_min_width = half_size_min_width
        self._cost: dict[tuple[LadderStep, tuple[int, int]], float] = {}
        self._lock = threading.Lock()
        self._libdmtx: Callable[[GreyImage, int], Decoded | None] | None = None

    def decode(self, image: GreyImage) -> Decoded | None:
        return self.climb(image).decoded

    def climb(self, image: GreyImage) -> LadderResult:
        """Run the ladder on one frame."""
        started = time.perf_counter()
        deadline = started + self.deadline_ms / 1000.0
        shape = (int(image.shape[0]), int(image.shape[1]))
        halved: GreyImage | None = None
        inverted: GreyImage | None = None
        tried: list[tuple[str, float]] = []
        deadline_hit = False
        for step in self.steps:
            now = time.perf_counter()
            remaining_ms = (deadline - now) * 1000.0
            if step is LadderStep.LIBDMTX:
                if remaining_ms < MIN_LIBDMTX_MS:
                    deadline_hit = True
                    break
            elif tried and self._estimate(step, shape) > remaining_ms:
                deadline_hit = True
                continue
            if step in (LadderStep.FAST, LadderStep.ROTATE):
                small = shape[1] >= self.half_size_min_width > 0
                if small and halved is None:
                    halved = half_size(image)
                source, scale = (halved, 2.0) if small and halved is not None else (image, 1.0)
                decoded = read(
                    source, scale=scale, try_rotate=step is LadderStep.ROTATE, name="zxing"
                )
            elif step is LadderStep.FULL:
                decoded = read(image, try_rotate=True, try_downscale=True, name="zxing")
            elif step is LadderStep.INVERT:
                if inverted is None:
                    inverted = np.subtract(255, image, dtype=np.uint8)
                decoded = read(inverted, try_rotate=True, try_downscale=True, name="zxing")
            else:
                budget = min(remaining_ms, self.libdmtx_ms)
                decoded = self._read_libdmtx(image, max(1, int(budget)))
            spent = (time.perf_counter() - now) * 1000.0
            tried.append((step.value, spent))
            if step is not LadderStep.LIBDMTX:
                self._learn(step, shape, spent)
            if decoded is not None:
                return LadderResult(
                    replace(decoded, step=step.value),
                    tuple(tried),
                    (time.perf_counter() - started) * 1000.0,
                    deadline_hit,
                )
        return LadderResult(
            None, tuple(tried), (time.perf_counter() - started) * 1000.0, deadline_hit
        )

    def _estimate(self, step: LadderStep, shape: tuple[int, int]) -> float:
        with self._lock:
            return self._cost.get((step, shape), 0.0)

    def _learn(self, step: LadderStep, shape: tuple[int, int], spent_ms: float) -> None:
        """Exponential running mean of a step's cost for a frame size (a fifth per call)."""
        key = (step, shape)
        with self._lock:
            previous = self._cost.get(key)
            self._cost[key] = spent_ms if previous is None else 0.8 * previous + 0.2 * spent_ms

    def _read_libdmtx(self, image: GreyImage, timeout_ms: int) -> Decoded | None:
        if self._libdmtx is None:
            try:
                from edge.vision.libdmtx_decoder import LibdmtxDecoder
            except DecoderError:  # no libdmtx on this machine: the step reads nothing
                self._libdmtx = _nothing
            else:

                def libdmtx(frame: GreyImage, timeout: int) -> Decoded | None:
                    return LibdmtxDecoder(timeout_ms=timeout).decode(frame)

                self._libdmtx = libdmtx
        return self._libdmtx(image, timeout_ms)


def _nothing(image: GreyImage, timeout_ms: int) -> Decoded | None:
    return None
