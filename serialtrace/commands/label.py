"""``serialtrace label``: build a label and print it on a ZPL printer."""

from __future__ import annotations

import argparse
import sys

from edge.printers import (
    LabelBuilder,
    LabelError,
    LabelKind,
    PrinterConfig,
    PrinterError,
    ZplPrinter,
    load_template,
)
from gs1 import Gs1Error, Sscc, UnitCode
from serialtrace.cli import CliError

DEFAULT_TEMPLATES = {LabelKind.UNIT: "unit-50x30-203", LabelKind.LOGISTIC: "sscc-100x150-203"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("label", help="build and print labels (ZPL)")
    commands = parser.add_subparsers(dest="label_command", metavar="ACTION", required=True)
    print_parser = commands.add_parser(
        "print",
        help="print one unit label (GTIN, serial, lot, expiry) or a case/pallet label (SSCC)",
        description="Print one label. A unit label needs --gtin (and usually --serial, --lot,"
        " --expiry); a case or pallet label needs --sscc.",
    )
    print_parser.add_argument("--printer", metavar="URL", help="pyserial URL of the printer")
    print_parser.add_argument("--gtin", help="GTIN-8/12/13/14")
    print_parser.add_argument("--serial", help="serial number (AI 21)")
    print_parser.add_argument("--lot", help="batch/lot (AI 10)")
    print_parser.add_argument("--expiry", metavar="YYMMDD", help="expiry date (AI 17)")
    print_parser.add_argument("--sscc", help="18-digit SSCC: print a case/pallet label")
    print_parser.add_argument("--template", help="built-in template name or a TOML file")
    print_parser.add_argument("--baud", type=int, default=9600, help="baud rate (default 9600)")
    print_parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the label (default 10)"
    )
    print_parser.add_argument(
        "--dry-run", action="store_true", help="write the ZPL to stdout instead of printing"
    )
    print_parser.set_defaults(handler=print_label)


def build(args: argparse.Namespace) -> bytes:
    """The ZPL of the label the arguments describe."""
    if args.sscc is not None and args.gtin is not None:
        raise CliError("--sscc: expected either --sscc or --gtin, got both")
    if args.sscc is None and args.gtin is None:
        raise CliError("--gtin: expected a GTIN (or --sscc for a case/pallet label), got nothing")
    kind = LabelKind.LOGISTIC if args.sscc is not None else LabelKind.UNIT
    try:
        template = load_template(args.template or DEFAULT_TEMPLATES[kind])
        builder = LabelBuilder(template)
        if kind is LabelKind.LOGISTIC:
            return builder.logistic_label(Sscc.parse(args.sscc))
        code = UnitCode.create(gtin=args.gtin, serial=args.serial, lot=args.lot, expiry=args.expiry)
        return builder.unit_label(code)
    except (Gs1Error, LabelError) as exc:
        raise CliError(str(exc)) from exc


def print_label(args: argparse.Namespace) -> int:
    zpl = build(args)
    if args.dry_run:
        sys.stdout.write(zpl.decode("ascii") + "\n")
        return 0
    if not args.printer:
        raise CliError("--printer: expected a pyserial URL (or --dry-run), got nothing")
    try:
        config = PrinterConfig(url=args.printer, baudrate=args.baud, confirm_timeout=args.timeout)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    try:
        with ZplPrinter(config) as printer:
            printer.print_label(zpl)
    except PrinterError as exc:
        print(f"serialtrace: printer: {exc}", file=sys.stderr)
        return 1
    print(f"printed {len(zpl)} bytes of ZPL on {args.printer}")
    return 0
