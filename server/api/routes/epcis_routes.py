"""EPCIS 2.0 REST binding: ``POST /epcis/capture`` and ``GET /epcis/events``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from server.api.app_state import services_of
from server.api.deps import Device, QaUser, ReadConn
from server.errors import RejectedDocument
from server.ingest.apply import STANDARD_CONTEXT, Origin
from server.store.event_query import run_query

router = APIRouter(prefix="/epcis", tags=["epcis"])
JSON_LD = "application/ld+json"


@router.post(
    "/capture",
    status_code=202,
    responses={
        400: {"description": "not a valid EPCIS 2.0 document (reason in detail)"},
        413: {"description": "payload larger than max_payload_bytes"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                JSON_LD: {"schema": {"type": "object"}},
            },
        }
    },
)
async def capture(request: Request, user: Device) -> JSONResponse:
    """Capture an EPCISDocument: checked and applied exactly as over MQTT (idempotent by
    eventID); a rejected document is kept as a dead letter and answered with 400/413."""
    services = services_of(request)
    limit = services.settings.max_payload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        reason = f"payload: expected at most {limit} bytes, got {declared} bytes"
        services.ingestor.dead_letter(b"", reason, Origin("http"), topic=user.username, kind="size")
        return JSONResponse(status_code=413, content={"detail": reason})
    payload = bytearray()
    async for chunk in request.stream():
        payload.extend(chunk)
        if len(payload) > limit:
            reason = f"payload: expected at most {limit} bytes, got more"
            services.ingestor.dead_letter(
                bytes(payload), reason, Origin("http"), topic=user.username, kind="size"
            )
            return JSONResponse(status_code=413, content={"detail": reason})
    outcome = services.ingestor.ingest_payload(bytes(payload), Origin("http"), topic=user.username)
    if outcome.result is None:
        return JSONResponse(
            status_code=400,
            content={"detail": outcome.reason, "deadLetterId": outcome.dead_letter_id},
        )
    result = outcome.result
    return JSONResponse(
        status_code=202,
        content={
            "stored": result.stored,
            "duplicates": result.duplicates,
            "commissioned": result.commissioned,
            "parked": result.parked,
            "alerts": result.alerts,
            "conflicts": result.conflicts,
            "eventIDs": list(result.event_ids),
        },
    )


@router.get(
    "/events",
    responses={200: {"content": {JSON_LD: {}}, "description": "an EPCISQueryDocument"}},
)
def query_events(
    request: Request,
    conn: ReadConn,
    _user: QaUser,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 100,
    next_page_token: Annotated[str | None, Query(alias="nextPageToken", max_length=20)] = None,
    event_type: Annotated[list[str] | None, Query(alias="eventType")] = None,
    eq_biz_step: Annotated[list[str] | None, Query(alias="EQ_bizStep")] = None,
    eq_disposition: Annotated[list[str] | None, Query(alias="EQ_disposition")] = None,
    match_epc: Annotated[list[str] | None, Query(alias="MATCH_epc")] = None,
    match_any_epc: Annotated[list[str] | None, Query(alias="MATCH_anyEPC")] = None,
    match_parent_id: Annotated[list[str] | None, Query(alias="MATCH_parentID")] = None,
    ge_event_time: Annotated[str | None, Query(alias="GE_eventTime")] = None,
    lt_event_time: Annotated[str | None, Query(alias="LT_eventTime")] = None,
    eq_biz_location: Annotated[list[str] | None, Query(alias="EQ_bizLocation")] = None,
) -> Response:
    """SimpleEventQuery. Besides the parameters listed, ``EQ_action``, ``EQ_readPoint``,
    ``EQ_eventID``, ``GE_recordTime``, ``LT_recordTime``, ``MATCH_inputEPC``,
    ``MATCH_outputEPC``, ``MATCH_epcClass`` and ``MATCH_anyEPCClass`` are accepted; several
    values are given by repeating a parameter or separating them with ``|``."""
    after: int | None = None
    if next_page_token is not None:
        if not next_page_token.isdigit():
            raise RejectedDocument(
                f"nextPageToken: expected a token from a previous page, got {next_page_token!r}"
            )
        after = int(next_page_token)
    params: dict[str, list[str]] = {}
    for name, values in request.query_params.multi_items():
        if name not in ("perPage", "nextPageToken"):
            params.setdefault(name, []).append(values)
    page = run_query(conn, params, per_page=per_page, after=after)
    document: dict[str, Any] = {
        "@context": [STANDARD_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": page.events},
            }
        },
    }
    headers = {}
    if page.next_page_token is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        query.append(("nextPageToken", page.next_page_token))
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return JSONResponse(document, media_type=JSON_LD, headers=headers)
