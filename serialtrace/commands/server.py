"""``serialtrace server …``: run the trace server, migrate its store, manage users.

::

    serialtrace server [--config FILE] [--db URL] [--mqtt URL] [--host H] [--port P]
    serialtrace server migrate [--config FILE] [--db URL]
    serialtrace server user add NAME --role {device,operator,qa,admin} [--password-stdin]
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serialtrace.cli import CliError


def _add_common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    default: Any = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="TOML settings file (env SERIALTRACE_SERVER_* overrides it)",
    )
    parser.add_argument(
        "--db",
        default=default,
        metavar="URL",
        help="database URL: sqlite:///FILE (default) or postgresql://…",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run the trace server (MQTT ingest, EPCIS 2.0 REST, QA API)",
        description="Run the trace server: MQTT ingest, EPCIS 2.0 REST and the QA API.",
    )
    _add_common(parser, sub=False)
    parser.add_argument("--mqtt", metavar="URL", help="broker to ingest from: mqtt://HOST:PORT")
    parser.add_argument(
        "--share-group",
        metavar="NAME",
        help="MQTT 5 shared subscription group (several ingest processes)",
    )
    parser.add_argument("--host", help="HTTP listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default 8000)")
    parser.set_defaults(handler=run_server)
    commands = parser.add_subparsers(dest="server_command", metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    _add_common(migrate, sub=True)
    migrate.set_defaults(handler=run_migrate)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    add = user_commands.add_parser("add", help="add a user (password asked, or from stdin)")
    _add_common(add, sub=True)
    add.add_argument("name", help="user name")
    add.add_argument("--role", required=True, choices=["device", "operator", "qa", "admin"])
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    add.add_argument("--reason", default="user created", help="why (for the audit trail)")
    add.set_defaults(handler=run_user_add)


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from server.config import load_settings
    from server.errors import ConfigError

    try:
        return load_settings(
            getattr(args, "config", None), db_url=getattr(args, "db", None), **overrides
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def run_server(args: argparse.Namespace) -> int:
    import uvicorn

    from server.api.app import create_app

    settings = _settings(
        args, mqtt_url=args.mqtt, mqtt_share_group=args.share_group, host=args.host, port=args.port
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from server.errors import ConfigError
    from server.store import create_store_engine, upgrade
    from server.store.migrate import current_revision

    settings = _settings(args)
    try:
        engine = create_store_engine(settings.db_url)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    try:
        upgrade(engine)
        print(f"store at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def run_user_add(args: argparse.Namespace) -> int:
    from server import audit
    from server.auth import Role, add_user
    from server.store import create_store_engine, upgrade, write_transaction

    settings = _settings(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("password: the two entries differ")
    engine = create_store_engine(settings.db_url)
    now = datetime.now(UTC)
    try:
        upgrade(engine)
        with write_transaction(engine) as conn:
            try:
                user = add_user(conn, args.name, password, Role(args.role), now=now)
            except ValueError as exc:
                raise CliError(str(exc)) from exc
            audit.append(
                conn,
                actor=f"cli:{getpass.getuser()}",
                action="user_add",
                entity="user",
                entity_key=user.username,
                old_value=None,
                new_value={"role": user.role.value},
                reason=args.reason,
                now=now,
            )
    finally:
        engine.dispose()
    print(f"user {user.username!r} added with role {user.role.value}")
    return 0
