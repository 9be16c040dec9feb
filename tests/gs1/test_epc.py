"""EPC URIs: every TDS scheme, class and pattern; one set of rules (TDS 2.x examples)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gs1.epc
from gs1 import Element, FormatError, Gs1Error, parse_epc_uri
from gs1.identifiers import parse_identifier, plain_sgtin

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


_PLAIN = "!'()*+,-.0123456789:;=ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
SERIALS = st.one_of(
    st.text(_PLAIN, max_size=22),  # CSET 82 that needs no escape (0 and 21-22: too short/long)
    st.lists(
        st.sampled_from([*"09.Az-_*~# /%", "%2F", "%2f", "%25", "%41", "%80", "é"]), max_size=12
    ).map("".join),
)


@st.composite
def sgtin_like(draw: st.DrawFn) -> str:
    """SGTIN URIs near the rules: company prefix 5 to 13 digits, the item reference about the
    13 digits left (sometimes one off), a serial of CSET 82, other characters and escapes."""
    prefix_length = draw(st.integers(5, 13))
    reference_length = max(0, 13 - prefix_length + draw(st.sampled_from([0, 0, 0, -1, 1])))
    prefix = draw(st.text("0123456789", min_size=prefix_length, max_size=prefix_length))
    reference = draw(st.text("0123456789", min_size=reference_length, max_size=reference_length))
    return f"urn:epc:id:sgtin:{prefix}.{reference}.{draw(SERIALS)}"


@settings(max_examples=300)
@given(sgtin_like())
@example("urn:epc:id:sgtin:9506000.013435.A~B")
@example("urn:epc:id:sgtin:9506000.013435.A%2FB")
@example("urn:epc:id:sgtin:9506000.013435." + "A" * 21)
@example("urn:epc:id:sgtin:9506000.013435.A1B2C3")
def test_the_sgtin_fast_path_agrees_with_the_parser(uri: str) -> None:
    """plain_sgtin (one regular expression: the ingest hot path, and parse_epc_uri's first
    step) accepts exactly the SGTIN URIs without escapes that the general SGTIN rules (company
    prefix, item reference, TDS escapes, CSET 82) accept, with the same GTIN and serial."""
    fast = plain_sgtin(uri)
    parts = uri.removeprefix("urn:epc:id:sgtin:").split(".", 2)
    try:
        if len(parts) != 3:
            raise FormatError("epc_uri", uri, "three parts")
        identity = gs1.epc._sgtin(uri, parts)  # parse_epc_uri's rules without its fast path
    except Gs1Error:
        assert fast is None
        with pytest.raises(FormatError):
            parse_epc_uri(uri)
        return
    assert parse_epc_uri(uri).elements == identity.elements
    if "%" in uri:
        assert fast is None
        return
    assert fast is not None
    assert list(identity.elements) == [E("01", fast[0].value), E("21", fast[1])]
