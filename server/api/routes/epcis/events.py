"""Events and the top-level resources: ``GET /events`` (SimpleEventQuery), an event by its
eventID, and event types, EPCs, business steps, business locations, read points and
dispositions, each with its ``/events``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, Connection

from server.api.deps import QaUser, ReadConn
from server.api.paths import SLASH_MARK
from server.api.routes.epcis.common import (
    EVENT_FORMATS,
    EpcisProblem,
    collection,
    json_answer,
    link_next,
    negotiate,
    no_content,
    requested_version,
)
from server.api.routes.epcis.documents import query_document, render, request_prefixes
from server.api.routes.epcis.formats import (
    cbv_xml_format,
    epc_format,
    format_answer,
    format_identifiers,
)
from server.api.routes.epcis.paging import PastTheEnd, page_size, token_value, write_token
from server.ingest.fields import term
from server.store.epcis_resources import (
    CBV_BIZ_STEPS,
    CBV_DISPOSITIONS,
    distinct_page,
    epcs_page,
    event_exists,
)
from server.store.event_query import (
    EVENT_TYPES,
    MATCH_ROLES,
    QueryParameterError,
    QueryTooComplex,
    QueryTooLarge,
    check_query,
    forms,
    matching,
    run_checked,
)
from server.store.schema import events

router = APIRouter(tags=["epcis"])
TOP_LEVEL = [
    "queries",
    "capture",
    "events",
    "eventTypes",
    "epcs",
    "readPoints",
    "bizLocations",
    "dispositions",
    "bizSteps",
]
# The fixed-name SimpleEventQuery parameters, for this server's own OpenAPI document.
QUERY_PARAMETERS = [
    "eventType",
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "EQ_action",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_persistentDisposition_set",
    "EQ_persistentDisposition_unset",
    "EQ_readPoint",
    "WD_readPoint",
    "EQ_bizLocation",
    "WD_bizLocation",
    "EQ_transformationID",
    "MATCH_epc",
    "MATCH_parentID",
    "MATCH_inputEPC",
    "MATCH_outputEPC",
    "MATCH_anyEPC",
    "MATCH_epcClass",
    "MATCH_inputEPCClass",
    "MATCH_outputEPCClass",
    "MATCH_anyEPCClass",
    "EQ_quantity",
    "GT_quantity",
    "GE_quantity",
    "LT_quantity",
    "LE_quantity",
    "EQ_eventID",
    "EXISTS_errorDeclaration",
    "GE_errorDeclarationTime",
    "LT_errorDeclarationTime",
    "EQ_errorReason",
    "EQ_correctiveEventID",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "GE_startTime",
    "LT_startTime",
    "GE_endTime",
    "LT_endTime",
    "EQ_type",
    "EQ_deviceID",
    "EQ_dataProcessingMethod",
    "EQ_microorganism",
    "EQ_chemicalSubstance",
    "EQ_bizRules",
    "EQ_stringValue",
    "EQ_hexBinaryValue",
    "EQ_uriValue",
    "EQ_booleanValue",
    "nextPageToken",
    "perPage",
]
QUERY_DOC: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in QUERY_PARAMETERS
    ]
}


def path_value(value: str) -> str:
    """A path parameter as the client meant it: a ``%2F`` it encoded inside the value is a
    ``/`` (server/api/paths.py keeps it in its segment while routing)."""
    return value.replace(SLASH_MARK, "/")


def query_params(request: Request) -> dict[str, list[str]]:
    """The request's query parameters (name -> every value given)."""
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def events_answer(
    request: Request,
    conn: Connection,
    params: dict[str, list[str]],
    *,
    query_name: str = "SimpleEventQuery",
    extra: Sequence[ColumnElement[bool]] = (),
) -> Response:
    """One page of the events matching ``params`` as an EPCISQueryDocument in the negotiated
    format, with ``Link`` to the next page."""
    media = negotiate(request, EVENT_FORMATS)
    version = requested_version(request)
    if media != "application/xml" and version != "2.0.0":
        raise EpcisProblem(
            406, "NotAcceptableException", "GS1-EPCIS-Version: EPCIS 1.2 is available in XML only"
        )
    size = page_size(request)
    token = request.query_params.get("nextPageToken")
    epc_format(request)  # a bad format header is refused before the query runs
    cbv_xml_format(request, media)
    try:
        query = check_query(params, request_prefixes(request))
        # A token of one resource's /events is no token of another's.
        query.fingerprint = hashlib.sha256(
            (query.fingerprint + request.url.path).encode()
        ).hexdigest()[:16]
        query.conditions.extend(extra)
        page = run_checked(conn, query, per_page=size, token=token)
    except QueryTooLarge as exc:
        raise EpcisProblem(413, "QueryTooLargeException", exc.reason) from None
    except QueryTooComplex as exc:
        raise EpcisProblem(413, "QueryTooComplexException", exc.reason) from None
    except QueryParameterError as exc:
        raise EpcisProblem(400, "QueryParameterException", exc.reason) from None
    found, headers = format_answer(request, conn, page.events, media)
    if page.next_page_token is not None:
        headers["Link"] = link_next(request, page.next_page_token)
    return render(query_document(found, query_name=query_name), media, version, headers)


def fixed(request: Request, name: str) -> dict[str, list[str]]:
    """The request's parameters, refusing ``name``: the resource path gives it."""
    params = query_params(request)
    if name in params:
        raise EpcisProblem(
            400,
            "QueryParameterException",
            f"{name}: given by the resource path already, got it again",
        )
    return params


@router.get("/", summary="The top-level resources")
def top_level(request: Request, _user: QaUser) -> Response:
    return json_answer(collection(TOP_LEVEL), request)


@router.get("/events", openapi_extra=QUERY_DOC)
def all_events(request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """SimpleEventQuery: every parameter of EPCIS 2.0 section 8.2.7.1 (several values:
    repeat a parameter or separate values with ``|``); JSON-LD, JSON or XML by ``Accept``."""
    return events_answer(request, conn, query_params(request))


@router.get("/events/{event_id:path}")
def event_by_id(event_id: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """One event by its eventID (with its error declaration, if any), in an
    EPCISQueryDocument."""
    event_id = path_value(event_id)
    media = negotiate(request, EVENT_FORMATS)
    version = requested_version(request)
    query = check_query({"EQ_eventID": [event_id]})
    page = run_checked(conn, query, per_page=1)
    if not page.events:
        raise EpcisProblem(404, "NoSuchNameException", f"eventID: no event {event_id[:200]!r}")
    found, headers = format_answer(request, conn, page.events, media)
    return render(query_document(found), media, version, headers)


# -- event types -----------------------------------------------------------------------------


@router.get("/eventTypes")
def event_types(request: Request, _user: QaUser) -> Response:
    page_size(request)
    return json_answer(collection(sorted(EVENT_TYPES)), request)


def _event_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise EpcisProblem(
            404, "NoSuchNameException", f"eventType: no event type {event_type[:100]!r}"
        )
    return event_type


@router.get("/eventTypes/{event_type}")
def event_type_resource(event_type: str, request: Request, _user: QaUser) -> Response:
    _event_type(event_type)
    return json_answer(collection(["events"]), request)


@router.get("/eventTypes/{event_type}/events", openapi_extra=QUERY_DOC)
def event_type_events(event_type: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    kind = _event_type(event_type)
    return events_answer(
        request, conn, fixed(request, "eventType"), extra=[events.c.event_type == kind]
    )


# -- EPCs --------------------------------------------------------------------------------------


@router.get("/epcs")
def epcs(request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """Every EPC the stored events name (GS1 Digital Link for GS1 keys)."""
    size = page_size(request)
    try:
        after_unit, after_key = token_value(request, "e", _pair, (0, ""))
    except PastTheEnd:
        return json_answer(collection([]), request)
    members, last = epcs_page(conn, after_unit=after_unit, after_key=after_key, limit=size)
    members, headers = format_identifiers(request, conn, members, digital_links=True)
    if last:
        headers["Link"] = link_next(request, write_token("e", list(last)))
    return json_answer(collection(members), request, headers=headers)


def _pair(value: Any) -> tuple[int, str]:
    if not (isinstance(value, list) and len(value) == 2):
        raise ValueError("not a pair")
    return int(value[0]), str(value[1])


def _epc_known(conn: Connection, epc: str) -> None:
    query = check_query({"MATCH_anyEPC": [epc]})
    if not run_checked(conn, query, per_page=1).events:
        raise EpcisProblem(404, "NoSuchNameException", f"epc: no event names {epc[:200]!r}")


@router.get("/epcs/{epc:path}/events", openapi_extra=QUERY_DOC)
def epc_events(epc: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """Events naming the EPC (URN or Digital Link) in any role, with any further filter."""
    epc = path_value(epc)
    match = events.c.pk.in_(matching([epc], MATCH_ROLES["MATCH_anyEPC"]))
    return events_answer(request, conn, fixed(request, "MATCH_anyEPC"), extra=[match])


@router.get("/epcs/{epc:path}")
def epc_resource(epc: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    epc = path_value(epc)
    json_answer({}, request)  # negotiation and version checks first
    _epc_known(conn, epc)
    return json_answer(collection(["events"]), request)


# -- vocabularies and locations ----------------------------------------------------------------


def _values_resource(
    name: str,
    column: Any,
    parameter: str,
    standard: list[str] | None,
    normalise: Callable[[str], str],
) -> None:
    plural = name + "s"

    def listing(request: Request, conn: ReadConn, _user: QaUser) -> Response:
        size = page_size(request)
        try:
            after = token_value(request, name[:2], str, "")
        except PastTheEnd:
            return json_answer(collection([]), request)
        stored, last = distinct_page(conn, column, after=after, limit=size)
        members = stored
        headers: dict[str, str] = {}
        if standard is not None and not after:
            members = [*standard, *(value for value in stored if value not in standard)]
        if standard is None:  # locations: identifiers in the format asked
            members, headers = format_identifiers(request, conn, members)
        if last:
            headers["Link"] = link_next(request, write_token(name[:2], last))
        return json_answer(collection(members), request, headers=headers)

    def written(value: str) -> list[str]:
        """The stored forms ``value`` may have: a location as EPC URI or Digital Link."""
        return forms([value]) if standard is None else [normalise(value)]

    def resource(value: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
        value = path_value(value)
        json_answer({}, request)
        normal = normalise(value)
        if (standard is None or normal not in standard) and not any(
            event_exists(conn, column, form) for form in written(value)
        ):
            raise EpcisProblem(404, "NoSuchNameException", f"{name}: no {name} {value[:200]!r}")
        return json_answer(collection(["events"]), request)

    def resource_events(value: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
        value = path_value(value)
        params = fixed(request, parameter)
        return events_answer(request, conn, params, extra=[column.in_(written(value))])

    listing.__name__ = f"{plural}_list"
    resource.__name__ = f"{name}_resource"
    resource_events.__name__ = f"{name}_events"
    router.add_api_route(f"/{plural}", listing, methods=["GET"], summary=f"Known {plural}")
    router.add_api_route(
        f"/{plural}/{{value:path}}/events",
        resource_events,
        methods=["GET"],
        summary=f"Events of one {name}",
        openapi_extra=QUERY_DOC,
    )
    router.add_api_route(
        f"/{plural}/{{value:path}}", resource, methods=["GET"], summary=f"One {name}"
    )


_values_resource("bizStep", events.c.biz_step, "EQ_bizStep", CBV_BIZ_STEPS, term)
_values_resource("disposition", events.c.disposition, "EQ_disposition", CBV_DISPOSITIONS, term)
_values_resource("bizLocation", events.c.biz_location, "EQ_bizLocation", None, str)
_values_resource("readPoint", events.c.read_point, "EQ_readPoint", None, str)


@router.delete("/nextPageToken/{token}", status_code=204)
def release_token(token: str, request: Request, _user: QaUser) -> Response:
    """Release what a ``nextPageToken`` holds: nothing, here (tokens are keyset positions,
    no server state), so always 204."""
    return no_content(request)
