from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.printers import LabelKind, LabelTemplate, TemplateError, load_template
from edge.printers.templates import builtin_template_names


def unit(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t",
        "kind": "unit",
        "dpi": 203,
        "width": 400,
        "length": 240,
        "datamatrix": {"x": 10, "y": 10, "module": 4},
        "text": [{"x": 150, "y": 30, "font": "0", "height": 24, "value": "SN {serial}"}],
    }
    data.update(changes)
    return data


def test_builtin_templates_load() -> None:
    assert builtin_template_names() == ("sscc-100x150-203", "unit-40x24-300", "unit-50x30-203")
    for name in builtin_template_names():
        template = load_template(name)
        assert template.name == name
    assert load_template("sscc-100x150-203").kind is LabelKind.LOGISTIC


def test_text_width_defaults_to_height_and_fields_are_known() -> None:
    template = LabelTemplate.from_mapping(unit())
    assert template.texts[0].width == 24
    assert template.texts[0].fields == frozenset({"serial"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "case"}, "t.toml: kind: expected one of ['unit', 'logistic'], got 'case'"),
        ({"dpi": 200}, "t.toml: dpi: expected one of (152, 203, 300, 600), got 200"),
        ({"width": 0}, "t.toml: width: expected an integer from 1 to 32000, got 0"),
        ({"length": "240"}, "t.toml: length: expected an integer from 1 to 32000, got '240'"),
        ({"name": ""}, "t.toml: name: expected a text, got ''"),
        ({"datamatrix": 4}, "t.toml: datamatrix: expected a table, got 4"),
        (
            {"datamatrix": {"x": 10, "y": 10}},
            "t.toml: datamatrix: module: expected a value, got nothing",
        ),
        (
            {"datamatrix": {"x": 400, "y": 10, "module": 4}},
            "t.toml: datamatrix: x: expected an integer from 0 to 399, got 400",
        ),
        (
            {"text": [{"x": 1, "y": 1, "font": "0", "height": 9, "value": "{price}"}]},
            "t.toml: text[0]: value: expected fields from ['expiry', 'expiry_yymmdd', 'gtin',"
            " 'hri', 'lot', 'product', 'serial'], got 'price'",
        ),
        (
            {"text": [{"x": 1, "y": 1, "font": "0", "height": 9, "value": "{lot:>9}"}]},
            "t.toml: text[0]: value: expected plain {field} placeholders, got '{lot:>9}'",
        ),
        (
            {"text": [{"x": 1, "y": 1, "font": "^", "height": 9, "value": "x"}]},
            "t.toml: text[0]: font: expected one of A-Z or 0-9, got '^'",
        ),
        ({"variables": ["a b"]}, "t.toml: variables: expected a list of names, got ['a b']"),
        (
            {"colour": "red"},
            "t.toml: colour: unknown key; expected one of ['datamatrix', 'dpi', 'kind',"
            " 'length', 'name', 'text', 'variables', 'width']",
        ),
        (
            {"sscc_barcode": {"x": 1, "y": 1, "module": 2, "height": 50}},
            "t.toml: sscc_barcode: unknown key; expected one of ['datamatrix', 'dpi', 'kind',"
            " 'length', 'name', 'text', 'variables', 'width']",
        ),
        (
            {"datamatrix": {"x": 10, "y": 10, "module": 4, "modul": 5}},
            "t.toml: datamatrix: modul: unknown key; expected one of ['module', 'x', 'y']",
        ),
        (
            {"text": [{"x": 1, "y": 1, "font": "0", "height": 9, "value": "x", "size": 9}]},
            "t.toml: text[0]: size: unknown key; expected one of ['font', 'height', 'value',"
            " 'width', 'x', 'y']",
        ),
    ],
)
def test_invalid_templates_are_refused_with_the_field_named(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError) as error:
        LabelTemplate.from_mapping(unit(**changes), source="t.toml")
    assert str(error.value) == message


def test_template_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = ")
    with pytest.raises(TemplateError, match=r"bad.toml: not valid TOML"):
        LabelTemplate.load(path)
    with pytest.raises(TemplateError) as error:
        load_template(tmp_path / "missing.toml")
    assert str(error.value).startswith("template: cannot read '")
    with pytest.raises(TemplateError) as error:
        LabelTemplate.builtin("nope")
    assert str(error.value) == (
        "template: expected one of ['sscc-100x150-203', 'unit-40x24-300', 'unit-50x30-203'],"
        " got 'nope'"
    )
