"""``serialtrace server …``: run the trace server, migrate its store, manage users.

::

    serialtrace server [--config FILE] [--db URL] [--mqtt URL] [--host H] [--port P]
    serialtrace server migrate [--config FILE] [--db URL]
    serialtrace server user add NAME --role {device,operator,qa,admin} [--full-name TEXT]
                                [--line SITE/LINE] [--password-stdin] [--reason TEXT]
    serialtrace server user list
    serialtrace server user disable|enable NAME --reason TEXT
    serialtrace server user passwd NAME --reason TEXT [--password-stdin]
    serialtrace server user role NAME ROLE --reason TEXT
    serialtrace server user name NAME FULL_NAME --reason TEXT
    serialtrace server user line NAME (SITE/LINE | --none) --reason TEXT
    serialtrace server user revoke NAME --reason TEXT
    serialtrace server user review [--period-days N]
    serialtrace server audit-key --out FILE
    serialtrace server audit verify [--json]
    serialtrace server audit checkpoint

A device account captures (HTTP) only for the registered line it is bound to (``--line`` or
``user line``); unbound, it may capture nothing. ``users`` is an alias of ``user``.
Every user change is audited with its reason (actor ``cli:<login>``). ``audit verify`` exits
1 when the trail is not intact.
    serialtrace server dead-letters list|replay|purge …   (see server_admin)
    serialtrace server lines add|list|remove …            (see server_admin)

The broker's credentials never go on the command line: ``--mqtt-secrets FILE`` (as
``serialtrace broker add-server`` writes it) or ``SERIALTRACE_SERVER__MQTT_*`` variables.
If the broker refuses the server (credentials, ACL, an untrusted certificate), the server
says so in one line and exits with code 1.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serialtrace.cli import CliError
from serialtrace.commands.server_admin import register_admin


def _add_common(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    default: Any = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="FILE",
        help="TOML settings file (env SERIALTRACE_SERVER__<KEY> overrides it)",
    )
    parser.add_argument(
        "--db",
        default=default,
        metavar="URL",
        help="the trace store: sqlite:///FILE or postgresql://… (required here, in --config or "
        "in SERIALTRACE_SERVER__DB_URL)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "server",
        help="run the trace server (MQTT ingest, EPCIS 2.0 REST, QA API)",
        description="Run the trace server: MQTT ingest, EPCIS 2.0 REST and the QA API.",
    )
    _add_common(parser, sub=False)
    parser.add_argument(
        "--mqtt", metavar="URL", help="broker to ingest from: mqtts://HOST:PORT (or mqtt://)"
    )
    parser.add_argument(
        "--mqtt-secrets",
        metavar="FILE",
        help="the broker identity's secrets file (serialtrace broker add-server)",
    )
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

    user = commands.add_parser("user", aliases=["users"], help="manage users")
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
    add.add_argument("--full-name", metavar="TEXT", help="the printed name of signatures")
    add.add_argument(
        "--line",
        metavar="SITE/LINE",
        help="the registered line a device account captures for (required to capture)",
    )
    add.add_argument("--reason", default="user created", help="why (for the audit trail)")
    add.set_defaults(handler=run_user_add)
    register_admin(commands, _add_common)

    listing = user_commands.add_parser("list", help="list users, roles and their state")
    _add_common(listing, sub=True)
    listing.set_defaults(handler=run_user_list)

    for name, text in (
        ("disable", "disable a user (no login, every token revoked)"),
        ("enable", "enable a user again (also ends a lockout)"),
        ("revoke", "revoke every token of a user (end its sessions now)"),
    ):
        sub = user_commands.add_parser(name, help=text)
        _add_common(sub, sub=True)
        sub.add_argument("name", help="user name")
        sub.add_argument("--reason", required=True, help="why (for the audit trail)")
        sub.set_defaults(handler=run_user_change, change=name)
    passwd = user_commands.add_parser("passwd", help="set a new password (tokens revoked)")
    _add_common(passwd, sub=True)
    passwd.add_argument("name", help="user name")
    passwd.add_argument("--reason", required=True, help="why (for the audit trail)")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    passwd.set_defaults(handler=run_user_change, change="passwd")
    role = user_commands.add_parser("role", help="change a user's role")
    _add_common(role, sub=True)
    role.add_argument("name", help="user name")
    role.add_argument("role", choices=["device", "operator", "qa", "admin"])
    role.add_argument("--reason", required=True, help="why (for the audit trail)")
    role.set_defaults(handler=run_user_change, change="role")
    full = user_commands.add_parser("name", help="set the printed name of a user's signatures")
    _add_common(full, sub=True)
    full.add_argument("name", help="user name")
    full.add_argument("full_name", help="the full name, e.g. 'Dr. Jane Doe'")
    full.add_argument("--reason", required=True, help="why (for the audit trail)")
    full.set_defaults(handler=run_user_change, change="name")
    bind = user_commands.add_parser(
        "line", help="bind a device account to the registered line it captures for"
    )
    _add_common(bind, sub=True)
    bind.add_argument("name", help="user name")
    target = bind.add_mutually_exclusive_group(required=True)
    target.add_argument("line", nargs="?", metavar="SITE/LINE", help="a registered line")
    target.add_argument(
        "--none", action="store_true", help="unbind the account (it may capture nothing)"
    )
    bind.add_argument("--reason", required=True, help="why (for the audit trail)")
    bind.set_defaults(handler=run_user_change, change="line")
    review = user_commands.add_parser("review", help="the periodic review of users and roles")
    _add_common(review, sub=True)
    review.add_argument("--period-days", type=int, default=90, help="the period (default 90)")
    review.add_argument("--json", action="store_true", help="print the report as JSON")
    review.set_defaults(handler=run_user_review)

    key = commands.add_parser(
        "audit-key", help="make the Ed25519 key that signs the audit trail's checkpoints"
    )
    key.add_argument("--out", required=True, type=Path, metavar="FILE", help="new key file")
    key.set_defaults(handler=run_audit_key)

    trail = commands.add_parser("audit", help="check or checkpoint the audit trail")
    trail_commands = trail.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    check = trail_commands.add_parser(
        "verify", help="check the chain against the signed checkpoints (exit 1 if not intact)"
    )
    _add_common(check, sub=True)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=run_audit_verify)
    point = trail_commands.add_parser("checkpoint", help="write a signed checkpoint now")
    _add_common(point, sub=True)
    point.set_defaults(handler=run_audit_checkpoint)


def _settings(args: argparse.Namespace, *, need_store: bool = True, **overrides: Any) -> Any:
    """The settings of ``args``; ``need_store``: they must say where the store is (no
    command creates ``serialtrace.db`` in the current folder unless told to)."""
    from server.config import load_settings, require_db_url
    from server.errors import ConfigError

    try:
        settings = load_settings(
            getattr(args, "config", None), db_url=getattr(args, "db", None), **overrides
        )
        return require_db_url(settings) if need_store else settings
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def run_server(args: argparse.Namespace) -> int:
    from epcis.broker import command_line_url_problem

    problem = command_line_url_problem(
        args.mqtt,
        "--mqtt",
        "the secrets file (--mqtt-secrets FILE) or the environment "
        "(SERIALTRACE_SERVER__MQTT_PASSWORD)",
    )
    if problem is not None:
        raise CliError(problem)
    settings = _settings(
        args,
        need_store=False,  # the start-up check below lists it with every other problem
        mqtt_url=args.mqtt,
        mqtt_secrets_file=args.mqtt_secrets,
        mqtt_share_group=args.share_group,
        host=args.host,
        port=args.port,
    )
    _startup_check(args, settings)
    # The app (about 1.3 s of imports) only once the settings and the start-up check passed.
    import uvicorn

    from server.api.app import create_app
    from server.api.security import uvicorn_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings))
    refused: list[str] = []

    def watch() -> None:  # a broker that refuses us for good ends the server, loudly
        while not server.should_exit:
            services = getattr(app.state, "services", None)
            mqtt = services.mqtt if services is not None else None
            if mqtt is not None and mqtt.failure is not None:
                refused.append(mqtt.failure)
                server.should_exit = True
                return
            time.sleep(0.2)

    threading.Thread(target=watch, name="mqtt-watch", daemon=True).start()
    server.run()
    if refused:
        print(f"serialtrace: error: mqtt: {refused[0]}", file=sys.stderr)
        return 1
    return 0 if server.started else 1


def _startup_check(args: argparse.Namespace, settings: Any) -> None:
    """Every folder, file, port and URL the server will need, before it starts: one line
    per problem (exit code 2); a broker that does not answer now is a warning."""
    from serialtrace.preflight import check_server
    from server.errors import ConfigError

    found = check_server(settings)
    for warning in found.warnings:
        print(f"serialtrace: warning: {warning}", file=sys.stderr)
    if len(found.problems) == 1:
        raise CliError(found.problems[0])
    if found.problems:
        source = str(args.config) if getattr(args, "config", None) else "of the server"
        raise CliError(str(ConfigError(source, found.problems)))


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
    from server.auth import Role, create_account
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
                user = create_account(
                    conn,
                    args.name,
                    password,
                    Role(args.role),
                    full_name=args.full_name,
                    actor=_actor(),
                    reason=args.reason,
                    now=now,
                    min_length=settings.password_min_length,
                    line=args.line,
                )
            except ValueError as exc:
                raise CliError(str(exc)) from exc
    finally:
        engine.dispose()
    bound = f", bound to line {user.site}/{user.line}" if user.bound_line else ""
    print(f"user {user.username!r} added with role {user.role.value}{bound}")
    if user.role is Role.DEVICE and not user.bound_line:
        print(
            f"note: device {user.username!r} is bound to no line and may capture nothing: "
            f"serialtrace server user line {user.username} SITE/LINE --reason TEXT",
            file=sys.stderr,
        )
    return 0


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _read_password(args: argparse.Namespace, name: str) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != password:
        raise CliError("password: the two entries differ")
    return password


def _store(args: argparse.Namespace) -> tuple[Any, Any]:
    from server.store import create_store_engine, upgrade

    settings = _settings(args)
    engine = create_store_engine(settings.db_url)
    upgrade(engine)
    return settings, engine


def run_user_list(args: argparse.Namespace) -> int:
    from server.auth import Role, list_users
    from server.store import read_transaction

    engine = _store(args)[1]
    try:
        with read_transaction(engine) as conn:
            accounts = list_users(conn, now=datetime.now(UTC))
    finally:
        engine.dispose()
    for account in accounts:
        state = "active" if account.active else "DISABLED"
        if account.locked_until is not None:
            state += f", LOCKED until {account.locked_until.isoformat(timespec='seconds')}"
        last = account.last_login.isoformat(timespec="seconds") if account.last_login else "never"
        print(
            f"{account.username}\t{account.role.value}\t{account.full_name or '-'}\t{state}\t"
            f"last login {last}\t{account.active_tokens} live token(s)"
            + (f"\tline {account.line or '-'}" if account.role is Role.DEVICE else "")
        )
    return 0


def run_user_change(args: argparse.Namespace) -> int:
    from server import auth
    from server.store import write_transaction

    settings, engine = _store(args)
    now = datetime.now(UTC)
    change = args.change
    password = _read_password(args, args.name) if change == "passwd" else ""
    try:
        with write_transaction(engine) as conn:
            common = {"actor": _actor(), "reason": args.reason, "now": now}
            if change == "disable":
                count = auth.disable_account(conn, args.name, **common)
                message = f"user {args.name!r} disabled, {count} token(s) revoked"
            elif change == "enable":
                auth.enable_account(conn, args.name, **common)
                message = f"user {args.name!r} enabled"
            elif change == "revoke":
                count = auth.revoke_tokens(conn, args.name, **common)
                message = f"{count} token(s) of user {args.name!r} revoked"
            elif change == "passwd":
                count = auth.reset_password(
                    conn,
                    args.name,
                    password,
                    min_length=settings.password_min_length,
                    **common,
                )
                message = f"password of user {args.name!r} changed, {count} token(s) revoked"
            elif change == "line":
                bound = auth.bind_line(conn, args.name, None if args.none else args.line, **common)
                message = f"user {args.name!r} bound to line {bound or '(none)'}"
            elif change == "role":
                auth.change_role(conn, args.name, auth.Role(args.role), **common)
                message = f"user {args.name!r} is now {args.role}"
            else:
                auth.change_full_name(conn, args.name, args.full_name, **common)
                message = f"user {args.name!r} signs as {args.full_name!r}"
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    finally:
        engine.dispose()
    print(message)
    return 0


def run_user_review(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from server.auth import access_review
    from server.store import read_transaction

    if args.period_days < 1:
        raise CliError(f"--period-days: expected at least 1, got {args.period_days}")
    engine = _store(args)[1]
    try:
        with read_transaction(engine) as conn:
            report = access_review(conn, now=datetime.now(UTC), period_days=args.period_days)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(asdict(report), default=str, indent=2, sort_keys=True))
        return 0
    print(f"Access review of {report.generated_at.isoformat(timespec='seconds')}")
    print("Active users by role: " + ", ".join(f"{k} {v}" for k, v in sorted(report.roles.items())))
    for account in report.users:
        last = account.last_login.date().isoformat() if account.last_login else "never"
        print(
            f"  {account.username:<20} {account.role.value:<9} "
            f"{'active' if account.active else 'disabled':<9} last login {last:<10} "
            f"{account.full_name or '-'}"
        )
    print(f"To look at ({len(report.findings)}):")
    for finding in report.findings:
        print(f"  - {finding}")
    print(f"Account changes in the last {args.period_days} days ({len(report.changes)}):")
    for change in report.changes:
        print(
            f"  {change['at']} {change['actor']} {change['action']} {change['user']}: "
            f"{change['reason']}"
        )
    return 0


def run_audit_key(args: argparse.Namespace) -> int:
    from server.audit import generate_key_file

    try:
        public = generate_key_file(args.out)
    except FileExistsError:
        raise CliError(
            f"--out: {str(args.out)!r} exists already; keys are never overwritten"
        ) from None
    except OSError as exc:
        raise CliError(f"--out: cannot write {str(args.out)!r}: {exc.strerror}") from None
    print(f"audit key written to {args.out} (mode 0600); keep it away from the database host")
    print(f"public key (audit_public_key for verifiers): {public}")
    return 0


def _anchor(args: argparse.Namespace) -> tuple[Any, Any]:
    from server.audit import anchor_from_settings
    from server.errors import ConfigError

    settings, engine = _store(args)
    try:
        return anchor_from_settings(settings, engine), engine
    except ConfigError as exc:
        engine.dispose()
        raise CliError(str(exc)) from exc


def run_audit_verify(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from server.audit import verify
    from server.store import read_transaction

    anchor, engine = _anchor(args)
    try:
        with read_transaction(engine) as conn:
            report = verify(conn, anchor)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(asdict(report), default=str, indent=2, sort_keys=True))
        return 0 if report.intact else 1
    last = report.last_checkpoint
    print(
        f"audit trail: {report.rows} rows, {report.file_checkpoints} file and "
        f"{report.chain_checkpoints} chain checkpoints"
        + (f", last at row {last.head_id} ({last.at})" if last is not None else "")
        + f", {report.unanchored_rows} row(s) after it"
    )
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.intact:
        print("intact")
        return 0
    print(f"NOT INTACT: first bad row {report.first_bad_row}")
    for problem in report.problems:
        print(f"  {problem.kind}: {problem.detail}")
    return 1


def run_audit_checkpoint(args: argparse.Namespace) -> int:
    anchor, engine = _anchor(args)
    try:
        if not anchor.can_sign:
            raise CliError(
                "audit: no audit key configured (audit_key_file or SERIALTRACE_SERVER__AUDIT_KEY)"
            )
        checkpoint = anchor.chain_checkpoint(force=True)
    finally:
        engine.dispose()
    if checkpoint is None:
        print("audit trail is empty: nothing to checkpoint")
        return 0
    print(
        f"checkpoint {checkpoint.seq}: {checkpoint.row_count} rows up to row {checkpoint.head_id}"
    )
    return 0
