"""Exceptions of the trace server (a small flat tree).

::

    ServerError
    ├── ConfigError      configuration file or value unusable
    ├── StoreError       database unreachable or at the wrong schema version
    ├── RejectedDocument a payload that is not an acceptable EPCIS document (a value the
    │                    ingest turns into a dead letter or an HTTP 4xx; never a crash)
    └── NotFound         a named unit, container, batch or user does not exist
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of every error the trace server raises on purpose."""


class ConfigError(ServerError, ValueError):
    """The configuration (file, environment, command line) is unusable.

    ``ConfigError(message)`` is one problem whose message names its setting;
    ``ConfigError(source, problems)`` lists every problem of a configuration, one a line.
    ``problems`` holds them either way."""

    def __init__(self, source: str, problems: list[str] | None = None) -> None:
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


class StoreError(ServerError):
    """The store cannot be used (unreachable, wrong schema version)."""


class RejectedDocument(ServerError):
    """A payload that is not an acceptable EPCIS document; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(ServerError):
    """A unit, container, batch, shipment or user named in a request does not exist."""
