"""Constrained canonical GS1 Digital Link URIs for the event hash (CBV 2.0 rules 17 and 18).

EPC URIs (``urn:epc:id:…``), EPC class URIs (``urn:epc:class:lgtin:…``), EPC pattern URIs
(``urn:epc:idpat:…``) and GS1 Digital Link URIs on any domain all map to
``https://id.gs1.org/<AI>/<key>[/<qualifier AI>/<value>]`` holding only the finest level of
identification, with no query string. Values that are none of these return ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final

from gs1 import check_digit

CANONICAL_DOMAIN: Final = "https://id.gs1.org/"

# Characters that GS1 Digital Link percent-encodes but EPC URIs may carry literally.
_DL_ESCAPES: Final = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)
_DIGITS = re.compile(r"\d+\Z")
_EPC_URI = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.+)\Z")


def _dl_escape(value: str) -> str:
    return value.translate(_DL_ESCAPES)


def _digits(*parts: str) -> bool:
    return all(_DIGITS.match(p) for p in parts)


def _with_cd(digits: str) -> str:
    return digits + check_digit(digits)


def _gtin(cp: str, indicator_item: str) -> str | None:
    if not _digits(cp, indicator_item) or len(cp) + len(indicator_item) != 13 or len(cp) < 6:
        return None
    return _with_cd(indicator_item[0] + cp + indicator_item[1:])


def _key12(cp: str, ref: str) -> str | None:
    """GLN-like 13-digit keys (GLN, party GLN, GDTI, GCN base): 12 digits + check digit."""
    if not _digits(cp) or len(cp) + len(ref) != 12 or len(cp) < 6 or (ref and not _digits(ref)):
        return None
    return _with_cd(cp + ref)


def _sgtin(p: list[str]) -> str | None:
    if len(p) != 3 or not p[2] or (gtin := _gtin(p[0], p[1])) is None:
        return None
    return f"01/{gtin}/21/{_dl_escape(p[2])}"


def _lgtin(p: list[str]) -> str | None:
    if len(p) != 3 or not p[2] or (gtin := _gtin(p[0], p[1])) is None:
        return None
    return f"01/{gtin}/10/{_dl_escape(p[2])}"


def _upui(p: list[str]) -> str | None:
    if len(p) != 3 or not p[2] or (gtin := _gtin(p[0], p[1])) is None:
        return None
    return f"01/{gtin}/235/{_dl_escape(p[2])}"


def _sscc(p: list[str]) -> str | None:
    if len(p) != 2 or not _digits(*p) or len(p[0]) + len(p[1]) != 17 or len(p[0]) < 6:
        return None
    return "00/" + _with_cd(p[1][0] + p[0] + p[1][1:])


def _sgln(p: list[str]) -> str | None:
    if len(p) != 3 or not p[2] or (gln := _key12(p[0], p[1])) is None:
        return None
    return f"414/{gln}" if p[2] == "0" else f"414/{gln}/254/{_dl_escape(p[2])}"


def _pgln(p: list[str]) -> str | None:
    if len(p) != 2 or (gln := _key12(p[0], p[1])) is None:
        return None
    return f"417/{gln}"


def _grai(p: list[str]) -> str | None:
    if len(p) != 3 or (key := _key12(p[0], p[1])) is None:
        return None
    return f"8003/0{key}{_dl_escape(p[2])}"


def _giai(p: list[str]) -> str | None:
    if len(p) != 2 or not _digits(p[0]) or not p[1]:
        return None
    return f"8004/{p[0]}{_dl_escape(p[1])}"


def _service(ai: str) -> Callable[[list[str]], str | None]:
    def convert(p: list[str]) -> str | None:
        if len(p) != 2 or not _digits(*p) or len(p[0]) + len(p[1]) != 17:
            return None
        return f"{ai}/{_with_cd(p[0] + p[1])}"

    return convert


def _gdti(p: list[str]) -> str | None:
    if len(p) != 3 or (key := _key12(p[0], p[1])) is None:
        return None
    return f"253/{key}{_dl_escape(p[2])}"


def _sgcn(p: list[str]) -> str | None:
    if len(p) != 3 or (key := _key12(p[0], p[1])) is None or not _digits(p[2]):
        return None
    return f"255/{key}{p[2]}"


def _cpi(p: list[str]) -> str | None:
    if len(p) != 3 or not _digits(p[0]) or not p[1] or not _digits(p[2]):
        return None
    return f"8010/{_dl_escape(p[0] + p[1])}/8011/{p[2]}"


def _ginc(p: list[str]) -> str | None:
    if len(p) != 2 or not _digits(p[0]) or not p[1]:
        return None
    return f"401/{p[0]}{_dl_escape(p[1])}"


def _gsin(p: list[str]) -> str | None:
    if len(p) != 2 or not _digits(*p) or len(p[0]) + len(p[1]) != 16:
        return None
    return f"402/{_with_cd(p[0] + p[1])}"


def _itip(p: list[str]) -> str | None:
    if len(p) != 5 or not _digits(p[2], p[3]) or len(p[2]) != 2 or len(p[3]) != 2 or not p[4]:
        return None
    if (gtin := _gtin(p[0], p[1])) is None:
        return None
    return f"8006/{gtin}{p[2]}{p[3]}/21/{_dl_escape(p[4])}"


# scheme -> (number of '.'-separated fields before the last free-text one, converter)
_ID_SCHEMES: Final[dict[str, tuple[int, Callable[[list[str]], str | None]]]] = {
    "sgtin": (2, _sgtin),
    "sscc": (1, _sscc),
    "sgln": (2, _sgln),
    "pgln": (1, _pgln),
    "grai": (2, _grai),
    "giai": (1, _giai),
    "gsrn": (1, _service("8018")),
    "gsrnp": (1, _service("8017")),
    "gdti": (2, _gdti),
    "sgcn": (2, _sgcn),
    "cpi": (2, _cpi),
    "ginc": (1, _ginc),
    "gsin": (1, _gsin),
    "itip": (4, _itip),
    "upui": (2, _upui),
}


def _idpat(scheme: str, parts: list[str]) -> str | None:
    """EPC pattern URIs with only the serial part wildcarded name the class level key."""
    if scheme in ("sgtin", "upui") and len(parts) == 3 and parts[2] == "*":
        gtin = _gtin(parts[0], parts[1])
        return None if gtin is None else f"01/{gtin}"
    if scheme in ("grai", "gdti", "sgcn") and len(parts) == 3 and parts[2] == "*":
        key = _key12(parts[0], parts[1])
        ai = {"grai": "8003/0", "gdti": "253/", "sgcn": "255/"}[scheme]
        return None if key is None else f"{ai}{key}"
    if scheme == "cpi" and len(parts) == 3 and parts[2] == "*" and _digits(parts[0]):
        return f"8010/{_dl_escape(parts[0] + parts[1])}"
    if scheme == "itip" and len(parts) == 5 and parts[4] == "*" and _digits(parts[2], parts[3]):
        gtin = _gtin(parts[0], parts[1])
        return None if gtin is None else f"8006/{gtin}{parts[2]}{parts[3]}"
    return None


def _from_epc_uri(uri: str) -> str | None:
    match = _EPC_URI.match(uri)
    if match is None:
        return None
    kind, scheme, body = match.groups()
    if kind == "class":
        path = _lgtin(body.split(".", 2)) if scheme == "lgtin" else None
    elif kind == "idpat":
        path = _idpat(scheme, body.split("."))
    elif scheme in _ID_SCHEMES:
        fields, convert = _ID_SCHEMES[scheme]
        path = convert(body.split(".", fields))
    else:
        path = None
    return None if path is None else CANONICAL_DOMAIN + path


# Digital Link: primary keys, their qualifiers from coarse to fine, and short names.
_PRIMARY: Final[dict[str, tuple[str, ...]]] = {
    "01": ("22", "10", "21", "235"),
    "8006": ("22", "10", "21"),
    "414": ("254",),
    "8010": ("8011",),
    "00": (),
    "253": (),
    "255": (),
    "401": (),
    "402": (),
    "417": (),
    "8003": (),
    "8004": (),
    "8017": (),
    "8018": (),
}
_SHORT_NAMES: Final = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417", "gsrnp": "8017",
    "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402",
    "grai": "8003", "giai": "8004", "cpv": "22", "lot": "10", "ser": "21",
}  # fmt: skip
_FINEST: Final = {
    "01": ("21", "235", "10"),
    "8006": ("21", "10"),
    "414": ("254",),
    "8010": ("8011",),
}
_DL_URI = re.compile(r"https?://[^/?#]+(/[^?#]*)")
_DL_KEY = re.compile(r"\d{4}[^/]+\Z")  # every GS1 key starts with a company prefix


def _from_digital_link(uri: str) -> str | None:
    match = _DL_URI.match(uri)
    if match is None:
        return None
    segments = [_SHORT_NAMES.get(s, s) for s in match.group(1).split("/")]
    for index, segment in enumerate(segments):
        if segment in _PRIMARY and index + 1 < len(segments) and _DL_KEY.match(segments[index + 1]):
            break
    else:
        return None
    key = segments[index + 1]
    if segment == "01" and _DIGITS.match(key) and len(key) in (8, 12, 13):
        key = key.zfill(14)
    pairs = segments[index + 2 :]
    qualifiers = {
        pairs[i]: pairs[i + 1]
        for i in range(0, len(pairs) - 1, 2)
        if pairs[i] in _PRIMARY[segment] and pairs[i + 1]
    }
    path = f"{segment}/{key}"
    for qualifier in _FINEST.get(segment, ()):
        if qualifier in qualifiers:
            path += f"/{qualifier}/{qualifiers[qualifier]}"
            break
    return CANONICAL_DOMAIN + path


@lru_cache(maxsize=1024)  # read points, locations and classes repeat on every event
def canonical_gs1_uri(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of a GS1 identifier URI, else None."""
    if value.startswith("urn:epc:"):
        return _from_epc_uri(value)
    if value.startswith(("https://", "http://")):
        return _from_digital_link(value)
    return None
