"""Read any code form and say what it identifies: :func:`read` and :func:`parse`.

Forms recognised, in this order:

=================  ==========================================================================
``epc_uri``        ``urn:epc:id:sgtin:…``, ``urn:epc:class:lgtin:…``, ``urn:epc:id:sscc:…``,
                   ``urn:epc:id:sgln:…``
``digital_link``   ``http(s)://…/01/…`` (also after a ``]d1``/``]Q1`` symbology identifier)
``hri``            ``(01)…(21)…``
``key``            the bare digits of a GTIN (8, 12, 14), GTIN-13 or SSCC (18), after
                   nothing or an EAN/ITF symbology identifier (``]E0``, ``]E4``, ``]I1``)
``element_string`` AI data as scanned, fields separated by GS, after nothing or a GS1
                   symbology identifier (``]d2``, ``]C1``, ``]Q3``, ``]e0``)
=================  ==========================================================================

What a code identifies is one of :data:`Code`: a :class:`UnitCode` when it carries AI 01 (with
or without serial), an :class:`Sscc` for AI 00, a :class:`Gln` for AI 414 (or sgln). A code
with no key, or with two keys, is a :class:`RuleError`; anything unreadable a
:class:`FormatError`. Both are :class:`Gs1Error`, and nothing else escapes for any string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from biip import ParseError
from biip.symbology import SymbologyIdentifier

from gs1.ai import BY_AI
from gs1.dates import Expiry
from gs1.elements import (
    Element,
    check_rules,
    parse_digital_link,
    parse_element_string,
    parse_hri,
    validate_element,
)
from gs1.epc import EPC_PREFIX, parse_epc_uri, sgln_uri, sscc_uri
from gs1.errors import FormatError, RuleError
from gs1.keys import Gln, Gtin, Sscc
from gs1.unit import NOT_ON_A_UNIT, UNIT_FIELDS, UnitCode

Code = UnitCode | Sscc | Gln
"""What a code identifies: a trade item unit (or just its GTIN), a logistic unit, a place."""

MAX_DATA_LENGTH = 4096
"""Longest input read; a GS1 DataMatrix holds at most 3116 characters."""

GS1_ELEMENT_SYMBOLOGIES = frozenset({"]d2", "]C1", "]Q3", "]e0"})
KEY_SYMBOLOGIES = frozenset({"]E0", "]E3", "]E4", "]I1"})
URI_SYMBOLOGIES = frozenset({"]d1", "]Q1"})
_GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_KEY_LENGTHS = _GTIN_LENGTHS | {18}
_KEYS = ("01", "00", "414")


class CodeForm(StrEnum):
    ELEMENT_STRING = "element_string"
    HRI = "hri"
    DIGITAL_LINK = "digital_link"
    EPC_URI = "epc_uri"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything read from one code.

    ``elements`` are all AIs found, in the order of the data, including AIs that are outside
    :mod:`gs1.ai` (biip validated those) and that ``code`` therefore does not keep.
    ``company_prefix_length`` is known only when the input was an EPC URI.
    """

    code: Code
    form: CodeForm
    elements: tuple[Element, ...]
    symbology_identifier: str | None = None
    company_prefix_length: int | None = None


def parse(data: str) -> Code:
    """What ``data`` (any form, see module doc) identifies; :class:`Gs1Error` if garbage."""
    return read(data).code


def read(data: str) -> Reading:
    """Read ``data`` in any form (see the module doc); raise :class:`Gs1Error` if garbage."""
    if len(data) > MAX_DATA_LENGTH:
        raise FormatError("data", data, f"at most {MAX_DATA_LENGTH} characters")
    data = data.strip()  # scanners append CR/LF; str.strip also drops GS at either end
    if not data:
        raise FormatError("data", data, "a GS1 code")
    symbology = None
    if data.startswith("]"):
        symbology = _symbology(data)
        data = data[len(symbology) :]
    if data.startswith(EPC_PREFIX) and symbology is None:
        return _from_epc(data)
    if data.startswith(("http://", "https://", "HTTP://", "HTTPS://")) and (
        symbology is None or symbology in URI_SYMBOLOGIES or symbology in GS1_ELEMENT_SYMBOLOGIES
    ):
        return _reading(parse_digital_link(data), CodeForm.DIGITAL_LINK, symbology)
    if data.startswith("(") and symbology is None:
        return _reading(parse_hri(data), CodeForm.HRI, symbology)
    if symbology is None or symbology in KEY_SYMBOLOGIES:
        lengths = _KEY_LENGTHS if symbology is None else _GTIN_LENGTHS
        if len(data) in lengths and data.isascii() and data.isdigit():
            return Reading(_bare_key(data), CodeForm.KEY, (), symbology)
        if symbology is not None:
            raise FormatError("data", data, f"a GTIN after symbology identifier {symbology}")
    if symbology is not None and symbology not in GS1_ELEMENT_SYMBOLOGIES:
        raise FormatError(
            "symbology_identifier",
            symbology,
            "a GS1 symbology: ]d2, ]C1, ]Q3, ]e0 (AI data), ]E0, ]E4, ]I1 (GTIN), "
            "]d1, ]Q1 (Digital Link)",
        )
    return _reading(parse_element_string(data), CodeForm.ELEMENT_STRING, symbology)


def epc_uri(code: Code, company_prefix_length: int) -> str:
    """The EPC URI of what ``code`` identifies: sgtin for a serialised unit, lgtin for a
    GTIN with lot only, sscc, sgln. A bare GTIN has none (FormatError)."""
    if isinstance(code, Sscc):
        return sscc_uri(code, company_prefix_length)
    if isinstance(code, Gln):
        return sgln_uri(code, company_prefix_length)
    if code.serial is not None:
        return code.sgtin_uri(company_prefix_length)
    if code.lot is not None:
        return code.lgtin_uri(company_prefix_length)
    raise FormatError("serial", "", "a serial or a lot for an EPC URI of a GTIN", "neither")


def _symbology(data: str) -> str:
    try:
        return SymbologyIdentifier.extract(data).value
    except (ParseError, ValueError, IndexError) as exc:
        raise FormatError(
            "symbology_identifier", data[:4], "']' followed by a symbology code and modifier"
        ) from exc


def _bare_key(digits: str) -> Code:
    if len(digits) == 18:
        return Sscc.parse(digits)
    return UnitCode(Gtin.parse(digits))


def _reading(elements: tuple[Element, ...], form: CodeForm, symbology: str | None) -> Reading:
    for ai, value in elements:
        if ai in BY_AI:
            validate_element(ai, value)
    unique = check_rules(elements)
    return Reading(_code(unique), form, unique, symbology)


def _code(elements: tuple[Element, ...]) -> Code:
    values = {ai: value for ai, value in elements}
    keys = [ai for ai in _KEYS if ai in values]
    if len(keys) != 1:
        raise RuleError(
            "data",
            "".join(f"({ai}){value}" for ai, value in elements),
            "exactly one key: AI (01) GTIN, (00) SSCC or (414) GLN",
            "none" if not keys else " and ".join(f"AI ({ai})" for ai in keys),
        )
    if keys[0] == "00":
        return Sscc(values["00"])
    if keys[0] == "414":
        return Gln(values["414"])
    expiry = values.get("17")
    extra = tuple(
        element
        for element in elements
        if element.ai in BY_AI and element.ai not in UNIT_FIELDS and element.ai not in NOT_ON_A_UNIT
    )
    return UnitCode(
        gtin=Gtin(values["01"]),
        serial=values.get("21"),
        lot=values.get("10"),
        expiry=None if expiry is None else Expiry.parse(expiry),
        extra=extra,
    )


def _from_epc(uri: str) -> Reading:
    identity = parse_epc_uri(uri)
    code: Code
    elements: tuple[Element, ...]
    if identity.gtin is not None:
        code = UnitCode(identity.gtin, serial=identity.serial, lot=identity.lot)
        elements = (Element("01", identity.gtin.value),)
        if identity.lot is not None:
            elements += (Element("10", identity.lot),)
        if identity.serial is not None:
            elements += (Element("21", identity.serial),)
    elif identity.sscc is not None:
        code = identity.sscc
        elements = (Element("00", identity.sscc.value),)
    else:
        assert identity.gln is not None
        code = identity.gln
        elements = (Element("414", identity.gln.value),)
        if identity.extension is not None and identity.extension != "0":
            elements += (Element("254", identity.extension),)
    return Reading(code, CodeForm.EPC_URI, elements, None, identity.company_prefix_length)
