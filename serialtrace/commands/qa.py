"""``serialtrace qa …``: mock-recall drills and the traceability completeness check.

::

    serialtrace qa drill (--batch GTIN/LOT | --random) [--html FILE] [--pdf FILE] --db URL
    serialtrace qa drills [--limit N] --db URL
    serialtrace qa completeness --db URL

The store is ``--db URL``, ``db_url`` in ``--config FILE`` or ``SERIALTRACE_SERVER__DB_URL``:
one is required (no store is made in the current folder), and a SQLite file must exist.

Drills run against the store directly (the same code as ``POST /qa/drills``), are kept in
the store and listed by ``qa drills`` and ``GET /qa/drills``. Exit code 1 when a drill or
the completeness check finds gaps, so a scheduler can alert on it.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from serialtrace.cli import CliError


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="server TOML settings file")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the trace store's URL (or db_url in --config FILE, or SERIALTRACE_SERVER__DB_URL)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "qa",
        help="QA: mock-recall drills, traceability completeness",
        description="QA tools on the trace store: mock-recall drills and completeness.",
    )
    commands = parser.add_subparsers(dest="qa_command", metavar="COMMAND", required=True)

    drill = commands.add_parser(
        "drill", help="run a mock-recall drill: full backward and forward trace, timed"
    )
    _add_common(drill)
    target = drill.add_mutually_exclusive_group(required=True)
    target.add_argument("--batch", metavar="GTIN/LOT", help="the batch to drill")
    target.add_argument("--random", action="store_true", help="drill a random batch")
    drill.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report here")
    drill.add_argument("--pdf", type=Path, metavar="FILE", help="write the PDF report here")
    drill.set_defaults(handler=run_drill)

    listing = commands.add_parser("drills", help="list past drills with their results")
    _add_common(listing)
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listing.set_defaults(handler=run_list)

    complete = commands.add_parser(
        "completeness", help="list every batch that is not 100 %% traceable, with its gaps"
    )
    _add_common(complete)
    complete.set_defaults(handler=run_completeness)


def _engine(args: argparse.Namespace) -> Any:
    from server.config import existing_store, load_settings, require_db_url
    from server.errors import ConfigError
    from server.store import create_store_engine, upgrade

    try:
        settings = require_db_url(load_settings(args.config, db_url=args.db))
        engine = create_store_engine(existing_store(settings.db_url))
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    upgrade(engine)
    return engine


def parse_batch(text: str) -> tuple[str, str]:
    import gs1

    gtin, sep, lot = text.partition("/")
    if not sep or not lot or len(lot) > 20:
        raise CliError(f"--batch: expected GTIN/LOT (lot of 1 to 20 characters), got {text!r}")
    try:
        return gs1.Gtin.parse(gtin).value, lot
    except gs1.Gs1Error as exc:
        raise CliError(f"--batch: {exc}") from exc


def run_drill(args: argparse.Namespace) -> int:
    from server.errors import NotFound
    from server.qa import drills, release, reports
    from server.qa.clock import SystemClock
    from server.store import write_transaction

    engine = _engine(args)
    try:
        with write_transaction(engine) as conn:
            try:
                if args.random:
                    batch = drills.pick_random_batch(conn)
                else:
                    batch = release.find_batch(conn, *parse_batch(args.batch))
            except NotFound as exc:
                raise CliError(str(exc)) from exc
            result = drills.run_drill(
                conn, batch, run_by=f"cli:{getpass.getuser()}", now=SystemClock().now()
            )
    finally:
        engine.dispose()
    if args.html is not None:
        args.html.write_text(reports.drill_html(result), encoding="utf-8")
    if args.pdf is not None:
        args.pdf.write_bytes(reports.drill_pdf(result))
    print(f"drill {result.id}: batch (01){result.gtin}(10){result.lot} ({result.status})")
    print(
        f"  total {result.seconds:.3f} s: "
        + ", ".join(f"{phase} {seconds:.3f} s" for phase, seconds in result.timings.items())
    )
    print("  " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in result.counts.items()))
    if result.complete:
        print("  complete: 100 % traceable")
        return 0
    for gap in result.gaps:
        print(f"  gap: {gap}")
    return 1


def run_list(args: argparse.Namespace) -> int:
    from server.qa import drills
    from server.store import read_transaction

    if args.limit < 1:
        raise CliError(f"--limit: expected at least 1, got {args.limit}")
    engine = _engine(args)
    try:
        with read_transaction(engine) as conn:
            rows = drills.list_drills(conn, limit=args.limit)
    finally:
        engine.dispose()
    for row in rows:
        verdict = "complete" if row.complete else "GAPS"
        print(
            f"{row.id}\t{row.started_at.isoformat(timespec='seconds')}\t(01){row.gtin}(10)"
            f"{row.lot}\t{row.seconds:.3f} s\t{verdict}\t{row.run_by}"
        )
    return 0


def run_completeness(args: argparse.Namespace) -> int:
    from server.qa import genealogy
    from server.store import read_transaction

    engine = _engine(args)
    try:
        with read_transaction(engine) as conn:
            report = genealogy.incomplete_batches(conn)
    finally:
        engine.dispose()
    if not report:
        print("every batch is 100 % traceable")
        return 0
    for item in report:
        print(f"(01){item.gtin}(10){item.lot}: {item.units} units")
        for gap in item.gaps:
            print(f"  gap: {gap}")
    return 1
