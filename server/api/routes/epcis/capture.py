"""Capture: ``POST /capture`` (documents, a capture job), ``GET /capture`` and
``/capture/{captureID}`` (jobs with their status and errors), ``POST /events`` (one event).

A ``device`` account captures for the one registered line it is bound to: a document with an
event whose read point or business location is not that line's is refused as a whole (403
``SecurityException``), dead-lettered (kind ``location``) with an alert, and changes no unit,
exactly as the MQTT ingest does for a line's topic; an unbound device account may capture
nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

import epcis
from epcis import xml as epcis_xml
from server.api.app_state import services_of
from server.api.deps import Device, QaUser, ReadConn
from server.api.routes.epcis.common import (
    JSON,
    JSON_FORMATS,
    XML,
    EpcisProblem,
    json_answer,
    link_next,
    negotiate,
    requested_version,
    standard_headers,
    upload_format,
)
from server.api.routes.epcis.documents import xml_document
from server.api.routes.epcis.paging import PastTheEnd, page_size, token_value
from server.auth import Role, User
from server.errors import RejectedDocument
from server.ingest.apply import ApplyResult, Origin
from server.ingest.validation import decode_payload, event_list
from server.masterdata import capture_master_data
from server.store import read_transaction, write_transaction
from server.store.epcis_resources import capture_job, capture_jobs_page, save_capture_job
from server.store.schema import events

router = APIRouter(tags=["epcis"])
BEHAVIOURS = ("rollback", "proceed")


async def _read_body(request: Request, limit: int, user: str) -> bytes:
    services = services_of(request)
    headers = {"GS1-EPCIS-Capture-File-Size-Limit": str(limit)}
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        reason = f"payload: expected at most {limit} bytes, got {declared} bytes"
        services.ingestor.dead_letter(b"", reason, Origin("http"), topic=user, kind="size")
        raise EpcisProblem(413, "CaptureLimitExceededException", reason, headers)
    payload = bytearray()
    async for chunk in request.stream():
        payload.extend(chunk)
        if len(payload) > limit:
            reason = f"payload: expected at most {limit} bytes, got more"
            services.ingestor.dead_letter(
                bytes(payload), reason, Origin("http"), topic=user, kind="size"
            )
            raise EpcisProblem(413, "CaptureLimitExceededException", reason, headers)
    return bytes(payload)


def _document(request: Request, payload: bytes, user: str) -> dict[str, Any]:
    """The capture payload as a checked JSON-LD document (XML converted); a 400 problem (and
    a dead letter) if it is not one."""
    services = services_of(request)
    kind = upload_format(request)
    version = requested_version(request)
    if kind == "sniff":
        kind = "xml" if payload.lstrip()[:1] == b"<" else "json"
    try:
        if kind == "xml":
            try:
                document = xml_document(payload)
            except epcis.EpcisError as exc:
                raise RejectedDocument(f"EPCIS XML: {exc}") from None
            payload_json = json.dumps(document).encode()
            return decode_payload(
                payload_json, max_bytes=max(len(payload_json), 1), master_data_only=True
            )
        if version != "2.0.0":
            raise EpcisProblem(
                406,
                "NotAcceptableException",
                "GS1-EPCIS-Version: EPCIS 1.2 is accepted in XML only",
            )
        return decode_payload(
            payload, max_bytes=services.settings.max_payload_bytes, master_data_only=True
        )
    except RejectedDocument as exc:
        dead_letter_id = services.ingestor.dead_letter(
            payload, exc.reason, Origin("http"), topic=user
        )
        raise EpcisProblem(
            400, "ValidationException", exc.reason, {"X-Dead-Letter-Id": str(dead_letter_id)}
        ) from None


def _require_line(user: User) -> tuple[str, str] | None:
    """The line a device account captures for; a 403 problem when it is bound to none. None
    for an admin (not a line's account: what it captures is not checked against a line)."""
    if user.role is not Role.DEVICE:
        return None
    bound = user.bound_line
    if bound is None:
        raise EpcisProblem(
            403,
            "SecurityException",
            f"line: device account {user.username!r} is bound to no line, so it may capture "
            f"nothing; an admin binds it: serialtrace server user line {user.username} "
            "SITE/LINE --reason TEXT (or POST /users/{username}/line)",
        )
    return bound


def _check_line(
    request: Request,
    bound: tuple[str, str] | None,
    document: dict[str, Any],
    payload: bytes,
    user: str,
) -> None:
    """Refuse (403, dead letter of kind ``location`` with an alert) a document with an event
    outside the device's line, as the MQTT ingest refuses one outside its topic's line."""
    if bound is None:
        return
    services = services_of(request)
    reason = services.ingestor.lines.line_violation(*bound, event_list(document))
    if reason is None:
        return
    dead_letter_id = services.ingestor.dead_letter(
        payload, reason, Origin("http"), topic=user, kind="location", alert=True
    )
    raise EpcisProblem(403, "SecurityException", reason, {"X-Dead-Letter-Id": str(dead_letter_id)})


def _behaviour(request: Request) -> str:
    value = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
    if value not in BEHAVIOURS:
        raise EpcisProblem(
            400,
            "ValidationException",
            f"GS1-Capture-Error-Behaviour: expected rollback or proceed, got {value[:40]!r}",
        )
    return value


def _capture_limit(request: Request, document: dict[str, Any]) -> None:
    limit = services_of(request).settings.epcis_capture_limit
    count = len(event_list(document))
    if count > limit:
        raise EpcisProblem(
            413,
            "CaptureLimitExceededException",
            f"epcisBody.eventList: expected at most {limit} events per capture, got {count}",
            {"GS1-EPCIS-Capture-Limit": str(limit)},
        )


def _wake(request: Request) -> None:
    dispatcher = getattr(request.app.state, "epcis_dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()


@router.post(
    "/capture",
    status_code=202,
    responses={
        400: {"description": "not a valid EPCIS document (ValidationException)"},
        403: {
            "description": "a device account bound to no line, or an event outside its line "
            "(SecurityException; the latter dead-lettered)"
        },
        406: {"description": "an EPCIS version this server does not speak"},
        413: {"description": "more bytes or events than the capture limits"},
        415: {"description": "a Content-Type other than JSON, JSON-LD or XML"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/ld+json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def capture(request: Request, user: Device) -> Response:
    """Capture an EPCISDocument (or EPCISQueryDocument) in JSON-LD, EPCIS 2.0 XML or EPCIS
    1.2 XML, or master data alone (an XML EPCISMasterDataDocument, or a document whose header
    carries vocabularies and whose event list is empty): applied synchronously, exactly as
    over MQTT (idempotent by eventID), as one capture job whose URL is in ``Location``.
    ``GS1-Capture-Error-Behaviour: proceed`` captures every event that can be when some
    cannot."""
    services = services_of(request)
    limit = services.settings.max_payload_bytes
    bound = _require_line(user)
    behaviour = _behaviour(request)
    payload = await _read_body(request, limit, user.username)
    started = datetime.now(UTC)
    try:
        document = _document(request, payload, user.username)
    except EpcisProblem as problem:
        loose = (
            _loose_document(payload) if behaviour == "proceed" and problem.status == 400 else None
        )
        if loose is None:
            raise
        document = loose  # each event is checked on its own below
    _capture_limit(request, document)
    _check_line(request, bound, document, payload, user.username)
    errors: list[dict[str, Any]] = []
    results: list[ApplyResult] = []
    try:
        if event_list(document):  # (else master data only: stored below)
            results.append(services.ingestor.capture(document, Origin("http")))
    except RejectedDocument as exc:
        if behaviour == "rollback":
            dead_letter_id = services.ingestor.dead_letter(
                payload, exc.reason, Origin("http"), topic=user.username
            )
            raise EpcisProblem(
                400, "ValidationException", exc.reason, {"X-Dead-Letter-Id": str(dead_letter_id)}
            ) from None
        results, errors = _proceed(request, document, user.username)
    with write_transaction(services.engine) as conn:
        capture_master_data(conn, document, user=user.username, now=started)  # vocabularies
        capture_id = save_capture_job(
            conn,
            created_at=started,
            finished_at=datetime.now(UTC),
            success=not errors,
            behaviour=behaviour,
            errors=errors,
            event_count=len(event_list(document)),
            username=user.username,
        )
    _wake(request)
    base = services.settings.epcis_base_path
    body = {
        "captureID": capture_id,
        "running": False,
        "success": not errors,
        "captureErrorBehaviour": behaviour,
        "errors": errors,
        "stored": sum(r.stored for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "commissioned": sum(r.commissioned for r in results),
        "parked": sum(r.parked for r in results),
        "alerts": sum(r.alerts for r in results),
        "conflicts": sum(r.conflicts for r in results),
        "eventIDs": [event_id for r in results for event_id in r.event_ids],
    }
    return JSONResponse(
        body,
        status_code=202,
        media_type=JSON,
        headers={**standard_headers(), "Location": f"{base}/capture/{capture_id}"},
    )


def _loose_document(payload: bytes) -> dict[str, Any] | None:
    """A JSON EPCISDocument whose events are a list, not checked further (for ``proceed``:
    its events are checked one by one); None if the payload is not even that."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        return None
    events = (
        (document.get("epcisBody") or {}).get("eventList")
        if isinstance(document.get("epcisBody"), dict)
        else None
    )
    if not isinstance(events, list) or not events:
        return None
    return document


def _proceed(
    request: Request, document: dict[str, Any], username: str
) -> tuple[list[ApplyResult], list[dict[str, Any]]]:
    """Capture each event on its own; the results and a problem per event refused."""
    services = services_of(request)
    results: list[ApplyResult] = []
    errors: list[dict[str, Any]] = []
    for index, event in enumerate(event_list(document)):
        single = {**document, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
        try:
            results.append(services.ingestor.capture(single, Origin("http")))
        except RejectedDocument as exc:
            services.ingestor.dead_letter(
                json.dumps(single).encode(), exc.reason, Origin("http"), topic=username
            )
            errors.append(
                {
                    "type": "epcisException:ValidationException",
                    "title": "Event not captured",
                    "status": 400,
                    "detail": f"eventList[{index}]: {exc.reason}",
                }
            )
    return results, errors


@router.get("/capture")
def capture_jobs(request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """The capture jobs, oldest first, ``perPage`` at a time (``Link`` to the next page)."""
    size = page_size(request)
    try:
        after = token_value(request, "c", int, 0)
    except PastTheEnd:
        return json_answer([], request, offers=(JSON,))
    jobs, last = capture_jobs_page(conn, after=after, limit=size)
    headers = {}
    if last is not None:
        headers["Link"] = link_next(request, _token("c", last))
    return json_answer(jobs, request, headers=headers, offers=(JSON,))


@router.get("/capture/{capture_id}")
def capture_job_detail(
    capture_id: str, request: Request, conn: ReadConn, _user: QaUser
) -> Response:
    """One capture job: running, success, captureErrorBehaviour, errors."""
    media = negotiate(request, (JSON, XML))
    requested_version(request)
    job = capture_job(conn, capture_id)
    if job is None:
        raise EpcisProblem(
            404, "NoSuchNameException", f"captureID: no capture job {capture_id[:80]!r}"
        )
    if media == XML:
        return Response(
            epcis_xml.encode_capture_job(job), media_type=XML, headers=standard_headers()
        )
    return json_answer(job, request, offers=(JSON,))


@router.post(
    "/events",
    status_code=201,
    responses={
        403: {
            "description": "a device account bound to no line, or an event outside its line "
            "(SecurityException; the latter dead-lettered)"
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def capture_event(request: Request, user: Device) -> Response:
    """Capture ONE event (a JSON object of an EPCIS 2.0 event); 201 with its URL in
    ``Location``, 409 if an event with its eventID is stored already."""
    services = services_of(request)
    bound = _require_line(user)
    if upload_format(request) == "xml":
        raise EpcisProblem(
            415, "UnsupportedMediaTypeException", "Content-Type: POST /events takes one JSON event"
        )
    if requested_version(request) != "2.0.0":
        raise EpcisProblem(406, "NotAcceptableException", "GS1-EPCIS-Version: expected 2.0.0")
    negotiate(request, JSON_FORMATS)
    payload = await _read_body(request, services.settings.max_payload_bytes, user.username)
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EpcisProblem(400, "ValidationException", "event: expected a JSON object") from None
    if not isinstance(event, dict):
        raise EpcisProblem(400, "ValidationException", "event: expected a JSON object")
    context = event.pop("@context", None)
    document = {
        "@context": context
        if context is not None
        else ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"eventList": [event]},
    }
    document = _document_of_event(request, document, user.username)
    _check_line(request, bound, document, payload, user.username)
    event_id = event.get("eventID")
    if isinstance(event_id, str):
        with read_transaction(services.engine) as conn:
            if conn.execute(select(events.c.pk).where(events.c.event_id == event_id)).first():
                raise EpcisProblem(
                    409,
                    "ResourceAlreadyExistsException",
                    f"eventID: {event_id[:200]!r} is stored already",
                )
    try:
        result = services.ingestor.apply(document, Origin("http"))
    except RejectedDocument as exc:
        services.ingestor.dead_letter(payload, exc.reason, Origin("http"), topic=user.username)
        raise EpcisProblem(400, "ValidationException", exc.reason) from None
    _wake(request)
    stored_id = result.event_ids[0]
    base = services.settings.epcis_base_path
    answer = {"@context": document["@context"], **event, "eventID": stored_id}
    return JSONResponse(
        answer,
        status_code=201,
        media_type=JSON,
        headers={**standard_headers(), "Location": f"{base}/events/{quote(stored_id, safe='')}"},
    )


def _document_of_event(request: Request, document: dict[str, Any], user: str) -> dict[str, Any]:
    payload = json.dumps(document).encode()
    try:
        return decode_payload(payload, max_bytes=max(len(payload), 1))
    except RejectedDocument as exc:
        services_of(request).ingestor.dead_letter(payload, exc.reason, Origin("http"), topic=user)
        raise EpcisProblem(400, "ValidationException", exc.reason) from None


def _token(kind: str, value: Any) -> str:
    from server.api.routes.epcis.paging import write_token

    return write_token(kind, value)
