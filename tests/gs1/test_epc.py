"""EPC URIs: every TDS scheme, class and pattern; one set of rules (TDS 2.x examples)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import Element, FormatError, Gs1Error, parse_epc_uri
from gs1.identifiers import parse_identifier

E = Element

PURE_IDENTITIES = [
    ("urn:epc:id:sgtin:0614141.112345.400", "sgtin", [E("01", "10614141123459"), E("21", "400")]),
    ("urn:epc:id:sgtin:0614141.112345.a.b:c", "sgtin",
     [E("01", "10614141123459"), E("21", "a.b:c")]),
    ("urn:epc:id:sgtin:9506000.013435.A%2fB", "sgtin", [E("01", "09506000134352"), E("21", "A/B")]),
    ("urn:epc:id:sscc:0614141.1234567890", "sscc", [E("00", "106141412345678908")]),
    ("urn:epc:id:sgln:0614141.12345.400", "sgln", [E("414", "0614141123452"), E("254", "400")]),
    ("urn:epc:id:sgln:0614141.12345.0", "sgln", [E("414", "0614141123452")]),
    ("urn:epc:id:sgln:061414112345..0", "sgln", [E("414", "0614141123452")]),
    ("urn:epc:id:pgln:0614141.00777", "pgln", [E("417", "0614141007776")]),
    ("urn:epc:id:grai:0614141.12345.400", "grai", [E("8003", "00614141123452400")]),
    ("urn:epc:id:giai:0614141.12345400", "giai", [E("8004", "061414112345400")]),
    ("urn:epc:id:gsrn:0614141.1234567890", "gsrn", [E("8018", "061414112345678902")]),
    ("urn:epc:id:gsrnp:0614141.1234567890", "gsrnp", [E("8017", "061414112345678902")]),
    ("urn:epc:id:gdti:0614141.12345.400", "gdti", [E("253", "0614141123452400")]),
    ("urn:epc:id:cpi:0614141.123ABC.123456789", "cpi",
     [E("8010", "0614141123ABC"), E("8011", "123456789")]),
    ("urn:epc:id:cpi:0614141.5PQ7%2FZ43.12345", "cpi",
     [E("8010", "06141415PQ7/Z43"), E("8011", "12345")]),
    ("urn:epc:id:sgcn:4012345.67890.04711", "sgcn", [E("255", "401234567890104711")]),
    ("urn:epc:id:ginc:0614141.xyz3311cba", "ginc", [E("401", "0614141xyz3311cba")]),
    ("urn:epc:id:gsin:0614141.123456789", "gsin", [E("402", "06141411234567890")]),
    ("urn:epc:id:itip:4012345.012345.01.02.987", "itip",
     [E("8006", "040123451234560102"), E("21", "987")]),
    ("urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7'SDB", "upui",
     [E("01", "01234567894560"), E("235", "51qIgY)<&Jp3*j7'SDB")]),
    ("urn:epc:class:lgtin:4012345.012345.998877", "lgtin",
     [E("01", "04012345123456"), E("10", "998877")]),
    ("urn:epc:idpat:sgtin:4012345.012345.*", "sgtin", [E("01", "04012345123456")]),
    ("urn:epc:idpat:sgtin:4012345.*.*", "sgtin", []),
    ("urn:epc:idpat:grai:0614141.12345.*", "grai", [E("8003", "00614141123452")]),
]  # fmt: skip


@pytest.mark.parametrize(("uri", "scheme", "elements"), PURE_IDENTITIES)
def test_epc_uris(uri: str, scheme: str, elements: list[Element]) -> None:
    identity = parse_epc_uri(uri)
    assert (identity.scheme, list(identity.elements)) == (scheme, elements)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("urn:epc:id:sgtin:9506000.013435.A~B",
         "serial: expected CSET 82 characters, with \" % & / < > ? escaped as %22 %25 %26 %2F "
         "%3C %3E %3F, got 'A~B' in 'urn:epc:id:sgtin:9506000.013435.A~B'"),
        ("urn:epc:id:sgtin:9506000.013435.A%80B",
         "serial: expected escapes only for \" % & / < > ? (%22 %25 %26 %2F %3C %3E %3F), got %80 "
         "in 'urn:epc:id:sgtin:9506000.013435.A%80B'"),
        ("urn:epc:id:sgtin:9506000.013435.A%41", None),
        ("urn:epc:id:sgtin:9506000.013435.", None),
        ("urn:epc:id:sgtin:9506000.013435.ABCDEFGHIJKLMNOPQRSTU", None),
        ("urn:epc:id:sgtin:95060.0013435.A", None),
        ("urn:epc:id:sgtin:0614141.12345.400", None),
        ("urn:epc:id:sscc:0614141.123456789", None),
        ("urn:epc:id:itip:4012345.012345.03.02.987", None),
        ("urn:epc:id:cpi:0614141.123abc.1", None),
        ("urn:epc:id:cpi:0614141.123ABC.0123", None),
        ("urn:epc:id:sgcn:4012345.67890.1234567890123", None),
        ("urn:epc:id:grai:0614141.12345.ABCDEFGHIJKLMNOPQ", None),
        ("urn:epc:id:foo:0614141.1", None),
        ("urn:epc:class:sgtin:0614141.112345", None),
        ("urn:epc:idpat:sgtin:4012345.*.400", None),
        ("urn:epc:id:sgtin:0614141.112345.400\n", None),
    ],
)  # fmt: skip
def test_refused_epc_uris(uri: str, message: str | None) -> None:
    with pytest.raises(FormatError) as excinfo:
        parse_epc_uri(uri)
    if message is not None:
        assert str(excinfo.value) == message


def test_non_gs1_tds_schemes_are_not_gs1() -> None:
    assert parse_identifier("urn:epc:id:usdod:2S194.12345") is None
    assert parse_identifier("urn:example:thing") is None
    with pytest.raises(Gs1Error):
        parse_identifier("urn:epc:id:nope:1")


@given(st.text(max_size=60).map(lambda t: "urn:epc:id:sgtin:9506000.013435." + t))
def test_hostile_epc_uris_raise_only_format_errors(uri: str) -> None:
    try:
        identity = parse_epc_uri(uri)
    except FormatError:
        return
    serial = identity.serial
    assert serial is not None and 1 <= len(serial) <= 20
