"""The EPCIS events the line emits, as encoded JSON objects ready for the outbox.

:class:`EventFactory` is the seam between the ledger (which decides *that* an event happens)
and :mod:`epcis` (which says what it looks like on the wire). :class:`EpcisEvents` is the one
implementation; it lives in :mod:`edge.epcis_events`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from identity import UnitIdentity

if TYPE_CHECKING:
    from edge.batch import Reconciliation
    from edge.devices import UnitGrade
    from edge.ledger import Batch


@dataclass(frozen=True)
class MaterialLot:
    """A raw-material lot consumed by a batch (bulk tablets, foils, leaflets, ...)."""

    gtin: str
    lot: str
    company_prefix_length: int
    quantity: float | None = None
    uom: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "gtin": self.gtin,
            "lot": self.lot,
            "company_prefix_length": self.company_prefix_length,
            "quantity": self.quantity,
            "uom": self.uom,
        }


class EventFactory(Protocol):
    """Builds the encoded EPCIS event (one JSON object, bytes) for each thing that happens."""

    def envelope(self) -> tuple[bytes, bytes]:
        """Head and tail of a new EPCIS document (creationDate now):
        ``head + e1,e2,… + tail`` is a document."""
        ...

    def batch_started(self, batch: Batch, company_prefix_length: int) -> list[bytes]:
        """Commissioning of the lot (class level, lot and expiry in ilmd), and a
        TransformationEvent from the raw-material lots to the batch if any were given."""
        ...

    def batch_closed(
        self, batch: Batch, company_prefix_length: int, reconciliation: Reconciliation
    ) -> bytes: ...

    def unit_commissioned(
        self, code: UnitIdentity, company_prefix_length: int, grade: UnitGrade | None = None
    ) -> bytes:
        """ObjectEvent ADD, bizStep commissioning, disposition active, lot and expiry in ilmd;
        the unit named by ``code.epc_uri(company_prefix_length)`` (any code scheme);
        the print-quality ``grade``, when the unit was graded, as ``serialtrace:grade``."""
        ...

    def packed(self, parent: str, children: Sequence[str]) -> bytes:
        """AggregationEvent ADD, bizStep packing: EPC URIs of the parent SSCC and children."""
        ...

    def unpacked(self, parent: str, children: Sequence[str]) -> bytes:
        """AggregationEvent DELETE, bizStep unpacking."""
        ...

    def decommissioned(self, epcs: Sequence[str], reason: str) -> bytes:
        """ObjectEvent DELETE, bizStep decommissioning, disposition inactive, with a reason."""
        ...
