"""EPCIS query subscriptions: webhooks (stored, signed) and WebSockets, streaming or
scheduled.

One :class:`Dispatcher` per server process runs in the server's event loop. Each tick (every
``poll_seconds``, or at once when a capture wakes it) it runs every due subscription's query
for the events recorded since its ``minRecordTime`` that it has not delivered yet, sends them
as one ``EPCISQueryDocument`` (webhook: ``POST`` to ``dest`` with ``GS1-Signature:
sha256=<HMAC-SHA256 of the body with the subscription's signatureToken>``; WebSocket: a text
message), and records each delivered event in ``subscription_deliveries`` only after the
receiver took it (webhook 2xx). So every matching event reaches each subscriber once, in
whatever order concurrent transactions commit, and a receiver that is down gets it when it is
back (delivery is at least once if the server dies between the receiver's 2xx and that
record; the eventID lets a receiver drop the copy). Webhook subscriptions live in the store
and survive a restart; a WebSocket subscription lasts as long as its connection.

Schedules follow EPCIS 2.0 section 8.2.5.3: ``second``, ``minute``, ``hour``, ``dayOfMonth``,
``month``, ``dayOfWeek`` (1 = Monday), each a comma-separated list of numbers and ranges
(``5``, ``1-5``, ``[1-5]``, ``*/15``, ``0/30``); an omitted ``second`` is 0, any other omitted
field matches every value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, exists

from server.epc_format import applied_format, apply_epc_format
from server.store import read_transaction, write_transaction
from server.store.dialect import bulk_insert
from server.store.epcis_resources import Subscription, all_subscriptions, mark_run, named_query
from server.store.event_query import (
    EventQuery,
    QueryParameterError,
    check_query,
    params_from_json,
    run_checked,
)
from server.store.schema import events, subscription_deliveries

log = logging.getLogger(__name__)

SCHEDULE_FIELDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
BATCH = 500  # events per delivered document
MAX_BATCHES = 20  # per subscription and tick: one subscriber cannot hold the others up
LAG = timedelta(minutes=5)  # minRecordTime trails "now" by this (commits can be late)
WEBHOOK_TIMEOUT = 10.0
RETRY_MAX_SECONDS = 60.0  # the longest wait between two tries of a failed delivery
ITEM = re.compile(r"\[?(\*|\d{1,2})(?:-(\d{1,2}))?\]?(?:/(\d{1,2}))?\Z")


class ScheduleError(ValueError):
    """A schedule field that is not a list of numbers and ranges in its range."""


def parse_schedule(schedule: dict[str, Any]) -> dict[str, frozenset[int]]:
    """The values each schedule field allows; raises :class:`ScheduleError` naming the field."""
    allowed: dict[str, frozenset[int]] = {}
    for name, value in schedule.items():
        if name not in SCHEDULE_FIELDS:
            raise ScheduleError(
                f"schedule.{name}: expected one of {', '.join(SCHEDULE_FIELDS)}, got {name!r}"
            )
        low, high = SCHEDULE_FIELDS[name]
        text = (
            str(value).strip()
            if isinstance(value, str | int) and not isinstance(value, bool)
            else ""
        )
        values: set[int] = set()
        for item in text.split(",") if text else []:
            match = ITEM.match(item.strip())
            if match is None:
                raise ScheduleError(
                    f"schedule.{name}: expected numbers and ranges such as '5' or '1-5', "
                    f"got {str(value)[:40]!r}"
                )
            start_text, end_text, step_text = match.groups()
            start = low if start_text == "*" else int(start_text)
            end = int(end_text) if end_text else (high if start_text == "*" or step_text else start)
            step = int(step_text) if step_text else 1
            if not (low <= start <= high and low <= end <= high and start <= end and step >= 1):
                raise ScheduleError(
                    f"schedule.{name}: expected values from {low} to {high}, "
                    f"got {str(value)[:40]!r}"
                )
            values.update(range(start, end + 1, step))
        if not values:
            raise ScheduleError(
                f"schedule.{name}: expected at least one value, got {str(value)[:40]!r}"
            )
        allowed[name] = frozenset(values)
    return allowed


def schedule_matches(allowed: dict[str, frozenset[int]], moment: datetime) -> bool:
    """Whether ``moment`` (UTC, to the second) is a time of the schedule."""
    actual = {
        "second": moment.second,
        "minute": moment.minute,
        "hour": moment.hour,
        "dayOfMonth": moment.day,
        "month": moment.month,
        "dayOfWeek": moment.isoweekday(),
    }
    for name, value in actual.items():
        values = allowed.get(name)
        if values is None:
            if name == "second" and value != 0:
                return False
            continue
        if value not in values:
            return False
    return True


def signature(secret: str, body: bytes) -> str:
    """The ``GS1-Signature`` of a webhook body: ``sha256=`` + HMAC-SHA256 hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Listener:
    """A subscription being served: a stored webhook or an open WebSocket."""

    id: str
    query_name: str
    stream: bool
    schedule: dict[str, frozenset[int]] | None
    report_if_empty: bool
    min_record_time: datetime
    send: Callable[[bytes], Awaitable[bool]]
    stored: bool  # a webhook subscription (in the store)
    epc_format: str | None = None  # GS1-EPC-Format of the deliveries (None: as captured)
    last_run: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None
    documents_sent: int = field(default=0)


CATCH_UP = 120  # seconds: a scheduled time missed by a late tick is still served


def _due(listener: Listener, now: datetime) -> bool:
    """Whether a scheduled time fell in the seconds since the listener last ran (at most
    CATCH_UP seconds back: ticks are not exactly one second apart on a busy machine)."""
    assert listener.schedule is not None
    if listener.last_run is None:
        seconds = 1  # a new subscription starts with the current second
    else:
        seconds = min(CATCH_UP, int((now - listener.last_run).total_seconds()))
    return any(
        schedule_matches(listener.schedule, now - timedelta(seconds=back))
        for back in range(seconds)
    )


class Dispatcher:
    """Runs the subscriptions of one server process (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        poll_seconds: float,
        query_document: Callable[..., dict[str, Any]],
        retry_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        # A delivery that failed is tried again after this, doubling up to RETRY_MAX_SECONDS.
        self.retry_seconds = retry_seconds
        self.query_document = query_document
        self.sockets: dict[str, Listener] = {}
        self.webhooks: dict[str, Listener] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._client: httpx.AsyncClient | None = None
        self.ticks = 0

    # -- life cycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT, follow_redirects=False)
        try:
            while not self._stopping:
                try:
                    await self.tick()
                except Exception:  # one failing tick (store down) never stops the dispatcher
                    log.exception("subscription dispatcher tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                self._wake.clear()
        finally:
            await self._client.aclose()

    def wake(self) -> None:
        """Run a tick now (from any thread): a capture stored events."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    # -- listeners -----------------------------------------------------------------------------

    def add_socket(self, listener: Listener) -> None:
        self.sockets[listener.id] = listener
        self.wake()

    async def remove_socket(self, listener_id: str) -> None:
        self.sockets.pop(listener_id, None)
        await asyncio.to_thread(self._forget, listener_id)

    def _forget(self, listener_id: str) -> None:
        from sqlalchemy import delete

        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(subscription_deliveries).where(
                    subscription_deliveries.c.subscription_id == listener_id
                )
            )

    def _load_webhooks(self) -> None:
        with read_transaction(self.engine) as conn:
            stored = all_subscriptions(conn)
        current = {item.id for item in stored}
        for gone in set(self.webhooks) - current:
            del self.webhooks[gone]
        for item in stored:
            if item.id not in self.webhooks:
                self.webhooks[item.id] = self._webhook_listener(item)
            else:
                self.webhooks[item.id].min_record_time = max(
                    self.webhooks[item.id].min_record_time, item.min_record_time
                )

    def _webhook_listener(self, item: Subscription) -> Listener:
        secret = item.secret

        async def send(body: bytes) -> bool:
            assert self._client is not None
            headers = {
                "Content-Type": "application/json",
                "GS1-EPCIS-Version": "2.0.0",
                "GS1-EPC-Format": applied_format(item.epc_format),
            }
            if secret:
                headers["GS1-Signature"] = signature(secret, body)
            try:
                response = await self._client.post(item.dest, content=body, headers=headers)
            except httpx.HTTPError as exc:
                log.warning("webhook %s: %s", item.dest, exc)
                return False
            return 200 <= response.status_code < 300

        return Listener(
            id=item.id,
            query_name=item.query_name,
            stream=item.stream,
            schedule=parse_schedule(item.schedule) if item.schedule else None,
            report_if_empty=item.report_if_empty,
            min_record_time=item.min_record_time,
            send=send,
            stored=True,
            epc_format=item.epc_format,
            # A schedule counts from the subscription's creation (or its last run).
            last_run=item.last_run_at
            or item.created_at.replace(microsecond=0) - timedelta(seconds=1),
        )

    # -- delivery ------------------------------------------------------------------------------

    async def tick(self) -> None:
        self.ticks += 1
        await asyncio.to_thread(self._load_webhooks)
        now = datetime.now(UTC).replace(microsecond=0)
        for listener in [*self.webhooks.values(), *self.sockets.values()]:
            if self._stopping:
                return
            if listener.retry_at is not None and listener.retry_at > datetime.now(UTC):
                continue
            if listener.stream:
                await self._serve(listener, datetime.now(UTC), scheduled=False)
            elif listener.schedule is not None and _due(listener, now):
                await self._serve(listener, now, scheduled=True)

    async def _serve(self, listener: Listener, now: datetime, *, scheduled: bool) -> None:
        query = await asyncio.to_thread(self._query_of, listener.query_name)
        if query is None:
            return
        sent_any = False
        for _ in range(MAX_BATCHES):
            page = await asyncio.to_thread(self._pending, listener, query)
            if not page[0] and (sent_any or not (scheduled and listener.report_if_empty)):
                break
            body = json.dumps(
                self.query_document(
                    page[0], query_name=listener.query_name, subscription_id=listener.id
                ),
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
            if not await listener.send(body):
                listener.failures += 1
                listener.retry_at = datetime.now(UTC) + timedelta(
                    seconds=min(
                        RETRY_MAX_SECONDS, self.retry_seconds * 2 ** (listener.failures - 1)
                    )
                )
                return
            listener.failures = 0
            listener.retry_at = None
            listener.documents_sent += 1
            sent_any = True
            await asyncio.to_thread(self._record, listener.id, page[1])
            if len(page[1]) < BATCH:
                break
        listener.last_run = now
        floor = now - LAG
        if floor > listener.min_record_time:
            listener.min_record_time = floor
        if listener.stored:
            await asyncio.to_thread(self._mark, listener, now, sent_any)

    def _query_of(self, name: str) -> EventQuery | None:
        with read_transaction(self.engine) as conn:
            stored = named_query(conn, name)
        if stored is None:
            return None
        try:
            query = check_query(params_from_json(stored))
        except QueryParameterError:
            return None
        query.order_by = None  # delivered in store order
        query.event_count_limit = None
        query.max_event_count = None
        return query

    def _pending(
        self, listener: Listener, query: EventQuery
    ) -> tuple[list[dict[str, Any]], list[int]]:
        delivered = exists().where(
            subscription_deliveries.c.subscription_id == listener.id,
            subscription_deliveries.c.event_pk == events.c.pk,
        )
        with read_transaction(self.engine) as conn:
            page = run_checked(
                conn,
                query,
                per_page=BATCH,
                extra=[events.c.record_time >= listener.min_record_time, ~delivered],
            )
            found = page.events
            if listener.epc_format is not None:
                found, _ = apply_epc_format(conn, found, listener.epc_format)
        return found, page.keys

    def _record(self, listener_id: str, keys: list[int]) -> None:
        if not keys:
            return
        with write_transaction(self.engine) as conn:
            bulk_insert(
                conn,
                subscription_deliveries,
                ("subscription_id", "event_pk"),
                [(listener_id, key) for key in keys],
                ignore_conflicts=True,
            )

    def _mark(self, listener: Listener, now: datetime, notified: bool) -> None:
        with write_transaction(self.engine) as conn:
            mark_run(
                conn,
                listener.id,
                ran_at=now,
                notified=notified,
                min_record_time=listener.min_record_time,
            )
