"""Read any code form and say what it identifies: :func:`read` and :func:`parse`.

Forms recognised, in this order:

=================  ==========================================================================
``epc_uri``        ``urn:epc:id:sgtin:…``, ``urn:epc:class:lgtin:…``, ``urn:epc:id:sscc:…``,
                   ``urn:epc:id:sgln:…`` (see :mod:`gs1.epc` for every scheme)
``digital_link``   ``http(s)://…/01/…`` (also after a plain-data symbology identifier such
                   as ``]d1`` or ``]Q1``), read strictly (:mod:`gs1.digital_link`)
``hri``            ``(01)…(21)…``
``key``            the digits of a GTIN: after ``]E0`` (13), ``]E4`` (8), ``]E3`` (13 + a
                   2 or 5 digit add-on), ``]I1`` (14); without an identifier 8, 12, 13 or 14
                   digits, or 18 for an SSCC
``element_string`` AI data as scanned, fields separated by GS, after nothing or a GS1
                   symbology identifier (``]d2``, ``]C1``, ``]Q3``, ``]e0``, ``]J1``, …;
                   :mod:`gs1.symbology` has the table)
=================  ==========================================================================

After a symbology identifier nothing is guessed: plain data (``]d1`` text that is no Digital
Link), a bare add-on or a symbology that carries no GS1 data raise :class:`NotGs1Error`.
Every AI is checked against GS1's Barcode Syntax Dictionary, and the message against its
association rules.

What a code identifies is one of :data:`Code`: a :class:`UnitCode` when it carries AI 01 (with
or without serial), an :class:`Sscc` for AI 00, a :class:`Gln` for AI 414 (or sgln). A code
with no key, or with two keys, is a :class:`RuleError`; anything unreadable a
:class:`FormatError`. All are :class:`Gs1Error`, and nothing else escapes for any string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from gs1.checkdigit import is_digits
from gs1.dates import Expiry
from gs1.digital_link import parse_digital_link
from gs1.elements import Element, check_rules, parse_element_string, parse_hri
from gs1.epc import EPC_PREFIX, parse_epc_uri, sgln_uri, sscc_uri
from gs1.errors import FormatError, NotGs1Error, RuleError
from gs1.keys import Gln, Gtin, Sscc
from gs1.symbology import SYMBOLOGIES, Content, identify, split_identifier
from gs1.unit import NOT_ON_A_UNIT, UNIT_FIELDS, UnitCode

Code = UnitCode | Sscc | Gln
"""What a code identifies: a trade item unit (or just its GTIN), a logistic unit, a place."""

MAX_DATA_LENGTH = 4096
"""Longest input read; a GS1 DataMatrix holds at most 3116 characters."""

_KEY_LENGTHS = frozenset({8, 12, 13, 14, 18})
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

    ``elements`` are all AIs found, in the order of the data (for a Digital Link: path, then
    query), including those that ``code`` does not keep (AIs of other keys).
    ``company_prefix_length`` is known only when the input was an EPC URI; ``add_on`` holds
    the 2 or 5 digit add-on of an ``]E3`` scan.
    """

    code: Code
    form: CodeForm
    elements: tuple[Element, ...]
    symbology_identifier: str | None = None
    company_prefix_length: int | None = None
    add_on: str | None = None


def parse(data: str) -> Code:
    """What ``data`` (any form, see module doc) identifies; :class:`Gs1Error` if garbage."""
    return read(data).code


@lru_cache(maxsize=1 << 12)
def read(data: str) -> Reading:
    """Read ``data`` in any form (see the module doc); raise :class:`Gs1Error` if garbage.

    Cached (readings are immutable): lines and servers read the same codes again and again.
    """
    if len(data) > MAX_DATA_LENGTH:
        raise FormatError("data", data, f"at most {MAX_DATA_LENGTH} characters")
    data = data.strip(" \t\r\n\x1d")  # scanners append CR/LF; a leading GS is FNC1
    if not data:
        raise FormatError("data", data, "a GS1 code")
    if data.startswith("]"):
        symbology, rest = split_identifier(data)
        if symbology is None:
            raise FormatError(
                "symbology_identifier", data[:3], "']' followed by a symbology code and modifier"
            )
        return _after_symbology(symbology, rest.strip(" \t\r\n\x1d"))
    if data.startswith(EPC_PREFIX):
        return _from_epc(data)
    if data.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
        return _from_digital_link(data, None)
    if data.startswith("("):
        return _reading(parse_hri(data), CodeForm.HRI, None)
    if len(data) in _KEY_LENGTHS and is_digits(data):
        return Reading(_bare_key(data), CodeForm.KEY, (), None)
    return _reading(parse_element_string(data), CodeForm.ELEMENT_STRING, None)


def _after_symbology(symbology: str, data: str) -> Reading:
    entry = identify(symbology)
    if entry.content is Content.AI_DATA:
        return _reading(parse_element_string(data), CodeForm.ELEMENT_STRING, symbology)
    if entry.content is Content.GTIN:
        counts = " or ".join(str(n) for n in entry.digits)
        if len(data) not in entry.digits or not is_digits(data):
            raise FormatError("data", data, f"{counts} digits after {symbology} ({entry.name})")
        digits, add_on = (data[:13], data[13:]) if symbology == "]E3" else (data, "")
        gtin = Gtin.parse(digits)
        return Reading(
            UnitCode(gtin), CodeForm.KEY, (Element("01", gtin.value),), symbology, None,
            add_on or None,
        )  # fmt: skip
    if entry.content is Content.ADD_ON:
        counts = " or ".join(str(n) for n in entry.digits)
        if len(data) not in entry.digits or not is_digits(data):
            raise FormatError("data", data, f"{counts} digits after {symbology} ({entry.name})")
        raise NotGs1Error(
            "data", data, f"a GS1 key; {symbology} is an add-on alone (read it as ]E3 with its "
            "EAN/UPC symbol)",
        )  # fmt: skip
    if entry.content is Content.PLAIN:
        if data.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
            return _from_digital_link(data, symbology)
        raise NotGs1Error(
            "data", data, f"GS1 data; {symbology} ({entry.name}) carries plain data, which is "
            "GS1 only as a GS1 Digital Link URI",
        )  # fmt: skip
    raise NotGs1Error(
        "symbology_identifier",
        symbology,
        f"a symbology identifier of GS1 data: {_GS1_IDENTIFIERS}",
    )


def _identifiers(content: Content) -> str:
    return ", ".join(s.identifier for s in SYMBOLOGIES.values() if s.content is content)


_GS1_IDENTIFIERS = (
    f"{_identifiers(Content.AI_DATA)} (AI data), {_identifiers(Content.GTIN)} (GTIN), "
    f"{_identifiers(Content.PLAIN)} (GS1 Digital Link)"
)
"""Every identifier after which GS1 data can come, from :mod:`gs1.symbology`'s table."""


def _from_digital_link(uri: str, symbology: str | None) -> Reading:
    link = parse_digital_link(uri)
    return _reading(link.elements, CodeForm.DIGITAL_LINK, symbology)


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


@lru_cache(maxsize=1024)
def _gtin(value: str) -> Gtin:
    """Cached: a batch repeats one GTIN (Gtin is immutable)."""
    return Gtin(value)


def _bare_key(digits: str) -> Code:
    if len(digits) == 18:
        return Sscc.parse(digits)
    return UnitCode(Gtin.parse(digits))


def _reading(elements: tuple[Element, ...], form: CodeForm, symbology: str | None) -> Reading:
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
        if element.ai not in UNIT_FIELDS and element.ai not in NOT_ON_A_UNIT
    )
    return UnitCode(
        gtin=_gtin(values["01"]),
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
