"""``serialtrace edge …``: run a line's edge agent and control it.

``edge run --config FILE`` runs the agent and its local HTTP API in the foreground (Ctrl-C or
SIGTERM stops it cleanly). Every other sub-command talks to that running agent over its API
(``--api URL``, or the address in ``--config FILE``) with the agent's API token: from the
token file named in ``--config FILE``, ``--token-file FILE``, or the environment variable
``SERIALTRACE_EDGE_API_TOKEN``. ``edge operator-hash`` makes the password hash of an HMI
operator (``[[api.operators]]``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from serialtrace.cli import CliError

DEFAULT_API = "http://127.0.0.1:8710"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("edge", help="run and control a line's edge agent")
    commands = parser.add_subparsers(dest="edge_command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run the edge agent in the foreground")
    run.add_argument("--config", required=True, type=Path, help="the agent's TOML file")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    run.set_defaults(handler=run_agent)

    operator = commands.add_parser(
        "operator-hash", help="hash an HMI operator's password for [[api.operators]]"
    )
    operator.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    operator.set_defaults(handler=operator_hash)

    check = commands.add_parser(
        "check",
        help="check the configuration and everything it names (folders, files, ports, URLs)",
        description="Check the configuration file, then every folder, file, key, port and "
        "device it names, as 'edge run' will need them: one line per problem, exit code 2 if "
        "there is one. Peers the agent can start without (broker, trace server, serial "
        "authority) are warnings.",
    )
    check.add_argument("--config", required=True, type=Path)
    check.add_argument(
        "--file-only",
        action="store_true",
        help="check the file and its values only, not this machine (for CI, examples)",
    )
    check.set_defaults(handler=check_config)

    batch = commands.add_parser("batch", help="start, pause, resume, stop, close a batch")
    actions = batch.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    start = actions.add_parser("start", help="start a batch")
    _api_options(start)
    start.add_argument("--gtin", required=True)
    start.add_argument(
        "--lot", help="omitted: the next lot by rule (a line with [server]); refused if used"
    )
    start.add_argument(
        "--expiry",
        help="YYMMDD (day 00: end of month); omitted: computed from the shelf life ([server])",
    )
    start.add_argument(
        "--expiry-reason", help="why the expiry is not the computed one (audited at the server)"
    )
    start.add_argument(
        "--manufacturing-date", metavar="YYYY-MM-DD", help="default: today on the line's clock"
    )
    start.add_argument("--planned", required=True, type=int, help="planned quantity")
    start.add_argument(
        "--material",
        action="append",
        default=[],
        metavar="GTIN,LOT,CPL[,QUANTITY,UOM]",
        help="a raw-material lot consumed (repeatable); CPL: its company prefix length",
    )
    start.set_defaults(handler=batch_start)
    for action, text in (
        ("pause", "pause the running batch"),
        ("resume", "resume a paused or stopped batch"),
        ("stop", "stop the batch (before closing it)"),
    ):
        sub = actions.add_parser(action, help=text)
        _api_options(sub)
        sub.add_argument("--reason", help="why (recorded with the batch)")
        sub.set_defaults(handler=batch_transition, action=action)
    close = actions.add_parser("close", help="reconcile and close the stopped batch")
    _api_options(close)
    close.set_defaults(handler=batch_close)
    status = actions.add_parser("status", help="the line's batch, counts and health")
    _api_options(status)
    status.set_defaults(handler=batch_status)

    unit = commands.add_parser("unit", help="sample, decommission or unpack one unit")
    unit_actions = unit.add_subparsers(dest="unit_command", metavar="ACTION", required=True)
    for action, text, needs_reason in (
        ("sample", "QA takes a commissioned unit as a sample", True),
        ("decommission", "take a unit out of the supply chain", True),
        ("unpack", "take a unit out of its case", False),
    ):
        sub = unit_actions.add_parser(action, help=text)
        _api_options(sub)
        sub.add_argument("serial")
        if needs_reason:
            sub.add_argument("--reason", required=True)
        sub.set_defaults(handler=unit_command, action=action)

    case = commands.add_parser("case", help="put a unit into a case, or decommission a case")
    case_actions = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    insert = case_actions.add_parser("insert", help="pack a unit into a packed case")
    _api_options(insert)
    insert.add_argument("sscc")
    insert.add_argument("serial")
    insert.set_defaults(handler=case_insert)
    decommission = case_actions.add_parser("decommission", help="decommission a case and its units")
    _api_options(decommission)
    decommission.add_argument("sscc")
    decommission.add_argument("--reason", required=True)
    decommission.set_defaults(handler=case_decommission)


def _api_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--api", help=f"the agent's API URL (default {DEFAULT_API})")
    where.add_argument(
        "--config", type=Path, help="take the API address and token from this config file"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="the agent's API token (default: from --config, or SERIALTRACE_EDGE_API_TOKEN)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")


# -- run ------------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    from edge.config import load_config
    from edge.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def operator_hash(args: argparse.Namespace) -> int:
    import getpass
    import sys

    from edge.api_auth import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("operator password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("password: the two entries differ")
    if len(password) < 8:
        raise CliError(f"password: expected at least 8 characters, got {len(password)}")
    print(hash_password(password))
    return 0


def check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if not args.file_only:
        _preflight(args.config, config)
    print(f"{args.config}: valid (site {config.agent.site}, line {config.agent.line})")
    return 0


def _preflight(source: Path, config: Any) -> None:
    """Every folder, file, key, port and device of ``config``: warnings on stderr, problems
    as a CliError (one line each)."""
    import sys

    from edge.errors import ConfigError
    from serialtrace.preflight import check_edge

    found = check_edge(config)
    for warning in found.warnings:
        print(f"serialtrace: warning: {warning}", file=sys.stderr)
    if found.problems:
        raise CliError(str(ConfigError(str(source), found.problems)))


def run_agent(args: argparse.Namespace) -> int:
    import sqlite3

    import uvicorn

    from edge.api import create_app
    from edge.errors import EdgeError
    from edge.wiring import WiringError, build_agent
    from gs1.serials import SerialsError

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = _load(args.config)
    _preflight(args.config, config)
    try:
        agent = build_agent(config)
    except WiringError as exc:
        raise CliError(f"devices: {exc}") from None
    except (EdgeError, SerialsError, OSError, sqlite3.Error) as exc:
        # what the checks above could not foresee (a device that went away meanwhile, a
        # database another process holds): one line, never a traceback
        raise CliError(f"edge: cannot start: {exc}") from None
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(agent),
            host=config.api.host,
            port=config.api.port,
            log_level="warning",
            lifespan="on",
        )
    )
    server.run()
    return 0 if server.started else 1


# -- control --------------------------------------------------------------------------------


def _api_url(args: argparse.Namespace) -> str:
    if getattr(args, "api", None):
        return str(args.api).rstrip("/")
    if getattr(args, "config", None):
        config = _load(args.config)
        return f"http://{config.api.host}:{config.api.port}"
    return DEFAULT_API


def _token(args: argparse.Namespace) -> str | None:
    import os

    from edge.api_auth import read_token, token_path

    try:
        if getattr(args, "token_file", None):
            return read_token(args.token_file)
        if getattr(args, "config", None):
            return read_token(token_path(_load(args.config)))
    except (OSError, ValueError) as exc:
        raise CliError(f"token: cannot read the agent's API token: {exc}") from None
    return os.environ.get("SERIALTRACE_EDGE_API_TOKEN") or None


def call(args: argparse.Namespace, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST (with a body) or GET the agent's API; CliError with the agent's own message."""
    import httpx

    url = _api_url(args) + path
    token = _token(args) if body is not None else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(timeout=120.0, headers=headers) as client:
            response = client.post(url, json=body) if body is not None else client.get(url)
    except httpx.HTTPError as exc:
        raise CliError(
            f"agent: cannot reach {url}: {exc} (is 'serialtrace edge run' up?)"
        ) from None
    try:
        data = response.json()
    except ValueError:
        raise CliError(f"agent: {url} answered {response.status_code} without JSON") from None
    if response.status_code == 401:
        raise CliError(
            f"{data.get('error') if isinstance(data, dict) else 'unauthorized'} (give --config "
            "FILE or --token-file FILE, or set SERIALTRACE_EDGE_API_TOKEN)"
        )
    if response.status_code >= 400:
        message = data.get("error") if isinstance(data, dict) else None
        if message is None and isinstance(data, dict) and "detail" in data:
            message = "; ".join(_detail(item) for item in data["detail"])
        raise CliError(message or f"agent answered {response.status_code}")
    return data


def _detail(item: Any) -> str:
    if isinstance(item, dict):
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        return f"{where}: {item.get('msg')}"
    return str(item)


def _show(args: argparse.Namespace, data: Any, summary: str) -> int:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else summary)
    return 0


def _material(text: str) -> dict[str, Any]:
    parts = text.split(",")
    if len(parts) not in (3, 5) or not parts[2].isdigit():
        raise CliError(
            f"--material: expected GTIN,LOT,CPL or GTIN,LOT,CPL,QUANTITY,UOM, got {text!r}"
        )
    item: dict[str, Any] = {
        "gtin": parts[0],
        "lot": parts[1],
        "company_prefix_length": int(parts[2]),
    }
    if len(parts) == 5:
        try:
            item["quantity"] = float(parts[3])
        except ValueError:
            raise CliError(f"--material: QUANTITY: expected a number, got {parts[3]!r}") from None
        item["uom"] = parts[4]
    return item


def batch_start(args: argparse.Namespace) -> int:
    body = {
        "gtin": args.gtin,
        "lot": args.lot,
        "expiry": args.expiry,
        "planned": args.planned,
        "materials": [_material(text) for text in args.material],
        "expiry_reason": args.expiry_reason,
        "manufacturing_date": args.manufacturing_date,
    }
    data = call(args, "/batch/start", body)
    batch = data["batch"]
    return _show(
        args,
        data,
        f"batch {batch['lot']} started (GTIN {batch['gtin']}, {batch['planned']} planned)",
    )


def batch_transition(args: argparse.Namespace) -> int:
    data = call(args, f"/batch/{args.action}", {"reason": args.reason})
    batch = data["batch"]
    return _show(args, data, f"batch {batch['lot']}: {batch['state']}")


def batch_close(args: argparse.Namespace) -> int:
    data = call(args, "/batch/close", {})
    r = data["reconciliation"]
    return _show(
        args,
        data,
        f"batch {data['batch']['lot']} closed: printed {r['printed']} = commissioned "
        f"{r['commissioned']} + rejected {r['rejected']} + sampled {r['sampled']} + scrapped "
        f"{r['scrapped']}",
    )


def batch_status(args: argparse.Namespace) -> int:
    data = call(args, "/status")
    batch = data.get("batch")
    if batch is None:
        summary = f"{data['site']}/{data['line']}: no open batch"
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(data.get("counts", {}).items()))
        summary = (
            f"{data['site']}/{data['line']}: batch {batch['lot']} {batch['state']} "
            f"(GTIN {batch['gtin']}, planned {batch['planned']}): {counts or 'no units yet'}"
        )
    outbox = data["outbox"]
    summary += (
        f"\noutbox: {outbox['depth']} waiting, broker {'up' if outbox['connected'] else 'DOWN'}"
    )
    for name, alarm in sorted(data.get("alarms", {}).items()):
        summary += f"\nALARM {name}: {alarm}"
    return _show(args, data, summary)


def unit_command(args: argparse.Namespace) -> int:
    body = {"reason": args.reason} if args.action != "unpack" else {}
    data = call(args, f"/units/{args.serial}/{args.action}", body)
    return _show(args, data, f"unit {args.serial}: {args.action} done")


def case_insert(args: argparse.Namespace) -> int:
    data = call(args, f"/cases/{args.sscc}/units", {"serial": args.serial})
    return _show(args, data, f"unit {args.serial} packed into {args.sscc}")


def case_decommission(args: argparse.Namespace) -> int:
    data = call(args, f"/cases/{args.sscc}/decommission", {"reason": args.reason})
    return _show(args, data, f"case {args.sscc} and its {data['units']} units decommissioned")
