"""GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax 1.4), rendering side.

``https://id.gs1.org/01/09506000134352/10/LOT1/21/SN1?17=281130``: the primary key and its
key qualifiers in the path, in the order the standard fixes (for 01: 22, 10, 21), every other
AI as a query parameter sorted by AI. Every value is percent-encoded except the URI
"unreserved" characters (``A-Z a-z 0-9 - . _ ~``), so ``/``, ``%``, ``&``, ``?``, ``+`` and
the rest of CSET 82 can never change the URI's structure. Parsing is biip's
(:func:`gs1.elements.parse_digital_link`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, urlsplit

from gs1.errors import FormatError

DEFAULT_DOMAIN = "https://id.gs1.org"

GTIN_QUALIFIERS = ("22", "10", "21")
"""Key qualifiers of AI 01 in the order the Digital Link standard requires in the path."""


@lru_cache(maxsize=64)
def normalise_domain(domain: str) -> str:
    """``scheme://host[/path-prefix]`` without a trailing slash, or raise FormatError."""
    expected = "an http(s) URI with a host and no query or fragment, e.g. 'https://id.gs1.org'"
    try:
        parts = urlsplit(domain)
    except ValueError as exc:
        raise FormatError("domain", domain, expected) from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or domain != domain.strip()
        or any(char.isspace() for char in domain)
    ):
        raise FormatError("domain", domain, expected)
    return domain.rstrip("/")


def check_path_qualifiers(path_qualifiers: tuple[str, ...]) -> tuple[str, ...]:
    """Raise unless ``path_qualifiers`` keeps the standard's order (a subsequence of 22, 10, 21)."""
    position = 0
    for ai in path_qualifiers:
        try:
            position = GTIN_QUALIFIERS.index(ai, position) + 1
        except ValueError:
            raise FormatError(
                "path_qualifiers",
                ",".join(path_qualifiers),
                "AIs from 22, 10, 21 in that order (GS1 Digital Link key qualifier order)",
            ) from None
    return path_qualifiers


def encode_value(value: str) -> str:
    return quote(value, safe="")


def build_uri(
    domain: str,
    primary_ai: str,
    primary_value: str,
    qualifiers: Iterable[tuple[str, str]] = (),
    attributes: Iterable[tuple[str, str]] = (),
) -> str:
    """Assemble a Digital Link URI. ``qualifiers`` go into the path in the order given,
    ``attributes`` into the query sorted by AI. Values must already be valid for their AI."""
    parts = [normalise_domain(domain), "/", primary_ai, "/", encode_value(primary_value)]
    for ai, value in qualifiers:
        parts += ("/", ai, "/", encode_value(value))
    query = sorted(attributes)
    if query:
        parts.append("?")
        parts.append("&".join(f"{ai}={encode_value(value)}" for ai, value in query))
    return "".join(parts)
