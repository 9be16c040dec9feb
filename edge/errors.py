"""Errors of the edge: one root, :class:`EdgeError`, under which everything the edge raises
on purpose sits (device drivers keep their own branches, in their packages)::

    EdgeError
    ├── ConfigError          the configuration, a driver's settings or what they name is
    │                        unusable; ``problems`` holds one line per problem
    │                        (``section.key: expected …, got …``); also a
    │                        :class:`gs1.errors.InvalidConfig`, the base every package's
    │                        one ``ConfigError`` shares
    ├── BatchStateError      a batch or unit command not allowed in the current state
    ├── ReconciliationError  close refused: the counts do not balance (carries the numbers)
    ├── NotFoundError        unknown batch, unit, case or pallet
    ├── PayloadError         a malformed PLC or API message (the message says which field)
    ├── DeviceFault          a device cannot do its job; ``stop_line`` (edge.devices)
    ├── WiringError          a device or identifier source cannot be set up (edge.wiring)
    ├── StoreError           the agent's database is unusable (edge.store)
    ├── PrinterError, LabelError   the ZPL printer driver (edge.printers)
    ├── ScannerError         the serial scanner driver (edge.scanners)
    └── VisionError          capture, decoding and grading (edge.vision)

Serial-number errors are :class:`gs1.serials.SerialsError`'s (the pure serial code raises
them too). This module imports nothing of the edge, so the drivers may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gs1.errors import InvalidConfig


class EdgeError(Exception):
    """Base of every error the edge raises on purpose."""


class ConfigError(EdgeError, InvalidConfig):
    """The edge's configuration, or a driver's settings, are invalid; ``problems`` holds one
    line per problem (``ConfigError(message)`` or ``ConfigError(source, problems)``, see
    :class:`gs1.errors.InvalidConfig`). The one ``ConfigError`` of the edge: the drivers
    (``edge.scanners``, ``edge.vision``) raise this class too."""


class BatchStateError(EdgeError):
    """The command is not allowed in the batch's or unit's current state."""


class NotFoundError(EdgeError):
    """No batch, unit or container with that identifier."""


class PayloadError(EdgeError):
    """A message from the PLC or an API client is malformed."""


class Reconciled(Protocol):
    """What :class:`ReconciliationError` carries (``edge.batch.Reconciliation``)."""

    def explain(self) -> str: ...

    def as_dict(self) -> Mapping[str, Any]: ...


class ReconciliationError(EdgeError):
    """Batch close refused because printed != commissioned + rejected + sampled + scrapped."""

    def __init__(self, batch_id: str, reconciliation: Reconciled) -> None:
        self.batch_id = batch_id
        self.reconciliation = reconciliation
        super().__init__(f"batch {batch_id!r}: close refused: {reconciliation.explain()}")
