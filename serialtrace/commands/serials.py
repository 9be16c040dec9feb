"""``serialtrace serials …``: plan serial schemes and make serial keys.

``serials plan --alphabet A --length N --volume V [--json]`` prints the serial space, the
volume and the guessing probability against the EU FMD limit; exit 0 if acceptable, 1 if the
plan is refused, 2 on bad input. ``serials new-key [--out FILE]`` makes a random AES-256
serial key (hex), written to a new owner-only file or printed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from gs1.serials.alphabet import ALPHABETS, alphabet_named
from gs1.serials.errors import ConfigError
from gs1.serials.key import SerialKey
from gs1.serials.plan import SerialPlan
from gs1.serials.scheme import SerialScheme
from serialtrace.cli import CliError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serials", help="plan randomized serial numbers, make keys")
    commands = parser.add_subparsers(dest="serials_command", metavar="COMMAND", required=True)

    plan = commands.add_parser(
        "plan",
        help="serial space, volume and guessing probability (EU FMD: below 1 in 10,000)",
        description="Check a serial scheme against the EU FMD guessing limit for a planned "
        "number of serials of one GTIN (all batches). Exit 0 if acceptable, 1 if refused.",
    )
    plan.add_argument(
        "--alphabet",
        default="numeric",
        metavar="NAME",
        help=f"one of {', '.join(ALPHABETS)} (default: numeric)",
    )
    plan.add_argument("--length", metavar="N", help="serial length, up to 20 (required)")
    plan.add_argument(
        "--volume", metavar="N", help="serials planned for the GTIN, all batches (required)"
    )
    plan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plan.set_defaults(handler=run_plan)

    new_key = commands.add_parser(
        "new-key",
        help="make a random AES-256 serial key",
        description="Make a random AES-256 serial key as hex. With --out, write it to a new "
        "file readable by its owner only and print its key id; otherwise print the key.",
    )
    new_key.add_argument("--out", metavar="FILE", help="new key file (mode 0600)")
    new_key.set_defaults(handler=run_new_key)


def run_plan(args: argparse.Namespace) -> int:
    try:
        alphabet = alphabet_named(args.alphabet)
        scheme = SerialScheme(alphabet, _whole_number("length", args.length))
        plan = SerialPlan(scheme, _whole_number("volume", args.volume))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(plan_fields(plan), indent=2) if args.json else plan_table(plan))
    return 0 if plan.acceptable else 1


def plan_fields(plan: SerialPlan) -> dict[str, object]:
    return {
        "alphabet": plan.scheme.alphabet.name,
        "radix": plan.scheme.alphabet.radix,
        "length": plan.scheme.length,
        "space": plan.space,
        "volume": plan.volume,
        "probability": float(plan.probability),
        "limit": "1/10000",
        "max_volume": plan.max_volume,
        "acceptable": plan.acceptable,
    }


def plan_table(plan: SerialPlan) -> str:
    alphabet = plan.scheme.alphabet
    one_in = plan.space / plan.volume
    verdict = (
        "acceptable"
        if plan.acceptable
        else f"REFUSED: at most {plan.max_volume:,} serials for this scheme"
    )
    rows = [
        ("alphabet", f"{alphabet.name} (radix {alphabet.radix})"),
        ("length", str(plan.scheme.length)),
        ("space", f"{plan.space:,} ({alphabet.radix}^{plan.scheme.length})"),
        ("volume", f"{plan.volume:,}"),
        ("probability", f"{float(plan.probability):.3g} (1 in {one_in:,.0f})"),
        ("limit", "below 1 in 10,000 (EU FMD, Delegated Regulation 2016/161 art. 4(b))"),
        ("max volume", f"{plan.max_volume:,}"),
        ("verdict", verdict),
    ]
    return "\n".join(f"{name:<12} {value}" for name, value in rows)


def run_new_key(args: argparse.Namespace) -> int:
    key = SerialKey.generate()
    if args.out is None:
        print(key.hex())
        return 0
    path = Path(args.out)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"out: expected a file that does not exist yet, got '{path}'") from None
    except OSError as exc:
        raise CliError(f"out: expected a writable new file, got '{path}' ({exc.strerror})") from exc
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex() + "\n")
    print(f"wrote serial key {key.key_id} to {path}")
    return 0


def _whole_number(field: str, text: str | None) -> int:
    if text is None:
        raise CliError(f"{field}: expected --{field} N, a whole number, got nothing")
    try:
        value = int(text.replace("_", "").replace(",", ""), 10)
    except ValueError:
        raise CliError(f"{field}: expected a whole number, got '{text}'") from None
    return value
