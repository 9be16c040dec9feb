"""Sub-commands of ``serialtrace``: one module each, named as its command, with
``register(subparsers)``.

A module adds its parser with ``subparsers.add_parser(NAME, help=...)`` and sets
``handler=FUNC`` via ``set_defaults``; ``FUNC(args) -> int`` returns the exit code and raises
:class:`serialtrace.cli.CliError` for bad input (one line, exit 2). Only the module of the
command being run is imported and registered (:mod:`serialtrace.cli`): what a module
imports costs its own command's start-up only.
"""
