"""Every GS1 Application Identifier, as GS1's Barcode Syntax Dictionary defines it.

:data:`APPLICATION_IDENTIFIERS` is built from :mod:`gs1._table`, which ``python -m
gs1.dictionary`` generates from the dictionary shipped in ``gs1/data/`` (see
:mod:`gs1.dictionary`). Each :class:`ApplicationIdentifier` carries its components (character
set, length, optional or not, linters), whether a separator (FNC1, transmitted as GS) must
follow it when it is not last, whether it may be a GS1 Digital Link data attribute, its
association rules (``req``: the AIs one of which must be present with it; ``ex``: the AIs
that must not) and, for Digital Link primary keys, the key qualifier sequences.

Association patterns follow the dictionary: ``01+21`` means both, ``31nn`` any AI that starts
``31`` and has two more digits; an AI never excludes itself even if it matches a pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from gs1._table import ROWS, SOURCE_COMMIT


class Charset(Enum):
    NUMERIC = "N"
    CSET82 = "X"
    CSET39 = "Y"
    CSET64 = "Z"


_CHARSET_WORDS = {
    Charset.NUMERIC: "digits",
    Charset.CSET82: "characters of GS1 CSET 82",
    Charset.CSET39: "characters of GS1 CSET 39",
    Charset.CSET64: "characters of GS1 CSET 64 (base64url)",
}


@dataclass(frozen=True, slots=True)
class Component:
    """One part of an AI's data, e.g. ``N13,csum,gcppos1`` or ``[X..17]``."""

    charset: Charset
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]

    @property
    def fixed(self) -> bool:
        return self.min_length == self.max_length

    @property
    def notation(self) -> str:
        size = f"{self.max_length}" if self.fixed else f"..{self.max_length}"
        text = f"{self.charset.value}{size}"
        return f"[{text}]" if self.optional else text

    def describe(self) -> str:
        words = _CHARSET_WORDS[self.charset]
        size = f"{self.max_length}" if self.fixed else f"1 to {self.max_length}"
        return ("optionally " if self.optional else "") + f"{size} {words}"


@dataclass(frozen=True, slots=True)
class ApplicationIdentifier:
    ai: str
    title: str  # GS1 data title
    field: str  # the name in error messages: ours for the AIs we model, else "AI (nnnn)"
    components: tuple[Component, ...]
    fnc1_required: bool  # GS must follow when not last (all but predefined-length AIs)
    dl_data_attribute: bool  # may be a GS1 Digital Link query parameter (flag "?")
    requires: tuple[tuple[tuple[str, ...], ...], ...] = ()
    """Each ``req`` rule: alternatives, each a group of AI patterns that must all be present."""
    excludes: tuple[str, ...] = ()
    """AI patterns that must not be present (``ex``)."""
    dl_qualifiers: tuple[tuple[str, ...], ...] | None = None
    """For a Digital Link primary key: its qualifier sequences (``((),)`` for none)."""
    rules: tuple[str, ...] = ()
    """The ``req``/``ex`` attributes as the dictionary writes them, for messages."""

    @property
    def fixed(self) -> bool:
        """True if the data always has the same length."""
        return all(c.fixed and not c.optional for c in self.components)

    @property
    def length(self) -> int:
        """The fixed length, or the maximum length when not :attr:`fixed`."""
        return sum(c.max_length for c in self.components)

    @property
    def min_length(self) -> int:
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def charset(self) -> Charset:
        """The character set of the first component."""
        return self.components[0].charset

    @property
    def format(self) -> str:
        """The GS1 format notation, e.g. ``N2+X..20`` or ``N3+N13+[X..17]``."""
        return f"N{len(self.ai)}+" + "+".join(c.notation for c in self.components)

    @property
    def dl_primary_key(self) -> bool:
        return self.dl_qualifiers is not None

    def describe(self) -> str:
        """What the data must be, in words: ``14 digits``, ``1 to 20 characters of …``."""
        return ", then ".join(c.describe() for c in self.components)


FIELDS = {
    "00": "sscc",
    "01": "gtin",
    "02": "content_gtin",
    "10": "lot",
    "11": "production_date",
    "17": "expiry",
    "21": "serial",
    "37": "count",
    "240": "additional_id",
    "254": "gln_extension",
    "400": "order_number",
    "410": "ship_to_gln",
    "414": "gln",
    "710": "nhrn_pzn",
    "711": "nhrn_cip",
    "712": "nhrn_cn",
    "713": "nhrn_drn",
    "714": "nhrn_aim",
    "715": "nhrn_ndc",
}
"""The names serialtrace uses for the AIs of its own labels (errors, JSON)."""


def _requires(attribute: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(group.split("+")) for group in attribute.split(","))


def _entry(row: tuple[str, str, str, tuple[tuple[str, int, int, bool, tuple[str, ...]], ...],
                      tuple[str, ...]]) -> ApplicationIdentifier:  # fmt: skip
    ai, title, flags, components, attributes = row
    requires: list[tuple[tuple[str, ...], ...]] = []
    excludes: list[str] = []
    qualifiers: tuple[tuple[str, ...], ...] | None = None
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        if key == "req":
            requires.append(_requires(value))
        elif key == "ex":
            excludes.extend(value.split(","))
        elif key == "dlpkey":
            qualifiers = tuple(
                tuple(item for item in sequence.split(",") if item)
                for sequence in (value.split("|") if value else [""])
            )
    return ApplicationIdentifier(
        ai=ai,
        title=title,
        field=FIELDS.get(ai, f"AI ({ai})"),
        components=tuple(
            Component(Charset(charset), low, high, optional, linters)
            for charset, low, high, optional, linters in components
        ),
        fnc1_required="*" not in flags,
        dl_data_attribute="?" in flags,
        requires=tuple(requires),
        excludes=tuple(excludes),
        dl_qualifiers=qualifiers,
        rules=tuple(a for a in attributes if a.startswith(("req=", "ex="))),
    )


APPLICATION_IDENTIFIERS: tuple[ApplicationIdentifier, ...] = tuple(_entry(row) for row in ROWS)
"""Every AI of the GS1 Barcode Syntax Dictionary, in AI order."""

BY_AI: dict[str, ApplicationIdentifier] = {entry.ai: entry for entry in APPLICATION_IDENTIFIERS}

DICTIONARY_COMMIT = SOURCE_COMMIT
"""The gs1-syntax-dictionary commit the table was generated from."""

DL_PRIMARY_KEYS: frozenset[str] = frozenset(
    e.ai for e in APPLICATION_IDENTIFIERS if e.dl_primary_key
)


def lookup_prefix(data: str, start: int = 0) -> ApplicationIdentifier | None:
    """The AI that ``data`` starts with at ``start`` (AIs are prefix-free), or None."""
    for size in (2, 3, 4):
        entry = BY_AI.get(data[start : start + size])
        if entry is not None:
            return entry
    return None


def matches(pattern: str, ai: str) -> bool:
    """Whether ``ai`` matches a dictionary pattern such as ``31nn`` (``n``: any digit)."""
    return len(pattern) == len(ai) and all(p in ("n", a) for p, a in zip(pattern, ai, strict=True))


@lru_cache(maxsize=4096)
def path_sequences(primary: str) -> frozenset[tuple[str, ...]]:
    """Every valid Digital Link path AI sequence for primary key ``primary``: the key then
    any ordered subsequence of one of its qualifier sequences."""
    entry = BY_AI.get(primary)
    if entry is None or entry.dl_qualifiers is None:
        return frozenset()
    result: set[tuple[str, ...]] = set()
    for sequence in entry.dl_qualifiers:
        for mask in range(1 << len(sequence)):
            chosen = tuple(ai for i, ai in enumerate(sequence) if mask >> i & 1)
            result.add((primary, *chosen))
    return frozenset(result)
