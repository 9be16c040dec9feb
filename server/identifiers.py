"""Canonical keys for the objects EPCIS events name.

Events name the same object in several ways (EPC URI ``urn:epc:id:sgtin:…``, GS1 Digital
Link ``https://id.gs1.org/01/…/21/…``). The store keys every object by one canonical text,
written as a GS1 HRI string so that it is readable and unambiguous (the GTIN and SSCC are
fixed length):

* unit (SGTIN): ``(01)09506000134352(21)A1B2C3``
* container (SSCC): ``(00)106141412345678908``
* lot class (LGTIN): ``(01)09506000134352(10)LOT2611``
* a unit of another code scheme (:mod:`identity`, e.g. ``urn:example:toy:123456.0000000042``
  read by a registered scheme's ``parse_epc``): ``{scheme}:{product}:{serial}``;
* anything else (GIAI, GRAI, private URIs): the text as received.

Every identifier is parsed by :func:`gs1.identifiers.parse_identifier` (the same rules as
:mod:`gs1` and the event hash); this module only turns what it returns into store keys.
Parsing is on the ingest hot path (several calls per EPC: the event's index rows,
commissioning, packing), so results are memoised (bounded LRU caches).
:func:`refusal` says why an identifier that claims to be GS1 is not acceptable (ingest
dead-letters the document with that reason); ``None`` for a valid GS1 identifier and for text
that is not GS1 at all (private URIs are kept as received).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import gs1
from gs1.identifiers import IdentifierUri, parse_identifier, plain_sgtin
from identity import CodeScheme, check_key, schemes

SGTIN_URN = "urn:epc:id:sgtin:"
SGTIN_PATTERN_URN = "urn:epc:idpat:sgtin:"


GS1 = "gs1"


class UnitKey(NamedTuple):
    """A serialised unit: GTIN (14 digits) and serial (AI 21), or, for another code scheme
    (:mod:`identity`), its product code and serial; ``scheme`` is ``units.scheme``.

    A named tuple, not a dataclass: ingest hashes and compares one per EPC per event, and
    a tuple does both in C.
    """

    gtin: str
    serial: str
    scheme: str = GS1

    @property
    def key(self) -> str:
        if self.scheme == GS1:
            return f"(01){self.gtin}(21){self.serial}"
        return f"{self.scheme}:{self.gtin}:{self.serial}"


def other_schemes() -> tuple[CodeScheme, ...]:
    """The registered code schemes other than GS1 (asked for EPCs GS1 does not read)."""
    return tuple(scheme for scheme in schemes() if scheme.name != GS1)


def forget_parsed() -> None:
    """Empty the identifier caches: call after registering a code scheme on a running
    server (schemes are meant to be registered at start-up, before ingest)."""
    for cached in (parse_unit, parse_sscc, canonical):
        cached.cache_clear()


def _other_unit(text: str) -> UnitKey | None:
    """The unit a registered non-GS1 scheme reads in ``text`` (ValueError if the store
    cannot keep its key), None if none does."""
    for scheme in other_schemes():
        found = scheme.parse_epc(text)
        if found is not None:
            check_key(found)
            if ":" in found.product:
                raise ValueError(
                    f"{found.scheme} unit product: expected no ':', got {found.product!r}"
                )
            return UnitKey(found.product, found.serial, found.scheme)
    return None


def _identifier(text: str) -> IdentifierUri | None:
    try:
        return parse_identifier(text)
    except gs1.Gs1Error:
        return None


def refusal(text: str) -> str | None:
    """Why ``text``, which claims to be a GS1 identifier, is refused; None if acceptable."""
    if plain_sgtin(text) is not None:  # the usual unit EPC: accepted by gs1's rules at once
        return None
    try:
        identifier = parse_identifier(text)
    except gs1.Gs1Error as exc:
        return str(exc)
    if identifier is None:
        try:
            _other_unit(text)
        except ValueError as exc:
            return str(exc)
    return None


@lru_cache(maxsize=1 << 16)
def parse_unit(epc: str) -> UnitKey | None:
    """The unit an SGTIN EPC URI or Digital Link (AI 01 + 21) names, or a registered
    scheme's unit EPC; None for any other EPC, and for identifiers refused (see
    :func:`refusal`)."""
    plain = plain_sgtin(epc)
    if plain is not None:
        return UnitKey(plain[0].value, plain[1])
    identifier = _identifier(epc)
    if identifier is None:
        try:
            return _other_unit(epc)
        except ValueError:
            return None
    if identifier.kind != "id" or identifier.ais[:1] != ("01",):
        return None
    serial = identifier.value("21")
    if serial is None:
        return None
    return UnitKey(identifier.elements[0].value, serial)


@lru_cache(maxsize=1 << 14)
def parse_sscc(epc: str) -> str | None:
    """The 18-digit SSCC an SSCC EPC URI or Digital Link names; None for any other EPC."""
    identifier = _identifier(epc)
    if identifier is None or identifier.ais != ("00",):
        return None
    return identifier.elements[0].value


def parse_lot_class(epc_class: str) -> tuple[str, str] | None:
    """(GTIN, lot) of an LGTIN class URI or Digital Link with AI 10 (no serial); None
    otherwise."""
    identifier = _identifier(epc_class)
    if identifier is None or identifier.ais[:1] != ("01",) or identifier.value("21"):
        return None
    lot = identifier.value("10")
    return None if lot is None else (identifier.elements[0].value, lot)


def sscc_key(sscc: str) -> str:
    return f"(00){sscc}"


def lot_key(gtin: str, lot: str) -> str:
    return f"(01){gtin}(10){lot}"


@lru_cache(maxsize=1 << 16)
def canonical(epc: str) -> str:
    """The canonical key of any EPC or EPC class."""
    unit = parse_unit(epc)
    if unit is not None:
        return unit.key
    sscc = parse_sscc(epc)
    if sscc is not None:
        return sscc_key(sscc)
    lot = parse_lot_class(epc)
    if lot is not None:
        return lot_key(*lot)
    return epc


def unit_of_key(key: str) -> UnitKey | None:
    """The unit a canonical key ``(01){gtin}(21){serial}`` (or ``{scheme}:{product}:{serial}``
    of a registered scheme) names; None for other keys."""
    if len(key) > 22 and key.startswith("(01)") and key[18:22] == "(21)" and key[4:18].isdigit():
        return UnitKey(key[4:18], key[22:])
    scheme, _, rest = key.partition(":")
    if rest and scheme != GS1 and any(s.name == scheme for s in other_schemes()):
        product, _, serial = rest.partition(":")
        if product and serial:
            return UnitKey(product, serial, scheme)
    return None


def key_pattern(epc_pattern: str) -> str | None:
    """A SQL LIKE pattern for an EPC pattern URI (``urn:epc:idpat:sgtin:0614141.107346.*``).

    None when ``epc_pattern`` is no SGTIN pattern (match it exactly by :func:`canonical`).
    """
    if not epc_pattern.startswith(SGTIN_PATTERN_URN):
        return None
    identifier = _identifier(epc_pattern)
    if identifier is None or identifier.kind != "idpat":
        return None
    if identifier.elements:
        return f"(01){identifier.elements[0].value}(21)%"
    prefix = epc_pattern[len(SGTIN_PATTERN_URN) :].partition(".")[0]
    if prefix == "*":
        return None
    # Any item of this company prefix: the indicator digit comes first, so match by
    # position: (01) + indicator + prefix.
    return "(01)_" + _like_escape(prefix) + "%"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def unit_from_code(text: str) -> UnitKey | None:
    """The unit named by any code form a scanner or a person gives (element string, HRI,
    Digital Link, EPC URI); None when the text names no serialised unit."""
    unit = parse_unit(text)
    if unit is not None:
        return unit
    try:
        code = gs1.parse(text)
    except gs1.Gs1Error:
        return None
    if not isinstance(code, gs1.UnitCode) or not code.serial:
        return None
    return UnitKey(code.gtin.value, code.serial)
