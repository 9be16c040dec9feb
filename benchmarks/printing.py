"""Label printing throughput: label builder + driver + virtual printer on a real pty.

Prints labels/s at the line speed (115200 baud by default), the ratio to the baud-rate limit
for the same label bytes (10 bits a byte), the bytes of a unit label, the cost of building
and of rendering one label, pipelined sending against one round trip per label, and the
rate with print time at a real print speed. Run::

    .venv/bin/python benchmarks/printing.py          # real sizes
    .venv/bin/python benchmarks/printing.py --quick  # < 30 s
    .venv/bin/python benchmarks/printing.py --language dpl   # the DPL builder and driver
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# This folder holds edge.py and server.py: put the repository first so that `edge` and
# `server` are the packages, not those scripts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.printers import (
    LabelFormatter,
    LabelTemplate,
    PrinterSettings,
    PrintJob,
    label_builder,
    open_printer,
)
from gs1 import UnitCode
from simulators.printer import PrinterSimConfig, PtyTransport, VirtualPrinter
from simulators.printer.dpl import DplReader
from simulators.printer.render import render
from simulators.printer.zpl import FormatReader, LabelFormat

GTIN = "09506000134352"


def unit_labels(builder: LabelFormatter, count: int) -> list[bytes]:
    return [
        builder.unit_label(
            UnitCode.create(gtin=GTIN, serial=f"S{i:011d}X7Q", lot="LOT2611A", expiry="281130")
        )
        for i in range(count)
    ]


def run_line(
    labels: list[bytes],
    baud: int,
    window: int,
    *,
    print_time: bool,
    pipelined: bool,
    language: str = "zpl",
) -> float:
    """Seconds from the first byte sent to the last label confirmed."""
    sim = VirtualPrinter(PrinterSimConfig(language=language, baudrate=baud, print_time=print_time))
    with sim, PtyTransport(sim) as transport:
        config = PrinterSettings(
            url=transport.url,
            language=language,  # type: ignore[arg-type]
            baudrate=baud,
            max_in_flight=window,
            confirm_timeout=60,
        )
        printer = open_printer(config)
        try:
            printer.status()  # port open and printer answering before the clock starts
            started = time.perf_counter()
            for label in labels:
                job = printer.send(label)
                if not pipelined:
                    printer.confirm(job)
            printer.confirm(PrintJob(len(labels), 0))
            elapsed = time.perf_counter() - started
        finally:
            printer.close()
        assert sim.status().labels_printed == len(labels), sim.status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run, under 30 s")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--window", type=int, default=8, help="labels in flight (pipelining)")
    parser.add_argument("--template", default="unit-50x30-203")
    parser.add_argument("--language", choices=("zpl", "dpl"), default="zpl")
    args = parser.parse_args()
    count = 200 if args.quick else 1000

    template = LabelTemplate.builtin(args.template)
    builder = label_builder(args.language, template)
    started = time.perf_counter()
    labels = unit_labels(builder, count)
    build_us = (time.perf_counter() - started) / count * 1e6
    sizes = [len(zpl) for zpl in labels]
    mean_bytes = statistics.fmean(sizes)

    reader = DplReader(template.dpi, template.length) if args.language == "dpl" else FormatReader()
    formats = [e for e in reader.feed(b"".join(labels[:200])) if isinstance(e, LabelFormat)]
    render(formats[0], template.width, template.length)  # warm up
    started = time.perf_counter()
    for label in formats:
        render(label, template.width, template.length)
    render_ms = (time.perf_counter() - started) / len(formats) * 1e3

    line_limit = args.baud / 10 / mean_bytes
    print(
        f"template {args.template}: {mean_bytes:.0f} bytes of {args.language.upper()}"
        " per unit label"
    )
    print(
        f"build: {build_us:.1f} us per label; virtual printer render: {render_ms:.2f} ms per label"
    )
    print(f"baud-rate limit at {args.baud} baud: {line_limit:.1f} labels/s")

    elapsed = run_line(
        labels, args.baud, args.window, print_time=False, pipelined=True, language=args.language
    )
    rate = count / elapsed
    print(
        f"pipelined (window {args.window}), no print time: {count} labels in {elapsed:.2f} s ="
        f" {rate:.1f} labels/s = {rate / line_limit:.3f} of the baud-rate limit"
        f" ({rate * 60:.0f} labels/min)"
    )

    few = labels[: count // 5]
    elapsed = run_line(
        few, args.baud, args.window, print_time=False, pipelined=False, language=args.language
    )
    rate = len(few) / elapsed
    print(
        f"one round trip per label, no print time: {rate:.1f} labels/s ="
        f" {rate / line_limit:.3f} of the baud-rate limit"
    )

    speed = PrinterSimConfig().print_speed
    mechanical = speed * template.dpi / template.length
    few = labels[: 20 if args.quick else 60]
    elapsed = run_line(
        few, args.baud, args.window, print_time=True, pipelined=True, language=args.language
    )
    rate = len(few) / elapsed
    limit = min(mechanical, line_limit)
    print(
        f"pipelined with print time at {speed} ips ({mechanical:.2f} labels/s mechanical limit):"
        f" {rate:.2f} labels/s = {rate / limit:.3f} of the limit"
    )


if __name__ == "__main__":
    main()
