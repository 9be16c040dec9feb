"""Master data in queries, on both engines: WD_readPoint/WD_bizLocation walk the stored
location hierarchy (children, transitively, cycles and depth bounded), HASATTR_/EQATTR_ find
events by their vocabulary elements' attributes; hostile master data is bounded."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select

from server.masterdata import capture_master_data
from server.masterdata import store as masterdata
from server.store import (
    create_store_engine,
    event_query,
    read_transaction,
    upgrade,
    write_transaction,
)
from server.store.migrate import current_revision, downgrade, head_revision
from server.store.schema import master_data_attributes, master_data_children
from tests.server import factory as f

Headers = dict[str, dict[str, str]]
SITE = "urn:epc:id:sgln:0614141.00001.0"
HALL = "urn:epc:id:sgln:0614141.00002.0"
DOCK = "urn:epc:id:sgln:0614141.00003.0"
OTHER = "urn:epc:id:sgln:0614141.00009.0"
LOT_CLASS = "urn:epc:class:lgtin:0614141.107346.LOT1"
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"ex": "https://example.com/ns/"},
]


def element(urn: str, children: Any = None, **attributes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": urn,
        "attributes": [{"id": key, "attribute": value} for key, value in attributes.items()],
    }
    if children is not None:
        found["children"] = children
    return found


def locations(*elements: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": list(elements),
    }


def event(label: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{label}",
        "eventTime": "2031-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": [f.sgtin(f"MD{label}")],
        **fields,
    }


def capture(
    client: TestClient, tokens: Headers, vocabularies: list[Any], events: list[Any]
) -> None:
    document = {**f.document(events), "@context": CONTEXT}
    document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    response = client.post("/epcis/capture", json=document, headers=tokens["admin"])
    assert response.status_code == 202, response.text


EVENTS = [
    event(
        "a",
        epcList=[f.sgtin("H1")],
        bizStep="receiving",
        readPoint={"id": DOCK},
        bizLocation={"id": HALL},
    ),
    event("b", epcList=[f.sgtin("H2")], readPoint={"id": SITE}),
    event("c", epcList=[f.sgtin("H3")], readPoint={"id": OTHER}, bizLocation={"id": OTHER}),
    event("d", quantityList=[{"epcClass": LOT_CLASS, "quantity": 3}]),
]
HIERARCHY = [
    locations(
        element(SITE, [HALL], **{"urn:epcglobal:cbv:mda#sst": 201}),
        # HALL names SITE as a child too: a cycle, which the walk must end.
        element(HALL, [DOCK, SITE]),
        element(DOCK, [], **{"cbvmda:city": "Berlin", "ex:zone": "cold"}),
        element(OTHER, **{"urn:epcglobal:cbv:mda#city": "Paris"}),
    ),
    {
        "type": "urn:epcglobal:epcis:vtype:BusinessStep",
        "vocabularyElementList": [
            element("urn:epcglobal:cbv:bizstep:receiving", **{"ex:department": "Goods-in"})
        ],
    },
    {
        "type": "urn:epcglobal:epcis:vtype:EPCClass",
        "vocabularyElementList": [
            element(LOT_CLASS, **{"cbvmda:regulatedProductName": "Aspirin 100 mg"})
        ],
    },
]


@pytest.fixture
def loaded(client: TestClient, tokens: Headers) -> TestClient:
    capture(client, tokens, HIERARCHY, EVENTS)
    return client


def ids(
    client: TestClient, tokens: Headers, headers: dict[str, str] | None = None, **params: Any
) -> list[str]:
    response = client.get(
        "/epcis/events", params=params, headers={**tokens["qa"], **(headers or {})}
    )
    assert response.status_code == 200, response.text
    found = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return sorted(e["eventID"].removeprefix("urn:uuid:") for e in found)


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"WD_readPoint": SITE}, ["a", "b"]),
    ({"WD_readPoint": DOCK}, ["a"]),
    ({"WD_readPoint": HALL}, ["a", "b"]),  # SITE is HALL's child as well (the cycle)
    ({"WD_readPoint": f"{DOCK}|{OTHER}"}, ["a", "c"]),
    ({"WD_bizLocation": SITE}, ["a"]),
    ({"WD_bizLocation": DOCK}, []),
    ({"EQ_readPoint": SITE}, ["b"]),  # EQ_ takes no descendants
    # A location asked as GS1 Digital Link: the same location.
    ({"WD_readPoint": "https://id.gs1.org/414/0614141000012"}, ["a", "b"]),
    ({"EQ_readPoint": "https://id.gs1.org/414/0614141000012"}, ["b"]),
    ({"WD_readPoint": "urn:epc:id:sgln:0614141.00077.0"}, []),
    ({"HASATTR_readPoint": "cbvmda:city"}, ["a", "c"]),
    ({"HASATTR_readPoint": "urn:epcglobal:cbv:mda#city"}, ["a", "c"]),
    ({"HASATTR_readPoint": "urn:epcglobal:cbv:mda:sst"}, ["b"]),
    ({"HASATTR_bizLocation": "cbvmda:city"}, ["c"]),
    ({"HASATTR_readPoint": "cbvmda:colour"}, []),
    ({"EQATTR_readPoint_cbvmda:city": "Berlin"}, ["a"]),
    ({"EQATTR_readPoint_cbvmda:city": "Berlin|Paris"}, ["a", "c"]),
    ({"EQATTR_readPoint_urn:epcglobal:cbv:mda#city": "Paris"}, ["c"]),
    ({"EQATTR_bizLocation_cbvmda:city": "Berlin"}, []),
    ({"EQATTR_readPoint_cbvmda:sst": "201"}, ["b"]),
    ({"EQATTR_readPoint_ex:zone": "cold"}, ["a"]),  # the prefix the document declared
    ({"EQATTR_readPoint_ex:zone": "warm"}, []),
    ({"HASATTR_epcClass": "cbvmda:regulatedProductName"}, ["d"]),
    ({"EQATTR_bizStep_ex:department": "Goods-in"}, ["a"]),  # the step's URN, stored bare
    ({"HASATTR_disposition": "ex:department"}, []),
    ({"EQATTR_epcClass_cbvmda:regulatedProductName": "Aspirin 100 mg"}, ["d"]),
    ({"WD_readPoint": SITE, "EQATTR_readPoint_cbvmda:city": "Berlin"}, ["a"]),
]


def test_master_data_parameters(loaded: TestClient, tokens: Headers) -> None:
    failures = []
    for params, expected in CASES:
        found = ids(loaded, tokens, **params)
        if found != expected:
            failures.append(f"{params}: expected {expected}, got {found}")
    assert not failures, "\n".join(failures)


def test_extension_attribute_by_namespace(loaded: TestClient, tokens: Headers) -> None:
    other = {"GS1-Extensions": "zz=https://example.com/ns/"}
    assert ids(loaded, tokens, other, **{"EQATTR_readPoint_zz:zone": "cold"}) == ["a"]


def test_master_data_captured_later_counts(loaded: TestClient, tokens: Headers) -> None:
    """A location's children and attributes are replaced when it is captured again."""
    capture(
        loaded,
        tokens,
        [locations(element(SITE, [OTHER]), element(DOCK, **{"cbvmda:city": "Hamburg"}))],
        [event("e", readPoint={"id": OTHER})],
    )
    assert ids(loaded, tokens, WD_readPoint=SITE) == ["b", "c", "e"]
    assert ids(loaded, tokens, **{"EQATTR_readPoint_cbvmda:city": "Berlin"}) == []
    assert ids(loaded, tokens, **{"EQATTR_readPoint_cbvmda:city": "Hamburg"}) == ["a"]
    assert ids(loaded, tokens, **{"HASATTR_readPoint": "ex:zone"}) == []


def test_master_data_captured_as_xml_counts(
    client: TestClient, tokens: Headers, refdata: Path
) -> None:
    """GS1's EPCISMasterDataDocument example, captured as XML: its hierarchy answers WD_."""
    payload = (refdata / "epcis" / "examples-xml" / "Mimasu__Example-masterData.xml").read_bytes()
    response = client.post(
        "/epcis/capture",
        content=payload,
        headers={**tokens["admin"], "Content-Type": "application/xml"},
    )
    assert response.status_code == 202, response.text
    site, dock = "urn:epc:id:sgln:0037000.00729.0", "urn:epc:id:sgln:0037000.00729.8203"
    capture(client, tokens, [], [event("x", readPoint={"id": dock}, bizLocation={"id": dock})])
    # the site's children (the dock among them) are in the BusinessLocation vocabulary
    assert ids(client, tokens, WD_bizLocation=site) == ["x"]
    assert ids(client, tokens, WD_bizLocation="urn:epc:id:sgln:0037000.00729.8201") == []
    assert ids(client, tokens, HASATTR_readPoint="cbvmda:site") == ["x"]


def test_named_query_sees_master_data_captured_after_it(
    loaded: TestClient, tokens: Headers
) -> None:
    response = loaded.post(
        "/epcis/queries",
        json={"name": "berlinSite", "query": {"WD_readPoint": [OTHER]}},
        headers=tokens["qa"],
    )
    assert response.status_code == 201, response.text

    def found() -> list[str]:
        answer = loaded.get("/epcis/queries/berlinSite/events", headers=tokens["qa"])
        assert answer.status_code == 200, answer.text
        events = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return sorted(e["eventID"].removeprefix("urn:uuid:") for e in events)

    assert found() == ["c"]
    capture(loaded, tokens, [locations(element(OTHER, [DOCK]))], [event("n")])
    assert found() == ["a", "c"]


def test_depth_and_size_are_bounded(
    client: TestClient, tokens: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = [f"urn:epc:id:sgln:0614141.{n:05d}.0" for n in range(100, 106)]
    capture(
        client,
        tokens,
        [locations(*(element(urn, [below]) for urn, below in itertools.pairwise(chain)))],
        [event(f"l{n}", readPoint={"id": urn}) for n, urn in enumerate(chain)],
    )
    assert ids(client, tokens, WD_readPoint=chain[0]) == [f"l{n}" for n in range(6)]
    monkeypatch.setattr(masterdata, "MAX_DEPTH", 2)
    assert ids(client, tokens, WD_readPoint=chain[0]) == ["l0", "l1", "l2"]
    monkeypatch.setattr(masterdata, "MAX_DESCENDANTS", 2)
    response = client.get("/epcis/events", params={"WD_readPoint": chain[0]}, headers=tokens["qa"])
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "epcisException:QueryTooComplexException"
    assert response.json()["detail"].startswith("WD_readPoint: expected at most 2 locations")


def test_master_data_parameters_together_are_bounded(
    loaded: TestClient, tokens: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each parameter within its own bound, together past what one statement may bind (SQLite
    takes 32,766 values): 413, not a database error."""
    params = {"WD_readPoint": SITE, "WD_bizLocation": SITE}
    assert ids(loaded, tokens, **params) == ["a"]
    monkeypatch.setattr(event_query, "MAX_MASTER_DATA_VALUES", 8)  # 3 locations x 2 forms each
    response = loaded.get("/epcis/events", params=params, headers=tokens["qa"])
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "epcisException:QueryTooComplexException"
    assert response.json()["detail"].startswith("master data parameters: expected at most 8")


def test_hostile_children_and_attributes_are_bounded(
    client: TestClient, tokens: Headers, store: Engine
) -> None:
    # GS1's schema refuses these at capture; the store bounds them whoever calls it.
    hostile = {
        "@context": CONTEXT,
        "epcisBody": {
            "vocabularyList": [
                locations(
                    element(SITE, "not a list"),
                    element(HALL, [DOCK, 7, None, {"id": OTHER}, "", "x" * 600, HALL, DOCK]),
                    element(
                        DOCK,
                        [f"urn:epc:id:sgln:0614141.{n:05d}.9" for n in range(5000)],
                        **{"cbvmda:city": {"@value": "Berlin"}, "cbvmda:tags": list(range(500))},
                    ),
                    element(OTHER, **{"cbvmda:note": "n" * 5000}),
                    "not an element",
                )
            ]
        },
    }
    with write_transaction(store) as conn:
        count = capture_master_data(conn, hostile, user="test", now=datetime.now(UTC))
        assert (count.stored, count.skipped) == (4, 1)
    capture(
        client,
        tokens,
        [],
        [event("h", readPoint={"id": DOCK}), event("i", readPoint={"id": OTHER})],
    )
    with read_transaction(store) as conn:
        children = conn.execute(select(master_data_children)).all()
        by_parent: dict[str, list[str]] = {}
        for parent, child in children:
            by_parent.setdefault(parent, []).append(child)
        assert SITE not in by_parent
        assert by_parent[HALL] == [DOCK]  # no non-text, empty, overlong, self or repeated
        assert len(by_parent[DOCK]) == masterdata.MAX_CHILDREN
        tags = conn.execute(
            select(func.count()).where(master_data_attributes.c.attribute == "cbvmda:tags")
        ).scalar_one()
        assert tags == masterdata.MAX_VALUES
        note = conn.execute(
            select(master_data_attributes.c.value).where(
                master_data_attributes.c.attribute == "cbvmda:note"
            )
        ).scalar_one()
        assert note is not None and note.startswith("#") and len(note) == 65
    # A structured value has the attribute, with no value to compare.
    assert ids(client, tokens, HASATTR_readPoint="cbvmda:city") == ["h"]
    assert ids(client, tokens, HASATTR_readPoint="cbvmda:note") == ["i"]
    assert ids(client, tokens, **{"EQATTR_readPoint_cbvmda:city": "Berlin"}) == []
    assert ids(client, tokens, **{"EQATTR_readPoint_cbvmda:tags": "499"}) == []
    assert ids(client, tokens, **{"EQATTR_readPoint_cbvmda:tags": "49"}) == ["h"]
    # An overlong value is compared by its digest, as the field index does.
    assert ids(client, tokens, **{"EQATTR_readPoint_cbvmda:note": "n" * 5000}) == ["i"]
    assert ids(client, tokens, WD_readPoint=HALL) == ["h"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"HASATTR_colour": "cbvmda:city"},
            "HASATTR_colour: expected a vocabulary field after HASATTR_ (bizLocation, bizStep, "
            "disposition, epcClass, inputEPCClass, outputEPCClass, readPoint), got 'colour'",
        ),
        (
            {"EQATTR_readPoint": "Berlin"},
            "EQATTR_readPoint: expected EQATTR_{field}_{attribute name}, got no attribute name",
        ),
        (
            {"HASATTR_readPoint": "|"},
            "HASATTR_readPoint: expected at least one value, got none",
        ),
    ],
)
def test_refusals(loaded: TestClient, tokens: Headers, params: dict[str, str], detail: str) -> None:
    response = loaded.get("/epcis/events", params=params, headers=tokens["qa"])
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "epcisException:QueryParameterException"
    assert response.json()["detail"] == detail


def test_migration_0016_goes_down_and_up(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()  # 0016 or a later one
        with write_transaction(engine) as conn:
            capture_master_data(
                conn,
                {"epcisBody": {"vocabularyList": HIERARCHY}},
                user="test",
                now=datetime.now(UTC),
            )
        downgrade(engine, "0015")
        with read_transaction(engine) as conn:
            assert "master_data_children" not in inspect(conn).get_table_names()
        upgrade(engine)
        with read_transaction(engine) as conn:
            assert (
                conn.execute(select(func.count()).select_from(master_data_children)).scalar_one()
                == 0
            )
    finally:
        engine.dispose()
