"""Constrained canonical GS1 Digital Link URIs for the event hash (CBV 2.0 rules 17 and 18).

EPC URIs (``urn:epc:id:…``), EPC class URIs (``urn:epc:class:lgtin:…``), EPC pattern URIs
(``urn:epc:idpat:…``) and GS1 Digital Link URIs on any domain all map to
``https://id.gs1.org/<AI>/<key>[/<qualifier AI>/<value>]`` holding only the finest level of
identification, with no query string. Values that are none of these, or that break GS1's
rules, return ``None`` (the hash then uses the text as it is).

Parsing is :func:`gs1.identifiers.parse_identifier`'s, with the same rules as ingest; the
one difference is ``legacy=True`` for Digital Links, because the CBV 2.0 hash canonicalises
the Digital Link 1.0/1.1 convenience alphas and GTIN-8/12/13 paths that ingest refuses.
This module only renders: values are written with the EPC URI escapes (TDS table A-1) plus
``! ( ) * + , :`` (and ``#`` of a CPI part reference), as GS1's reference implementation of
the event hash does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from gs1 import Gs1Error
from gs1.identifiers import IdentifierUri, parse_identifier

CANONICAL_DOMAIN: Final = "https://id.gs1.org/"

_ESCAPES: Final = str.maketrans(
    {
        '"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F",
        "!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A",
        "#": "%23",
    }
)  # fmt: skip

# Digital Link primary keys and the qualifiers of the finest level, in order of preference.
_FINEST: Final = {
    "01": ("21", "235", "10"),
    "8006": ("21", "10"),
    "414": ("254",),
    "8010": ("8011",),
}


def _escape(value: str) -> str:
    return value.translate(_ESCAPES)


def _path(identifier: IdentifierUri) -> str | None:
    elements = identifier.elements
    if not elements:
        return None  # a pattern that leaves only the company prefix
    key = elements[0]
    path = f"{key.ai}/{_escape(key.value)}"
    if identifier.form == "epc_uri":
        for ai, value in elements[1:]:
            path += f"/{ai}/{_escape(value)}"
        return path
    qualifiers = dict(elements[1:])
    for qualifier in _FINEST.get(key.ai, ()):
        if qualifier in qualifiers:
            return f"{path}/{qualifier}/{_escape(qualifiers[qualifier])}"
    return path


@lru_cache(maxsize=1 << 14)  # read points, locations and classes repeat on every event
def canonical_gs1_uri(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI of a GS1 identifier URI, else None."""
    try:
        identifier = parse_identifier(value, legacy=True)
    except Gs1Error:
        return None
    if identifier is None:
        return None
    path = _path(identifier)
    return None if path is None else CANONICAL_DOMAIN + path
