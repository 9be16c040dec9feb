"""``serialtrace serials …``: plan serial schemes, make keys, run and manage the authority.

``serials plan --alphabet A --length N --volume V [--json]`` prints the serial space, the
volume and the guessing probability against the EU FMD limit; exit 0 if acceptable, 1 if the
plan is refused, 2 on bad input. ``serials new-key [--out FILE]`` makes a random AES-256
serial key (hex), written to a new owner-only file or printed.

The serial authority (docs/serials.md), on the trace store given by ``--db``/``--config``::

    serials serve [--key-file F] [--journal F] [--host H] [--port P]
    serials add-line SITE LINE --user NAME [--password-stdin]   a line's device identity
    serials register-gtin GTIN --alphabet A --length N --volume V --reason R
    serials register-sscc --extension D --company-prefix P --reason R
    serials import FILE --format csv|epcis|openscs --supplier S [--reference R]
    serials books [--json]                    every scope: issued, used, destroyed, returned
    serials usage IMPORT_ID [--csv]           what became of an imported list
    serials raise-floor KIND SCOPE NEXT --reason R    after a restore without the journal
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    _register_authority(commands)


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
        "probability": min(float(plan.probability), 1.0),
        "limit": "1/10000",
        "max_volume": plan.max_volume,
        "acceptable": plan.acceptable,
    }


def plan_table(plan: SerialPlan) -> str:
    alphabet = plan.scheme.alphabet
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
        ("probability", _probability_text(plan)),
        ("limit", "below 1 in 10,000 (EU FMD, Delegated Regulation 2016/161 art. 4(b))"),
        ("max volume", f"{plan.max_volume:,}"),
        ("verdict", verdict),
    ]
    return "\n".join(f"{name:<12} {value}" for name, value in rows)


def _probability_text(plan: SerialPlan) -> str:
    """``1e-05 (1 in 100,000)``; never "1 in 0": a volume of the whole space or more is
    certain to be guessed, and odds below 100 keep their decimals (``1 in 1.5``)."""
    if plan.volume >= plan.space:
        return f"1 (certain: the volume is at least the scheme's {plan.space:,} serials)"
    one_in = plan.space / plan.volume
    odds = f"{one_in:,.0f}" if one_in >= 100 else f"{one_in:.3g}"
    return f"{float(plan.probability):.3g} (1 in {odds})"


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


# -- the serial authority ------------------------------------------------------------------


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="server TOML settings file")
    parser.add_argument(
        "--db", metavar="URL", help="trace store URL (sqlite:///… or postgresql://…)"
    )
    parser.add_argument("--key-file", type=Path, metavar="FILE", help="FF3-1 key (hex, mode 0600)")
    parser.add_argument(
        "--journal", type=Path, metavar="FILE", help="high-water journal (not in the DB's backups)"
    )


def _register_authority(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the serial authority on its own (the trace server serves it too)",
        description="Serve /serials (pools for lines, books, imports) with /auth/token and "
        "/health, on the trace store. Its key and journal come from the server settings "
        "(serials_key_file, serials_journal) or these options.",
    )
    _store_options(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.set_defaults(handler=run_serve)

    add_line = commands.add_parser(
        "add-line",
        help="create a line's device identity and bind it to SITE/LINE",
        description="Create a user with role device (password asked, or from stdin) and bind "
        "it to the line: it may take pools and report for that line only.",
    )
    _store_options(add_line)
    add_line.add_argument("site")
    add_line.add_argument("line")
    add_line.add_argument("--user", required=True, help="the device user name")
    add_line.add_argument("--password-stdin", action="store_true")
    add_line.add_argument("--reason", default="line registered", help="for the audit trail")
    add_line.set_defaults(handler=run_add_line)

    gtin = commands.add_parser(
        "register-gtin", help="let the authority generate a GTIN's serials (scheme for life)"
    )
    _store_options(gtin)
    gtin.add_argument("gtin")
    gtin.add_argument("--alphabet", default="numeric", help="numeric, safe or cset82")
    gtin.add_argument("--length", required=True, help="serial length")
    gtin.add_argument("--volume", required=True, help="serials planned for the GTIN, all batches")
    gtin.add_argument("--reason", required=True)
    gtin.set_defaults(handler=run_register_gtin)

    sscc = commands.add_parser(
        "register-sscc", help="let the authority count an SSCC extension and company prefix"
    )
    _store_options(sscc)
    sscc.add_argument("--extension", type=int, default=0)
    sscc.add_argument("--company-prefix", required=True)
    sscc.add_argument("--reason", required=True)
    sscc.set_defaults(handler=run_register_sscc)

    imports = commands.add_parser(
        "import", help="import serial lists or SSCC ranges (csv, epcis, openscs)"
    )
    _store_options(imports)
    imports.add_argument("file", type=Path)
    imports.add_argument("--format", required=True, choices=["csv", "epcis", "openscs"])
    imports.add_argument("--supplier", required=True, help="brand owner or L4 system")
    imports.add_argument("--reference", default="", help="their pool or order reference")
    imports.set_defaults(handler=run_import)

    books = commands.add_parser("books", help="issued, used, destroyed, returned per scope")
    _store_options(books)
    books.add_argument("--json", action="store_true")
    books.set_defaults(handler=run_books)

    usage = commands.add_parser("usage", help="what became of each value of an imported list")
    _store_options(usage)
    usage.add_argument("import_id", type=int)
    usage.add_argument("--csv", action="store_true", help="CSV (kind,scope,value,status,line)")
    usage.set_defaults(handler=run_usage)

    floor = commands.add_parser(
        "raise-floor", help="skip positions below NEXT (after a restore without the journal)"
    )
    _store_options(floor)
    floor.add_argument("kind", choices=["sgtin", "sscc"])
    floor.add_argument("scope", help="GTIN, or extension digit + company prefix")
    floor.add_argument("next", type=int, help="the first position to hand out from now on")
    floor.add_argument("--reason", required=True)
    floor.set_defaults(handler=run_raise_floor)


def _authority(args: argparse.Namespace) -> Any:
    """The settings and an authority on the migrated store of ``args``."""
    from server.config import load_settings, require_db_url
    from server.errors import ConfigError as ServerConfigError
    from server.serials import authority_for
    from server.store import create_store_engine, upgrade

    try:
        settings = load_settings(
            args.config,
            db_url=args.db,
            serials_key_file=args.key_file,
            serials_journal=args.journal,
        )
        engine = create_store_engine(require_db_url(settings).db_url)
        upgrade(engine)
        return settings, authority_for(settings, engine)
    except ServerConfigError as exc:
        raise CliError(str(exc)) from exc


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _run(args: argparse.Namespace, action: Callable[[Any], int]) -> int:
    from server.serials.errors import AuthorityError

    _settings, authority = _authority(args)
    try:
        return action(authority)
    except AuthorityError as exc:
        raise CliError(str(exc)) from exc
    finally:
        if authority.journal is not None:
            authority.journal.close()
        authority.engine.dispose()


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.config import load_settings, require_db_url
    from server.errors import ConfigError as ServerConfigError
    from server.serials.app import create_authority_app

    try:
        settings = load_settings(
            args.config,
            db_url=args.db,
            serials_key_file=args.key_file,
            serials_journal=args.journal,
            host=args.host,
            port=args.port,
        )
        require_db_url(settings)
    except ServerConfigError as exc:
        raise CliError(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        create_authority_app(settings), host=settings.host, port=settings.port, log_level="info"
    )
    return 0


def run_add_line(args: argparse.Namespace) -> int:
    from server import audit
    from server.auth import Role, add_user
    from server.store import write_transaction

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.user}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("password: the two entries differ")

    def act(authority: Any) -> int:
        now = datetime.now(UTC)
        with write_transaction(authority.engine) as conn:
            try:
                add_user(conn, args.user, password, Role.DEVICE, now=now)
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            audit.append(
                conn,
                actor=_actor(),
                action="user_add",
                entity="user",
                entity_key=args.user,
                old_value=None,
                new_value={"role": "device"},
                reason=args.reason,
                now=now,
            )
        line = authority.register_line(
            args.user, args.site, args.line, actor=_actor(), reason=args.reason, now=now
        )
        print(f"line {line.name}: device user {line.username!r}")
        return 0

    return _run(args, act)


def run_register_gtin(args: argparse.Namespace) -> int:
    try:
        scheme = SerialScheme(alphabet_named(args.alphabet), _whole_number("length", args.length))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    volume = _whole_number("volume", args.volume)

    def act(authority: Any) -> int:
        scope = authority.register_gtin(
            args.gtin, scheme, volume, actor=_actor(), reason=args.reason, now=datetime.now(UTC)
        )
        print(f"GTIN {scope.key.name}: {scope.scheme}, first counter {scope.next_position:,}")
        return 0

    return _run(args, act)


def run_register_sscc(args: argparse.Namespace) -> int:
    def act(authority: Any) -> int:
        scope = authority.register_sscc(
            args.extension,
            args.company_prefix,
            actor=_actor(),
            reason=args.reason,
            now=datetime.now(UTC),
        )
        print(f"{scope.key}: {scope.scheme}, first reference {scope.next_position:,}")
        return 0

    return _run(args, act)


def run_import(args: argparse.Namespace) -> int:
    from server.serials.provisioning import parse_document

    try:
        payload = args.file.read_bytes()
    except OSError as exc:
        raise CliError(
            f"file: expected a readable file, got '{args.file}' ({exc.strerror})"
        ) from exc

    def act(authority: Any) -> int:
        document = parse_document(payload, args.format, reference=args.reference or args.file.name)
        records = authority.import_lists(
            document.lists,
            format=document.format,
            supplier=args.supplier,
            reference=document.reference,
            sha256=document.sha256,
            actor=_actor(),
            now=datetime.now(UTC),
        )
        for record in records:
            print(
                f"import {record['import_id']}: {record['count']:,} {record['kind']} for "
                f"{record['scope']} (positions {record['first_position']:,}.."
                f"{record['stop_position'] - 1:,})"
            )
        return 0

    return _run(args, act)


def run_books(args: argparse.Namespace) -> int:
    def act(authority: Any) -> int:
        summaries = [s.as_dict() for s in authority.scopes()]
        if args.json:
            print(json.dumps(summaries, indent=2))
            return 0
        print(
            f"{'kind':<6} {'scope':<14} {'scheme':<40} {'issued':>12} {'used':>12} "
            f"{'destroyed':>10} {'returned':>10} {'outstanding':>12}"
        )
        for s in summaries:
            print(
                f"{s['kind']:<6} {s['scope']:<14} {s['scheme'][:40]:<40} {s['issued']:>12,} "
                f"{s['used']:>12,} {s['destroyed']:>10,} {s['returned']:>10,} "
                f"{s['outstanding']:>12,}"
            )
        return 0

    return _run(args, act)


def run_usage(args: argparse.Namespace) -> int:
    def act(authority: Any) -> int:
        usage = authority.import_usage(args.import_id)
        if args.csv:
            print("kind,scope,value,status,line")
            for row in usage["values"]:
                print(f"{usage['kind']},{usage['scope']},{row['value']},{row['status']},"
                      f"{row['line'] or ''}")  # fmt: skip
        else:
            counts = ", ".join(f"{k} {v:,}" for k, v in sorted(usage["counts"].items()))
            print(f"import {args.import_id} ({usage['supplier']}, {usage['reference']}): {counts}")
        return 0

    return _run(args, act)


def run_raise_floor(args: argparse.Namespace) -> int:
    from server.serials.authority import ScopeKey

    def act(authority: Any) -> int:
        key = ScopeKey.parse(args.kind, args.scope)
        changed = authority.raise_floor(
            key, args.next, actor=_actor(), reason=args.reason, now=datetime.now(UTC)
        )
        if changed is None:
            print(f"{key}: already at or above {args.next:,}; nothing changed")
        else:
            print(f"{key}: next position raised from {changed[0]:,} to {changed[1]:,}")
        return 0

    return _run(args, act)
