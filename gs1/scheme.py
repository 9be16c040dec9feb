"""GS1 as a code scheme (:class:`identity.CodeScheme`, registered as ``"gs1"`` when
:mod:`gs1` is imported): units are :class:`~gs1.unit.UnitCode`, keyed by (GTIN, serial),
printed as GS1 DataMatrix, named in events by SGTIN EPC URI or GS1 Digital Link."""

from __future__ import annotations

import datetime as dt

from gs1.dates import Expiry
from gs1.epc import plain_sgtin
from gs1.errors import FormatError, Gs1Error
from gs1.identifiers import parse_identifier
from gs1.reading import parse
from gs1.symbology import SYMBOLOGIES, Content
from gs1.unit import UnitCode
from identity import ScanMatch, UnitKey

NAME = "gs1"

DATAMATRIX_IDENTIFIERS = tuple(
    identifier
    for identifier, symbology in SYMBOLOGIES.items()
    if identifier.startswith("]d") and symbology.content is Content.AI_DATA
)
"""The DataMatrix symbology identifiers of GS1 data (FNC1 in first position), from the
symbology table: ``]d2`` (ECC 200), ``]d5`` (with ECI), ``]d8`` and ``]dB`` (a rectangular
extension symbol, DMRE, without and with ECI, as zxing-cpp 3 reports them)."""


class Gs1Scheme:
    """GS1: ``product`` is a GTIN (8, 12, 13 or 14 digits, stored as 14), ``serial`` AI 21."""

    @property
    def name(self) -> str:
        return NAME

    def unit(
        self,
        product: str,
        serial: str,
        *,
        lot: str | None = None,
        expiry: str | dt.date | None = None,
    ) -> UnitCode:
        return UnitCode.create(gtin=product, serial=serial, lot=lot, expiry=expiry)

    def read(self, scan: str) -> UnitCode:
        """A serialised unit code in any GS1 form (:func:`gs1.parse`)."""
        code = parse(scan)
        if not isinstance(code, UnitCode) or code.serial is None:
            raise FormatError("code", scan, "a serialised unit code (AI 01 and 21)")
        return code

    def parse_epc(self, uri: str) -> UnitKey | None:
        """An SGTIN EPC URI or a Digital Link with AI 01 and 21; None for anything else,
        including identifiers that break GS1's rules."""
        plain = plain_sgtin(uri)
        if plain is not None:
            return UnitKey(NAME, plain[0].value, plain[1])
        try:
            identifier = parse_identifier(uri)
        except Gs1Error:
            return None
        if identifier is None or identifier.kind != "id" or identifier.ais[:1] != ("01",):
            return None
        serial = identifier.value("21")
        if serial is None:
            return None
        return UnitKey(NAME, identifier.elements[0].value, serial)


GS1 = Gs1Scheme()


def match_unit(expected: UnitCode, scan: str) -> ScanMatch:
    """:meth:`UnitCode.matches`: ``scan`` must be a GS1 DataMatrix (a symbology identifier
    of :data:`DATAMATRIX_IDENTIFIERS`) that :func:`gs1.parse` reads; then each of GTIN, expiry,
    lot and serial that differs from ``expected`` is a mismatch."""
    identifier = scan[:3]
    if identifier not in DATAMATRIX_IDENTIFIERS:
        return ScanMatch(
            None,
            error=f"symbology_identifier: expected a GS1 DataMatrix"
            f" ({', '.join(DATAMATRIX_IDENTIFIERS)}), got {identifier!r}",
        )
    try:
        parsed = parse(scan)
    except Gs1Error as exc:
        return ScanMatch(None, error=str(exc))
    return ScanMatch(parsed, compare_unit(expected, parsed))


def compare_unit(expected: UnitCode, parsed: object) -> tuple[str, ...]:
    """Each field of ``expected`` that ``parsed`` does not carry, as a mismatch message."""
    if not isinstance(parsed, UnitCode):
        return (f"code: expected a unit code (GTIN), got {type(parsed).__name__}",)
    pairs = (
        ("gtin", expected.gtin.value, parsed.gtin.value),
        ("expiry", _yymmdd(expected.expiry), _yymmdd(parsed.expiry)),
        ("lot", expected.lot, parsed.lot),
        ("serial", expected.serial, parsed.serial),
    )
    return tuple(
        f"{name}: expected {want!r}, got {got!r}" for name, want, got in pairs if want != got
    )


def _yymmdd(expiry: Expiry | None) -> str | None:
    return None if expiry is None else expiry.yymmdd()
