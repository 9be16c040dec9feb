"""The code a pharmaceutical unit carries: GTIN, serial, lot and expiry (and optional AIs).

:class:`UnitCode` is GS1's :class:`identity.UnitIdentity` (scheme ``"gs1"``, see
:mod:`gs1.scheme`): printers, verifiers, the ledger and the store take it through that
protocol.

Rendering is the per-unit hot path (one call per printed label), so :class:`UnitCode` keeps
it to string concatenation; validation happens once, in ``__post_init__``, with precompiled
patterns, so building a code from already valid parts (a :class:`~gs1.keys.Gtin` reused for a
whole batch, an :class:`~gs1.dates.Expiry`, a serial from the pool) costs a few microseconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gs1.ai import BY_AI
from gs1.cset82 import is_cset82, validate_cset82
from gs1.dates import Expiry
from gs1.digital_link import DEFAULT_DOMAIN, digital_link_from_elements
from gs1.elements import GS, Element, check_rules, encode, validate_element
from gs1.epc import lgtin_uri, sgtin_uri
from gs1.errors import FormatError, RuleError
from gs1.keys import Gtin
from identity import GS1_DATAMATRIX, PrintPayload, ScanMatch, UnitKey

UNIT_FIELDS = frozenset({"01", "10", "17", "21"})
"""AIs that are fields of :class:`UnitCode` itself rather than ``extra`` elements."""

NOT_ON_A_UNIT = frozenset({"00", "02", "37", "254", "414"})
"""AIs of logistic units and locations, which a unit code cannot carry."""


@dataclass(frozen=True, slots=True)
class UnitCode:
    """GTIN (AI 01), serial (21), lot (10), expiry (17), and ``extra`` AIs such as an NHRN
    (710-715), additional product ID (240) or production date (11).

    An :class:`identity.UnitIdentity` of scheme ``"gs1"``: ``key()`` is
    ``("gs1", gtin, serial)``, ``printer_payload()`` a GS1 DataMatrix of the element string,
    ``matches(scan)`` reads a GS1 DataMatrix scan and compares GTIN, expiry, lot and serial,
    ``epc_uri(cpl)`` the SGTIN URI.

    ``extra`` is kept sorted by AI, so equal codes compare equal however they were read.
    Build one from strings with :meth:`create`; the constructor takes typed parts.
    """

    gtin: Gtin
    serial: str | None = None
    lot: str | None = None
    expiry: Expiry | None = None
    extra: tuple[Element, ...] = ()

    def __post_init__(self) -> None:
        if self.serial is not None and not is_cset82(self.serial):
            validate_cset82(self.serial, field="serial")
        if self.lot is not None and not is_cset82(self.lot):
            validate_cset82(self.lot, field="lot")
        if self.extra:
            object.__setattr__(self, "extra", _checked_extra(self.extra))
            check_rules(self.elements())

    @classmethod
    def create(
        cls,
        gtin: str | Gtin,
        serial: str | None = None,
        lot: str | None = None,
        expiry: str | Expiry | dt.date | None = None,
        extra: tuple[Element, ...] | dict[str, str] = (),
    ) -> UnitCode:
        """Build from plain values: a GTIN-8/12/13/14, expiry as ``YYMMDD`` or a date."""
        if isinstance(expiry, str):
            expiry = Expiry.parse(expiry)
        elif isinstance(expiry, dt.date):
            expiry = Expiry.from_date(expiry)
        if isinstance(extra, dict):
            extra = tuple(Element(ai, value) for ai, value in extra.items())
        return cls(
            gtin=gtin if isinstance(gtin, Gtin) else Gtin.parse(gtin),
            serial=serial,
            lot=lot,
            expiry=expiry,
            extra=tuple(Element(*pair) for pair in extra),
        )

    def elements(self) -> tuple[Element, ...]:
        """The AIs in encoding order: fixed length first (01, 17, then fixed-length extras),
        then variable length (10, 21, then variable-length extras)."""
        fixed = [Element("01", self.gtin.value)]
        variable: list[Element] = []
        if self.expiry is not None:
            fixed.append(Element("17", self.expiry.yymmdd()))
        if self.lot is not None:
            variable.append(Element("10", self.lot))
        if self.serial is not None:
            variable.append(Element("21", self.serial))
        for element in self.extra:
            (variable if BY_AI[element.ai].fnc1_required else fixed).append(element)
        return (*fixed, *variable)

    def element_string(self, separator: str = GS) -> str:
        """The AI data as a scanner transmits it, without the leading FNC1:
        ``0109506000134352172811301 0LOT2611<GS>21A1B2C3`` (no space; <GS> is 0x1D)."""
        if self.extra:
            return encode(self.elements(), separator)
        parts = ["01", self.gtin.value]
        if self.expiry is not None:
            parts += ("17", self.expiry.yymmdd())
        if self.lot is not None:
            parts += ("10", self.lot)
            if self.serial is not None:
                parts.append(separator)
        if self.serial is not None:
            parts += ("21", self.serial)
        return "".join(parts)

    def datamatrix_data(self, fnc1: str = GS) -> str:
        """What to encode in a GS1 DataMatrix: FNC1 first, then the element string with FNC1
        as the separator. ``fnc1`` is the marker your encoder reads as the FNC1 codeword
        (default GS, 0x1D; e.g. ``"_1"`` for a ZPL ``^BX`` with ``_`` as escape character).
        """
        return fnc1 + self.element_string(fnc1)

    def hri(self) -> str:
        """``(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3``."""
        if self.extra:
            return "".join(f"({ai}){value}" for ai, value in self.elements())
        parts = ["(01)", self.gtin.value]
        if self.expiry is not None:
            parts += ("(17)", self.expiry.yymmdd())
        if self.lot is not None:
            parts += ("(10)", self.lot)
        if self.serial is not None:
            parts += ("(21)", self.serial)
        return "".join(parts)

    def digital_link(self, domain: str = DEFAULT_DOMAIN) -> str:
        """``https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}?17=YYMMDD``.

        ``domain`` may carry a path prefix (``https://example.com/dl``). The path holds the
        GTIN and the key qualifiers the standard puts there (lot, serial); the expiry and
        the extras go into the query, sorted by AI. An extra that a Digital Link cannot
        carry raises :class:`RuleError` naming it.
        """
        return digital_link_from_elements(self.elements(), domain)

    def sgtin_uri(self, company_prefix_length: int) -> str:
        """``urn:epc:id:sgtin:…``: needs a serial."""
        if self.serial is None:
            raise FormatError("serial", "", "a serial for an SGTIN EPC URI", "none")
        return sgtin_uri(self.gtin, self.serial, company_prefix_length)

    def lgtin_uri(self, company_prefix_length: int) -> str:
        """``urn:epc:class:lgtin:…``: needs a lot."""
        if self.lot is None:
            raise FormatError("lot", "", "a lot for an LGTIN EPC class URI", "none")
        return lgtin_uri(self.gtin, self.lot, company_prefix_length)

    # -- identity.UnitIdentity -------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "gs1"

    def key(self) -> UnitKey:
        """``("gs1", gtin, serial)``; needs a serial."""
        if self.serial is None:
            raise FormatError("serial", "", "a serial for a unit key", "none")
        return UnitKey("gs1", self.gtin.value, self.serial)

    def expiry_date(self) -> dt.date | None:
        """The expiry as a date (day 00: the last day of the month)."""
        return None if self.expiry is None else self.expiry.as_date()

    def printer_payload(self) -> PrintPayload:
        """A GS1 DataMatrix of :meth:`element_string` and the text fields ``product``,
        ``gtin``, ``hri``, ``serial``, ``lot``, ``expiry`` (``YYYY-MM-DD``, ``YYYY-MM`` for
        day 00) and ``expiry_yymmdd`` (those the code carries)."""
        gtin = self.gtin.value
        fields = {"product": gtin, "gtin": gtin, "hri": self.hri()}
        if self.serial is not None:
            fields["serial"] = self.serial
        if self.lot is not None:
            fields["lot"] = self.lot
        expiry = self.expiry
        if expiry is not None:
            month = f"{expiry.year:04d}-{expiry.month:02d}"
            fields["expiry"] = f"{month}-{expiry.day:02d}" if expiry.day else month
            fields["expiry_yymmdd"] = expiry.yymmdd()
        return PrintPayload(GS1_DATAMATRIX, self.element_string(), fields)

    def matches(self, scan: str) -> ScanMatch:
        """``scan`` (``]d2`` + data, as a decoder transmits it) against this code: an error
        unless it is a GS1 DataMatrix that :func:`gs1.parse` reads; a mismatch for each of
        GTIN, expiry, lot and serial that differs."""
        from gs1.scheme import match_unit  # gs1.scheme reads with gs1.reading, which needs us

        return match_unit(self, scan)

    def epc_uri(self, company_prefix_length: int | None = None) -> str:
        """The SGTIN EPC URI (:meth:`sgtin_uri`); needs the company prefix length."""
        if company_prefix_length is None:
            raise FormatError(
                "company_prefix_length", "", "the GS1 company prefix length (6 to 12)", "none"
            )
        return self.sgtin_uri(company_prefix_length)


def _checked_extra(extra: tuple[Element, ...]) -> tuple[Element, ...]:
    for ai, value in extra:
        if ai in UNIT_FIELDS or ai in NOT_ON_A_UNIT:
            raise RuleError(
                "extra",
                ai,
                "AIs other than 01, 10, 17, 21 (fields of the unit code) and 00, 02, 37, "
                "254, 414 (not on a unit)",
                f"AI ({ai})",
            )
        validate_element(ai, value)
    return tuple(sorted(Element(ai, value) for ai, value in extra))
