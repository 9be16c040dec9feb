"""Errors of the edge: one root, :class:`EdgeError`, under which everything the edge raises
on purpose sits (device drivers keep their own branches, in their packages)::

    EdgeError
    ├── ConfigError          the configuration or what it names is unusable; ``problems``
    │   │                    holds one line per problem (``section.key: expected …, got …``)
    │   ├── edge.scanners.ConfigError, edge.vision.ConfigError   a driver's own settings
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

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class EdgeError(Exception):
    """Base of every error the edge raises on purpose."""


class ConfigError(EdgeError, ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem.

    ``ConfigError(source, problems)`` lists every problem of a file (``source``);
    ``ConfigError(message)`` is one problem whose message names its setting."""

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
