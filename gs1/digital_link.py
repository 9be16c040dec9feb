"""GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax), read and written strictly.

``https://id.gs1.org/01/09506000134352/10/LOT1/21/SN1?17=281130``: a primary key and its key
qualifiers in the path, in the order the dictionary's ``dlpkey`` attribute fixes (for 01:
22, 10, 21, or 235 instead), every other AI as a query parameter. Reading
(:func:`parse_digital_link`) follows the standard and GS1's reference parser:

* the URI is RFC 3986: scheme ``http``/``https`` (all lower or all upper case), a host name,
  IPv4 address or bracketed IPv6 address (no user info, no zone id), an optional port, only
  URI characters, every ``%`` starting a ``%HH`` escape;
* the path is an optional stem, then ``/AI/value`` pairs found from the end: the leftmost AI
  of the run is a primary key (so a stem may hold AI-like segments:
  ``https://a/00/faux/00/006141411234567890``); the path AIs must form one of the key's
  qualifier sequences; a path may not end with ``/``;
* query parameters whose name is all digits must be AIs; an AI there must be a Digital Link
  data attribute (flag ``?`` in the dictionary), must not be one that belongs in the path,
  must have a value, and may not repeat an AI of the path or the query; ``+`` is a space in
  the query and itself in the path; other parameters (``linkType=all``) are kept as they are;
* a GTIN in the path must have 14 digits (GTIN-8/12/13 are padded only in the query, as the
  standard allows, or with ``legacy=True``, which also accepts the deprecated convenience
  alphas such as ``/gtin/…/ser/…`` for the CBV 2.0 event hash).

Writing (:func:`build_uri`, :func:`digital_link_from_elements`) percent-encodes every value
except the URI "unreserved" characters (``A-Z a-z 0-9 - . _ ~``) and refuses, listing them,
AIs that a Digital Link cannot carry. Compressed Digital Links (``https://id.gs1.org/
GhFKk4XBoM5Zye3WuqJRUjUNlhg``, or ``/01/{gtin}/{compressed}``) are read too, when the path
has no uncompressed primary key and its last segment decodes (:mod:`gs1.dl_compression`);
:func:`compress_digital_link` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from gs1.ai import BY_AI, DL_PRIMARY_KEYS, path_sequences
from gs1.dl_compression import arrange, decompress_segment
from gs1.elements import Element, entry_of, validate_element
from gs1.errors import FormatError, NotGs1Error, RuleError
from gs1.errors import quote as quoted

DEFAULT_DOMAIN = "https://id.gs1.org"
MAX_URI_LENGTH = 4096

CONVENIENCE_ALPHAS = {
    "cpid": "8010", "cpsn": "8011", "cpv": "22", "gcn": "255", "gdti": "253", "giai": "8004",
    "ginc": "401", "gln": "414", "glnx": "254", "gmn": "8013", "grai": "8003", "gsin": "402",
    "gsrn": "8018", "gsrnp": "8017", "gtin": "01", "itip": "8006", "lot": "10", "party": "417",
    "refno": "8020", "ser": "21", "srin": "8019", "sscc": "00",
}  # fmt: skip
"""Digital Link 1.0/1.1 short names, deprecated since; read only with ``legacy=True``."""

_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*\Z")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_PCHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%]*\Z")
_QUERY_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*\Z")
_HOST_NAME = re.compile(r"[A-Za-z0-9\-.]+\Z")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+\Z")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
_EXPECTED = "a GS1 Digital Link URI: http(s)://host[/stem]/AI/value[/AI/value…][?AI=value&…]"


@dataclass(frozen=True, slots=True)
class DigitalLink:
    """A parsed Digital Link. ``path`` holds the primary key then its qualifiers, ``query``
    the data attributes in the order given, ``other_parameters`` every non-AI query
    parameter as (name, value or None) exactly as written."""

    uri: str
    stem: str  # scheme://authority plus any path before the primary key
    path: tuple[Element, ...]
    query: tuple[Element, ...]
    other_parameters: tuple[tuple[str, str | None], ...] = ()
    fragment: str | None = None
    compressed: bool = False

    @property
    def primary_key(self) -> Element:
        return self.path[0]

    @property
    def elements(self) -> tuple[Element, ...]:
        return self.path + self.query


def _fail(uri: str, expected: str, got: str | None = None) -> FormatError:
    return FormatError("digital_link", uri, expected, got)


def _unescape(text: str, uri: str, *, query: bool) -> str:
    if query:
        text = text.replace("+", " ")
    value = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "\x00" in value:
        raise _fail(uri, "no %00 in a value", quoted(text))
    return value


def _check_authority(authority: str, uri: str) -> None:
    if not authority:
        raise _fail(uri, "a host after the scheme", quoted(uri))
    if "@" in authority:
        raise _fail(uri, "a host without user information ('@')", quoted(authority))
    host, port = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise _fail(uri, "an IPv6 address in brackets", quoted(authority))
        host, rest = authority[1:end], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _fail(uri, "':port' after an IPv6 address", quoted(authority))
        port = rest[1:]
        if not _IPV6.match(host) or host.count(":") < 2 or len(host) > 45:
            raise _fail(uri, "an IPv6 address (no zone identifier)", quoted(authority))
    else:
        host, _, port = authority.partition(":")
        if not host or not _HOST_NAME.match(host):
            raise _fail(
                uri, "a host name or IPv4 address of letters, digits, '-' and '.'",
                quoted(authority),
            )  # fmt: skip
    if port and (not port.isdigit() or int(port) > 65535):
        raise _fail(uri, "a port number 0 to 65535", quoted(authority))
    if authority.endswith(":") and not port:
        raise _fail(uri, "a port number after ':'", quoted(authority))


def split_uri(uri: str) -> tuple[str, str, str, str | None, str | None]:
    """(scheme, authority, path, query, fragment) of an http(s) URI, checked per RFC 3986."""
    if len(uri) > MAX_URI_LENGTH:
        raise _fail(uri, f"at most {MAX_URI_LENGTH} characters")
    if not _URI_CHARS.match(uri):
        bad = next(c for c in uri if not _URI_CHARS.match(c))
        raise _fail(uri, "only URI characters (RFC 3986)", f"{bad!r} in {quoted(uri)}")
    if _BAD_ESCAPE.search(uri):
        raise _fail(uri, "every '%' followed by two hex digits", quoted(uri))
    for scheme in ("https://", "http://", "HTTPS://", "HTTP://"):
        if uri.startswith(scheme):
            break
    else:
        raise NotGs1Error("digital_link", uri, "an http:// or https:// URI")
    rest = uri[len(scheme) :]
    rest, hash_mark, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    _check_authority(authority, uri)
    path = slash + path
    if not _PCHARS.match(path.replace("/", "")):
        raise _fail(uri, "a path of URI path characters", quoted(path))
    if question and not _QUERY_CHARS.match(query):
        raise _fail(uri, "a query of URI query characters", quoted(query))
    if hash_mark and not _QUERY_CHARS.match(fragment):
        raise _fail(uri, "a fragment of URI characters", quoted(fragment))
    return (
        scheme[:-3].lower(),
        authority,
        path,
        query if question else None,
        fragment if hash_mark else None,
    )


def _path_ai(segment: str, legacy: bool) -> str | None:
    if segment.isascii() and segment.isdigit():
        return segment if segment in BY_AI else None
    if legacy:
        return CONVENIENCE_ALPHAS.get(segment)
    return None


@lru_cache(maxsize=1 << 12)
def parse_digital_link(uri: str, *, legacy: bool = False) -> DigitalLink:
    """Read a GS1 Digital Link URI strictly (see the module doc).

    :class:`NotGs1Error` when ``uri`` is no http(s) URI or its path names no GS1 primary
    key; :class:`FormatError`/:class:`CheckDigitError`/:class:`RuleError` when it does but
    breaks a rule. Association rules between the AIs are the caller's (``check_rules``).
    """
    scheme, authority, path, query, fragment = split_uri(uri)
    segments = path.split("/")  # path starts with "/": segments[0] == ""
    if len(segments) > 1 and segments[-1] == "" and len(segments) > 2:
        raise _fail(uri, "a path that does not end with '/'", quoted(path))
    start: int | None = None
    index = len(segments) - 2
    while index >= 1:
        ai = _path_ai(segments[index], legacy)
        if ai is None:
            break
        if ai in DL_PRIMARY_KEYS:
            start = index
            break
        index -= 2
    if start is None:
        compressed = _compressed(uri, scheme, authority, segments, query, fragment)
        if compressed is not None:
            return compressed
        raise NotGs1Error(
            "digital_link", uri, "a path with a GS1 primary key: /AI/value (e.g. /01/<GTIN>)"
        )
    path_elements: list[Element] = []
    for position in range(start, len(segments), 2):
        ai = _path_ai(segments[position], legacy)
        if ai is None or position + 1 >= len(segments):
            raise _fail(uri, "/AI/value pairs after the primary key", quoted(path))
        raw = segments[position + 1]
        if not raw:
            raise _fail(uri, f"a value for AI ({ai}) in the path", quoted(path))
        value = _unescape(raw, uri, query=False)
        if ai == "01" and len(value) in (8, 12, 13) and value.isdigit():
            if not legacy:
                raise FormatError(
                    "gtin",
                    value,
                    "14 digits in a Digital Link path (a GTIN-8, -12 or -13 is written with "
                    "leading zeros)",
                )
            value = value.zfill(14)
        validate_element(ai, value)
        path_elements.append(Element(ai, value))
    sequence = tuple(element.ai for element in path_elements)
    primary = sequence[0]
    if sequence not in path_sequences(primary):
        allowed = entry_of(primary).dl_qualifiers or ((),)
        orders = " or ".join(",".join(s) for s in allowed if s) or "none"
        raise RuleError(
            "digital_link",
            uri,
            f"after AI ({primary}) only key qualifiers in the order {orders}",
            f"path AIs {','.join(sequence)} in {quoted(uri)}",
        )
    query_elements: list[Element] = []
    others: list[tuple[str, str | None]] = []
    seen = set(sequence)
    for parameter in (query or "").split("&"):
        if not parameter:
            continue
        name, equals, raw = parameter.partition("=")
        if not (name.isascii() and name.isdigit()):
            others.append((name, raw if equals else None))
            continue
        if name not in BY_AI:
            raise _fail(
                uri,
                "numeric query parameters that are GS1 Application Identifiers",
                f"{quoted(name)} in {quoted(uri)}",
            )
        if not raw:
            raise _fail(uri, f"a value for AI ({name}) in the query", quoted(parameter))
        value = _unescape(raw, uri, query=True)
        if name == "01" and len(value) in (8, 12, 13) and value.isdigit():
            value = value.zfill(14)  # the standard's GTIN normalisation for query values
        _check_attribute(uri, name, sequence, seen)
        validate_element(name, value)
        seen.add(name)
        query_elements.append(Element(name, value))
    stem = f"{scheme}://{authority}" + "/".join(segments[:start])
    return DigitalLink(
        uri, stem, tuple(path_elements), tuple(query_elements), tuple(others), fragment
    )


def _compressed(
    uri: str,
    scheme: str,
    authority: str,
    segments: list[str],
    query: str | None,
    fragment: str | None,
) -> DigitalLink | None:
    """A compressed (``/{base64url}``) or partially compressed (``/01/{gtin}/{base64url}``)
    Digital Link; None if the last path segment is no compressed Digital Link."""
    last = segments[-1] if segments else ""
    if len(segments) < 2 or not last or not _BASE64URL.match(last):
        return None
    try:
        elements, others = decompress_segment(last)
    except NotGs1Error:
        return None
    cut = len(segments) - 1
    if len(segments) >= 4 and segments[-3] in DL_PRIMARY_KEYS:
        key = Element(segments[-3], _unescape(segments[-2], uri, query=False))
        validate_element(*key)
        elements = (key, *elements)
        cut = len(segments) - 3
    seen = {element.ai for element in elements}
    if len(seen) != len(elements):
        raise RuleError("digital_link", uri, "each AI once", quoted(uri))
    extra: list[Element] = []
    other_parameters: list[tuple[str, str | None]] = list(others)
    for parameter in (query or "").split("&"):
        name, equals, raw = parameter.partition("=")
        if not parameter:
            continue
        if name.isascii() and name.isdigit():
            if name not in BY_AI or not raw or name in seen:
                raise RuleError(
                    "digital_link", uri, "query AIs with values, once each", quoted(parameter)
                )
            value = _unescape(raw, uri, query=True)
            validate_element(name, value)
            seen.add(name)
            extra.append(Element(name, value))
        else:
            other_parameters.append((name, raw if equals else None))
    path, rest = arrange((*elements, *extra))
    stem = f"{scheme}://{authority}" + "/".join(segments[:cut])
    return DigitalLink(uri, stem, path, rest, tuple(other_parameters), fragment, compressed=True)


def _check_attribute(uri: str, ai: str, path: tuple[str, ...], seen: set[str]) -> None:
    if ai in seen:
        raise RuleError("digital_link", uri, f"AI ({ai}) once", f"AI ({ai}) twice in {quoted(uri)}")
    entry = BY_AI[ai]
    if not entry.dl_data_attribute:
        raise RuleError(
            "digital_link",
            uri,
            f"only Digital Link data attributes in the query; AI ({ai}) is not one",
            quoted(uri),
        )
    sequences = path_sequences(path[0])
    for cut in range(1, len(path) + 1):
        if (*path[:cut], ai, *path[cut:]) in sequences:
            raise RuleError(
                "digital_link",
                uri,
                f"key qualifier AI ({ai}) in the path, not in the query",
                quoted(uri),
            )


@lru_cache(maxsize=64)
def normalise_domain(domain: str) -> str:
    """``scheme://host[/path-prefix]`` without a trailing slash, or raise FormatError."""
    expected = "an http(s) URI with a host and no query or fragment, e.g. 'https://id.gs1.org'"
    try:
        scheme, authority, path, query, fragment = split_uri(domain)
    except FormatError as exc:
        raise FormatError("domain", domain, expected) from exc
    if query is not None or fragment is not None or not domain.startswith(("http", "HTTP")):
        raise FormatError("domain", domain, expected)
    return f"{scheme}://{authority}{path}".rstrip("/")


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


def digital_link_from_elements(elements: Sequence[Element], domain: str = DEFAULT_DOMAIN) -> str:
    """The Digital Link of ``elements``: the first primary key AI, the qualifier sequence
    that carries most of the AIs present, every other AI in the query.

    :class:`RuleError` listing every AI a Digital Link cannot express (not a data attribute,
    or a qualifier of another sequence), instead of dropping it.
    """
    values: dict[str, str] = {}
    for ai, value in elements:
        validate_element(ai, value)
        if values.setdefault(ai, value) != value:
            raise RuleError("digital_link", ai, f"one value for AI ({ai})")
    primary = next((ai for ai in values if ai in DL_PRIMARY_KEYS), None)
    if primary is None:
        raise RuleError(
            "digital_link",
            "".join(f"({ai}){value}" for ai, value in values.items()),
            "a GS1 Digital Link primary key AI (01, 00, 414, 8004, …)",
            "none",
        )
    best: tuple[str, ...] = ()
    refused: list[str] = list(values)
    for sequence in entry_of(primary).dl_qualifiers or ((),):
        chosen = tuple(ai for ai in sequence if ai in values)
        path = (primary, *chosen)
        left_out = [
            ai
            for ai in values
            if ai not in path and (not BY_AI[ai].dl_data_attribute or _belongs_in_path(ai, path))
        ]
        if (len(left_out), -len(chosen)) < (len(refused), -len(best)):
            best, refused = chosen, left_out
    if refused:
        raise RuleError(
            "digital_link",
            "".join(f"({ai}){value}" for ai, value in values.items()),
            f"AIs a Digital Link with primary key AI ({primary}) can carry",
            "AI " + ", ".join(f"({ai})" for ai in refused) + " cannot be expressed",
        )
    path_ais = {primary, *best}
    return build_uri(
        domain,
        primary,
        values[primary],
        [(ai, values[ai]) for ai in best],
        [(ai, value) for ai, value in values.items() if ai not in path_ais],
    )


def _belongs_in_path(ai: str, path: tuple[str, ...]) -> bool:
    sequences = path_sequences(path[0])
    return any((*path[:cut], ai, *path[cut:]) in sequences for cut in range(1, len(path) + 1))
