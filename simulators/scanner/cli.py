"""``serialtrace sim scanner``: a virtual serial scanner on a pty that types codes.

Codes come from the command line or else from standard input, one per line, in any form
:func:`gs1.parse` reads (HRI ``(01)…(21)…``, element string, Digital Link, EPC URI).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator

from gs1 import Gs1Error
from simulators.scanner.scanner import ScannerProfile, ScannerSimulator

TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t", "ETX": b"\x03"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scanner",
        help="virtual serial barcode scanner on a pty",
        description="Open a pty, print its path, then type each code given (as arguments, "
        "else one per line on standard input) as a scanner with these settings would.",
    )
    parser.add_argument(
        "codes", nargs="*", metavar="CODE", help="codes to type (default: read stdin)"
    )
    parser.add_argument("--terminator", default="CR", help="CR, LF, CRLF, TAB, ETX or \\xNN")
    parser.add_argument("--prefix", default="", help="bytes before each scan (\\xNN escapes)")
    parser.add_argument("--suffix", default="", help="bytes after each scan (\\xNN escapes)")
    parser.add_argument(
        "--no-symbology-ids", action="store_true", help="do not send ]d2 before the data"
    )
    parser.add_argument("--gs-substitute", metavar="TEXT", help="send TEXT instead of 0x1D")
    parser.add_argument("--no-read", default="NOREAD", metavar="TEXT", help="no-read message")
    parser.add_argument("--no-read-rate", type=float, default=0.0, metavar="P")
    parser.add_argument("--partial-rate", type=float, default=0.0, metavar="P")
    parser.add_argument("--noise-rate", type=float, default=0.0, metavar="P")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between scans")
    parser.add_argument(
        "--start-delay",
        type=float,
        default=1.0,
        help="seconds to wait before the first scan, for a driver to open the port "
        "(pyserial flushes the input when it opens)",
    )
    parser.add_argument(
        "--linger", type=float, default=2.0, help="seconds to keep the pty open at the end"
    )
    parser.set_defaults(handler=run)


def _bytes(value: str, option: str) -> bytes:
    named = TERMINATORS.get(value.upper()) if option == "--terminator" else None
    if named is not None:
        return named
    try:
        return value.encode("latin-1").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise ValueError(f"{option}: expected text with \\xNN escapes, got {value!r}") from None


def run(args: argparse.Namespace) -> int:
    try:
        profile = ScannerProfile(
            terminator=_bytes(args.terminator, "--terminator"),
            prefix=_bytes(args.prefix, "--prefix"),
            suffix=_bytes(args.suffix, "--suffix"),
            symbology_ids=not args.no_symbology_ids,
            gs_substitute=args.gs_substitute,
            no_read=args.no_read,
        )
        simulator = ScannerSimulator(
            profile,
            no_read_rate=args.no_read_rate,
            partial_rate=args.partial_rate,
            noise_rate=args.noise_rate,
            seed=args.seed,
        )
    except ValueError as exc:
        print(f"serialtrace: error: {exc}", file=sys.stderr)
        return 2
    with simulator:
        print(simulator.port, flush=True)
        status = 0
        try:
            time.sleep(args.start_delay)
            for code in _codes(args.codes):
                try:
                    fault = simulator.scan(code)
                except Gs1Error as exc:
                    print(f"serialtrace: error: {exc}", file=sys.stderr)
                    status = 1
                    continue
                print(f"{simulator.sent[-1]!r}{f' ({fault})' if fault else ''}", flush=True)
                time.sleep(args.interval)
            time.sleep(args.linger)
        except KeyboardInterrupt:
            pass
    return status


def _codes(given: list[str]) -> Iterator[str]:
    """The codes given as arguments, or else the lines of standard input."""
    if given:
        yield from given
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()
