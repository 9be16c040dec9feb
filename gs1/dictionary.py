"""GS1's Barcode Syntax Dictionary: read its text format, and regenerate :mod:`gs1._table`.

The dictionary (``gs1/data/gs1-syntax-dictionary.txt``, Apache-2.0, licence beside it) is the
machine-readable list of every Application Identifier: its components (type ``N`` numeric,
``X`` CSET 82, ``Y`` CSET 39, ``Z`` CSET 64; fixed ``N6``, variable ``X..20``, optional
``[X..17]``), the linters that check each component (check digits, dates, country codes, …),
whether a separator must follow it (flag ``*`` means predefined length, none needed), whether
it may be a Digital Link data attribute (flag ``?``), the AIs it requires (``req``) or
excludes (``ex``) and its Digital Link primary key qualifiers (``dlpkey``).

:mod:`gs1.ai` does not read the text at import: the table is generated into
:mod:`gs1._table` (plain Python data) by::

    python -m gs1.dictionary            # rewrite gs1/_table.py from the packaged dictionary
    python -m gs1.dictionary --check    # exit 1 if gs1/_table.py and the dictionary disagree

and ``tests/gs1/test_dictionary.py`` fails when the generated table and the dictionary differ.
Updating to a new dictionary release is: replace the text file (and ``SOURCE_COMMIT``), run the
first command, run the tests.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
DICTIONARY_FILE = DATA / "gs1-syntax-dictionary.txt"
TABLE_FILE = Path(__file__).resolve().parent / "_table.py"

_FLAG_CHARS = frozenset("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")
_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?([0-9]+)(\])?((?:,[a-z0-9]+)*)\Z")
_AI_RANGE = re.compile(r"([0-9]{2,4})(?:-([0-9]{2,4}))?\Z")


class DictionaryFormatError(ValueError):
    """A line of the dictionary is not in the documented format."""


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One component of an AI's data: ``N6,yymmd0`` or ``[X..17]``."""

    charset: str  # N, X, Y or Z
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]

    @property
    def notation(self) -> str:
        size = (
            f"{self.max_length}" if self.min_length == self.max_length else f"..{self.max_length}"
        )
        text = f"{self.charset}{size}"
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One AI as the dictionary defines it (ranges such as ``3100-3105`` expanded)."""

    ai: str
    title: str
    flags: str
    components: tuple[ComponentSpec, ...]
    attributes: tuple[str, ...]


def parse_dictionary(text: str) -> tuple[EntrySpec, ...]:
    """Every AI of the dictionary ``text``, in AI order; DictionaryFormatError if malformed."""
    entries: list[EntrySpec] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        body, _, title = line.partition("#")
        try:
            entries.extend(_parse_line(body.split(), title.strip()))
        except DictionaryFormatError as exc:
            raise DictionaryFormatError(f"line {number}: {exc}: {raw!r}") from None
    entries.sort(key=lambda e: e.ai)
    seen: set[str] = set()
    for entry in entries:
        if entry.ai in seen:
            raise DictionaryFormatError(f"AI ({entry.ai}) defined twice")
        seen.add(entry.ai)
    return tuple(entries)


def _parse_line(tokens: list[str], title: str) -> list[EntrySpec]:
    if not tokens:
        raise DictionaryFormatError("no AI")
    match = _AI_RANGE.match(tokens[0])
    if match is None:
        raise DictionaryFormatError(f"AI or AI range expected, got {tokens[0]!r}")
    first, last = match.group(1), match.group(2) or match.group(1)
    if len(first) != len(last) or int(last) < int(first):
        raise DictionaryFormatError(f"bad AI range {tokens[0]!r}")
    rest = tokens[1:]
    flags = ""
    if rest and all(char in _FLAG_CHARS for char in rest[0]):
        flags, rest = rest[0], rest[1:]
    components: list[ComponentSpec] = []
    while rest and (found := _COMPONENT.match(rest[0])) is not None:
        opening, charset, variable, size, closing, linters = found.groups()
        if bool(opening) != bool(closing):
            raise DictionaryFormatError(f"unbalanced brackets in {rest[0]!r}")
        length = int(size)
        if length < 1:
            raise DictionaryFormatError(f"zero length in {rest[0]!r}")
        components.append(
            ComponentSpec(
                charset,
                1 if variable else length,
                length,
                bool(opening),
                tuple(name for name in linters.split(",") if name),
            )
        )
        rest = rest[1:]
    if not components:
        raise DictionaryFormatError("no specification")
    for index, component in enumerate(components):
        later = components[index + 1 :]
        if component.min_length != component.max_length and later:
            raise DictionaryFormatError("only the last component may have variable length")
        if component.optional and any(not c.optional for c in later):
            raise DictionaryFormatError("a mandatory component follows an optional one")
    for attribute in rest:
        key = attribute.partition("=")[0]
        if key not in ("req", "ex", "dlpkey"):
            raise DictionaryFormatError(f"unknown attribute {attribute!r}")
    width = len(first)
    return [
        EntrySpec(f"{number:0{width}d}", title, flags, tuple(components), tuple(rest))
        for number in range(int(first), int(last) + 1)
    ]


def render_table(entries: tuple[EntrySpec, ...], source_commit: str) -> str:
    """The source of :mod:`gs1._table` for ``entries``."""
    lines = [
        "# ruff: noqa: E501",
        '"""GENERATED by ``python -m gs1.dictionary`` from gs1/data/gs1-syntax-dictionary.txt',
        f"(GS1 Barcode Syntax Dictionary, commit {source_commit}). Do not edit by hand.",
        "",
        "Each row: (AI, title, flags, components, attributes); each component:",
        "(charset, min length, max length, optional, linters).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "Component = tuple[str, int, int, bool, tuple[str, ...]]",
        "Row = tuple[str, str, str, tuple[Component, ...], tuple[str, ...]]",
        "",
        f'SOURCE_COMMIT = "{source_commit}"',
        "",
        "# fmt: off",
        "ROWS: tuple[Row, ...] = (",
    ]
    for entry in entries:
        components = ", ".join(
            f"({c.charset!r}, {c.min_length}, {c.max_length}, {c.optional}, {_tuple(c.linters)})"
            for c in entry.components
        )
        lines.append(
            f"    ({entry.ai!r}, {entry.title!r}, {entry.flags!r}, ({components},), "
            f"{_tuple(entry.attributes)}),"
        )
    lines.append(")")
    lines.append("# fmt: on")
    return "\n".join(lines) + "\n"


def _tuple(items: tuple[str, ...]) -> str:
    if not items:
        return "()"
    return "(" + ", ".join(repr(item) for item in items) + ("," if len(items) == 1 else "") + ")"


def source_commit() -> str:
    return (DATA / "SOURCE_COMMIT").read_text(encoding="ascii").strip()


def generated_source(dictionary: Path = DICTIONARY_FILE) -> str:
    return render_table(parse_dictionary(dictionary.read_text(encoding="utf-8")), source_commit())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gs1.dictionary",
        description="Regenerate gs1/_table.py from GS1's Barcode Syntax Dictionary.",
    )
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the table is stale"
    )
    parser.add_argument("--dictionary", type=Path, default=DICTIONARY_FILE)
    args = parser.parse_args(argv)
    try:
        source = generated_source(args.dictionary)
    except (OSError, DictionaryFormatError) as exc:
        print(f"gs1.dictionary: {exc}", file=sys.stderr)
        return 2
    current = TABLE_FILE.read_text(encoding="utf-8") if TABLE_FILE.exists() else ""
    if args.check:
        if current != source:
            print(f"{TABLE_FILE} is stale: run python -m gs1.dictionary", file=sys.stderr)
            return 1
        print(f"{TABLE_FILE} matches {args.dictionary}")
        return 0
    TABLE_FILE.write_text(source, encoding="utf-8")
    count = source.count("\n    (")
    print(f"wrote {TABLE_FILE} ({count} AIs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
