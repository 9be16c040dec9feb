"""Named queries (``/queries``), their events, and their subscriptions: webhooks
(``/queries/{name}/subscriptions``) and WebSockets (``/queries/{name}/events`` with
``Upgrade: websocket``)."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from server.api.app_state import services_of
from server.api.deps import QaUser, ReadConn
from server.api.routes.epcis.common import (
    JSON,
    EpcisProblem,
    json_answer,
    link_next,
    no_content,
    requested_version,
    upload_format,
)
from server.api.routes.epcis.events import events_answer, query_params
from server.api.routes.epcis.formats import epc_format
from server.api.routes.epcis.paging import PastTheEnd, page_size, token_value, write_token
from server.auth import Role, user_for_token
from server.epc_format import DEFAULT_EPC_FORMAT, EPC_FORMATS
from server.store import read_transaction, write_transaction
from server.store.epcis_resources import (
    Subscription,
    create_named_query,
    create_subscription,
    delete_named_query,
    delete_subscription,
    named_queries_page,
    named_query,
    subscription,
    subscriptions_page,
)
from server.store.event_query import PAGING, QueryParameterError, check_query, params_from_json
from server.subscriptions import Listener, ScheduleError, parse_schedule

router = APIRouter(tags=["epcis"])
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}\Z")
MAX_BODY = 64 * 1024
SCHEDULE_PARAMETERS = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
SUBSCRIPTION_KEYS = frozenset(
    {"dest", "signatureToken", "stream", "schedule", "reportIfEmpty", "initialRecordTime", "secret"}
)


async def _json_body(request: Request) -> Any:
    if upload_format(request) == "xml":
        raise EpcisProblem(
            415, "UnsupportedMediaTypeException", "Content-Type: expected application/json"
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise EpcisProblem(
                400, "ValidationException", f"body: expected at most {MAX_BODY} bytes"
            )
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EpcisProblem(400, "ValidationException", "body: expected a JSON object") from None


def _stored_query(conn: Any, name: str) -> dict[str, Any]:
    query = named_query(conn, name)
    if query is None:
        raise EpcisProblem(404, "NoSuchNameException", f"queryName: no query named {name[:128]!r}")
    return query


def _check(query: Any) -> dict[str, list[str]]:
    if not isinstance(query, dict):
        raise EpcisProblem(
            400, "QueryParameterException", "query: expected a JSON object of query parameters"
        )
    try:
        params = params_from_json(query)
        check_query(params)
    except QueryParameterError as exc:
        raise EpcisProblem(400, "QueryParameterException", exc.reason) from None
    paging = sorted(set(params) & PAGING)
    if paging:
        raise EpcisProblem(
            400, "QueryParameterException", f"{paging[0]}: not part of a named query"
        )
    return params


# -- named queries ------------------------------------------------------------------------------


@router.post("/queries", status_code=201)
async def create_query(request: Request, user: QaUser) -> Response:
    """Create a named query: ``{"name": "...", "query": {parameters}}``; 409 if the name is
    taken."""
    requested_version(request)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise EpcisProblem(
            400, "ValidationException", 'body: expected {"name": ..., "query": {...}}'
        )
    name = body.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise EpcisProblem(
            400,
            "ValidationException",
            "name: expected 1-128 letters, digits, '_', '.', '~' or '-' (not first), "
            f"got {json.dumps(name)[:80]}",
        )
    _check(body.get("query"))
    services = services_of(request)
    with write_transaction(services.engine) as conn:
        created = create_named_query(
            conn, name, body["query"], now=datetime.now(UTC), username=user.username
        )
    if not created:
        raise EpcisProblem(
            409, "ResourceAlreadyExistsException", f"name: a query named {name!r} exists"
        )
    location = f"{services.settings.epcis_base_path}/queries/{name}"
    return json_answer(
        {"name": name, "query": body["query"]}, request, status=201, headers={"Location": location}
    )


@router.get("/queries")
def list_queries(request: Request, conn: ReadConn, _user: QaUser) -> Response:
    size = page_size(request)
    try:
        after = token_value(request, "q", str, "")
    except PastTheEnd:
        return json_answer([], request, offers=(JSON,))
    page, last = named_queries_page(conn, after=after, limit=size)
    headers = {"Link": link_next(request, write_token("q", last))} if last else {}
    return json_answer(page, request, headers=headers, offers=(JSON,))


@router.get("/queries/{query_name}")
def get_query(query_name: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """The query definition (as a one-element list, the form GS1's OpenAPI document gives)."""
    json_answer([], request, offers=(JSON,))
    query = _stored_query(conn, query_name)
    return json_answer([{"name": query_name, "query": query}], request, offers=(JSON,))


@router.delete("/queries/{query_name}", status_code=204)
async def delete_query(query_name: str, request: Request, _user: QaUser) -> Response:
    """Delete a named query and end every subscription to it (webhooks and WebSockets)."""
    requested_version(request)
    services = services_of(request)
    with write_transaction(services.engine) as conn:
        _stored_query(conn, query_name)
        delete_named_query(conn, query_name)
    sockets = getattr(request.app.state, "epcis_sockets", {})
    for listener_id, (socket, name) in list(sockets.items()):
        if name == query_name:
            await socket.close(code=1000)
            sockets.pop(listener_id, None)
    return no_content(request)


@router.get("/queries/{query_name}/events")
def query_events(query_name: str, request: Request, conn: ReadConn, _user: QaUser) -> Response:
    """The events of a named query (paged; ``Link`` to the next page)."""
    stored = _stored_query(conn, query_name)
    extra = {name: values for name, values in query_params(request).items() if name in PAGING}
    unknown = sorted(
        set(query_params(request))
        - PAGING
        - {*SCHEDULE_PARAMETERS, "stream", "reportIfEmpty", "initialRecordTime"}
    )
    if unknown:
        raise EpcisProblem(
            400,
            "QueryParameterException",
            f"{unknown[0]}: a named query takes only perPage and nextPageToken",
        )
    params = {**params_from_json(stored), **extra}
    return events_answer(request, conn, params, query_name=query_name)


# -- webhook subscriptions ------------------------------------------------------------------------


def _subscription_of(
    body: Any, query_name: str, now: datetime, allowed_hosts: tuple[str, ...]
) -> Subscription:
    def bad(detail: str) -> EpcisProblem:
        return EpcisProblem(400, "SubscriptionControlsException", detail)

    if not isinstance(body, dict):
        raise bad("body: expected a JSON object with dest and stream or schedule")
    unknown = sorted(set(body) - SUBSCRIPTION_KEYS)
    if unknown:
        raise bad(
            f"{unknown[0]}: unknown subscription field; expected "
            + ", ".join(sorted(SUBSCRIPTION_KEYS))
        )
    dest = body.get("dest")
    if not isinstance(dest, str) or len(dest) > 2000:
        raise bad("dest: expected an http(s) URL")
    parts = urlsplit(dest)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
    ):
        raise bad(f"dest: expected an http(s) URL without credentials, got {dest[:100]!r}")
    if allowed_hosts and parts.hostname not in allowed_hosts:
        raise bad(f"dest: host {parts.hostname!r} is not among the allowed webhook hosts")
    secret = body.get("signatureToken", body.get("secret"))
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 512):
        raise bad("signatureToken: expected a string of 1-512 characters")
    stream = body.get("stream")
    schedule = body.get("schedule")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream: expected true")
    if schedule is not None and not isinstance(schedule, dict):
        raise bad(
            "schedule: expected an object of second, minute, hour, dayOfMonth, month, dayOfWeek"
        )
    if bool(stream) == (schedule is not None):
        raise bad(
            "stream, schedule: expected either stream true or a schedule, not both, not neither"
        )
    if schedule is not None:
        try:
            parse_schedule(schedule)
        except ScheduleError as exc:
            raise bad(str(exc)) from None
    report = body.get("reportIfEmpty", False)
    if not isinstance(report, bool):
        raise bad("reportIfEmpty: expected true or false")
    initial = now
    if body.get("initialRecordTime") is not None:
        from server.store.event_query import parse_time

        try:
            initial = parse_time("initialRecordTime", str(body["initialRecordTime"]))
        except QueryParameterError as exc:
            raise bad(exc.reason) from None
    return Subscription(
        id=secrets.token_hex(16),
        query_name=query_name,
        dest=dest,
        secret=secret,
        stream=bool(stream),
        schedule={k: str(v) for k, v in schedule.items()} if schedule else None,
        report_if_empty=report,
        initial_record_time=initial,
        min_record_time=initial,
        created_at=now,
        last_notified_at=None,
        last_run_at=None,
    )


@router.post("/queries/{query_name}/subscriptions", status_code=201)
async def subscribe(query_name: str, request: Request, user: QaUser) -> Response:
    """Subscribe a webhook to a named query: ``dest``, ``signatureToken`` (the HMAC key of
    ``GS1-Signature``), ``stream: true`` or a ``schedule``, ``reportIfEmpty``,
    ``initialRecordTime``."""
    requested_version(request)
    services = services_of(request)
    body = await _json_body(request)
    with read_transaction(services.engine) as conn:
        _stored_query(conn, query_name)
    mode = epc_format(request)  # the deliveries are written in it (406 if undefined)
    item = _subscription_of(
        body, query_name, datetime.now(UTC), services.settings.epcis_webhook_hosts
    )
    item = replace(item, epc_format=mode)
    with write_transaction(services.engine) as conn:
        create_subscription(conn, item, user.username)
    dispatcher = getattr(request.app.state, "epcis_dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    location = f"{services.settings.epcis_base_path}/queries/{query_name}/subscriptions/{item.id}"
    return json_answer(
        item.public(), request, status=201, headers={"Location": location}, offers=(JSON,)
    )


@router.get("/queries/{query_name}/subscriptions")
def list_subscriptions(
    query_name: str, request: Request, conn: ReadConn, _user: QaUser
) -> Response:
    size = page_size(request)
    _stored_query(conn, query_name)
    try:
        after = token_value(request, "s", str, "")
    except PastTheEnd:
        return json_answer([], request, offers=(JSON,))
    page, last = subscriptions_page(conn, query_name, after=after, limit=size)
    headers = {"Link": link_next(request, write_token("s", last))} if last else {}
    return json_answer([item.public() for item in page], request, headers=headers, offers=(JSON,))


@router.get("/queries/{query_name}/subscriptions/{subscription_id}")
def get_subscription(
    query_name: str, subscription_id: str, request: Request, conn: ReadConn, _user: QaUser
) -> Response:
    json_answer({}, request, offers=(JSON,))
    item = subscription(conn, query_name, subscription_id)
    if item is None:
        raise EpcisProblem(
            404, "NoSuchNameException", f"subscriptionID: no subscription {subscription_id[:80]!r}"
        )
    return json_answer(item.public(), request, offers=(JSON,))


@router.delete("/queries/{query_name}/subscriptions/{subscription_id}", status_code=204)
def unsubscribe(query_name: str, subscription_id: str, request: Request, _user: QaUser) -> Response:
    requested_version(request)
    with write_transaction(services_of(request).engine) as conn:
        if subscription(conn, query_name, subscription_id) is None:
            raise EpcisProblem(
                404,
                "NoSuchNameException",
                f"subscriptionID: no subscription {subscription_id[:80]!r}",
            )
        delete_subscription(conn, subscription_id)
    return no_content(request)


# -- WebSocket subscriptions ----------------------------------------------------------------------


@router.websocket("/queries/{query_name}/events")
async def websocket_subscription(websocket: WebSocket, query_name: str) -> None:
    """A subscription over a WebSocket: ``stream=true`` or schedule parameters (``second``,
    ``minute``, …), ``reportIfEmpty``, ``initialRecordTime``; authenticated by the
    ``Authorization: Bearer`` header of the handshake (QA or admin). Each message is an
    EPCISQueryDocument; the subscription ends with the connection."""
    services = websocket.app.state.services
    dispatcher = getattr(websocket.app.state, "epcis_dispatcher", None)
    header = websocket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    with read_transaction(services.engine) as conn:
        user = user_for_token(conn, token, now=datetime.now(UTC)) if token else None
        stored = named_query(conn, query_name)
    if (
        user is None
        or user.role not in (Role.QA, Role.ADMIN)
        or stored is None
        or dispatcher is None
    ):
        await websocket.close(code=1008)
        return
    params = dict(websocket.query_params)
    schedule = {k: v for k, v in params.items() if k in SCHEDULE_PARAMETERS}
    stream = params.get("stream", "").lower() == "true"
    try:
        allowed = parse_schedule(schedule) if schedule else None
        if stream == bool(schedule):
            raise ScheduleError("stream, schedule: expected either stream=true or a schedule")
        initial = datetime.now(UTC)
        if "initialRecordTime" in params:
            from server.store.event_query import parse_time

            initial = parse_time("initialRecordTime", params["initialRecordTime"])
    except (ScheduleError, QueryParameterError):
        await websocket.close(code=1008)
        return
    mode = websocket.headers.get("GS1-EPC-Format", DEFAULT_EPC_FORMAT).strip()
    if mode not in EPC_FORMATS:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    listener_id = "ws-" + secrets.token_hex(12)

    async def send(body: bytes) -> bool:
        try:
            await websocket.send_text(body.decode())
        except (WebSocketDisconnect, RuntimeError):
            return False
        return True

    sockets = websocket.app.state.epcis_sockets
    sockets[listener_id] = (websocket, query_name)
    dispatcher.add_socket(
        Listener(
            id=listener_id,
            query_name=query_name,
            stream=stream,
            schedule=allowed,
            report_if_empty=params.get("reportIfEmpty", "").lower() == "true",
            min_record_time=initial,
            send=send,
            stored=False,
            epc_format=mode,
            last_run=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1),
        )
    )
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except WebSocketDisconnect:
        pass
    finally:
        sockets.pop(listener_id, None)
        await dispatcher.remove_socket(listener_id)
