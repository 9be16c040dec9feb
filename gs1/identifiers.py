"""GS1 identifier URIs as EPCIS names objects, places and classes: one entry point.

:func:`parse_identifier` reads an EPC URI (pure identity, class or pattern: :mod:`gs1.epc`)
or a GS1 Digital Link (:mod:`gs1.digital_link`) and returns the GS1 element strings that
identify the thing, checked against the Barcode Syntax Dictionary and its association rules.
It says three things apart:

* a GS1 identifier: an :class:`IdentifierUri`;
* text that is not GS1 at all (``urn:example:…``, ``https://example.com/about``, the
  non-GS1 TDS schemes ``usdod``, ``adi``, ``bic``, ``imovn``): ``None``;
* text that claims to be GS1 and breaks its rules (``urn:epc:id:sgtin:…A~B``, a Digital Link
  with a wrong check digit): :class:`~gs1.errors.Gs1Error`.

:mod:`epcis._canonical_id` (event hash) and :mod:`server.identifiers` (store keys) both call
it, so what one accepts the other accepts, with the same key. The one option, ``legacy``,
also accepts the Digital Link 1.0/1.1 forms (convenience alphas, GTIN-8/12/13 in the path)
that the CBV 2.0 event hash still canonicalises; ingest does not use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from gs1.digital_link import DEFAULT_DOMAIN, digital_link_from_elements, parse_digital_link
from gs1.elements import Element, check_rules
from gs1.epc import EPC_PREFIX, epc_uri_from_elements, parse_epc_uri, plain_sgtin
from gs1.errors import Gs1Error, NotGs1Error

__all__ = [
    "NON_GS1_EPC_SCHEMES",
    "IdentifierUri",
    "company_prefix",
    "equivalent_forms",
    "parse_identifier",
    "plain_sgtin",
    "to_digital_link",
    "to_epc_uri",
]

NON_GS1_EPC_SCHEMES = frozenset({"usdod", "adi", "bic", "imovn"})
"""TDS schemes under ``urn:epc:id:`` whose identifiers are not GS1 keys."""


@dataclass(frozen=True, slots=True)
class IdentifierUri:
    """A GS1 identifier read from a URI.

    ``form`` is ``epc_uri`` or ``digital_link``; ``scheme`` the EPC scheme (``sgtin``,
    ``lgtin``, …) or ``dl``; ``kind`` ``id``, ``class`` or ``idpat``. ``elements`` identify
    the thing (EPC: what the URI stands for; Digital Link: its path, key first);
    ``attributes`` are the Digital Link's query AIs. ``company_prefix_length`` is known for
    EPC URIs only.
    """

    form: str
    scheme: str
    kind: str
    elements: tuple[Element, ...]
    attributes: tuple[Element, ...] = ()
    company_prefix_length: int | None = None
    ais: tuple[str, ...] = field(init=False)
    """The AIs of ``elements``, in order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ais", tuple(element.ai for element in self.elements))

    def value(self, ai: str) -> str | None:
        for element in self.elements:
            if element.ai == ai:
                return element.value
        return None


@lru_cache(maxsize=1 << 16)
def parse_identifier(text: str, *, legacy: bool = False) -> IdentifierUri | None:
    """The GS1 identifier ``text`` names; None if it is not GS1; Gs1Error if it breaks
    GS1's rules (see the module doc). Cached: events name the same things again and again."""
    if text.startswith(EPC_PREFIX):
        scheme = text[len(EPC_PREFIX) :].partition(":")[2].partition(":")[0]
        if text.startswith("urn:epc:id:") and scheme in NON_GS1_EPC_SCHEMES:
            return None
        identity = parse_epc_uri(text)
        return IdentifierUri(
            "epc_uri",
            identity.scheme,
            identity.kind,
            identity.elements,
            (),
            identity.company_prefix_length or None,
        )
    if text.startswith(("https://", "http://", "HTTPS://", "HTTP://")):
        try:
            link = parse_digital_link(text, legacy=legacy)
        except NotGs1Error:
            return None
        check_rules(link.elements)
        return IdentifierUri("digital_link", "dl", "id", link.path, link.query)
    return None


# Where the company prefix starts in a key's value: after the indicator / extension digit of
# GTIN, SSCC and ITIP, after GRAI's leading zero; at the start of every other key.
_PREFIX_OFFSET = {"01": 1, "00": 1, "8006": 1, "8003": 1}


def company_prefix(text: str) -> str | None:
    """The GS1 company prefix an EPC URI names (None for anything else)."""
    if not text.startswith(EPC_PREFIX):
        return None
    try:
        return parse_epc_uri(text).company_prefix or None
    except Gs1Error:
        return None


@lru_cache(maxsize=1 << 16)
def to_digital_link(text: str, domain: str = DEFAULT_DOMAIN) -> str | None:
    """The GS1 Digital Link of an EPC URI (pure identity or lgtin class) on ``domain``; None
    for text that is no EPC URI of a GS1 key, a pattern, or what a Digital Link cannot say."""
    if not text.startswith(EPC_PREFIX):
        return None
    try:
        identifier = parse_identifier(text)
        if identifier is None or identifier.kind == "idpat":
            return None
        return digital_link_from_elements(identifier.elements, domain)
    except Gs1Error:
        return None


def to_epc_uri(text: str, company_prefixes: Iterable[str]) -> str | None:
    """The EPC URI of a GS1 Digital Link whose key starts with one of ``company_prefixes``
    (the longest that matches gives the company prefix length, which a Digital Link does not
    carry); None for text that is no Digital Link, one with data attributes (``?17=…``,
    which an EPC URI cannot say), a key of no known company prefix or no EPC scheme."""
    if not text.startswith(("https://", "http://", "HTTPS://", "HTTP://")):
        return None
    return _to_epc_uri(text, frozenset(company_prefixes))


@lru_cache(maxsize=1 << 16)
def _to_epc_uri(text: str, prefixes: frozenset[str]) -> str | None:
    try:
        identifier = parse_identifier(text)
    except Gs1Error:
        return None
    if identifier is None or identifier.form != "digital_link" or identifier.attributes:
        return None
    ai, value = identifier.elements[0]
    digits = value[_PREFIX_OFFSET.get(ai, 0) :]
    lengths = [len(p) for p in prefixes if 6 <= len(p) <= 12 and digits.startswith(p)]
    if not lengths:
        return None
    try:
        return epc_uri_from_elements(identifier.elements, max(lengths))
    except Gs1Error:
        return None


@lru_cache(maxsize=1 << 14)
def equivalent_forms(text: str) -> tuple[str, ...]:
    """``text`` and every other way of writing the same identifier: for an EPC URI its
    Digital Link; for a Digital Link (without data attributes) the EPC URI of each company
    prefix length that gives one (a Digital Link does not say which is right; at most one
    was captured). Anything else: ``(text,)``."""
    link = to_digital_link(text)
    if link is not None:
        return (text, link)
    if not text.startswith(("https://", "http://", "HTTPS://", "HTTP://")):
        return (text,)
    try:
        identifier = parse_identifier(text)
    except Gs1Error:
        return (text,)
    if identifier is None or identifier.form != "digital_link" or identifier.attributes:
        return (text,)
    forms = [text]
    for length in range(6, 13):
        try:
            forms.append(epc_uri_from_elements(identifier.elements, length))
        except Gs1Error:
            continue
    return tuple(forms)
