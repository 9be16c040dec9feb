"""Canonical keys for the objects EPCIS events name.

Events name the same object in several ways (EPC URI ``urn:epc:id:sgtin:…``, GS1 Digital
Link ``https://id.gs1.org/01/…/21/…``). The store keys every object by one canonical text,
written as a GS1 HRI string so that it is readable and unambiguous (the GTIN and SSCC are
fixed length):

* unit (SGTIN): ``(01)09506000134352(21)A1B2C3``
* container (SSCC): ``(00)106141412345678908``
* lot class (LGTIN): ``(01)09506000134352(10)LOT2611``
* anything else (GIAI, GRAI, private URIs): the text as received.

Parsing the URN forms is on the ingest hot path (several calls per EPC: the event's index
rows, commissioning, packing), so results are memoised (bounded LRU caches) and the class
part of a URN (company prefix and item reference) is turned into a GTIN once; the check
digit comes from :func:`gs1.check_digit`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

import gs1

SGTIN_URN = "urn:epc:id:sgtin:"
SSCC_URN = "urn:epc:id:sscc:"
LGTIN_URN = "urn:epc:class:lgtin:"
SGTIN_PATTERN_URN = "urn:epc:idpat:sgtin:"


class UnitKey(NamedTuple):
    """A serialised unit: GTIN (14 digits) and serial (AI 21).

    A named tuple, not a dataclass: ingest hashes and compares one per EPC per event, and
    a tuple does both in C.
    """

    gtin: str
    serial: str

    @property
    def key(self) -> str:
        return f"(01){self.gtin}(21){self.serial}"


@lru_cache(maxsize=4096)
def _gtin(company_prefix: str, item_reference: str) -> str | None:
    """GTIN-14 from the two numeric parts of an SGTIN/LGTIN URN, or None if malformed."""
    if not (company_prefix.isdigit() and item_reference.isdigit()):
        return None
    if len(company_prefix) + len(item_reference) != 13 or not 6 <= len(company_prefix) <= 12:
        return None
    body = item_reference[0] + company_prefix + item_reference[1:]
    return body + gs1.check_digit(body)


def _sscc(body: str) -> str | None:
    company_prefix, _, serial_reference = body.partition(".")
    digits = company_prefix + serial_reference
    if not (company_prefix.isdigit() and serial_reference.isdigit() and len(digits) == 17):
        return None
    body17 = serial_reference[0] + company_prefix + serial_reference[1:]
    return body17 + gs1.check_digit(body17)


@lru_cache(maxsize=1 << 16)
def parse_unit(epc: str) -> UnitKey | None:
    """The unit an SGTIN EPC URI or Digital Link names; None for any other EPC."""
    if epc.startswith(SGTIN_URN):
        parts = epc[len(SGTIN_URN) :].split(".", 2)
        if len(parts) != 3 or not parts[2]:
            return None
        gtin = _gtin(parts[0], parts[1])
        if gtin is None:
            return None
        serial = unquote(parts[2]) if "%" in parts[2] else parts[2]
        return UnitKey(gtin, serial) if len(serial) <= 20 else None
    if epc.startswith(("https://", "http://")):
        code = _parse_gs1(epc)
        code_gtin = getattr(code, "gtin", None)
        code_serial = getattr(code, "serial", None)
        if code_gtin is not None and code_serial:
            return UnitKey(str(getattr(code_gtin, "value", code_gtin)), str(code_serial))
    return None


@lru_cache(maxsize=1 << 14)
def parse_sscc(epc: str) -> str | None:
    """The 18-digit SSCC an SSCC EPC URI or Digital Link names; None for any other EPC."""
    if epc.startswith(SSCC_URN):
        return _sscc(epc[len(SSCC_URN) :])
    if epc.startswith(("https://", "http://")):
        code = _parse_gs1(epc)
        if isinstance(code, gs1.Sscc):
            return code.value
    return None


def parse_lot_class(epc_class: str) -> tuple[str, str] | None:
    """(GTIN, lot) of an LGTIN class URI or Digital Link with AI 10; None otherwise."""
    if epc_class.startswith(LGTIN_URN):
        parts = epc_class[len(LGTIN_URN) :].split(".", 2)
        if len(parts) != 3 or not parts[2]:
            return None
        gtin = _gtin(parts[0], parts[1])
        return None if gtin is None else (gtin, unquote(parts[2]))
    if epc_class.startswith(("https://", "http://")):
        code = _parse_gs1(epc_class)
        gtin = getattr(code, "gtin", None)
        lot = getattr(code, "lot", None)
        if gtin is not None and lot and getattr(code, "serial", None) is None:
            return str(getattr(gtin, "value", gtin)), str(lot)
    return None


def _parse_gs1(text: str) -> object | None:
    try:
        return gs1.parse(text)
    except gs1.Gs1Error:
        return None


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
    """The unit a canonical key ``(01){gtin}(21){serial}`` names; None for other keys."""
    if len(key) > 22 and key.startswith("(01)") and key[18:22] == "(21)" and key[4:18].isdigit():
        return UnitKey(key[4:18], key[22:])
    return None


def key_pattern(epc_pattern: str) -> str | None:
    """A SQL LIKE pattern for an EPC pattern URI (``urn:epc:idpat:sgtin:0614141.107346.*``).

    None when ``epc_pattern`` is no pattern (match it exactly by :func:`canonical`).
    """
    if not epc_pattern.startswith(SGTIN_PATTERN_URN):
        return None
    parts = epc_pattern[len(SGTIN_PATTERN_URN) :].split(".")
    if len(parts) != 3 or parts[2] != "*":
        return None
    if parts[1] == "*":
        if not parts[0].isdigit():
            return None
        # Any item of this company prefix: the indicator digit comes first, so match by
        # position: (01) + indicator + prefix.
        return "(01)_" + _like_escape(parts[0]) + "%"
    gtin = _gtin(parts[0], parts[1])
    return None if gtin is None else f"(01){gtin}(21)%"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def unit_from_code(text: str) -> UnitKey | None:
    """The unit named by any code form a scanner or a person gives (element string, HRI,
    Digital Link, EPC URI); None when the text names no serialised unit."""
    unit = parse_unit(text)
    if unit is not None:
        return unit
    code = _parse_gs1(text)
    gtin = getattr(code, "gtin", None)
    serial = getattr(code, "serial", None)
    if gtin is None or not serial:
        return None
    return UnitKey(str(getattr(gtin, "value", gtin)), str(serial))
