"""Translating identifiers between EPC URIs and GS1 Digital Link (GS1-EPC-Format): every
scheme both can say round-trips; what one cannot say, or a Digital Link of no known company
prefix, is not translated (None), never guessed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import Element, FormatError, Gtin, Sscc, sgtin_uri, sscc_uri
from gs1.epc import epc_uri_from_elements
from gs1.identifiers import company_prefix, equivalent_forms, to_digital_link, to_epc_uri
from tests.gs1.strategies import cset82, gtins, ssccs
from tests.gs1.test_epc import PURE_IDENTITIES

UNTRANSLATABLE = ("cpi", "itip", "upui")  # Digital Link says them, the URI has no form of it


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [(uri, scheme) for uri, scheme, _ in PURE_IDENTITIES if ":idpat:" not in uri],
)
def test_every_scheme_round_trips(uri: str, scheme: str) -> None:
    link = to_digital_link(uri)
    assert link is not None and link.startswith("https://id.gs1.org/")
    prefix = company_prefix(uri)
    assert prefix is not None
    back = to_epc_uri(link, {prefix, "99999999"})
    rendered = re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group().upper(), uri)  # escapes in upper case
    assert back == (None if scheme in UNTRANSLATABLE else rendered)


@given(gtins, cset82(), st.integers(6, 12))
def test_sgtin_round_trips(gtin: Gtin, serial: str, cpl: int) -> None:
    uri = sgtin_uri(gtin, serial, cpl)
    link = to_digital_link(uri)
    assert link is not None
    assert to_epc_uri(link, {gtin.value[1 : 1 + cpl]}) == uri


@given(ssccs, st.integers(6, 12))
def test_sscc_round_trips(sscc: Sscc, cpl: int) -> None:
    uri = sscc_uri(sscc, cpl)
    link = to_digital_link(uri)
    assert link == f"https://id.gs1.org/00/{sscc.value}"
    assert to_epc_uri(link, {sscc.value[1 : 1 + cpl]}) == uri


def test_the_longest_matching_company_prefix_counts() -> None:
    link = "https://id.gs1.org/01/10614141073464/21/2017"
    assert to_epc_uri(link, {"061414", "0614141"}) == "urn:epc:id:sgtin:0614141.107346.2017"
    assert to_epc_uri(link, {"061414"}) == "urn:epc:id:sgtin:061414.1107346.2017"


@pytest.mark.parametrize(
    "text",
    [
        "https://id.gs1.org/01/10614141073464/21/2017",  # prefix not known below
        "https://id.gs1.org/01/10614141073464/21/2017?17=310101",  # data attributes
        "https://id.gs1.org/01/10614141073464",  # a GTIN alone: no EPC
        "https://example.com/things/42",
        "urn:epc:id:sgtin:0614141.107346.2017",  # already a URI
        "https://id.gs1.org/01/10614141073465/21/2017",  # wrong check digit
        "",
    ],
)
def test_what_is_not_translated_to_an_epc_uri(text: str) -> None:
    assert to_epc_uri(text, {"4012345"}) is None


@pytest.mark.parametrize(
    "text",
    [
        "urn:epc:idpat:sgtin:0614141.107346.*",
        "urn:epc:id:sgtin:0614141.107346.A~B",  # breaks TDS
        "urn:epc:id:usdod:CAGEY.5678",  # not GS1
        "urn:example:thing:1",
        "https://id.gs1.org/01/10614141073464/21/2017",
    ],
)
def test_what_is_not_translated_to_a_digital_link(text: str) -> None:
    assert to_digital_link(text) is None


def test_elements_no_uri_expresses_are_refused_by_name() -> None:
    with pytest.raises(FormatError) as excinfo:
        epc_uri_from_elements((Element("01", "10614141073464"),), 7)
    assert excinfo.value.field == "epc_uri"
    assert "(01)10614141073464" in str(excinfo.value)
    assert "element strings of a key an EPC URI expresses" in str(excinfo.value)


def test_equivalent_forms() -> None:
    uri = "urn:epc:id:sgln:0614141.00001.0"
    link = "https://id.gs1.org/414/0614141000012"
    assert equivalent_forms(uri) == (uri, link)
    forms = equivalent_forms(link)
    assert forms[0] == link and uri in forms
    assert len(forms) == 8  # one EPC URI per company prefix length, 6 to 12
    assert all(to_digital_link(form) == link for form in forms[1:])
    assert equivalent_forms("urn:example:thing:1") == ("urn:example:thing:1",)
    assert equivalent_forms(f"{link}?7003=2501011200") == (f"{link}?7003=2501011200",)
