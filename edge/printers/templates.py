"""Label templates: data (TOML) that says what goes where on a label.

A template names its kind (``unit`` labels carry a GS1 DataMatrix, ``logistic`` labels — case
and pallet — a GS1-128 SSCC barcode), the label size in dots, the resolution, and the position
and font of every element. Text lines are small format strings: ``"LOT {lot}"``. A line whose
field the label does not carry (a code without a lot, say) is left out. Example::

    name = "unit-50x30-203"
    kind = "unit"
    dpi = 203
    width = 400          # dots (^PW)
    length = 240         # dots (^LL)

    [datamatrix]
    x = 16               # dots from the left edge (^FO)
    y = 40               # dots from the top edge
    module = 6           # dots per module (^BX height)

    [[text]]
    x = 190
    y = 36
    font = "0"           # ^A font name
    height = 26          # dots
    width = 22           # dots (default: height)
    value = "GTIN {gtin}"
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from edge.printers.errors import TemplateError


class LabelKind(StrEnum):
    UNIT = "unit"
    LOGISTIC = "logistic"


UNIT_FIELDS = frozenset({"product", "gtin", "serial", "lot", "expiry", "expiry_yymmdd", "hri"})
"""Fields a unit label's text may name (``expiry`` is ``YYYY-MM-DD``, or ``YYYY-MM`` for day 00;
``product`` is the scheme's product code, the GTIN for GS1). A line naming a field the unit's
code does not carry (``gtin`` on a non-GS1 code, ``lot`` on a code without one) is left out."""
LOGISTIC_FIELDS = frozenset({"sscc", "sscc_hri"})
"""Fields a case or pallet label's text may name (``sscc_hri`` is ``(00)`` + the SSCC)."""

FIELDS_BY_KIND: Mapping[LabelKind, frozenset[str]] = {
    LabelKind.UNIT: UNIT_FIELDS,
    LabelKind.LOGISTIC: LOGISTIC_FIELDS,
}

MAX_DOTS = 32000
SUPPORTED_DPI = (152, 203, 300, 600)


@dataclass(frozen=True)
class TextPiece:
    literal: str
    field: str | None


@dataclass(frozen=True)
class TextSpec:
    x: int
    y: int
    font: str
    height: int
    width: int
    value: str
    pieces: tuple[TextPiece, ...]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(piece.field for piece in self.pieces if piece.field is not None)


@dataclass(frozen=True)
class DataMatrixSpec:
    x: int
    y: int
    module: int


@dataclass(frozen=True)
class Code128Spec:
    x: int
    y: int
    module: int
    height: int


@dataclass(frozen=True)
class LabelTemplate:
    name: str
    kind: LabelKind
    dpi: int
    width: int
    length: int
    texts: tuple[TextSpec, ...]
    datamatrix: DataMatrixSpec | None = None
    code128: Code128Spec | None = None
    variables: frozenset[str] = frozenset()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "template") -> LabelTemplate:
        """Validate a parsed TOML document; errors name ``source`` and the field."""
        reader = _Reader(data, source)
        symbol = "sscc_barcode" if data.get("kind") == LabelKind.LOGISTIC.value else "datamatrix"
        reader.only("name", "kind", "dpi", "width", "length", "variables", symbol, "text")
        name = reader.string("name")
        kind_text = reader.string("kind")
        try:
            kind = LabelKind(kind_text)
        except ValueError:
            raise TemplateError(
                f"{source}: kind: expected one of {[k.value for k in LabelKind]}, got {kind_text!r}"
            ) from None
        dpi = reader.integer("dpi")
        if dpi not in SUPPORTED_DPI:
            raise TemplateError(f"{source}: dpi: expected one of {SUPPORTED_DPI}, got {dpi}")
        width = reader.integer("width", 1, MAX_DOTS)
        length = reader.integer("length", 1, MAX_DOTS)
        raw_variables = data.get("variables", [])
        if not isinstance(raw_variables, list) or not all(
            isinstance(v, str) and v.isidentifier() for v in raw_variables
        ):
            raise TemplateError(
                f"{source}: variables: expected a list of names, got {raw_variables!r}"
            )
        variables = frozenset(raw_variables)
        known = FIELDS_BY_KIND[kind] | variables

        datamatrix = code128 = None
        if kind is LabelKind.UNIT:
            dm = reader.table("datamatrix")
            dm.only("x", "y", "module")
            datamatrix = DataMatrixSpec(
                x=dm.integer("x", 0, width - 1),
                y=dm.integer("y", 0, length - 1),
                module=dm.integer("module", 1, 100),
            )
        else:
            bc = reader.table("sscc_barcode")
            bc.only("x", "y", "module", "height")
            code128 = Code128Spec(
                x=bc.integer("x", 0, width - 1),
                y=bc.integer("y", 0, length - 1),
                module=bc.integer("module", 1, 10),
                height=bc.integer("height", 1, MAX_DOTS),
            )
        texts = tuple(_text_spec(item, known, width, length) for item in reader.tables("text"))
        return cls(name, kind, dpi, width, length, texts, datamatrix, code128, variables)

    @classmethod
    def load(cls, path: str | Path) -> LabelTemplate:
        """Read a template file (TOML)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TemplateError(f"template: cannot read {str(path)!r}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def builtin(cls, name: str) -> LabelTemplate:
        """One of the templates shipped in ``edge/printers/templates/`` by name."""
        names = builtin_template_names()
        if name not in names:
            raise TemplateError(f"template: expected one of {list(names)}, got {name!r}")
        text = (
            resources.files(__package__)
            .joinpath("templates", f"{name}.toml")
            .read_text(encoding="utf-8")
        )
        return cls.from_mapping(tomllib.loads(text), source=f"template {name!r}")


def builtin_template_names() -> tuple[str, ...]:
    folder = resources.files(__package__).joinpath("templates")
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def load_template(name_or_path: str | Path) -> LabelTemplate:
    """A built-in template by name, or a template file by path."""
    if isinstance(name_or_path, str) and name_or_path in builtin_template_names():
        return LabelTemplate.builtin(name_or_path)
    return LabelTemplate.load(name_or_path)


def _text_spec(item: _Reader, known: frozenset[str], width: int, length: int) -> TextSpec:
    item.only("x", "y", "font", "height", "width", "value")
    value = item.string("value")
    pieces: list[TextPiece] = []
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise TemplateError(f"{item.source}: value: {exc} in {value!r}") from None
    for literal, field, spec, conversion in parsed:
        if literal:
            pieces.append(TextPiece(literal, None))
        if field is None:
            continue
        if spec or conversion:
            raise TemplateError(
                f"{item.source}: value: expected plain {{field}} placeholders, got {value!r}"
            )
        if field not in known:
            raise TemplateError(
                f"{item.source}: value: expected fields from {sorted(known)}, got {field!r}"
            )
        pieces.append(TextPiece("", field))
    font = item.string("font")
    if len(font) != 1 or not (font.isascii() and font.isalnum() and not font.islower()):
        raise TemplateError(f"{item.source}: font: expected one of A-Z or 0-9, got {font!r}")
    height = item.integer("height", 1, MAX_DOTS)
    return TextSpec(
        x=item.integer("x", 0, width - 1),
        y=item.integer("y", 0, length - 1),
        font=font,
        height=height,
        width=item.integer("width", 1, MAX_DOTS, default=height),
        value=value,
        pieces=tuple(pieces),
    )


class _Reader:
    """Typed access to one TOML table, with errors that say where."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def only(self, *keys: str) -> None:
        """Refuse a key this table does not take (a typo would otherwise be ignored)."""
        unknown = sorted(set(self.data) - set(keys))
        if unknown:
            raise TemplateError(
                f"{self.source}: {unknown[0]}: unknown key; expected one of {sorted(keys)}"
            )

    def _get(self, key: str) -> Any:
        if key not in self.data:
            raise TemplateError(f"{self.source}: {key}: expected a value, got nothing")
        return self.data[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise TemplateError(f"{self.source}: {key}: expected a text, got {value!r}")
        return value

    def integer(
        self, key: str, low: int = 1, high: int = MAX_DOTS, default: int | None = None
    ) -> int:
        if default is not None and key not in self.data:
            return default
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TemplateError(
                f"{self.source}: {key}: expected an integer from {low} to {high}, got {value!r}"
            )
        return value

    def table(self, key: str) -> _Reader:
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise TemplateError(f"{self.source}: {key}: expected a table, got {value!r}")
        return _Reader(value, f"{self.source}: {key}")

    def tables(self, key: str) -> list[_Reader]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise TemplateError(f"{self.source}: {key}: expected an array of tables, got {value!r}")
        return [_Reader(v, f"{self.source}: {key}[{i}]") for i, v in enumerate(value)]
