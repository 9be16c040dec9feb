"""Element strings and HRI with every AI of the dictionary, and its association rules."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import (
    APPLICATION_IDENTIFIERS,
    GS,
    Element,
    FormatError,
    Gs1Error,
    RuleError,
    check_rules,
    parse_element_string,
    parse_hri,
    read,
)
from gs1.elements import encode

E = Element

# Element strings of the GS1 General Specifications' examples and figures.
GENERAL_SPECIFICATIONS = [
    ("(01)09504000059101(21)12345678p901(10)1234567p(17)141120(8200)http://www.gs1.org/demo/",
     None),  # figure 4.15.1-2 (the GS1 DataMatrix of refdata)
    ("(00)106141412345678908", None),
    ("(01)09521234543213(3103)000123", None),
    ("(01)09521234543213(15)210630(10)ABC123", None),
    ("(00)395011010013000129(403)MEL", None),
    ("(01)09506000134352(17)281130(10)LOT2611(21)A1B2C3(710)PZN123", None),
    ("(00)106141412345678908(02)09506000134352(37)12(10)L1", None),
    ("(01)09506000134352(422)276(423)276040", None),
    ("(8004)9506000134352ABC(7040)1AB-", None),
    ("(253)4012345000054987", None),
    ("(8006)040123451234560102(21)987", None),
    ("(01)09506000134352(21)S1(250)SECONDARY", None),
    ("(415)5412345678908(8020)ABC123(3902)1000", None),
    ("(255)0614141123452(3900)500(8111)0100", "RuleError"),  # 3900 excludes 8111
    ("(01)12345678901231(255)5412345000150", "RuleError"),
    ("(01)12312312312326(250)ABC123", "RuleError"),
    ("(01)09506000134352(21)S1(235)TPX", "RuleError"),
    ("(37)12", "RuleError"),
    ("(02)09506000134352(37)12", "RuleError"),
    ("(01)09506000134352(3103)000123(3102)000456", "RuleError"),
    ("(01)09506000134352(422)999", "FormatError"),
    ("(01)09506000134352(7007)240230", "FormatError"),
]  # fmt: skip


@pytest.mark.parametrize(("hri", "error"), GENERAL_SPECIFICATIONS)
def test_general_specifications_examples(hri: str, error: str | None) -> None:
    elements = parse_hri(hri) if error != "FormatError" else None
    if error == "FormatError":
        with pytest.raises(FormatError):
            parse_hri(hri)
        return
    assert elements is not None
    if error == "RuleError":
        with pytest.raises(RuleError):
            check_rules(elements)
        return
    assert check_rules(elements) == elements
    # The same data as scanned: FNC1 in first position, GS after variable-length fields.
    assert parse_element_string(GS + encode(elements)) == elements


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ([E("01", "12345678901231"), E("255", "5412345000150")],
         "gtin: expected no AI (255) with AI (01) (association rule ex=255,37), "
         "got AI (01) and AI (255)"),
        ([E("01", "12312312312326"), E("250", "ABC123")],
         "AI (250): expected AI (01)+(21) or (03)+(21) or (8006)+(21) with AI (250) "
         "(association rule req=01+21,03+21,8006+21), got AI (250) without them"),
        ([E("01", "09506000134352"), E("21", "S"), E("235", "T")],
         "serial: expected no AI (235) with AI (21) (association rule ex=235), "
         "got AI (21) and AI (235)"),
        ([E("02", "09506000134352"), E("37", "12")],
         "count: expected AI (00)+(02) or (00)+(8026) with AI (37) "
         "(association rule req=00+02,00+8026), got AI (37) without them"),
        ([E("01", "09506000134352"), E("3103", "000123"), E("3102", "000456")],
         "AI (3102): expected no AI (3103) with AI (3102) (association rule ex=310n), "
         "got AI (3102) and AI (3103)"),
        ([E("01", "09506000134352"), E("3922", "0299")],
         "AI (3922): expected AI (01)+(30) or (01)+(31nn) or (01)+(32nn) or (01)+(35nn) or "
         "(01)+(36nn) with AI (3922) (association rule req=01+30,01+31nn,01+32nn,01+35nn,"
         "01+36nn), got AI (3922) without them"),
    ],
)  # fmt: skip
def test_association_rule_messages(elements: list[Element], message: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_rules(elements)
    assert str(excinfo.value) == message


def test_patterns_never_exclude_the_ai_itself_and_satisfy_requirements() -> None:
    check_rules([E("01", "09506000134352"), E("3103", "000123"), E("3922", "0299")])


def test_element_string_separators() -> None:
    data = "0109506000134352" + GS + "17281130" + "10LOT" + GS + "21S1" + GS
    assert parse_element_string(data) == (
        E("01", "09506000134352"), E("17", "281130"), E("10", "LOT"), E("21", "S1"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("0109506000134352" + GS + GS + "21S1",
         "element_string: expected a GS1 Application Identifier, got '\\x1d21S' at position 18 "
         "of '0109506000134352\\x1d\\x1d21S1'"),
        ("01095060001343", "gtin: expected 14 digits, got '095060001343'"),
        ("21" + "A" * 21, "serial: expected 1 to 20 characters of GS1 CSET 82, got "
         "'AAAAAAAAAAAAAAAAAAAAA' (21 characters)"),
        ("8900ABC", "element_string: expected a GS1 Application Identifier, got '8900' at "
         "position 1 of '8900ABC'"),
        ("2533", "AI (253): expected 13 digits, then optionally 1 to 17 characters of GS1 CSET 82 "
         "for AI (253), got '3'"),
    ],
)  # fmt: skip
def test_element_string_errors(data: str, message: str) -> None:
    with pytest.raises(FormatError) as excinfo:
        parse_element_string(data)
    assert str(excinfo.value) == message


@given(st.sampled_from([e.ai for e in APPLICATION_IDENTIFIERS]), st.text(max_size=40))
def test_every_ai_refuses_hostile_values_with_a_gs1_error(ai: str, value: str) -> None:
    with contextlib.suppress(Gs1Error):
        read(f"({ai}){value}")
