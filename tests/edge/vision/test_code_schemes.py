"""The verifier matches the decoded symbol against any identity.UnitIdentity: a non-GS1
scheme's plain DataMatrix is ok, wrong data, or not its scheme's code, by its own rules."""

from __future__ import annotations

import pytest

from edge.vision import Outcome, Verifier, make_decoder
from tests.edge.vision.conftest import UNIT, frame_with, symbol
from tests.identity.toy import TOY

CODE = TOY.unit("123456", "0000000042", lot="L7")


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier(make_decoder("zxing"))


def test_the_expected_toy_code_is_ok(verifier: Verifier) -> None:
    result = verifier.verify(frame_with(symbol("TOY1234560000000042", gs1=False)), CODE)
    assert result.outcome is Outcome.OK, result.to_dict()
    assert result.parsed == TOY.unit("123456", "0000000042")  # the scan carries no lot
    assert result.to_dict()["expected"] == {
        "scheme": "toy",
        "product": "123456",
        "serial": "0000000042",
        "lot": "L7",
        "hri": "TOY 123456 0000000042",
    }


def test_another_toy_serial_is_wrong_data_naming_the_field(verifier: Verifier) -> None:
    result = verifier.verify(frame_with(symbol("TOY1234560000000043", gs1=False)), CODE)
    assert result.outcome is Outcome.WRONG_DATA
    assert result.mismatches == ("serial: expected '0000000042', got '0000000043'",)


def test_a_gs1_symbol_where_a_toy_code_is_expected_is_wrong_data(verifier: Verifier) -> None:
    result = verifier.verify(frame_with(symbol(UNIT.hri())), CODE)
    assert result.outcome is Outcome.WRONG_DATA  # not_gs1 is GS1's word for its own codes
    assert result.error == "symbology_identifier: expected ']d1', got ']d2'"
    assert result.parsed is None and result.quality is not None
