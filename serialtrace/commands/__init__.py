"""Sub-commands of ``serialtrace``: one module each, with ``register(subparsers)``.

A module adds its parser with ``subparsers.add_parser(NAME, help=...)`` and sets
``handler=FUNC`` via ``set_defaults``; ``FUNC(args) -> int`` returns the exit code and raises
:class:`serialtrace.cli.CliError` for bad input (one line, exit 2).
"""
