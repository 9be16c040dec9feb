"""Element strings: AI + data, checked against GS1's Barcode Syntax Dictionary.

:func:`validate_element` checks one value: its components in order (character set, length,
optional parts) and every linter the dictionary names for each. :func:`check_rules` checks a
whole message: repeated AIs and the dictionary's association rules (``req``, ``ex``) over every
AI present. :func:`parse_element_string` and :func:`parse_hri` read the two text forms;
:func:`encode` and :func:`hri` write them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

from gs1.ai import BY_AI, ApplicationIdentifier, Charset, Component, lookup_prefix, matches
from gs1.checkdigit import is_digits
from gs1.cset82 import is_cset82, validate_cset82
from gs1.errors import FormatError, RuleError, quote
from gs1.linters import CSET39, CSET64, LINTERS

GS = "\x1d"
"""ASCII group separator: what a scanner transmits for an FNC1 that separates fields."""

MAX_ELEMENTS = 64
"""Most AIs read from one message (a GS1 DataMatrix holds 3116 characters)."""

_DATE_LINTERS = frozenset({"yymmd0", "yymmdd", "yyyymmdd", "yyyymmd0"})
_CSET82_RUN = re.compile('[!"%-?A-Z_a-z]*')


class Element(NamedTuple):
    """One AI and its data, e.g. ``Element("21", "A1B2C3")``."""

    ai: str
    value: str


def entry_of(ai: str) -> ApplicationIdentifier:
    """The dictionary entry of ``ai``; FormatError naming it if GS1 defines no such AI."""
    entry = BY_AI.get(ai)
    if entry is None:
        raise FormatError(
            "ai", ai, "an Application Identifier of the GS1 Barcode Syntax Dictionary"
        )
    return entry


@lru_cache(maxsize=1 << 14)
def validate_element(ai: str, value: str) -> ApplicationIdentifier:
    """Check ``value`` against the dictionary entry of ``ai``; return the entry or raise.

    Cached: a line prints and reads the same GTIN, lot and expiry over and over.
    """
    entry = entry_of(ai)
    if len(entry.components) == 1:
        _check_component(entry, entry.components[0], value, value)
        return entry
    position = 0
    for component in entry.components:
        if position >= len(value):
            if component.optional:
                break
            raise _layout_error(entry, value)
        if component.fixed:
            part = value[position : position + component.max_length]
            if len(part) < component.max_length:
                raise _layout_error(entry, value)
        else:
            part = value[position:]
        _check_component(entry, component, part, value)
        position += len(part)
    if position != len(value):
        raise _layout_error(entry, value)
    return entry


def _layout_error(entry: ApplicationIdentifier, value: str) -> FormatError:
    return FormatError(entry.field, value, f"{entry.describe()} for AI ({entry.ai})")


def _check_component(
    entry: ApplicationIdentifier, component: Component, part: str, value: str
) -> None:
    field = entry.field
    size_ok = component.min_length <= len(part) <= component.max_length
    if component.charset is Charset.CSET82:
        if not (size_ok and is_cset82(part, component.max_length)):
            if len(entry.components) == 1 and component.min_length == 1:
                validate_cset82(part, field=field, max_length=component.max_length)
            raise _layout_error(entry, value)
    elif component.charset is Charset.NUMERIC:
        if not (size_ok and is_digits(part)):
            for name in component.linters:
                if name in _DATE_LINTERS and len(entry.components) == 1:
                    LINTERS[name](part, field)  # the date wording for a malformed date
            if len(entry.components) == 1:
                raise FormatError(field, value, f"{component.describe()}")
            raise _layout_error(entry, value)
    elif component.charset is Charset.CSET39:
        if not size_ok or any(char not in CSET39 for char in part):
            raise _layout_error(entry, value)
    elif not size_ok or not _is_cset64(part):
        raise _layout_error(entry, value)
    for name in component.linters:
        LINTERS[name](part, field)


def _is_cset64(part: str) -> bool:
    body = part.rstrip("=")
    padding = len(part) - len(body)
    if padding > 2 or (padding and len(part) % 3):
        return False
    return all(char in CSET64 for char in body)


def check_rules(elements: Sequence[Element]) -> tuple[Element, ...]:
    """Check repeats and association rules; return the elements with exact repeats dropped.

    Raises :class:`RuleError` for an AI given twice with different values, an AI without the
    AIs its ``req`` rule asks for (21 without 01), or two AIs one of which excludes the other
    (01 and 255). The message names the AIs and quotes the dictionary's rule.
    """
    seen: dict[str, str] = {}
    unique: list[Element] = []
    for element in elements:
        previous = seen.get(element.ai)
        if previous is None:
            seen[element.ai] = element.value
            unique.append(element)
        elif previous != element.value:
            entry = BY_AI.get(element.ai)
            field = entry.field if entry is not None else f"AI ({element.ai})"
            raise RuleError(
                field,
                element.value,
                f"one value for AI ({element.ai})",
                f"{quote(previous)} and {quote(element.value)}",
            )
    problem = _association_problem(tuple(sorted(seen)))
    if problem is not None:
        ai, expected, got = problem
        raise RuleError(BY_AI[ai].field, seen[ai], expected, got)
    return tuple(unique)


@lru_cache(maxsize=4096)
def _association_problem(ais: tuple[str, ...]) -> tuple[str, str, str] | None:
    """The first broken association rule for this set of AIs: (AI, expected, got), or None.

    Cached by the set of AIs: the same few combinations repeat on every label.
    """
    present = frozenset(ais)
    for ai in ais:
        entry = BY_AI.get(ai)
        if entry is None:
            continue
        for rule in entry.requires:
            if not any(all(_present(p, present) for p in group) for group in rule):
                wanted = " or ".join("+".join(f"({p})" for p in group) for group in rule)
                text = ",".join("+".join(group) for group in rule)
                return (
                    ai,
                    f"AI {wanted} with AI ({ai}) (association rule req={text})",
                    f"AI ({ai}) without them",
                )
        for pattern in entry.excludes:
            clash = sorted(other for other in present if other != ai and matches(pattern, other))
            if clash:
                return (
                    ai,
                    f"no AI ({clash[0]}) with AI ({ai}) "
                    f"(association rule ex={','.join(entry.excludes)})",
                    f"AI ({ai}) and AI ({clash[0]})",
                )
    return None


def _present(pattern: str, present: frozenset[str]) -> bool:
    if "n" not in pattern:
        return pattern in present
    return any(matches(pattern, ai) for ai in present)


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
    return True if entry is None else entry.fnc1_required


def parse_element_string(data: str) -> tuple[Element, ...]:
    """Read AI data as scanned (no symbology identifier), fields separated by GS.

    Each value is checked (:func:`validate_element`); association rules are the caller's
    (:func:`check_rules`), once every carrier of the item is read.
    """
    elements: list[Element] = []
    position = 1 if data.startswith(GS) else 0  # FNC1 in first position, as GS
    end = len(data)
    if position >= end:
        raise FormatError("element_string", data, "GS1 AI data")
    while position < end:
        entry = lookup_prefix(data, position)
        if entry is None:
            raise FormatError(
                "element_string",
                data,
                "a GS1 Application Identifier",
                f"{quote(data[position : position + 4])} at position {position + 1} "
                f"of {quote(data)}",
            )
        start = position + len(entry.ai)
        if entry.fnc1_required:
            stop = data.find(GS, start)
            stop = end if stop == -1 else stop
            value = data[start:stop]
            position = stop + 1
        else:
            value = data[start : start + entry.length]
            position = start + entry.length
            if position < end and data[position] == GS:
                position += 1  # a separator after a predefined-length AI is tolerated
        if not value:
            raise FormatError(entry.field, value, f"{entry.describe()} for AI ({entry.ai})")
        validate_element(entry.ai, value)
        elements.append(Element(entry.ai, value))
        if len(elements) > MAX_ELEMENTS:
            raise FormatError("element_string", data, f"at most {MAX_ELEMENTS} AIs")
    return tuple(elements)


_HRI_AI = re.compile(r"\(([0-9]{2,4})\)")


def parse_hri(data: str) -> tuple[Element, ...]:
    """Read HRI text such as ``(01)09506000134352(10)LOT1`` (spaces around values ignored)."""
    text = data.strip()
    parts = _HRI_AI.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise FormatError("hri", data, "HRI text '(AI)data(AI)data'")
    elements: list[Element] = []
    for index in range(1, len(parts), 2):
        ai, value = parts[index], parts[index + 1].strip(" ")
        entry = BY_AI.get(ai)
        if entry is None:
            raise FormatError(
                "hri", data, "HRI text with AIs of the GS1 Barcode Syntax Dictionary",
                f"({ai}) in {quote(data)}",
            )  # fmt: skip
        validate_element(ai, value)
        elements.append(Element(ai, value))
        if len(elements) > MAX_ELEMENTS:
            raise FormatError("hri", data, f"at most {MAX_ELEMENTS} AIs")
    return tuple(elements)
