"""The protocols of the seam and the small values they trade in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

GS1_DATAMATRIX = "gs1-datamatrix"
"""A GS1 DataMatrix: FNC1 in first position; :attr:`PrintPayload.data` is the AI element
string without the leading FNC1, with GS (0x1D) where a separator FNC1 goes."""
DATAMATRIX = "datamatrix"
"""A plain ECC 200 DataMatrix (no FNC1): :attr:`PrintPayload.data` is the message as is."""
SYMBOLOGIES = frozenset({GS1_DATAMATRIX, DATAMATRIX})
"""The symbologies a unit label's printer drivers encode (ZPL ``^BX``, DPL ``W1C``)."""

MAX_PRODUCT = 64
"""Longest product code the store keeps (``units.gtin``, ``batches.gtin``)."""
MAX_SERIAL = 64
"""Longest serial the store keeps (``units.serial``)."""


class UnitKey(NamedTuple):
    """What the store keys a unit by: the scheme's name, the product code (a GTIN for GS1)
    and the unit's serial. A named tuple: hashed and compared in C."""

    scheme: str
    product: str
    serial: str


@dataclass(frozen=True, slots=True)
class PrintPayload:
    """What a label printer needs of a unit's code: the barcode (``symbology``, one of
    :data:`SYMBOLOGIES`, and its ``data``) and the text fields a label template may name
    (``product``, ``serial``, ``hri`` for every scheme; others per scheme, such as GS1's
    ``gtin``, ``lot``, ``expiry``, ``expiry_yymmdd``)."""

    symbology: str
    data: str
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScanMatch:
    """A scan held against the identity a unit should carry.

    ``read`` is what the scheme made of the scan (an identity, or another of the scheme's
    codes, such as a GS1 SSCC), None when it could not read it; ``error`` says why the
    scan is not this scheme's code at all (another symbology, data the scheme refuses);
    ``mismatches`` name each field that differs, as ``"serial: expected 'A1', got 'A2'"``.
    """

    read: object | None
    mismatches: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.mismatches


@runtime_checkable
class UnitIdentity(Protocol):
    """One unit's code, as the line prints, verifies, records and reports it."""

    @property
    def scheme(self) -> str:
        """The :class:`CodeScheme` name (``"gs1"``)."""
        ...

    @property
    def lot(self) -> str | None:
        """The batch (lot) the code carries, if any."""
        ...

    def key(self) -> UnitKey:
        """(scheme, product, serial): what the store keys the unit by. Raises ValueError
        (naming the field) for a code without a serial."""
        ...

    def expiry_date(self) -> dt.date | None:
        """The expiry date the code carries, if any."""
        ...

    def hri(self) -> str:
        """The human-readable interpretation printed under the code."""
        ...

    def printer_payload(self) -> PrintPayload:
        """The barcode and text fields of the unit's label."""
        ...

    def matches(self, scan: str) -> ScanMatch:
        """``scan`` (the AIM symbology identifier and the data, as a decoder or scanner
        transmits them, e.g. ``"]d2" + data``) against this code."""
        ...

    def epc_uri(self, company_prefix_length: int | None = None) -> str:
        """The unit's identifier in EPCIS events. GS1 needs the GS1 company prefix length
        (an SGTIN URI); other schemes ignore it."""
        ...

    def digital_link(self, domain: str = ...) -> str:
        """The unit's web URI (GS1 Digital Link for GS1) under ``domain``."""
        ...


@runtime_checkable
class CodeScheme(Protocol):
    """A code standard: builds, reads and recognises its unit identities."""

    @property
    def name(self) -> str:
        """Registry name, stored in ``units.scheme``: 1-16 of ``a-z``, ``0-9``, ``-``."""
        ...

    def unit(
        self,
        product: str,
        serial: str,
        *,
        lot: str | None = None,
        expiry: str | dt.date | None = None,
    ) -> UnitIdentity:
        """The identity of one unit from its stored parts (``expiry`` a date or the
        scheme's own text form; GS1: ``YYMMDD``, day 00 allowed). Raises ValueError naming
        the field that the scheme refuses."""
        ...

    def read(self, scan: str) -> UnitIdentity:
        """The unit identity in ``scan`` (symbology identifier + data, or any text form the
        scheme defines); ValueError if it names no unit of this scheme."""
        ...

    def parse_epc(self, uri: str) -> UnitKey | None:
        """The unit an EPC in an EPCIS event names, None if ``uri`` is not this scheme's
        unit identifier (the server asks each registered scheme in turn)."""
        ...


def check_key(key: UnitKey) -> UnitKey:
    """``key`` if the store can keep it; ValueError naming the field otherwise."""
    for name, value, limit in (
        ("product", key.product, MAX_PRODUCT),
        ("serial", key.serial, MAX_SERIAL),
    ):
        if not value or len(value) > limit:
            raise ValueError(
                f"{key.scheme} unit {name}: expected 1 to {limit} characters,"
                f" got {len(value)} in {value!r}"
            )
    return key
