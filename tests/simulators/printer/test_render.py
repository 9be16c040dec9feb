from __future__ import annotations

import random

import numpy as np
import pytest
import zxingcpp

from edge.printers import LabelBuilder, LabelTemplate
from gs1 import Sscc, UnitCode
from simulators.printer.faults import apply_label_fault
from simulators.printer.render import render
from simulators.printer.zpl import FormatReader, LabelFormat

CODES = [
    UnitCode.create(gtin="09506000134352", serial="A1B2C3", lot="LOT2611", expiry="281130"),
    UnitCode.create(gtin="4006381333931", serial="x_y%&'()*+,-./:;<=>?", lot="Z" * 20),
    UnitCode.create(gtin="09506000134352", serial="12345678901234567890", expiry="300100"),
    UnitCode.create(gtin="09506000134352"),
]


def read(image: np.ndarray) -> list[zxingcpp.Barcode]:
    return list(zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain))


def rendered(zpl: bytes) -> tuple[LabelFormat, np.ndarray]:
    (label,) = FormatReader().feed(zpl)
    assert isinstance(label, LabelFormat)
    result = render(label, 400, 240)
    assert result.errors == ()
    return label, result.image


@pytest.mark.parametrize("template", ["unit-50x30-203", "unit-40x24-300"])
@pytest.mark.parametrize("code", CODES, ids=lambda c: c.hri())
def test_every_unit_label_decodes_to_its_gs1_data(template: str, code: UnitCode) -> None:
    tpl = LabelTemplate.builtin(template)
    _label, image = rendered(LabelBuilder(tpl).unit_label(code))
    assert image.dtype == np.uint8 and image.shape == (tpl.length, tpl.width)
    (barcode,) = read(image)
    assert barcode.format == zxingcpp.BarcodeFormat.DataMatrix
    assert barcode.symbology_identifier == "]d2"
    assert barcode.text == code.element_string()


def test_sscc_label_decodes_as_gs1_128() -> None:
    sscc = Sscc.parse("095060001234567893")
    _, image = rendered(
        LabelBuilder(LabelTemplate.builtin("sscc-100x150-203")).logistic_label(sscc)
    )
    (barcode,) = read(image)
    assert barcode.format == zxingcpp.BarcodeFormat.Code128
    assert (barcode.symbology_identifier, barcode.text) == ("]C1", "00095060001234567893")


def test_a_symbol_that_cannot_be_made_is_left_out_and_named() -> None:
    (label,) = FormatReader().feed(b"^XA^FO0,0^BXN,4,200,,,,_^FD_10112^FS^XZ")
    result = render(label, 100, 100)  # type: ignore[arg-type]
    assert result.errors and result.errors[0].startswith("gs1: expected a GS1 element string")
    assert (result.image == 255).all()


@pytest.fixture
def unit_image() -> tuple[np.ndarray, tuple]:
    (label,) = FormatReader().feed(
        LabelBuilder(LabelTemplate.builtin("unit-50x30-203")).unit_label(CODES[0])
    )
    result = render(label, 400, 240)  # type: ignore[arg-type]
    return result.image, result.barcodes


def test_missed_print_is_a_blank_label(unit_image: tuple[np.ndarray, tuple]) -> None:
    image = apply_label_fault("missed", unit_image[0], unit_image[1], random.Random(1))
    assert (image == 255).all()


def test_low_contrast_prints_grey(unit_image: tuple[np.ndarray, tuple]) -> None:
    image = apply_label_fault("low_contrast", unit_image[0], unit_image[1], random.Random(1))
    assert image.min() >= 185 and image.max() == 255


@pytest.mark.parametrize("fault", ["void", "smudge"])
def test_void_and_smudge_spoil_the_code(fault: str, unit_image: tuple[np.ndarray, tuple]) -> None:
    image = apply_label_fault(fault, unit_image[0], unit_image[1], random.Random(1))
    assert read(image) == []


def test_skew_rotates_the_label(unit_image: tuple[np.ndarray, tuple]) -> None:
    original = unit_image[0]
    image = apply_label_fault("skew", original, unit_image[1], random.Random(1))
    assert image.shape == original.shape and (image != original).mean() > 0.02
