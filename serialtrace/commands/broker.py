"""``serialtrace broker …``: a Mosquitto set-up that is secure by default.

::

    serialtrace broker init DIR [--port 8883] [--bind ADDR] [--hostname NAME …] [--user U]
    serialtrace broker add-line DIR SITE LINE
    serialtrace broker add-plc DIR SITE LINE
    serialtrace broker add-server DIR NAME
    serialtrace broker add-mes DIR SITE LINE
    serialtrace broker list DIR

``init`` writes a CA, the broker's certificate, ``mosquitto.conf`` (TLS listener, anonymous
access off, password file, ACL, client id = username), and empty password and ACL files;
run Mosquitto with ``mosquitto -c DIR/mosquitto.conf``. Each ``add-*`` creates an identity
with least privilege and writes its secrets file (mode 0600) under ``DIR/clients/``; the
path is printed, the password never. See :mod:`serialtrace.broker` and docs/deployment.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from serialtrace.cli import CliError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="set up Mosquitto: TLS, passwords and ACLs (secure by default)",
        description="Write a Mosquitto configuration with TLS, a password file and an ACL "
        "file, and create the identities of lines, PLCs and trace servers.",
    )
    commands = parser.add_subparsers(dest="broker_command", metavar="COMMAND", required=True)
    init = commands.add_parser("init", help="write a new broker set-up into DIR")
    init.add_argument("dir", type=Path, metavar="DIR")
    init.add_argument("--port", type=int, default=8883, help="TLS listener port (8883)")
    init.add_argument(
        "--bind",
        default="127.0.0.1",
        help="listen address (127.0.0.1; 0.0.0.0 for the plant network)",
    )
    init.add_argument(
        "--hostname",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or address clients use for the broker (in its certificate); repeat",
    )
    init.add_argument("--user", help="the user Mosquitto runs as (default: you)")
    init.add_argument("--force", action="store_true", help="replace a set-up that is there")
    init.set_defaults(handler=run_init)
    for kind, names, text in (
        ("add-line", ("site", "line"), "an edge agent of one line"),
        ("add-plc", ("site", "line"), "the PLC of one line"),
        ("add-server", ("name",), "a trace server process"),
        ("add-mes", ("site", "line"), "MES sending batch orders to one line"),
    ):
        add = commands.add_parser(kind, help=f"create (or renew) the identity of {text}")
        add.add_argument("dir", type=Path, metavar="DIR")
        for name in names:
            add.add_argument(name, metavar=name.upper())
        add.set_defaults(handler=run_add, kind=kind)
    show = commands.add_parser("list", help="the identities of a set-up")
    show.add_argument("dir", type=Path, metavar="DIR")
    show.set_defaults(handler=run_list)


def run_init(args: argparse.Namespace) -> int:
    from serialtrace.broker import BrokerSetup, BrokerSetupError

    try:
        setup = BrokerSetup.init(
            args.dir,
            port=args.port,
            bind=args.bind,
            hostnames=args.hostname,
            user=args.user,
            force=args.force,
        )
    except BrokerSetupError as exc:
        raise CliError(str(exc)) from exc
    print(f"broker set-up written to {setup.folder}")
    print(f"  run:     mosquitto -c {setup.config}")
    print(f"  clients: {setup.url} trusting {setup.ca_file}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from epcis import TopicError
    from serialtrace.broker import BrokerSetup, BrokerSetupError

    try:
        setup = BrokerSetup(args.dir)
        if args.kind == "add-line":
            path = setup.add_line(args.site, args.line)
        elif args.kind == "add-plc":
            path = setup.add_plc(args.site, args.line)
        elif args.kind == "add-mes":
            path = setup.add_mes(args.site, args.line)
        else:
            path = setup.add_server(args.name)
    except (BrokerSetupError, TopicError) as exc:
        raise CliError(str(exc)) from exc
    print(f"secrets file: {path}")
    print("reload a running broker to apply it (kill -HUP, or systemctl reload mosquitto)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from serialtrace.broker import BrokerSetup, BrokerSetupError

    try:
        setup = BrokerSetup(args.dir)
    except BrokerSetupError as exc:
        raise CliError(str(exc)) from exc
    for name in setup.identities():
        print(name)
    return 0
