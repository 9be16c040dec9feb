"""The exceptions of :mod:`gs1`: one small, flat tree.

::

    ValueError
     └── Gs1Error            bad GS1 data; names the field, quotes the input, expected vs got
          ├── FormatError    wrong length, character set, date or layout
          │    └── NotGs1Error  no GS1 data at all (plain ]d1 text, a URL with no GS1 key)
          ├── CheckDigitError  digits are well formed but the check digit is wrong
          └── RuleError      each element is valid but the combination is not (21 without 01)

Configuration, for every package root (it is here because every layer may import ``gs1``)::

    ValueError
     └── InvalidConfig       the shared base of the one ``ConfigError`` of each package root
                             (``gs1.serials``, ``edge.errors``, ``server.errors``,
                             ``simulators.errors``, ``serialtrace.errors``); ``problems``
                             holds one line per problem (``key: expected …, got …``)

Every message has the shape ``"{field}: expected {expected}, got {got}"`` so a command line
can print it as its one-line error as it is. Foreign exceptions are translated at
the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence

_QUOTE_LIMIT = 80


def quote(value: str) -> str:
    """``repr`` of ``value``, shortened so that hostile input cannot flood a log line."""
    if len(value) <= _QUOTE_LIMIT:
        return repr(value)
    return f"{value[:_QUOTE_LIMIT]!r}… ({len(value)} characters)"


class Gs1Error(ValueError):
    """Bad GS1 data. ``field`` names what was wrong, ``value`` is the input as given."""

    def __init__(self, field: str, value: str, expected: str, got: str | None = None) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.got = quote(value) if got is None else got
        super().__init__(f"{field}: expected {expected}, got {self.got}")

    def __reduce__(self) -> tuple[type[Gs1Error], tuple[str, str, str, str]]:
        return (type(self), (self.field, self.value, self.expected, self.got))


class FormatError(Gs1Error):
    """Wrong length, character set, date or layout."""


class CheckDigitError(Gs1Error):
    """The digits are well formed but the GS1 mod-10 check digit does not match."""


class RuleError(Gs1Error):
    """Every element is valid on its own, but the combination breaks a GS1 rule."""


class NotGs1Error(FormatError):
    """The data carries no GS1 structure at all: plain data after a non-GS1 symbology
    identifier (``]d1``, ``]Q1`` text that is no Digital Link), or a URI with no GS1 key."""


class InvalidConfig(ValueError):
    """A configuration that cannot work: the shared base of each package root's one
    ``ConfigError`` (``gs1.serials``, ``edge``, ``server``, ``simulators``, ``serialtrace``);
    catch those, or this for any.

    ``ConfigError(message)`` is one problem whose message names its setting;
    ``ConfigError(source, problems)`` lists every problem of a configuration (a file, the
    environment), one a line. ``problems`` holds them either way, ``source`` the file or ''."""

    def __init__(self, source: str, problems: Sequence[str] | None = None) -> None:
        if problems is None:
            self.source = ""
            self.problems = [source]
            super().__init__(source)
            return
        self.source = source
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid configuration {source} ({count} problem{'s' if count != 1 else ''}):\n"
            f"{listing}"
        )
