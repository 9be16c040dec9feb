"""``serialtrace server dead-letters …`` and ``serialtrace server lines …``.

::

    serialtrace server dead-letters list [--kind K] [--source S] [--topic T] [--limit N]
    serialtrace server dead-letters replay ID [ID …] --reason WHY
    serialtrace server dead-letters purge (--kind K | --source S | --before ISO | --id N … |
                                           --all) --reason WHY
    serialtrace server lines add SITE LINE --location SGLN [--location SGLN …] --reason WHY
    serialtrace server lines list
    serialtrace server lines remove SITE LINE --reason WHY

Replay, purge, add and remove are audited (actor ``cli:<OS user>``).
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from serialtrace.cli import CliError


def register_admin(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_common: Callable[..., None],
) -> None:
    letters = commands.add_parser("dead-letters", help="list, replay or purge refused payloads")
    sub = letters.add_subparsers(dest="dead_letters_command", metavar="COMMAND", required=True)
    listing = sub.add_parser("list", help="list dead letters (JSON lines), oldest first")
    add_common(listing, sub=True)
    listing.add_argument("--kind", help="only this kind (size, decode, limit, schema, …)")
    listing.add_argument("--source", help="only this source (mqtt, http)")
    listing.add_argument("--topic", help="only this MQTT topic or HTTP user")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=run_list)
    replay = sub.add_parser("replay", help="ingest dead letters again (audited)")
    add_common(replay, sub=True)
    replay.add_argument("ids", nargs="+", type=int, metavar="ID")
    replay.add_argument("--reason", required=True, help="why (for the audit trail)")
    replay.set_defaults(handler=run_replay)
    purge = sub.add_parser("purge", help="delete dead letters (audited)")
    add_common(purge, sub=True)
    purge.add_argument("--kind")
    purge.add_argument("--source")
    purge.add_argument("--before", help="received before this UTC time (ISO 8601)")
    purge.add_argument("--id", dest="ids", type=int, action="append", metavar="N")
    purge.add_argument("--all", action="store_true", help="every dead letter")
    purge.add_argument("--reason", required=True, help="why (for the audit trail)")
    purge.set_defaults(handler=run_purge)

    lines = commands.add_parser("lines", help="the line registry: lines and their SGLNs")
    line_sub = lines.add_subparsers(dest="lines_command", metavar="COMMAND", required=True)
    add = line_sub.add_parser("add", help="register a line with its locations (audited)")
    add_common(add, sub=True)
    add.add_argument("site")
    add.add_argument("line")
    add.add_argument(
        "--location",
        action="append",
        required=True,
        metavar="SGLN",
        help="a read point or business location of the line (urn:epc:id:sgln:…); repeat",
    )
    add.add_argument("--reason", default="line registered", help="why (for the audit trail)")
    add.set_defaults(handler=run_line_add)
    show = line_sub.add_parser("list", help="registered lines (JSON lines)")
    add_common(show, sub=True)
    show.set_defaults(handler=run_line_list)
    remove = line_sub.add_parser("remove", help="remove a line (audited)")
    add_common(remove, sub=True)
    remove.add_argument("site")
    remove.add_argument("line")
    remove.add_argument("--reason", required=True, help="why (for the audit trail)")
    remove.set_defaults(handler=run_line_remove)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Any]:
    from serialtrace.commands.server import _settings
    from server.errors import ConfigError
    from server.store import create_store_engine, upgrade

    settings = _settings(args)
    try:
        engine = create_store_engine(settings.db_url)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def run_list(args: argparse.Namespace) -> int:
    from server.dead_letters import list_dead_letters
    from server.store import read_transaction

    with _engine(args) as engine, read_transaction(engine) as conn:
        rows = list_dead_letters(
            conn, kind=args.kind, source=args.source, topic=args.topic, limit=args.limit
        )
    for row in rows:
        print(json.dumps(row.summary(preview=200), ensure_ascii=False))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from serialtrace.commands.server import _settings
    from server.errors import NotFound, RejectedDocument
    from server.ingest.service import Ingestor

    failed = 0
    settings = _settings(args)
    with _engine(args) as engine:
        ingestor = Ingestor(engine, max_payload_bytes=settings.max_payload_bytes)
        for dead_letter_id in args.ids:
            try:
                outcome = ingestor.replay(dead_letter_id, actor=_actor(), reason=args.reason)
            except (NotFound, RejectedDocument) as exc:
                print(json.dumps({"id": dead_letter_id, "applied": False, "reason": str(exc)}))
                failed += 1
                continue
            print(
                json.dumps(
                    {"id": dead_letter_id, "applied": outcome.accepted, "reason": outcome.reason}
                )
            )
            failed += 0 if outcome.accepted else 1
    return 1 if failed else 0


def run_purge(args: argparse.Namespace) -> int:
    from server.dead_letters import purge
    from server.store import write_transaction

    before = None
    if args.before:
        try:
            before = datetime.fromisoformat(args.before)
        except ValueError:
            raise CliError(f"--before: expected an ISO 8601 time, got {args.before!r}") from None
        if before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
    with _engine(args) as engine, write_transaction(engine) as conn:
        try:
            removed = purge(
                conn,
                actor=_actor(),
                reason=args.reason,
                now=datetime.now(UTC),
                kind=args.kind,
                source=args.source,
                before=before,
                ids=args.ids,
                everything=args.all,
            )
        except ValueError as exc:
            raise CliError("purge: expected --kind, --source, --before, --id or --all") from exc
    print(f"{removed} dead letter(s) purged")
    return 0


def run_line_add(args: argparse.Namespace) -> int:
    from server.errors import RejectedDocument
    from server.lines import register_line
    from server.store import write_transaction

    with _engine(args) as engine:
        try:
            with write_transaction(engine) as conn:
                line = register_line(
                    conn,
                    args.site,
                    args.line,
                    args.location,
                    actor=_actor(),
                    reason=args.reason,
                    now=datetime.now(UTC),
                )
        except RejectedDocument as exc:
            raise CliError(exc.reason) from exc
    print(f"line {line.site}/{line.line}: {', '.join(line.locations)}")
    return 0


def run_line_list(args: argparse.Namespace) -> int:
    from server.lines import list_lines
    from server.store import read_transaction

    with _engine(args) as engine, read_transaction(engine) as conn:
        for line in list_lines(conn):
            print(
                json.dumps(
                    {"site": line.site, "line": line.line, "locations": list(line.locations)}
                )
            )
    return 0


def run_line_remove(args: argparse.Namespace) -> int:
    from server.errors import NotFound
    from server.lines import remove_line
    from server.store import write_transaction

    with _engine(args) as engine:
        try:
            with write_transaction(engine) as conn:
                remove_line(
                    conn,
                    args.site,
                    args.line,
                    actor=_actor(),
                    reason=args.reason,
                    now=datetime.now(UTC),
                )
        except NotFound as exc:
            raise CliError(str(exc)) from exc
    print(f"line {args.site}/{args.line} removed")
    return 0
