"""Vision benchmark: the decoding ladder against zxing-cpp's defaults, and grading time.

Three seeded frame sets (``simulators.camera.frameset``), 1280x1024:

- ``line``: the line's own frames (the camera simulator's ``degraded`` preset: ±12°,
  perspective, blur, motion blur, noise, uneven light, faded print);
- ``hard``: any angle 0-360°, perspective, blur, 36-90 % print contrast, noise, uneven light,
  dot gain and partial damage on half of them;
- ``empty``: the belt without a label (every decode is a miss).

For each frame it times the ladder (:class:`edge.vision.DecodingLadder`, default settings),
zxing-cpp's defaults (``read_barcodes`` with nothing but the DataMatrix format) and the old
single pass (``ZxingDecoder()``), and counts reads (decoded data equals the printed code).
It prints decode median and p99 per set and decoder, the ladder's steps, the frames zxing's
defaults read that the ladder lost, the ladder's cost on misses, and the ISO/IEC 15415
grading time per frame of every code the ladder read (same run). The process is pinned to
one CPU and OpenCV to one thread: figures are for one core.

    .venv/bin/python benchmarks/vision.py                 # 1000 line + 1000 hard + 200 empty
    .venv/bin/python benchmarks/vision.py --frames 100    # quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.vision import Decoded, DecodingLadder, Grader
from edge.vision.zxing_decoder import ZxingDecoder
from simulators.camera.frameset import EMPTY, HARD, LINE, GeneratedFrame, frames

DATAMATRIX = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)
T = TypeVar("T")


@dataclass
class Run:
    """One decoder on one set."""

    times: list[float] = field(default_factory=list)
    reads: list[bool] = field(default_factory=list)

    def add(self, ms: float, read: bool) -> None:
        self.times.append(ms)
        self.reads.append(read)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.times, 0.99)

    @property
    def read(self) -> int:
        return sum(self.reads)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def zxing_defaults(image: np.ndarray) -> str | None:
    barcodes = zxingcpp.read_barcodes(image, formats=DATAMATRIX, text_mode=zxingcpp.TextMode.Plain)
    return barcodes[0].text if barcodes else None


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000.0, value


def pin_to_one_core() -> str:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}, OpenCV 1 thread"
    return "not pinned (no sched_setaffinity), OpenCV 1 thread"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames per set (line, hard)")
    parser.add_argument("--empty", type=int, default=200, help="frames without a label")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline-ms", type=float, default=150.0, help="the ladder's deadline")
    args = parser.parse_args()
    print(
        f"vision benchmark: {pin_to_one_core()}, seed {args.seed}, ladder deadline "
        f"{args.deadline_ms:g} ms"
    )
    ladder = DecodingLadder(deadline_ms=args.deadline_ms)
    single = ZxingDecoder()
    grader = Grader()

    sets = [(LINE, args.frames), (HARD, args.frames), (EMPTY, args.empty)]
    results: dict[str, dict[str, Run]] = {}
    steps: dict[str, Counter[str]] = {}
    lost: dict[str, list[int]] = {}
    miss_costs: dict[str, list[float]] = {}
    grading: list[float] = []
    grades: Counter[str] = Counter()
    deadline_hits = 0
    for spec, count in sets:
        started = time.perf_counter()
        generated: list[GeneratedFrame] = list(frames(spec, count, seed=args.seed))
        print(
            f"  {spec.name}: {count} frames generated in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        runs = {"ladder": Run(), "zxing defaults": Run(), "single pass": Run()}
        steps[spec.name] = Counter()
        lost[spec.name] = []
        miss_costs[spec.name] = []
        ladder.climb(generated[0].image)  # warm up (and learn the step costs once)
        for frame in generated:
            image, truth = frame.image, frame.element_string
            ms, result = timed(partial(ladder.climb, image))
            decoded: Decoded | None = result.decoded
            ladder_read = bool(truth) and decoded is not None and decoded.data == truth
            runs["ladder"].add(ms, ladder_read)
            deadline_hits += result.deadline_hit
            if decoded is not None:
                steps[spec.name][decoded.step] += 1
                grade_ms, report = timed(partial(grader.grade, image, decoded))
                grading.append(grade_ms)
                grades[report.letter] += 1
            else:
                steps[spec.name]["miss"] += 1
                miss_costs[spec.name].append(ms)
            ms, text = timed(partial(zxing_defaults, image))
            defaults_read = bool(truth) and text == truth
            runs["zxing defaults"].add(ms, defaults_read)
            if defaults_read and not ladder_read:
                lost[spec.name].append(frame.index)
            ms, single_decoded = timed(partial(single.decode, image))
            single_read = single_decoded is not None and single_decoded.data == truth
            runs["single pass"].add(ms, bool(truth) and single_read)
        results[spec.name] = runs

    print()
    header = f"{'set':6} {'decoder':15} {'read':>14} {'median ms':>10} {'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for spec, count in sets:
        for name, run in results[spec.name].items():
            read = f"{run.read}/{count}" if spec.label else "-"
            print(f"{spec.name:6} {name:15} {read:>14} {run.median:10.2f} {run.p99:9.2f}")
    print()
    for spec, _ in sets:
        order = ["fast", "rotate", "full", "invert", "libdmtx", "miss"]
        text = ", ".join(f"{s} {steps[spec.name][s]}" for s in order if steps[spec.name][s])
        print(f"ladder steps, {spec.name}: {text}")
    print(f"ladder deadline hits (steps skipped): {deadline_hits}")
    for spec, _ in sets:
        costs = miss_costs[spec.name]
        if costs:
            print(
                f"ladder cost on misses, {spec.name}: {len(costs)} frames, median "
                f"{statistics.median(costs):.1f} ms, p99 {percentile(costs, 0.99):.1f} ms"
            )
    for spec, _ in sets:
        print(
            f"read by zxing-cpp defaults but lost by the ladder, {spec.name}: "
            f"{len(lost[spec.name])} {lost[spec.name][:20]}"
        )
    print(
        f"grading (ISO/IEC 15415) per frame: {len(grading)} frames, median "
        f"{statistics.median(grading):.2f} ms, p99 {percentile(grading, 0.99):.2f} ms; "
        f"grades {dict(sorted(grades.items()))}"
    )
    line = results["line"]["ladder"]
    met = (
        line.median <= 5.0
        and line.p99 <= 20.0
        and not any(lost.values())
        and statistics.median(grading) <= 15.0
    )
    print()
    print(
        "goals: line frames decode median <= 5 ms and p99 <= 20 ms, no frame zxing-cpp's "
        "defaults read lost, grading median <= 15 ms"
    )
    print(
        f"  line median {line.median:.2f} ms, p99 {line.p99:.2f} ms, lost "
        f"{sum(len(v) for v in lost.values())}, grading median {statistics.median(grading):.2f} "
        f"ms: {'MET' if met else 'NOT MET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
