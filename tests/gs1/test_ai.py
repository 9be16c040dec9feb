from __future__ import annotations

import pytest
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from gs1 import APPLICATION_IDENTIFIERS, BY_AI, Charset
from gs1.elements import Element, check_rules, encode


def test_table_has_the_pharma_label_ais() -> None:
    required = {"00", "01", "10", "11", "17", "21", "240", "400", "410", "414"}
    required |= {f"71{n}" for n in range(6)}
    assert required <= set(BY_AI)
    assert len(BY_AI) == len(APPLICATION_IDENTIFIERS)


@pytest.mark.parametrize("entry", APPLICATION_IDENTIFIERS, ids=lambda e: e.ai)
def test_table_agrees_with_biip(entry: object) -> None:
    ours = BY_AI[entry.ai]  # type: ignore[attr-defined]
    theirs = GS1ApplicationIdentifier.extract(ours.ai)
    assert theirs.ai == ours.ai
    assert theirs.format == ours.format
    assert theirs.separator_required == ours.fnc1_required
    assert theirs.data_title.upper() == ours.title.upper()


def test_serial_and_lot_are_20_cset82() -> None:
    for ai in ("10", "21"):
        assert (BY_AI[ai].charset, BY_AI[ai].length, BY_AI[ai].fixed) == (Charset.CSET82, 20, False)


def test_encode_puts_gs_only_between_variable_fields() -> None:
    elements = [
        Element("01", "09506000134352"),
        Element("10", "L1"),
        Element("240", "X"),
        Element("21", "S1"),
    ]
    assert encode(elements) == "010950600013435210L1\x1d240X\x1d21S1"
    assert encode(elements[:2]) == "010950600013435210L1"


def test_exact_repeats_are_dropped() -> None:
    elements = (Element("01", "09506000134352"), Element("21", "S"), Element("21", "S"))
    assert check_rules(elements) == elements[:2]
