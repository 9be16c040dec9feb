"""``serialtrace sim printer``: run the virtual ZPL or DPL printer on a pty or a TCP port."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from pathlib import Path

from simulators.printer.device import PrinterSimConfig, VirtualPrinter
from simulators.printer.transport import PtyTransport, TcpTransport


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "printer",
        help="virtual label printer (Zebra ZPL II or Honeywell DPL)",
        description="Run a virtual ZPL or DPL printer and print the pyserial URL to connect to.",
    )
    parser.add_argument(
        "--language", choices=("zpl", "dpl"), help="the printer language (default zpl)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="listen on a pseudo-terminal (default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="listen on 127.0.0.1:PORT (0: any)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write every label as a PNG here")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML: [printer] and faults")
    parser.add_argument("--baud", type=int, help="baud rate the pty emulates (default 115200)")
    parser.add_argument(
        "--no-line-timing", action="store_true", help="pty: pass bytes at once, not at baud rate"
    )
    parser.add_argument("--dpi", type=int, choices=(152, 203, 300, 600), help="resolution")
    parser.add_argument(
        "--no-print-time", action="store_true", help="print at once instead of at print speed"
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)"
    )
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> PrinterSimConfig:
    values: dict[str, object] = {}
    if args.config is not None:
        base = PrinterSimConfig.load(args.config)
        values = {name: getattr(base, name) for name in base.__dataclass_fields__}
    if args.language is not None:
        values["language"] = args.language
    if args.baud is not None:
        values["baudrate"] = args.baud
    if args.dpi is not None:
        values["dpi"] = args.dpi
    if args.no_line_timing:
        values["line_timing"] = False
    if args.no_print_time:
        values["print_time"] = False
    if args.out is not None:
        values["out_dir"] = args.out
    return PrinterSimConfig(**values)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = _config(args)
    except (OSError, ValueError) as exc:
        print(f"serialtrace: error: --config: {exc}", file=sys.stderr)
        return 2
    printer = VirtualPrinter(config)
    printer.subscribe(
        lambda label: logging.info(
            "label %d printed %s%s",
            label.index,
            label.data.get("datamatrix_hri") or label.data.get("code128_hri") or "",
            f" faults={','.join(label.faults)}" if label.faults else "",
        )
    )
    transport: PtyTransport | TcpTransport
    try:
        transport = PtyTransport(printer) if args.tcp is None else TcpTransport(printer, args.tcp)
    except OSError as exc:
        print(f"serialtrace: error: --tcp: cannot listen on {args.tcp}: {exc}", file=sys.stderr)
        return 2
    with printer, transport:
        print(transport.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait(args.duration)
    status = printer.status()
    print(
        f"printed {status.labels_printed} labels, {status.zpl_issues} ZPL issues",
        file=sys.stderr,
    )
    return 0
