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

from gs1.errors import InvalidConfig


class ServerError(Exception):
    """Base of every error the trace server raises on purpose."""


class ConfigError(ServerError, InvalidConfig):
    """The configuration (file, environment, command line) is unusable; ``problems`` holds
    one line per problem (``ConfigError(message)`` or ``ConfigError(source, problems)``, see
    :class:`gs1.errors.InvalidConfig`)."""


class StoreError(ServerError):
    """The store cannot be used (unreachable, wrong schema version)."""


class RejectedDocument(ServerError):
    """A payload that is not an acceptable EPCIS document; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(ServerError):
    """A unit, container, batch, shipment or user named in a request does not exist."""
