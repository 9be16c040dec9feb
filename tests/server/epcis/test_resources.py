"""The EPCIS 2.0 REST resources on the running server (both engines): capture and capture
jobs, events by id, the top-level resources, named queries, OPTIONS, standard headers,
content negotiation (JSON, JSON-LD, EPCIS 2.0 XML, EPCIS 1.2 XML) and problem answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import epcis
from epcis import xml
from gs1.identifiers import to_digital_link
from tests.epcis.test_xml import events as normal_events
from tests.server import factory as f
from tests.server.epcis.conftest import Live

# Round trips compare identifiers as captured (the default answers GS1 Digital Links).
AS_CAPTURED = {"GS1-EPC-Format": "Never_Translates"}
STANDARD_HEADERS = ("GS1-EPCIS-Version", "GS1-CBV-Version", "GS1-EPCIS-Min", "GS1-EPCIS-Max")

HTTP = httpx.Client(timeout=60)  # a busy machine answers slowly, never wrongly


def capture(live: Live, events: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return HTTP.post(
        live.epcis + "/capture",
        content=f.payload(events),
        headers={**live.headers["device"], "Content-Type": "application/json", **headers},
    )


def get(live: Live, path: str, role: str = "qa", **kwargs: Any) -> httpx.Response:
    headers = {**live.headers[role], **kwargs.pop("headers", {})}
    return HTTP.get(live.epcis + path, headers=headers, **kwargs)


def event_list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["type"] == "EPCISQueryDocument"
    assert not epcis.validate_document(document)
    events: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def assert_problem(response: httpx.Response, status: int, kind: str, detail: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"epcisException:{kind}"
    assert body["title"] and body["detail"].startswith(detail)
    for name in STANDARD_HEADERS:
        assert name in response.headers


def test_capture_job_location_and_status(live: Live) -> None:
    response = capture(live, [f.commissioning(["A1", "A2"])])
    assert response.status_code == 202
    for name in STANDARD_HEADERS:
        assert name in response.headers
    location = response.headers["location"]
    assert location.startswith("/epcis/capture/")
    job = HTTP.get(live.url + location, headers=live.headers["qa"]).json()
    assert job["running"] is False and job["success"] is True
    assert job["captureErrorBehaviour"] == "rollback" and job["errors"] == []
    listed = get(live, "/capture").json()
    assert [item["captureID"] for item in listed] == [job["captureID"]]
    as_xml = HTTP.get(
        live.url + location, headers={**live.headers["qa"], "Accept": "application/xml"}
    )
    assert as_xml.headers["content-type"].startswith("application/xml")
    root = xml.parse(as_xml.content)
    assert root.get("captureID") == job["captureID"] and root.get("success") == "true"
    assert_problem(get(live, "/capture/nope"), 404, "NoSuchNameException", "captureID:")


def test_capture_proceed_keeps_the_good_events(live: Live) -> None:
    good = f.commissioning(["P1"])
    bad = {**f.commissioning(["P2"]), "eventTime": "2025-13-45T99:00:00Z"}
    refused = capture(live, [good, bad])
    assert_problem(refused, 400, "ValidationException")
    assert event_list(get(live, "/events")) == []
    response = capture(live, [good, bad], **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert response.status_code == 202
    job = response.json()
    assert job["success"] is False and job["stored"] == 1
    assert job["errors"][0]["detail"].startswith("eventList[1]:")
    assert [e["eventID"] for e in event_list(get(live, "/events"))] == [good["eventID"]]


@pytest.mark.parametrize(
    ("headers", "status", "kind", "detail"),
    [
        ({"Content-Type": "text/plain"}, 415, "UnsupportedMediaTypeException", "Content-Type:"),
        ({"GS1-EPCIS-Version": "1.2"}, 406, "NotAcceptableException", "GS1-EPCIS-Version:"),
        ({"GS1-EPCIS-Version": "3.0"}, 406, "NotAcceptableException", "GS1-EPCIS-Version:"),
        ({"GS1-EPCIS-Version": "two"}, 406, "NotAcceptableException", "GS1-EPCIS-Version:"),
        ({"GS1-CBV-Version": "9.0"}, 406, "NotAcceptableException", "GS1-CBV-Version:"),
        ({"GS1-Capture-Error-Behaviour": "maybe"}, 400, "ValidationException", "GS1-Capture"),
    ],
)
def test_capture_refusals(
    live: Live, headers: dict[str, str], status: int, kind: str, detail: str
) -> None:
    assert_problem(capture(live, [f.commissioning(["R1"])], **headers), status, kind, detail)


def test_capture_limits(live: Live) -> None:
    events = [f.commissioning([f"L{i}"]) for i in range(3)]
    app_limit = HTTP.options(live.epcis + "/capture", headers=live.headers["device"])
    assert app_limit.status_code == 204
    assert app_limit.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    assert int(app_limit.headers["GS1-EPCIS-Capture-File-Size-Limit"]) == 256 * 1024
    big = HTTP.post(
        live.epcis + "/capture",
        content=b" " * 300_000,
        headers={**live.headers["device"], "Content-Type": "application/json"},
    )
    assert_problem(big, 413, "CaptureLimitExceededException", "payload:")
    assert capture(live, events).status_code == 202


def test_single_event_capture(live: Live) -> None:
    event = f.commissioning(["S1"])
    response = HTTP.post(live.epcis + "/events", json=event, headers=live.headers["device"])
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/epcis/events/" + quote(event["eventID"], safe="")
    again = HTTP.post(live.epcis + "/events", json=event, headers=live.headers["device"])
    assert_problem(again, 409, "ResourceAlreadyExistsException", "eventID:")
    assert "status" not in again.json()  # GS1's document declares 406 there: left out
    [stored] = event_list(
        HTTP.get(live.url + response.headers["location"], headers=live.headers["qa"])
    )
    assert stored["eventID"] == event["eventID"]


def test_event_by_id_with_hash_id(live: Live) -> None:
    event = {key: value for key, value in f.commissioning(["H1"]).items() if key != "eventID"}
    [event_id] = capture(live, [event]).json()["eventIDs"]
    assert event_id.startswith("ni:///sha-256;") and "?ver=CBV2.0" in event_id
    [found] = event_list(get(live, "/events/" + quote(event_id, safe="")))
    assert found["eventID"] == event_id
    assert_problem(get(live, "/events/urn:uuid:none"), 404, "NoSuchNameException", "eventID:")


def test_top_level_resources(live: Live) -> None:
    pallet, _cases, serials = shipped(live)
    top = get(live, "/").json()
    assert top["type"] == "Collection" and len(top["member"]) == 9
    assert get(live, "/eventTypes").json()["member"] == sorted(
        [
            "ObjectEvent",
            "AggregationEvent",
            "TransactionEvent",
            "TransformationEvent",
            "AssociationEvent",
        ]
    )
    assert get(live, "/eventTypes/AggregationEvent").json()["member"] == ["events"]
    aggregations = event_list(get(live, "/eventTypes/AggregationEvent/events"))
    assert {e["type"] for e in aggregations} == {"AggregationEvent"} and len(aggregations) == 3
    assert_problem(get(live, "/eventTypes/Nope"), 404, "NoSuchNameException")
    epcs = get(live, "/epcs").json()["member"]
    unit = f"https://id.gs1.org/01/{f.GTIN}/21/{serials[0]}"
    assert unit in epcs and f"https://id.gs1.org/00/{pallet}" in epcs
    assert (
        len(event_list(get(live, "/epcs/" + quote(f.sgtin(serials[0]), safe="") + "/events"))) == 2
    )
    assert len(event_list(get(live, "/epcs/" + quote(unit, safe="") + "/events"))) == 2
    assert get(live, "/epcs/" + quote(unit, safe="")).json()["member"] == ["events"]
    assert_problem(
        get(live, "/epcs/urn:epc:id:sgtin:0614141.107346.zzz"), 404, "NoSuchNameException"
    )
    steps = get(live, "/bizSteps").json()["member"]
    assert "commissioning" in steps and "shipping" in steps and "receiving" in steps
    assert len(event_list(get(live, "/bizSteps/packing/events"))) == 3
    assert len(event_list(get(live, "/bizSteps/urn:epcglobal:cbv:bizstep:packing/events"))) == 3
    assert "in_transit" in get(live, "/dispositions").json()["member"]
    assert len(event_list(get(live, "/dispositions/in_transit/events"))) == 1
    assert get(live, "/readPoints", headers=AS_CAPTURED).json()["member"] == [f.READ_POINT]
    listed = get(live, "/readPoints")  # GS1's default: as Digital Links
    assert listed.json()["member"] == [to_digital_link(f.READ_POINT)]
    assert listed.headers["GS1-EPC-Format"] == "Always_GS1_Digital_Link"
    read_point_events = event_list(
        get(live, "/readPoints/" + quote(f.READ_POINT, safe="") + "/events", headers=AS_CAPTURED)
    )
    at_read_point = [
        e
        for e in event_list(get(live, "/events", headers=AS_CAPTURED))
        if e.get("readPoint", {}).get("id") == f.READ_POINT
    ]
    assert read_point_events == at_read_point and len(at_read_point) >= 4
    assert get(live, "/bizLocations").json()["member"] == []
    assert_problem(
        get(live, "/bizLocations/urn:epc:id:sgln:0614141.00001.0"), 404, "NoSuchNameException"
    )
    twice = get(live, "/bizSteps/packing/events", params={"EQ_bizStep": "shipping"})
    assert_problem(twice, 400, "QueryParameterException", "EQ_bizStep:")


def shipped(live: Live) -> tuple[str, list[str], list[str]]:
    serials = [f"U{i}" for i in range(4)]
    cases = [f.sscc(1), f.sscc(2)]
    pallet = f.sscc(3)
    events = [
        f.commissioning(serials),
        f.packing(cases[0], serials[:2]),
        f.packing(cases[1], serials[2:]),
        f.packing(pallet, cases),
        f.shipping([pallet]),
    ]
    assert capture(live, events).status_code == 202
    return pallet, cases, serials


def test_paging_links_every_collection(live: Live) -> None:
    for index in range(3):
        assert capture(live, [f.commissioning([f"C{index}"])]).status_code == 202
    seen = []
    url = live.epcis + "/capture?perPage=2"
    while url:
        response = HTTP.get(url, headers=live.headers["qa"])
        seen += [job["captureID"] for job in response.json()]
        link = response.headers.get("link")
        url = live.url + link.split(";")[0].strip("<>") if link else ""
    assert len(seen) == len(set(seen)) == 3
    stranger = get(live, "/capture", params={"nextPageToken": "not-ours"})
    assert stranger.status_code == 200 and stranger.json() == []


def test_options_on_every_resource(live: Live) -> None:
    expected = {
        "/": "OPTIONS, GET",
        "/capture": "OPTIONS, GET, POST",
        "/events": "OPTIONS, GET, POST",
        "/events/urn:uuid:x": "OPTIONS, GET",
        "/eventTypes/ObjectEvent/events": "OPTIONS, GET",
        "/epcs/urn:epc:id:sgtin:0614141.107346.1": "OPTIONS, GET",
        "/queries": "OPTIONS, GET, POST",
        "/queries/q": "OPTIONS, DELETE, GET",
        "/queries/q/subscriptions": "OPTIONS, GET, POST",
        "/queries/q/subscriptions/s": "OPTIONS, DELETE, GET",
        "/queries/q/events": "OPTIONS, GET",
    }
    for path, allow in expected.items():
        response = HTTP.options(live.epcis + path, headers=live.headers["qa"])
        assert response.status_code == 204, path
        assert response.headers["Allow"] == allow, path
        for name in (*STANDARD_HEADERS, "GS1-CBV-Min", "GS1-CBV-Max", "GS1-Vendor-Version"):
            assert name in response.headers, (path, name)


def test_content_negotiation_and_versions(live: Live) -> None:
    shipped(live)
    as_json = get(live, "/events", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    as_ld = get(live, "/events", headers={"Accept": "application/ld+json"})
    assert as_ld.headers["content-type"] == "application/ld+json"
    as_xml = get(live, "/events", headers={"Accept": "application/xml"})
    assert as_xml.headers["content-type"].startswith("application/xml")
    assert as_xml.headers["GS1-EPCIS-Version"] == "2.0.0"
    answer = {"epcisBody": as_json.json()["epcisBody"]["queryResults"]["resultsBody"]}
    assert normal_events(xml.decode_any(as_xml.content)) == normal_events(answer)
    as_12 = get(live, "/events", headers={"Accept": "application/xml", "GS1-EPCIS-Version": "1.2"})
    assert (
        as_12.headers["GS1-EPCIS-Version"] == "1.2.0"
        and as_12.headers["GS1-CBV-Version"] == "1.2.0"
    )
    root = xml.parse(as_12.content)
    assert root.tag == "{urn:epcglobal:epcis-query:xsd:1}EPCISQueryDocument"
    assert normal_events(xml.decode_any(as_12.content)) == normal_events(answer)
    assert_problem(
        get(live, "/events", headers={"Accept": "text/csv"}),
        406,
        "NotAcceptableException",
        "Accept:",
    )
    assert_problem(
        get(live, "/events", headers={"GS1-EPCIS-Version": "1.2"}),
        406,
        "NotAcceptableException",
        "GS1-EPCIS-Version:",
    )
    assert_problem(
        get(live, "/events", headers={"GS1-EPCIS-Min": "2.1"}), 406, "NotAcceptableException"
    )


def test_security_problems(live: Live) -> None:
    no_token = HTTP.get(live.epcis + "/events")
    assert_problem(no_token, 401, "SecurityException", "authorization:")
    assert no_token.headers["WWW-Authenticate"] == "Bearer"
    assert_problem(get(live, "/events", role="operator"), 403, "SecurityException", "role:")
    assert_problem(capture_as(live, "qa"), 403, "SecurityException")


def capture_as(live: Live, role: str) -> httpx.Response:
    return HTTP.post(
        live.epcis + "/capture",
        content=f.payload([f.commissioning(["X"])]),
        headers=live.headers[role],
    )


def test_named_queries(live: Live) -> None:
    shipped(live)
    query = {
        "name": "packs",
        "query": {"eventType": ["AggregationEvent"], "EQ_bizStep": ["packing"]},
    }
    created = HTTP.post(live.epcis + "/queries", json=query, headers=live.headers["qa"])
    assert created.status_code == 201 and created.headers["location"] == "/epcis/queries/packs"
    again = HTTP.post(live.epcis + "/queries", json=query, headers=live.headers["qa"])
    assert_problem(again, 409, "ResourceAlreadyExistsException", "name:")
    assert get(live, "/queries").json() == [query]
    assert get(live, "/queries/packs").json() == [query]
    assert len(event_list(get(live, "/queries/packs/events"))) == 3
    paged = get(live, "/queries/packs/events", params={"perPage": 2})
    assert len(event_list(paged)) == 2 and 'rel="next"' in paged.headers["link"]
    bad = {"name": "bad", "query": {"EQ_action": ["EXPLODE"]}}
    assert_problem(
        HTTP.post(live.epcis + "/queries", json=bad, headers=live.headers["qa"]),
        400,
        "QueryParameterException",
        "EQ_action: expected ADD, OBSERVE or DELETE, got 'EXPLODE'",
    )
    assert_problem(
        HTTP.post(
            live.epcis + "/queries", json={"name": "../x", "query": {}}, headers=live.headers["qa"]
        ),
        400,
        "ValidationException",
        "name:",
    )
    deleted = HTTP.delete(live.epcis + "/queries/packs", headers=live.headers["qa"])
    assert deleted.status_code == 204
    assert_problem(get(live, "/queries/packs"), 404, "NoSuchNameException", "queryName:")
    assert_problem(get(live, "/queries/packs/events"), 404, "NoSuchNameException")


def test_gs1_xml_examples_captured_and_queried_back(live: Live, refdata: Path) -> None:
    """GS1's XML examples (those whose JSON form the JSON Schema accepts) captured as XML
    and queried back as JSON: the same events."""
    folder = refdata / "epcis" / "examples-xml"
    captured = 0
    seen: set[str] = set()  # eventIDs stored by an earlier example (GS1 repeats some)
    for path in sorted(folder.glob("*.xml")):
        try:
            document = xml.decode_any(path.read_bytes())
        except xml.XmlError:
            continue  # master data documents and capture jobs
        if not document["epcisBody"]["eventList"] or epcis.validate_document(document):
            continue
        response = HTTP.post(
            live.epcis + "/capture",
            content=path.read_bytes(),
            # GS1's examples name many sites and some events no read point: not one line's,
            # so an admin captures them (a device only its line's: test_device_lines)
            headers={**live.headers["admin"], "Content-Type": "application/xml"},
        )
        assert response.status_code == 202, (path.name, response.text)
        for event_id, event in expected_events(document, response.json()["eventIDs"], seen).items():
            [stored] = event_list(
                get(live, "/events", params={"EQ_eventID": event_id}, headers=AS_CAPTURED)
            )
            stored.pop("recordTime")
            assert normal_events({"epcisBody": {"eventList": [stored]}}) == normal_events(
                {"epcisBody": {"eventList": [event]}}
            ), path.name
        captured += 1
    assert captured >= 25


def test_gs1_json_examples_queried_back_as_xml(live: Live, refdata: Path) -> None:
    """GS1's JSON examples captured as JSON and queried back as EPCIS 2.0 and 1.2 XML: the
    same events."""
    seen: set[str] = set()
    for path in sorted((refdata / "epcis" / "examples").glob("*.jsonld")):
        document = json.loads(path.read_text())
        if document.get("type") != "EPCISDocument" or epcis.validate_document(document):
            continue
        response = capture_document(live, document)
        assert response.status_code == 202, (path.name, response.text)
        for event_id, event in expected_events(document, response.json()["eventIDs"], seen).items():
            for version in ("2.0", "1.2"):
                answer = get(
                    live,
                    "/events",
                    params={"EQ_eventID": event_id},
                    headers={
                        "Accept": "application/xml",
                        "GS1-EPCIS-Version": version,
                        **AS_CAPTURED,
                    },
                )
                [stored] = xml.decode_any(answer.content)["epcisBody"]["eventList"]
                stored.pop("recordTime")
                assert normal_events({"epcisBody": {"eventList": [stored]}}) == normal_events(
                    {"epcisBody": {"eventList": [event]}}
                ), (path.name, version)


def expected_events(
    document: dict[str, Any], event_ids: list[str], seen: set[str]
) -> dict[str, Any]:
    """What a query answers for each eventID of a captured document: the event as first
    captured (its recordTime the server's), with the errorDeclaration a later copy of the same
    eventID in the document declared."""
    expected: dict[str, Any] = {}
    earlier = set(seen)  # stored by an earlier document: left out
    seen.update(event_ids)
    for event, event_id in zip(document["epcisBody"]["eventList"], event_ids, strict=True):
        if event_id in earlier:
            continue
        event = {k: v for k, v in event.items() if k != "recordTime"}
        if event_id not in expected:
            expected[event_id] = {**event, "eventID": event_id}
        elif "errorDeclaration" in event:
            expected[event_id].setdefault("errorDeclaration", event["errorDeclaration"])
    return expected


def capture_document(live: Live, document: dict[str, Any]) -> httpx.Response:
    return HTTP.post(
        live.epcis + "/capture",
        content=json.dumps(document),
        headers={**live.headers["device"], "Content-Type": "application/ld+json"},
    )


def test_epcis_1_2_capture(live: Live, refdata: Path) -> None:
    """An EPCIS 1.2 XML document (as DSCSA partners send) is captured like a 2.0 one."""
    document = json.loads(
        (refdata / "epcis" / "examples" / "Example_9.6.1-ObjectEvent.jsonld").read_text()
    )
    payload = xml.encode_document(document, version="1.2")
    response = HTTP.post(
        live.epcis + "/capture",
        content=payload,
        headers={
            **live.headers["device"],
            "Content-Type": "application/xml",
            "GS1-EPCIS-Version": "1.2",
        },
    )
    assert response.status_code == 202, response.text
    stored = event_list(get(live, "/events", headers=AS_CAPTURED))
    assert normal_events(
        {
            "epcisBody": {
                "eventList": [
                    {k: v for k, v in e.items() if k not in ("recordTime", "eventID")}
                    for e in stored
                ]
            }
        }
    ) == normal_events(
        {
            "epcisBody": {
                "eventList": [
                    {k: v for k, v in e.items() if k != "eventID"}
                    for e in document["epcisBody"]["eventList"]
                ]
            }
        }
    )
    invalid = HTTP.post(
        live.epcis + "/capture",
        content=b"<epcis:EPCISDocument xmlns:epcis='urn:epcglobal:epcis:xsd:1'/>",
        headers={**live.headers["device"], "Content-Type": "application/xml"},
    )
    assert_problem(
        invalid, 400, "ValidationException", "EPCIS XML: document: expected a document valid"
    )


def test_base_path_is_configurable(store: Any) -> None:
    from fastapi.testclient import TestClient

    from server.api.app import create_app
    from tests.server.conftest import settings_for
    from tests.server.epcis.conftest import role_headers

    headers = role_headers(store)
    app = create_app(settings_for(store, epcis_base_path="/partners/epcis"), engine=store)
    with TestClient(app) as client:
        response = client.post(
            "/partners/epcis/capture",
            content=f.payload([f.commissioning(["B1"])]),
            headers={**headers["device"], "Content-Type": "application/json"},
        )
        assert response.status_code == 202
        assert response.headers["location"].startswith("/partners/epcis/capture/")
        assert client.get("/partners/epcis/events", headers=headers["qa"]).status_code == 200
        moved = client.get("/epcis/events", headers=headers["qa"])
        assert moved.status_code == 404 and "GS1-EPCIS-Version" not in moved.headers
        assert client.options("/partners/epcis/events").headers["Allow"] == "OPTIONS, GET, POST"
