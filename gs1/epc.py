"""EPC pure-identity URIs (GS1 EPC Tag Data Standard 2.x, sections 6 and 7; annex A).

=========  ==========================================================
sgtin      ``urn:epc:id:sgtin:{CompanyPrefix}.{Indicator+ItemRef}.{Serial}``
lgtin      ``urn:epc:class:lgtin:{CompanyPrefix}.{Indicator+ItemRef}.{Lot}``
sscc       ``urn:epc:id:sscc:{CompanyPrefix}.{Extension+SerialRef}``
sgln       ``urn:epc:id:sgln:{CompanyPrefix}.{LocationRef}.{Extension}``
=========  ==========================================================

The company prefix is 6 to 12 digits. Serials, lots and GLN extensions are CSET 82, with
the seven characters TDS table A-1 reserves escaped: ``"`` %22, ``%`` %25, ``&`` %26,
``/`` %2F, ``<`` %3C, ``>`` %3E, ``?`` %3F. Rendering escapes exactly those (upper-case hex);
parsing also accepts lower-case hex and any escape that decodes to a CSET 82 character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gs1.checkdigit import check_digit
from gs1.cset82 import validate_cset82
from gs1.errors import FormatError, quote
from gs1.keys import Gln, Gtin, Sscc, require_company_prefix_length

_ESCAPES = str.maketrans(
    {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}
)
# Characters allowed as themselves in an EPC URI component, or %HH.
_COMPONENT = r"(?:[!'()*+,\-.0-9:;=A-Z_a-z]|%[0-9A-Fa-f]{2})+"
_CP = r"([0-9]{6,12})"
_SGTIN_RE = re.compile(rf"urn:epc:id:sgtin:{_CP}\.([0-9]{{1,7}})\.({_COMPONENT})")
_LGTIN_RE = re.compile(rf"urn:epc:class:lgtin:{_CP}\.([0-9]{{1,7}})\.({_COMPONENT})")
_SSCC_RE = re.compile(rf"urn:epc:id:sscc:{_CP}\.([0-9]{{5,11}})")
_SGLN_RE = re.compile(rf"urn:epc:id:sgln:{_CP}\.([0-9]{{0,6}})\.({_COMPONENT})")
_HEX_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")

EPC_PREFIX = "urn:epc:"


def escape(value: str) -> str:
    """Escape a CSET 82 value for an EPC URI component (TDS table A-1)."""
    return value.translate(_ESCAPES)


def unescape(component: str, *, field: str, uri: str) -> str:
    """Decode ``%HH`` escapes; the result must be 1 to 20 characters of CSET 82."""
    value = _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), component)
    try:
        return validate_cset82(value, field=field)
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
    """What an EPC URI names. ``scheme`` is sgtin, lgtin, sscc or sgln; the key is set for
    it, ``serial`` for sgtin, ``lot`` for lgtin, ``extension`` for sgln ("0": none)."""

    scheme: str
    company_prefix_length: int
    gtin: Gtin | None = None
    serial: str | None = None
    lot: str | None = None
    sscc: Sscc | None = None
    gln: Gln | None = None
    extension: str | None = None


_EXPECTED = (
    "an EPC pure identity URI: urn:epc:id:sgtin:CP.IR.S, urn:epc:class:lgtin:CP.IR.L, "
    "urn:epc:id:sscc:CP.SR or urn:epc:id:sgln:CP.LR.E with a 6 to 12 digit company prefix"
)


def parse_epc_uri(uri: str) -> EpcIdentity:
    """Parse an sgtin, lgtin, sscc or sgln URI exactly; raise FormatError otherwise."""
    if match := _SGTIN_RE.fullmatch(uri):
        gtin = _gtin_from(uri, match.group(1), match.group(2))
        serial = unescape(match.group(3), field="serial", uri=uri)
        return EpcIdentity("sgtin", len(match.group(1)), gtin=gtin, serial=serial)
    if match := _LGTIN_RE.fullmatch(uri):
        gtin = _gtin_from(uri, match.group(1), match.group(2))
        lot = unescape(match.group(3), field="lot", uri=uri)
        return EpcIdentity("lgtin", len(match.group(1)), gtin=gtin, lot=lot)
    if match := _SSCC_RE.fullmatch(uri):
        prefix, reference = match.groups()
        _require_total(uri, prefix, reference, 17)
        payload = reference[0] + prefix + reference[1:]
        sscc = Sscc(payload + check_digit(payload))
        return EpcIdentity("sscc", len(prefix), sscc=sscc)
    if match := _SGLN_RE.fullmatch(uri):
        prefix, reference, component = match.groups()
        _require_total(uri, prefix, reference, 12)
        payload = prefix + reference
        extension = unescape(component, field="gln_extension", uri=uri)
        gln = Gln(payload + check_digit(payload))
        return EpcIdentity("sgln", len(prefix), gln=gln, extension=extension)
    raise FormatError("epc_uri", uri, _EXPECTED)


def _gtin_from(uri: str, prefix: str, reference: str) -> Gtin:
    _require_total(uri, prefix, reference, 13)
    payload = reference[0] + prefix + reference[1:]
    return Gtin(payload + check_digit(payload))


def _require_total(uri: str, prefix: str, reference: str, total: int) -> None:
    if len(prefix) + len(reference) != total:
        raise FormatError(
            "epc_uri",
            uri,
            f"company prefix and reference of {total} digits together",
            f"{len(prefix)} + {len(reference)} digits in {quote(uri)}",
        )
