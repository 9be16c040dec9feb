"""A non-GS1 scheme goes through the seam: key, label payload, scan matching, EPC."""

from __future__ import annotations

import datetime as dt

from identity import DATAMATRIX, SYMBOLOGIES, ScanMatch, UnitIdentity, UnitKey
from tests.identity.toy import TOY, ToyCode


def test_toy_code_is_a_unit_identity() -> None:
    code: UnitIdentity = TOY.unit("123456", "0000000042", lot="L7", expiry="2028-11-30")
    assert code.scheme == "toy"
    assert code.key() == UnitKey("toy", "123456", "0000000042")
    assert code.lot == "L7" and code.expiry_date() == dt.date(2028, 11, 30)
    payload = code.printer_payload()
    assert payload.symbology == DATAMATRIX and payload.symbology in SYMBOLOGIES
    assert payload.data == "TOY1234560000000042"
    assert payload.fields["hri"] == "TOY 123456 0000000042"
    assert code.epc_uri() == "urn:example:toy:123456.0000000042"
    assert TOY.parse_epc(code.epc_uri()) == code.key()
    assert TOY.parse_epc("urn:epc:id:sgtin:9506000.013435.A1") is None


def test_matching_a_scan() -> None:
    code = ToyCode("123456", "0000000042")
    same = code.matches("]d1TOY1234560000000042")
    assert same.ok and same.read == code
    other = code.matches("]d1TOY1234560000000043")
    assert not other.ok
    assert other.mismatches == ("serial: expected '0000000042', got '0000000043'",)
    foreign = code.matches("]d2010950600013435221A1")
    assert foreign == ScanMatch(None, error="symbology_identifier: expected ']d1', got ']d2'")
    assert not foreign.ok
