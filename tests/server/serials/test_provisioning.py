"""Imported lists: the three document formats, GS1 checks with exact messages, the checks
against every value already known, serving them to lines, and the usage report back."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

import gs1
from server.auth import User
from server.serials import ScopeKey, SerialAuthority
from server.serials.errors import Refused
from server.serials.provisioning import parse_document
from server.store import write_transaction
from server.store.schema import units
from tests.server.serials.conftest import NOW

BRAND_GTIN = "04012345000009"
SSCC_PREFIX = "4012345"


def csv_serials(serials: list[str], gtin: str = BRAND_GTIN) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["gtin", "serial"])
    writer.writerows([gtin, s] for s in serials)
    return out.getvalue().encode()


def epcis(epcs: list[str], **event: object) -> bytes:
    return json.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2025-03-01T08:00:00Z",
            "epcisBody": {
                "eventList": [
                    {
                        "type": "ObjectEvent",
                        "eventTime": "2025-03-01T08:00:00Z",
                        "eventTimeZoneOffset": "+00:00",
                        "action": "ADD",
                        "bizStep": "encoding",
                        "epcList": epcs,
                        **event,
                    }
                ]
            },
        }
    ).encode()


def test_csv_serials_with_every_gs1_problem_named() -> None:
    payload = (
        "gtin,serial\n"
        f"{BRAND_GTIN},A1\n"
        "04012345000008,A2\n"
        f"{BRAND_GTIN},{'X' * 21}\n"
        f"{BRAND_GTIN},A^1\n"
        f"{BRAND_GTIN},A1\n"
        f"{BRAND_GTIN}\n"
    ).encode()
    with pytest.raises(Refused) as error:
        parse_document(payload, "csv")
    assert error.value.problems == [
        "line 3: gtin: expected check digit 9, got 8 in '04012345000008'",
        f"line 4: serial: expected 1 to 20 characters of GS1 CSET 82, got '{'X' * 21}' "
        "(21 characters)",
        "line 5: serial: expected 1 to 20 characters of GS1 CSET 82, got 'A^1' ('^' at "
        "position 2 is not in CSET 82)",
        "line 6: 'A1' appears twice (first at line 2)",
        "line 7: expected 2 fields, got 1",
    ]
    assert str(error.value).startswith("document refused: 5 problems; first: line 3: gtin:")


def test_csv_header_names_the_layouts() -> None:
    with pytest.raises(Refused) as error:
        parse_document(b"serial\n1\n", "csv")
    assert str(error.value) == (
        "header: expected gtin,serial or company_prefix,sscc or "
        "company_prefix,first_sscc,last_sscc, got 'serial'"
    )


def test_sscc_range_and_list_csv() -> None:
    first = gs1.Sscc.build(3, SSCC_PREFIX, 1000).value
    last = gs1.Sscc.build(3, SSCC_PREFIX, 1004).value
    document = parse_document(
        f"company_prefix,first_sscc,last_sscc\n{SSCC_PREFIX},{first},{last}\n".encode(), "csv"
    )
    key = ScopeKey.sscc(3, SSCC_PREFIX)
    assert document.lists == {
        key: [gs1.Sscc.build(3, SSCC_PREFIX, n).value for n in range(1000, 1005)]
    }
    other = gs1.Sscc.build(3, "4012346", 1).value
    with pytest.raises(Refused) as error:
        parse_document(f"company_prefix,sscc\n{SSCC_PREFIX},{other}\n".encode(), "csv")
    assert error.value.problems == [
        f"line 2: sscc: expected an SSCC of company prefix {SSCC_PREFIX}, got '{other}'"
    ]


def test_epcis_document_with_epc_uris_and_digital_links() -> None:
    sscc = gs1.Sscc.build(0, SSCC_PREFIX, 7)
    document = parse_document(
        epcis(
            [
                "urn:epc:id:sgtin:4012345.000000.S%2F1",
                f"https://id.gs1.org/01/{BRAND_GTIN}/21/S2",
                gs1.sscc_uri(sscc, 7),
            ]
        ),
        "epcis",
    )
    assert document.lists == {
        ScopeKey.sgtin(BRAND_GTIN): ["S/1", "S2"],
        ScopeKey.sscc(0, SSCC_PREFIX): [sscc.value],
    }
    assert document.reference == "EPCISDocument 2025-03-01T08:00:00Z"


def test_epcis_events_that_are_not_provisioning_are_refused() -> None:
    with pytest.raises(Refused) as error:
        parse_document(
            epcis(["urn:epc:id:sgtin:4012345.000000.1"], bizStep="commissioning"), "epcis"
        )
    assert error.value.problems == [
        "eventList[0]: expected an ObjectEvent with action ADD and bizStep encoding (or none), "
        "got 'ObjectEvent' 'ADD' 'commissioning'"
    ]


def test_openscs_collection() -> None:
    payload = json.dumps(
        {
            "snFormat": "gs1-ai21",
            "poolSelectionCriteria": [{"key": "GTIN", "value": BRAND_GTIN}],
            "snCollection": {
                "id": "C-1",
                "state": "unallocated",
                "associatedPoolID": "BO-POOL-77",
                "serialNumbers": ["100", "101"],
            },
        }
    ).encode()
    document = parse_document(payload, "openscs")
    assert (document.reference, document.lists) == (
        "BO-POOL-77",
        {ScopeKey.sgtin(BRAND_GTIN): ["100", "101"]},
    )
    with pytest.raises(Refused) as error:
        parse_document(payload.replace(b"unallocated", b"encoded"), "openscs")
    assert str(error.value) == (
        "snCollection.state: expected unassigned or unallocated (serial numbers a line has not "
        "used), got 'encoded'"
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"a": NaN}', "document: expected finite numbers, got NaN"),
        (b"[" * 40 + b"]" * 40, "document: expected at most 16 levels of nesting, got more"),
        (b"\xff", "document: expected UTF-8, got a byte it cannot decode"),
        (b"{", "document: expected JSON, got a syntax error: Expecting property name"),
    ],
)
def test_hostile_json_is_refused_with_a_reason(payload: bytes, message: str) -> None:
    with pytest.raises(Refused) as error:
        parse_document(payload, "openscs")
    assert str(error.value).startswith(message)


_CSET82 = st.text(alphabet=sorted(gs1.CSET82), min_size=1, max_size=20)


@settings(max_examples=50, deadline=None)
@given(st.lists(_CSET82, min_size=1, max_size=30, unique=True))
def test_any_cset82_serials_survive_csv(serials: list[str]) -> None:
    document = parse_document(csv_serials(serials), "csv")
    assert document.lists == {ScopeKey.sgtin(BRAND_GTIN): serials}


# -- the authority ---------------------------------------------------------------------------


def _import(
    authority: SerialAuthority, payload: bytes, format: str = "csv"
) -> list[dict[str, object]]:
    document = parse_document(payload, format)
    return authority.import_lists(
        document.lists,
        format=format,
        supplier="Brand Owner AG",
        reference="PO-1",
        sha256=document.sha256,
        actor="qa1",
        now=NOW,
    )


def test_lists_are_served_like_generated_serials_and_reported_back(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    first = _import(authority, csv_serials([f"BO{n:04d}" for n in range(10)]))
    second = _import(authority, csv_serials([f"BO{n:04d}" for n in range(10, 15)]))
    assert [(r["first_position"], r["stop_position"]) for r in first + second] == [
        (0, 10),
        (10, 15),
    ]
    one, two = lines
    key = ScopeKey.sgtin(BRAND_GTIN)
    a = authority.grant(one, key, 8, "a", now=NOW)
    b = authority.grant(two, key, 8, "b", now=NOW)
    assert a.values == [f"BO{n:04d}" for n in range(8)]
    assert (b.values, b.insufficient) == ([f"BO{n:04d}" for n in range(8, 15)], True)
    authority.report(one, key, {"used": a.values[:5], "destroyed": a.values[5:6]}, now=NOW)
    authority.report(one, key, {"returned": a.values[6:]}, now=NOW)
    usage = authority.import_usage(int(first[0]["import_id"]))  # type: ignore[call-overload]
    assert usage["counts"] == {"used": 5, "destroyed": 1, "returned": 2, "issued": 2}
    assert usage["values"][8] == {"value": "BO0008", "status": "issued", "line": "plant2/line7"}


def test_an_import_is_checked_against_everything_known(
    store: Engine, authority: SerialAuthority
) -> None:
    _import(authority, csv_serials(["K1", "K2"]))
    with write_transaction(store) as conn:
        conn.execute(
            units.insert(),
            {"gtin": BRAND_GTIN, "serial": "LIVE", "status": "active", "commission_event": 1},
        )
    with pytest.raises(Refused) as error:
        _import(authority, csv_serials(["K2", "LIVE", "NEW"]))
    assert error.value.problems == [
        f"GTIN {BRAND_GTIN}: 'K2' was already imported",
        f"GTIN {BRAND_GTIN}: 'LIVE' is already known to the trace server",
    ]
    assert authority.summary(ScopeKey.sgtin(BRAND_GTIN)).scope.limit_position == 2  # nothing in


def test_lists_cannot_join_a_gtin_the_authority_generates(authority: SerialAuthority) -> None:
    from tests.server.serials.conftest import GTIN, SCHEME

    authority.register_gtin(GTIN, SCHEME, 1000, actor="qa", reason="x", now=NOW)
    with pytest.raises(Refused) as error:
        _import(authority, csv_serials(["X1"], gtin=GTIN))
    assert error.value.problems == [
        f"GTIN {GTIN}: its identifiers are generated by this authority "
        f"({authority.summary(ScopeKey.sgtin(GTIN)).scope.scheme}); lists cannot be added to it"
    ]
