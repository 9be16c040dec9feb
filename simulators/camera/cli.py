"""``serialtrace sim camera``: photograph labels into frames, to a folder or an MJPEG stream.

Labels come from a folder of label images (``--labels``, e.g. the virtual printer's
``--out`` folder; a ``.txt`` beside an image is its truth) or are generated as GS1 test
labels with random serials (``--demo``).
"""

from __future__ import annotations

import argparse
import random
import secrets
import string
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from gs1 import Gs1Error, UnitCode
from simulators.camera.camera import CameraSimulator, FrameSink, label_files, read_labels
from simulators.camera.optics import PRESETS, GreyImage, Optics
from simulators.camera.testcard import render_label
from simulators.camera.transport import FolderWriter, MjpegServer

SERIAL_ALPHABET = string.ascii_uppercase + string.digits


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "camera",
        help="virtual line camera: label images -> degraded frames",
        description="Turn label images into camera frames (folder and/or MJPEG over HTTP).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--labels", type=Path, metavar="DIR", help="folder of label images")
    source.add_argument(
        "--demo", type=int, metavar="N", help="generate N GS1 test labels with random serials"
    )
    parser.add_argument("--gtin", default="09506000134352", help="GTIN of --demo labels")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write frames + truth JSON here")
    parser.add_argument(
        "--mjpeg", type=int, metavar="PORT", help="serve MJPEG on 127.0.0.1:PORT (0: any)"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="clean")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one optics setting, e.g. max_blur_sigma=1.5 (repeatable)",
    )
    parser.add_argument("--size", default="1280x1024", metavar="WxH", help="frame size")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second")
    parser.add_argument("--seed", type=int, default=0, help="seed of the degradations")
    parser.add_argument("--loop", action="store_true", help="repeat the labels until Ctrl-C")
    parser.set_defaults(handler=run)


def optics_from_args(preset: str, size: str, settings: list[str]) -> Optics:
    """Optics of a preset with ``--size`` and ``--set NAME=VALUE`` applied (ValueError)."""
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"--size: expected WIDTHxHEIGHT such as 1280x1024, got {size!r}")
    changes: dict[str, float | int] = {"frame_width": int(width), "frame_height": int(height)}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep:
            raise ValueError(f"--set: expected NAME=VALUE, got {setting!r}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--set {name}: expected a number, got {value!r}") from None
        changes[name.strip()] = int(number) if name.strip() == "background" else number
    return PRESETS[preset].with_changes(**changes)


def demo_labels(count: int, gtin: str, seed: int) -> Iterator[tuple[GreyImage, dict[str, str]]]:
    """``count`` GS1 unit labels with random serials (reproducible for a seed >= 0, from
    ``secrets`` for a negative seed)."""
    chooser = secrets.SystemRandom() if seed < 0 else random.Random(seed)
    for _ in range(count):
        serial = "".join(chooser.choice(SERIAL_ALPHABET) for _ in range(12))
        code = UnitCode.create(gtin=gtin, serial=serial, lot="DEMO1", expiry="281231")
        yield render_label(code.hri()), {"datamatrix": code.element_string(), "hri": code.hri()}


def run(args: argparse.Namespace) -> int:
    try:
        optics = optics_from_args(args.preset, args.size, args.set)
        if args.fps <= 0:
            raise ValueError(f"--fps: expected more than 0, got {args.fps!r}")
        if args.labels is not None:
            paths = label_files(args.labels)
            if not paths:
                raise ValueError(
                    f"--labels: expected label images in {str(args.labels)!r}, got none"
                )
            labels = read_labels(paths, loop=args.loop)
        else:
            if args.demo < 1:
                raise ValueError(f"--demo: expected 1 or more labels, got {args.demo!r}")
            labels = demo_labels(args.demo, args.gtin, args.seed)
    except (ValueError, Gs1Error) as exc:
        print(f"serialtrace: error: {exc}", file=sys.stderr)
        return 2
    if args.out is None and args.mjpeg is None:
        print(
            "serialtrace: error: --out or --mjpeg: expected at least one, got neither",
            file=sys.stderr,
        )
        return 2
    sinks: list[FrameSink] = []
    server: MjpegServer | None = None
    if args.out is not None:
        sinks.append(FolderWriter(args.out))
        print(f"frames -> {args.out}", flush=True)
    if args.mjpeg is not None:
        try:
            server = MjpegServer(port=args.mjpeg).start()
        except OSError as exc:
            print(
                f"serialtrace: error: --mjpeg: cannot listen on {args.mjpeg}: {exc}",
                file=sys.stderr,
            )
            return 2
        sinks.append(server)
        print(server.url, flush=True)
    camera = CameraSimulator(optics, sinks, seed=args.seed)
    stop = threading.Event()
    try:
        taken = camera.run(labels, fps=args.fps, stop=stop)
    except KeyboardInterrupt:
        taken = camera.frames_taken
    finally:
        stop.set()
        if server is not None:
            server.close()
    print(f"{taken} frames", flush=True)
    return 0
