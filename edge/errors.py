"""Errors of the edge agent core (device drivers have their own, in their packages).

::

    EdgeError
    ├── BatchStateError      a batch or unit command not allowed in the current state
    ├── ReconciliationError  close refused: the counts do not balance (carries the numbers)
    ├── NotFoundError        unknown batch, unit, case or pallet
    └── PayloadError         a malformed PLC or API message (the message says which field)

Configuration problems raise :class:`edge.config.ConfigError`, which lists all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.batch import Reconciliation


class EdgeError(Exception):
    """Base of the edge agent's own errors."""


class BatchStateError(EdgeError):
    """The command is not allowed in the batch's or unit's current state."""


class NotFoundError(EdgeError):
    """No batch, unit or container with that identifier."""


class PayloadError(EdgeError):
    """A message from the PLC or an API client is malformed."""


class ReconciliationError(EdgeError):
    """Batch close refused because printed != commissioned + rejected + sampled + scrapped."""

    def __init__(self, batch_id: str, reconciliation: Reconciliation) -> None:
        self.batch_id = batch_id
        self.reconciliation = reconciliation
        super().__init__(f"batch {batch_id!r}: close refused: {reconciliation.explain()}")
