"""EPC URIs (GS1 EPC Tag Data Standard 2.x, sections 6-8 and annex A): the one parser.

Pure identity URIs ``urn:epc:id:SCHEME:…`` for sgtin, sscc, sgln, grai, giai, gsrn, gsrnp,
gdti, cpi, sgcn, ginc, gsin, itip, upui and pgln; the class URI ``urn:epc:class:lgtin:…``;
and pattern URIs ``urn:epc:idpat:SCHEME:…`` whose trailing parts are ``*``. Each is turned
into the GS1 element strings it stands for (sgtin: AI 01 + 21; grai: AI 8003; …), and every
element is checked against GS1's Barcode Syntax Dictionary exactly as a scanned code would
be (check digits are computed, so they are always right; serial character sets, lengths,
piece/total of an ITIP, the CPI serial without leading zeros are checked).

Components follow TDS annex A: a company prefix of 6 to 12 digits; serials, lots, GLN
extensions and other alphanumeric parts are characters of CSET 82, the seven that URIs
reserve written as escapes (``"`` %22, ``%`` %25, ``&`` %26, ``/`` %2F, ``<`` %3C, ``>`` %3E,
``?`` %3F; hex digits in either case). Any other character, and any other escape (``%41``,
``%7E``, ``%80``), is refused: ``urn:epc:id:sgtin:9506000.013435.A~B`` is not an EPC.
Rendering escapes exactly those seven, with upper-case hex.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from gs1.checkdigit import check_digit
from gs1.cset82 import validate_cset82
from gs1.elements import Element, validate_element
from gs1.errors import FormatError, quote
from gs1.keys import Gln, Gtin, Sscc, require_company_prefix_length

EPC_PREFIX = "urn:epc:"
MAX_EPC_LENGTH = 256

_ESCAPES = str.maketrans(
    {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
)
_UNESCAPES = {"22": '"', "25": "%", "26": "&", "2F": "/", "3C": "<", "3E": ">", "3F": "?"}
_COMPONENT = re.compile(r"(?:[!'()*+,\-.0-9:;=A-Z_a-z]|%[0-9A-Fa-f]{2})+\Z")
_CPI_COMPONENT = re.compile(r"(?:[0-9A-Z\-]|%2[3Ff])+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
_URI = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.*)\Z", re.DOTALL)

_EXPECTED = (
    "an EPC URI (TDS 2.x): urn:epc:id:SCHEME:… for sgtin, sscc, sgln, grai, giai, gsrn, "
    "gsrnp, gdti, cpi, sgcn, ginc, gsin, itip, upui, pgln; urn:epc:class:lgtin:…; or "
    "urn:epc:idpat:SCHEME:… with a 6 to 12 digit company prefix"
)

# Number of '.'-separated parts of each pure identity scheme.
_PARTS = {
    "sgtin": 3, "sscc": 2, "sgln": 3, "grai": 3, "giai": 2, "gsrn": 2, "gsrnp": 2, "gdti": 3,
    "cpi": 3, "sgcn": 3, "ginc": 2, "gsin": 2, "itip": 5, "upui": 3, "pgln": 2,
}  # fmt: skip


def escape(value: str) -> str:
    """Escape a CSET 82 value for an EPC URI component (TDS table A-1)."""
    return value.translate(_ESCAPES)


def unescape(component: str, *, field: str, uri: str, max_length: int = 20) -> str:
    """Decode a GS3A3 component: only the seven reserved characters may be escaped; the
    result must be 1 to ``max_length`` characters of CSET 82."""
    if not _COMPONENT.match(component):
        raise FormatError(
            field,
            uri,
            'CSET 82 characters, with " % & / < > ? escaped as %22 %25 %26 %2F %3C %3E %3F',
            f"{quote(component)} in {quote(uri)}",
        )
    value = component
    if "%" in component:
        parts = component.split("%")
        decoded = [parts[0]]
        for part in parts[1:]:
            char = _UNESCAPES.get(part[:2].upper())
            if char is None:
                raise FormatError(
                    field,
                    uri,
                    'escapes only for " % & / < > ? (%22 %25 %26 %2F %3C %3E %3F)',
                    f"%{part[:2]} in {quote(uri)}",
                )
            decoded.append(char + part[2:])
        value = "".join(decoded)
    try:
        return validate_cset82(value, field=field, max_length=max_length)
    except FormatError as exc:
        raise FormatError(field, uri, exc.expected, exc.got) from exc


def _gtin_parts(gtin: Gtin, company_prefix_length: int) -> str:
    require_company_prefix_length(company_prefix_length)
    value = gtin.value
    cut = 1 + company_prefix_length
    return f"{value[1:cut]}.{value[0]}{value[cut:13]}"


def sgtin_uri(gtin: Gtin, serial: str, company_prefix_length: int) -> str:
    validate_cset82(serial, field="serial")
    return f"urn:epc:id:sgtin:{_gtin_parts(gtin, company_prefix_length)}.{escape(serial)}"


def lgtin_uri(gtin: Gtin, lot: str, company_prefix_length: int) -> str:
    validate_cset82(lot, field="lot")
    return f"urn:epc:class:lgtin:{_gtin_parts(gtin, company_prefix_length)}.{escape(lot)}"


def sscc_uri(sscc: Sscc, company_prefix_length: int) -> str:
    require_company_prefix_length(company_prefix_length)
    value = sscc.value
    cut = 1 + company_prefix_length
    return f"urn:epc:id:sscc:{value[1:cut]}.{value[0]}{value[cut:17]}"


def sgln_uri(gln: Gln, company_prefix_length: int, extension: str = "0") -> str:
    """``extension`` "0" means the GLN itself, without an extension component (AI 254)."""
    require_company_prefix_length(company_prefix_length)
    validate_cset82(extension, field="gln_extension")
    value = gln.value
    return (
        f"urn:epc:id:sgln:{value[:company_prefix_length]}."
        f"{value[company_prefix_length:12]}.{escape(extension)}"
    )


@dataclass(frozen=True, slots=True)
class EpcIdentity:
    """What an EPC URI names.

    ``kind`` is ``id`` (pure identity), ``class`` (lgtin) or ``idpat`` (pattern). ``elements``
    are the GS1 element strings it stands for (for a pattern: those of the class it matches,
    empty when only the company prefix is given). ``gtin``/``serial``/``lot``/``sscc``/
    ``gln``/``extension`` are filled for the schemes serialtrace tracks (``extension`` "0":
    none).
    """

    scheme: str
    company_prefix_length: int
    gtin: Gtin | None = None
    serial: str | None = None
    lot: str | None = None
    sscc: Sscc | None = None
    gln: Gln | None = None
    extension: str | None = None
    kind: str = "id"
    elements: tuple[Element, ...] = ()
    company_prefix: str = ""
    wildcard: bool = False


_Parser = Callable[[str, list[str]], EpcIdentity]


def _fail(uri: str, expected: str = _EXPECTED, got: str | None = None) -> FormatError:
    return FormatError("epc_uri", uri, expected, got)


def _prefix(uri: str, company_prefix: str) -> str:
    if not (_DIGITS.match(company_prefix) and 6 <= len(company_prefix) <= 12):
        raise _fail(uri, "a company prefix of 6 to 12 digits", f"{quote(company_prefix)}")
    return company_prefix


def _digits_total(uri: str, prefix: str, reference: str, total: int, what: str) -> None:
    if reference and not _DIGITS.match(reference):
        raise _fail(uri, f"a {what} of digits", quote(reference))
    if len(prefix) + len(reference) != total:
        raise _fail(
            uri,
            f"company prefix and {what} of {total} digits together",
            f"{len(prefix)} + {len(reference)} digits in {quote(uri)}",
        )


def _with_check_digit(payload: str) -> str:
    return payload + check_digit(payload)


@lru_cache(maxsize=1 << 14)
def parse_epc_uri(uri: str) -> EpcIdentity:
    """Parse any EPC pure identity, class or pattern URI exactly; FormatError otherwise.

    Cached: the same read points, locations and classes repeat on every event.
    """
    if len(uri) > MAX_EPC_LENGTH:
        raise _fail(uri, f"an EPC URI of at most {MAX_EPC_LENGTH} characters")
    plain = plain_sgtin(uri)
    if plain is not None:  # the common case: no escapes; the same rules, checked at once
        gtin, serial = plain
        prefix = uri[17 : uri.index(".", 17)]
        return EpcIdentity(
            "sgtin",
            len(prefix),
            gtin=gtin,
            serial=serial,
            elements=(Element("01", gtin.value), Element("21", serial)),
            company_prefix=prefix,
        )
    match = _URI.match(uri)
    if match is None:
        raise _fail(uri)
    kind, scheme, body = match.groups()
    if kind == "class":
        if scheme != "lgtin":
            raise _fail(uri, "the EPC class scheme lgtin")
        parts = body.split(".", 2)
        if len(parts) != 3:
            raise _fail(uri, "urn:epc:class:lgtin:CompanyPrefix.ItemRef.Lot")
        gtin = _gtin(uri, parts[0], parts[1])
        lot = unescape(parts[2], field="lot", uri=uri)
        return _identity(
            uri, "lgtin", "class", parts[0], (("01", gtin.value), ("10", lot)), gtin=gtin, lot=lot
        )
    if scheme not in _PARTS:
        raise _fail(uri)
    parts = body.split(".", _PARTS[scheme] - 1)
    if len(parts) != _PARTS[scheme]:
        raise _fail(uri, f"{_PARTS[scheme]} parts separated by '.' for {scheme}")
    if kind == "idpat":
        return _pattern(uri, scheme, parts)
    return _PARSERS[scheme](uri, parts)


def _identity(
    uri: str,
    scheme: str,
    kind: str,
    prefix: str,
    pairs: tuple[tuple[str, str], ...],
    **fields: object,
) -> EpcIdentity:
    elements = tuple(Element(ai, value) for ai, value in pairs)
    for ai, value in elements:
        try:
            validate_element(ai, value)
        except FormatError as exc:
            raise FormatError(exc.field, uri, exc.expected, f"{exc.got} in {quote(uri)}") from exc
    return EpcIdentity(
        scheme,
        len(prefix),
        kind=kind,
        elements=elements,
        company_prefix=prefix,
        **fields,  # type: ignore[arg-type]
    )


# An SGTIN whose serial has no escapes: CSET 82 less the seven escaped characters, 1 to 20.
_PLAIN_SGTIN = re.compile(
    r"urn:epc:id:sgtin:([0-9]{6,12})\.([0-9]{1,7})\.([!'()*+,\-.0-9:;=A-Z_a-z]{1,20})\Z"
)


def plain_sgtin(uri: str) -> tuple[Gtin, str] | None:
    """(GTIN, serial) of an SGTIN URI whose serial needs no escapes, checked by the same rules
    as :func:`parse_epc_uri` in one regular expression; None for any other text (which
    :func:`parse_epc_uri` then decides). The ingest hot path: one call per unit."""
    match = _PLAIN_SGTIN.match(uri)
    if match is None:
        return None
    prefix, reference, serial = match.groups()
    if len(prefix) + len(reference) != 13:
        return None
    return _cached_gtin(prefix, reference), serial


@lru_cache(maxsize=4096)
def _cached_gtin(prefix: str, reference: str) -> Gtin:
    return Gtin(_with_check_digit(reference[0] + prefix + reference[1:]))


def _gtin(uri: str, prefix: str, reference: str) -> Gtin:
    _prefix(uri, prefix)
    _digits_total(uri, prefix, reference, 13, "indicator and item reference")
    return Gtin(_with_check_digit(reference[0] + prefix + reference[1:]))


def _key12(uri: str, prefix: str, reference: str, what: str) -> str:
    """A 13-digit key from company prefix + reference (12 digits) + check digit."""
    _prefix(uri, prefix)
    _digits_total(uri, prefix, reference, 12, what)
    return _with_check_digit(prefix + reference)


def _sgtin(uri: str, p: list[str]) -> EpcIdentity:
    gtin = _gtin(uri, p[0], p[1])
    serial = unescape(p[2], field="serial", uri=uri)
    return _identity(
        uri, "sgtin", "id", p[0], (("01", gtin.value), ("21", serial)), gtin=gtin, serial=serial
    )


def _sscc(uri: str, p: list[str]) -> EpcIdentity:
    _prefix(uri, p[0])
    _digits_total(uri, p[0], p[1], 17, "extension digit and serial reference")
    sscc = Sscc(_with_check_digit(p[1][0] + p[0] + p[1][1:]))
    return _identity(uri, "sscc", "id", p[0], (("00", sscc.value),), sscc=sscc)


def _sgln(uri: str, p: list[str]) -> EpcIdentity:
    gln = Gln(_key12(uri, p[0], p[1], "location reference"))
    extension = unescape(p[2], field="gln_extension", uri=uri)
    pairs: tuple[tuple[str, str], ...] = (("414", gln.value),)
    if extension != "0":
        pairs += (("254", extension),)
    return _identity(uri, "sgln", "id", p[0], pairs, gln=gln, extension=extension)


def _pgln(uri: str, p: list[str]) -> EpcIdentity:
    gln = Gln(_key12(uri, p[0], p[1], "party reference"))
    return _identity(uri, "pgln", "id", p[0], (("417", gln.value),), gln=gln)


def _grai(uri: str, p: list[str]) -> EpcIdentity:
    key = _key12(uri, p[0], p[1], "asset type")
    serial = unescape(p[2], field="grai serial", uri=uri, max_length=16)
    return _identity(uri, "grai", "id", p[0], (("8003", "0" + key + serial),))


def _giai(uri: str, p: list[str]) -> EpcIdentity:
    _prefix(uri, p[0])
    reference = unescape(p[1], field="giai asset reference", uri=uri, max_length=30)
    return _identity(uri, "giai", "id", p[0], (("8004", p[0] + reference),))


def _service(scheme: str, ai: str) -> _Parser:
    def parse(uri: str, p: list[str]) -> EpcIdentity:
        _prefix(uri, p[0])
        _digits_total(uri, p[0], p[1], 17, "service reference")
        return _identity(uri, scheme, "id", p[0], ((ai, _with_check_digit(p[0] + p[1])),))

    return parse


def _gdti(uri: str, p: list[str]) -> EpcIdentity:
    key = _key12(uri, p[0], p[1], "document type")
    serial = unescape(p[2], field="gdti serial", uri=uri, max_length=17)
    return _identity(uri, "gdti", "id", p[0], (("253", key + serial),))


def _sgcn(uri: str, p: list[str]) -> EpcIdentity:
    key = _key12(uri, p[0], p[1], "coupon reference")
    if not (_DIGITS.match(p[2]) and len(p[2]) <= 12):
        raise _fail(uri, "an SGCN serial of 1 to 12 digits", quote(p[2]))
    return _identity(uri, "sgcn", "id", p[0], (("255", key + p[2]),))


def _cpi(uri: str, p: list[str]) -> EpcIdentity:
    _prefix(uri, p[0])
    if not _CPI_COMPONENT.match(p[1]):
        raise _fail(
            uri, "a component/part reference of digits, A-Z, '-', %23 (#) and %2F (/)", quote(p[1])
        )
    reference = p[1].replace("%23", "#").replace("%2F", "/").replace("%2f", "/")
    if not _DIGITS.match(p[2]):
        raise _fail(uri, "a CPI serial of digits", quote(p[2]))
    return _identity(uri, "cpi", "id", p[0], (("8010", p[0] + reference), ("8011", p[2])))


def _ginc(uri: str, p: list[str]) -> EpcIdentity:
    _prefix(uri, p[0])
    reference = unescape(p[1], field="ginc consignment reference", uri=uri, max_length=30)
    return _identity(uri, "ginc", "id", p[0], (("401", p[0] + reference),))


def _gsin(uri: str, p: list[str]) -> EpcIdentity:
    _prefix(uri, p[0])
    _digits_total(uri, p[0], p[1], 16, "shipper reference")
    return _identity(uri, "gsin", "id", p[0], (("402", _with_check_digit(p[0] + p[1])),))


def _itip(uri: str, p: list[str]) -> EpcIdentity:
    gtin = _gtin(uri, p[0], p[1])
    if not (len(p[2]) == 2 and len(p[3]) == 2 and _DIGITS.match(p[2] + p[3])):
        raise _fail(uri, "piece and total of two digits each", quote(f"{p[2]}.{p[3]}"))
    serial = unescape(p[4], field="serial", uri=uri)
    return _identity(
        uri, "itip", "id", p[0], (("8006", gtin.value + p[2] + p[3]), ("21", serial)), gtin=gtin,
        serial=serial,
    )  # fmt: skip


def _upui(uri: str, p: list[str]) -> EpcIdentity:
    gtin = _gtin(uri, p[0], p[1])
    tpx = unescape(p[2], field="tpx", uri=uri, max_length=28)
    return _identity(uri, "upui", "id", p[0], (("01", gtin.value), ("235", tpx)), gtin=gtin)


def _in_front(value: str, cpl: int) -> str:
    """Company prefix . indicator-or-extension digit + reference, of a key whose first digit
    is an indicator (GTIN, SSCC): ``{prefix}.{digit}{reference}`` without the check digit."""
    return f"{value[1 : 1 + cpl]}.{value[0]}{value[1 + cpl : -1]}"


def _split(value: str, cpl: int) -> str:
    """``{prefix}.{reference}`` of a key without indicator, less its check digit."""
    return f"{value[:cpl]}.{value[cpl:-1]}"


def _uri_of(values: dict[str, str], ais: frozenset[str], cpl: int) -> str | None:
    if ais == {"01", "21"}:
        return f"urn:epc:id:sgtin:{_in_front(values['01'], cpl)}.{escape(values['21'])}"
    if ais == {"01", "10"}:
        return f"urn:epc:class:lgtin:{_in_front(values['01'], cpl)}.{escape(values['10'])}"
    if ais == {"00"}:
        return f"urn:epc:id:sscc:{_in_front(values['00'], cpl)}"
    if ais in ({"414"}, {"414", "254"}):
        extension = escape(values.get("254", "0"))
        return f"urn:epc:id:sgln:{_split(values['414'], cpl)}.{extension}"
    if ais == {"417"}:
        return f"urn:epc:id:pgln:{_split(values['417'], cpl)}"
    if ais == {"8003"} and len(values["8003"]) > 14:
        key, serial = values["8003"][1:14], values["8003"][14:]
        return f"urn:epc:id:grai:{_split(key, cpl)}.{escape(serial)}"
    if ais == {"8004"}:
        value = values["8004"]
        return f"urn:epc:id:giai:{value[:cpl]}.{escape(value[cpl:])}"
    for ai, scheme in (("8018", "gsrn"), ("8017", "gsrnp"), ("402", "gsin")):
        if ais == {ai}:
            return f"urn:epc:id:{scheme}:{_split(values[ai], cpl)}"
    for ai, scheme in (("253", "gdti"), ("255", "sgcn")):
        if ais == {ai} and len(values[ai]) > 13:
            return f"urn:epc:id:{scheme}:{_split(values[ai][:13], cpl)}.{escape(values[ai][13:])}"
    if ais == {"401"}:
        value = values["401"]
        return f"urn:epc:id:ginc:{value[:cpl]}.{escape(value[cpl:])}"
    return None


def epc_uri_from_elements(elements: tuple[Element, ...], company_prefix_length: int) -> str:
    """The EPC URI of what ``elements`` identify (the element strings of a Digital Link's
    path): sgtin (01 + 21), the lgtin class (01 + 10), sscc, sgln (414 [+ 254]), pgln, grai,
    giai, gsrn, gsrnp, gdti, sgcn, ginc, gsin, with a company prefix of
    ``company_prefix_length`` digits. The URI is parsed back and must stand for exactly
    ``elements``; :class:`FormatError` for elements no EPC URI expresses."""
    require_company_prefix_length(company_prefix_length)
    values = {ai: value for ai, value in elements}
    shown = "".join(f"({ai}){value}" for ai, value in elements)
    uri = None
    if len(values) == len(elements):
        uri = _uri_of(values, frozenset(values), company_prefix_length)
    if uri is None:
        raise FormatError(
            "epc_uri",
            shown,
            "element strings of a key an EPC URI expresses (sgtin, lgtin, sscc, sgln, pgln, "
            "grai with serial, giai, gsrn, gsrnp, gdti and sgcn with serial, ginc, gsin)",
        )
    if parse_epc_uri(uri).elements != tuple(elements):
        raise FormatError("epc_uri", shown, "the same element strings back", quote(uri))
    return uri


_PARSERS: dict[str, _Parser] = {
    "sgtin": _sgtin, "sscc": _sscc, "sgln": _sgln, "pgln": _pgln, "grai": _grai, "giai": _giai,
    "gsrn": _service("gsrn", "8018"), "gsrnp": _service("gsrnp", "8017"), "gdti": _gdti,
    "cpi": _cpi, "sgcn": _sgcn, "ginc": _ginc, "gsin": _gsin, "itip": _itip, "upui": _upui,
}  # fmt: skip

# Pattern URIs: the class level that a trailing "*" leaves (TDS 8): scheme -> parts that
# name the class, the AI of that class and how to build its value.
_CLASS_PARTS = {"sgtin": 2, "upui": 2, "itip": 4, "grai": 2, "gdti": 2, "sgcn": 2, "cpi": 2}


def _pattern(uri: str, scheme: str, parts: list[str]) -> EpcIdentity:
    """``urn:epc:idpat:…``: some trailing parts ``*``; the given ones must be valid."""
    stars = [part == "*" for part in parts]
    first_star = stars.index(True) if True in stars else len(parts)
    if first_star == len(parts) or not all(stars[first_star:]):
        raise _fail(uri, "a pattern whose trailing parts are '*' (and only those)")
    if first_star == 0:
        return EpcIdentity(scheme, 0, kind="idpat", wildcard=True)
    prefix = _prefix(uri, parts[0])
    if first_star == 1:
        return EpcIdentity(scheme, len(prefix), kind="idpat", company_prefix=prefix, wildcard=True)
    if _CLASS_PARTS.get(scheme) != first_star:
        raise _fail(uri, f"an {scheme} pattern with '*' after the company prefix")
    if scheme in ("sgtin", "upui"):
        gtin = _gtin(uri, parts[0], parts[1])
        pairs: tuple[tuple[str, str], ...] = (("01", gtin.value),)
        return _identity(uri, scheme, "idpat", prefix, pairs, gtin=gtin, wildcard=True)
    if scheme == "itip":
        gtin = _gtin(uri, parts[0], parts[1])
        if not (len(parts[2]) == 2 and len(parts[3]) == 2 and _DIGITS.match(parts[2] + parts[3])):
            raise _fail(uri, "piece and total of two digits each")
        pairs = (("8006", gtin.value + parts[2] + parts[3]),)
        return _identity(uri, scheme, "idpat", prefix, pairs, gtin=gtin, wildcard=True)
    if scheme == "cpi":
        if not _CPI_COMPONENT.match(parts[1]):
            raise _fail(uri, "a component/part reference of digits, A-Z, '-', %23 and %2F")
        reference = parts[1].replace("%23", "#").replace("%2F", "/").replace("%2f", "/")
        return _identity(uri, scheme, "idpat", prefix, (("8010", prefix + reference),),
                         wildcard=True)  # fmt: skip
    key = _key12(uri, parts[0], parts[1], "reference")
    ai = {"grai": "8003", "gdti": "253", "sgcn": "255"}[scheme]
    value = ("0" + key) if scheme == "grai" else key
    return EpcIdentity(
        scheme,
        len(prefix),
        kind="idpat",
        elements=(Element(ai, value),),
        company_prefix=prefix,
        wildcard=True,
    )
