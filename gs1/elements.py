"""Element strings: AI + data, validated against :mod:`gs1.ai`; rendered here, parsed by biip.

biip does the reading of scanned data, HRI text and Digital Link URIs (its exceptions are
translated into :class:`~gs1.errors.FormatError` here); this module checks each value against
our AI table and the message against GS1's association rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from biip import ParseConfig, ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementStrings
from biip.gs1_messages import GS1Message

from gs1.ai import BY_AI, ApplicationIdentifier, Charset, Check
from gs1.checkdigit import is_digits, require_key
from gs1.cset82 import validate_cset82
from gs1.dates import Expiry
from gs1.errors import FormatError, RuleError, quote

GS = "\x1d"
"""ASCII group separator: what a scanner transmits for an FNC1 that separates fields."""

# Dates are checked by our own rules (day 00 allowed) for uniform error messages.
_BIIP_CONFIG = ParseConfig(gs1_element_strings_verify_date=False, separator_chars=(GS,))


class Element(NamedTuple):
    """One AI and its data, e.g. ``Element("21", "A1B2C3")``."""

    ai: str
    value: str


def validate_element(ai: str, value: str) -> ApplicationIdentifier:
    """Check ``value`` against the table entry of ``ai``; return the entry or raise."""
    entry = BY_AI.get(ai)
    if entry is None:
        known = ", ".join(f"({code})" for code in BY_AI)
        raise FormatError("ai", ai, f"one of {known}")
    field = entry.field
    if entry.charset is Charset.CSET82:
        validate_cset82(value, field=field, max_length=entry.length)
    elif entry.fixed:
        if len(value) != entry.length or not is_digits(value):
            if entry.check is Check.DATE:
                Expiry.parse(value, field=field)  # raises with the date wording
            raise FormatError(field, value, f"{entry.length} digits")
    elif not (0 < len(value) <= entry.length and is_digits(value)):
        raise FormatError(field, value, f"1 to {entry.length} digits")
    if entry.check is Check.CHECK_DIGIT:
        require_key(value, entry.length, field)
    elif entry.check is Check.DATE:
        Expiry.parse(value, field=field)
    return entry


def check_rules(elements: Sequence[Element]) -> tuple[Element, ...]:
    """Check association rules; return the elements with exact repeats dropped.

    Raises :class:`RuleError` for an AI given twice with different values, an AI without one
    of the AIs it requires (21 without 01), or two AIs that exclude each other (01 and 02).
    """
    seen: dict[str, str] = {}
    unique: list[Element] = []
    for element in elements:
        previous = seen.get(element.ai)
        if previous is None:
            seen[element.ai] = element.value
            unique.append(element)
        elif previous != element.value:
            field = BY_AI[element.ai].field if element.ai in BY_AI else f"ai ({element.ai})"
            raise RuleError(
                field,
                element.value,
                f"one value for AI ({element.ai})",
                f"{quote(previous)} and {quote(element.value)}",
            )
    for element in unique:
        entry = BY_AI.get(element.ai)
        if entry is None:
            continue
        if entry.requires and not any(ai in seen for ai in entry.requires):
            needed = " or ".join(f"AI ({ai})" for ai in entry.requires)
            raise RuleError(
                entry.field,
                element.value,
                f"{needed} in the same code as AI ({entry.ai})",
                f"AI ({entry.ai}) {quote(element.value)} without it",
            )
        for other in entry.excludes:
            if other in seen:
                raise RuleError(
                    entry.field,
                    element.value,
                    f"no AI ({other}) in the same code as AI ({entry.ai})",
                    "both",
                )
    return tuple(unique)


def encode(elements: Sequence[Element], separator: str = GS) -> str:
    """Concatenate elements in the order given, ``separator`` after each element whose AI
    needs one (variable length) unless it is the last. No leading FNC1."""
    parts: list[str] = []
    last = len(elements) - 1
    for index, (ai, value) in enumerate(elements):
        parts.append(ai)
        parts.append(value)
        if index != last and _needs_separator(ai):
            parts.append(separator)
    return "".join(parts)


def hri(elements: Iterable[Element]) -> str:
    return "".join(f"({ai}){value}" for ai, value in elements)


def _needs_separator(ai: str) -> bool:
    entry = BY_AI.get(ai)
    if entry is not None:
        return entry.fnc1_required
    return ai[:2] not in _PREDEFINED_LENGTH_PREFIXES


# GS1 General Specifications figure 7.8.5-2: AIs starting with these need no separator.
_PREDEFINED_LENGTH_PREFIXES = frozenset(
    ["00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]
    + [str(n) for n in range(31, 37)]
    + ["41"]
)


def parse_element_string(data: str) -> tuple[Element, ...]:
    """Read AI data as scanned (no symbology identifier), fields separated by GS."""
    try:
        message = GS1Message.parse(data, config=_BIIP_CONFIG)
    except (ParseError, ValueError) as exc:
        raise FormatError("element_string", data, "GS1 AI data", _got(data, exc)) from exc
    return _elements(message.element_strings)


def parse_hri(data: str) -> tuple[Element, ...]:
    """Read HRI text such as ``(01)09506000134352(10)LOT1``."""
    try:
        message = GS1Message.parse_hri(data, config=_BIIP_CONFIG)
    except (ParseError, ValueError) as exc:
        raise FormatError("hri", data, "HRI text '(AI)data(AI)data'", _got(data, exc)) from exc
    return _elements(message.element_strings)


def parse_digital_link(uri: str) -> tuple[Element, ...]:
    """Read the AIs of a GS1 Digital Link URI (path and query; other parameters ignored)."""
    try:
        link = GS1DigitalLinkURI.parse(uri, config=_BIIP_CONFIG)
    except (ParseError, ValueError) as exc:
        raise FormatError("digital_link", uri, "a GS1 Digital Link URI", _got(uri, exc)) from exc
    return _elements(link.element_strings)


def _elements(strings: GS1ElementStrings) -> tuple[Element, ...]:
    return tuple(Element(es.ai.ai, es.value) for es in strings)


def _got(data: str, exc: Exception) -> str:
    reason = str(exc)
    if len(reason) > 200:
        reason = reason[:200] + "…"
    return f"{quote(data)} ({reason})"
