"""The ``serialtrace`` command.

Each sub-command lives in its own module under :mod:`serialtrace.commands`, named as the
command, and exposes ``register(subparsers)``; modules are discovered, so adding a command
never touches this file. A handler returns an exit code; a :class:`CliError` becomes one line
on stderr and exit 2.

Only the command being run is imported and registered (``serialtrace server migrate`` loads
no camera or printer code): a module's ``register`` may import what its options need. The
command line names no command (``serialtrace --help``, an unknown command) -> every command
is registered, so the listing and the error name them all; ``--version`` first -> none.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from serialtrace import __version__, commands


class CliError(Exception):
    """Bad input on the command line: printed as one line, exit code 2."""


def command_names() -> list[str]:
    """Every command's name: the modules of :mod:`serialtrace.commands` (not imported)."""
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__))


def reachable(argv: Sequence[str], names: Sequence[str]) -> list[str]:
    """The commands whose parsers parsing ``argv`` can reach: the one it names, none when
    ``--version`` comes first (it prints and exits), else all of them."""
    for token in argv:
        if not token.startswith("-"):
            return [token] if token in names else list(names)
        if len(token) > 2 and "--version".startswith(token):  # argparse takes --vers too
            return []
        return list(names)  # -h, --help or an option argparse will refuse: list them all
    return list(names)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``argv`` (default: every command, as ``serialtrace --help`` shows it)."""
    names = command_names()
    wanted = reachable(argv, names) if argv is not None else names
    parser = _parser(wanted)
    if len(wanted) == 1 and wanted[0] not in _commands_of(parser):
        parser = _parser(names)  # a module that registers another name: take them all
    return parser


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="serialtrace",
        description="Serialization and traceability for pharmaceutical packaging lines.",
    )
    parser.add_argument("--version", action="version", version=f"serialtrace {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in names:
        module = importlib.import_module(f"{commands.__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def _commands_of(parser: argparse.ArgumentParser) -> list[str]:
    return [
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    ]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv if argv is not None else sys.argv[1:])
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:  # a command group called without its sub-command
        parser.parse_args([*arguments, "--help"])
        return 2
    try:
        return int(handler(args) or 0)
    except CliError as exc:
        print(f"serialtrace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
