"""The one ingest path behind MQTT and ``POST /epcis/capture``.

:meth:`Ingestor.ingest_payload` checks a payload, applies it in one transaction and reports
what happened. A payload that is not acceptable becomes a dead-letter row with the reason
(never an exception to the caller); only a store fault (database unreachable) raises, as
:class:`StoreError`, so that the MQTT consumer leaves the message unacknowledged and the
broker delivers it again.

Every step is guarded: a fault of the server's own while applying one document (any
exception but a store outage) dead-letters that document (kind ``internal``) and the others
of its group still land. A document from a line's topic whose read point or business
location is not the line's own (:mod:`server.lines`) is dead-lettered (kind ``location``)
with an alert, before anything of it is applied. Dead letters are capped per source and by
age (:mod:`server.dead_letters`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from epcis import TopicError, topics
from server import audit, delivery
from server import dead_letters as dead_letter_store
from server.delivery import LineAck
from server.errors import NotFound, RejectedDocument, StoreError
from server.ingest.apply import ApplyResult, Origin, apply_prepared
from server.ingest.collector import gc_paused
from server.ingest.prepare import PreparedDocument, prepare_document
from server.ingest.validation import check_document, decode_payload
from server.lines import LineRegistry
from server.store.engine import write_transaction
from server.store.schema import alerts, dead_letters

log = logging.getLogger(__name__)

DEAD_LETTER_KEEP_BYTES = 64 * 1024  # an oversize payload is kept truncated
CONFLICT_RETRIES = 5  # concurrent ingest processes racing on the same new rows
AGE_PRUNE_EVERY_SECONDS = 60.0
RATE_WINDOW_SECONDS = 60.0


@dataclass
class IngestStats:
    """What this process ingested (for /metrics); updated under ``lock``."""

    messages_applied: int = 0
    events_stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by kind
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _samples: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def applied(self, result: ApplyResult) -> None:
        with self.lock:
            self.messages_applied += 1
            self.events_stored += result.stored
            self.duplicates += result.duplicates
            self.conflicts += result.conflicts
            now = time.monotonic()
            self._samples.append((now, self.events_stored))
            while self._samples and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
                self._samples.popleft()

    def events_per_second(self) -> float:
        """Events stored per second over the last minute."""
        with self.lock:
            now = time.monotonic()
            while self._samples and now - self._samples[0][0] > RATE_WINDOW_SECONDS:
                self._samples.popleft()
            if len(self._samples) < 2:
                return 0.0
            (first_at, first), (last_at, last) = self._samples[0], self._samples[-1]
            return (last - first) / max(last_at - first_at, 1.0)


@dataclass(frozen=True)
class Outcome:
    """Result of one payload: applied (``result``) or dead-lettered (``reason``)."""

    result: ApplyResult | None = None
    reason: str | None = None
    dead_letter_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class Checked:
    """A payload after decoding, the schema check and the store-free half of applying it
    (:mod:`server.ingest.prepare`): its ``prepared`` document, or the ``reason`` it was
    rejected for."""

    payload: bytes
    origin: Origin
    topic: str | None
    prepared: PreparedDocument | None = None
    reason: str | None = None
    kind: str | None = None  # the dead-letter kind when rejected (None: from the reason)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ingestor:
    """Checks and applies EPCIS documents to one store."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_payload_bytes: int,
        clock: Callable[[], datetime] = utc_now,
        dead_letter_max_per_source: int = 1000,
        dead_letter_max_age: timedelta = timedelta(days=30),
        dead_letter_keep_bytes: int = DEAD_LETTER_KEEP_BYTES,
    ) -> None:
        self.engine = engine
        self.max_payload_bytes = max_payload_bytes
        self.clock = clock
        self.dead_letter_max_per_source = dead_letter_max_per_source
        self.dead_letter_max_age = dead_letter_max_age
        self.dead_letter_keep_bytes = dead_letter_keep_bytes
        self.lines = LineRegistry(engine)
        self.stats = IngestStats()
        self._age_pruned_at = float("-inf")

    def ingest_payload(
        self, payload: bytes, origin: Origin, *, topic: str | None = None
    ) -> Outcome:
        """Decode, check and apply ``payload``; a rejected one becomes a dead letter."""
        return self.apply_checked([self.check(payload, origin, topic)])[0]

    def check(self, payload: bytes, origin: Origin, topic: str | None = None) -> Checked:
        """Decode, schema-check and prepare ``payload`` (no store access): the first stage of
        ingest, which for MQTT the receiver process runs ahead of the writer
        (:func:`server.ingest.receiver.check_message`)."""
        try:
            document = decode_payload(payload, max_bytes=self.max_payload_bytes)
            return Checked(payload, origin, topic, prepared=prepare_document(document, origin))
        except RejectedDocument as exc:
            return Checked(payload, origin, topic, reason=exc.reason)
        except Exception as exc:  # a bug must not cost the caller its answer: keep it
            log.exception("check of a payload from %s failed", origin.source)
            reason = f"internal error while checking: {type(exc).__name__}"
            return Checked(payload, origin, topic, reason=reason, kind="internal")

    def ingest_many(self, items: Sequence[tuple[bytes, Origin, str | None]]) -> list[Outcome]:
        """Like :meth:`ingest_payload` for several payloads, applied in ONE transaction."""
        return self.apply_checked([self.check(*item) for item in items])

    def apply_checked(self, items: Sequence[Checked]) -> list[Outcome]:
        """Apply checked payloads in ONE transaction (group commit: the commit cost is
        shared) and dead-letter the rejected ones; one outcome per item, in order. If the
        group fails for a reason of one document's own, each is applied again on its own
        so the others still land. Raises :class:`StoreError` only if the store is down."""
        with gc_paused():
            return self._apply_checked(items)

    def apply_for_delivery(self, items: Sequence[Checked]) -> tuple[list[Outcome], list[LineAck]]:
        """:meth:`apply_checked`, and the acknowledgement per line to publish once it returned
        (the transactions committed; :mod:`server.delivery`)."""
        acks: list[LineAck] = []
        with gc_paused():
            outcomes = self._apply_checked(items, acks)
        return outcomes, delivery.merge_acks(acks)

    def _apply_checked(
        self, items: Sequence[Checked], acks: list[LineAck] | None = None
    ) -> list[Outcome]:
        """:meth:`apply_checked`; the per-line acknowledgements go to ``acks`` if given."""
        if acks is None:
            acks = []
        outcomes: list[Outcome | None] = [None] * len(items)
        documents: list[tuple[int, PreparedDocument]] = []
        for index, item in enumerate(items):
            if item.prepared is None:
                outcomes[index] = self._refuse(item, item.reason or "rejected", item.kind)
                continue
            unusable = _unusable(item.prepared)
            if unusable is not None:  # the document's own fault first: it names the event
                outcomes[index] = self._refuse(item, unusable, None, acks=acks)
                continue
            violation = self._violation(item.prepared)
            if violation is not None:
                outcomes[index] = self._refuse(item, violation, "location", alert=True, acks=acks)
            else:
                documents.append((index, item.prepared))
        if len(documents) > 1:
            try:
                group = [document for _, document in documents]
                with write_transaction(self.engine) as conn:
                    now = self.clock()
                    results = apply_prepared(conn, group, now=now)
                    group_acks = delivery.record(conn, group, now)
                acks += group_acks
                for (index, _), result in zip(documents, results, strict=True):
                    outcomes[index] = self._applied(result)
                documents = []
            except OperationalError as exc:
                if not _is_serialization_failure(exc):
                    raise StoreError(f"store unavailable: {_db_message(exc)}") from exc
            except StoreError:
                raise
            except Exception:  # one document's fault, a race or a bug: one by one below
                pass
        for index, document in documents:
            item = items[index]
            try:
                outcomes[index] = self._applied(self._apply_one(document, acks))
            except RejectedDocument as exc:
                outcomes[index] = self._refuse(item, exc.reason, None, acks=acks)
            except StoreError:
                raise
            except Exception as exc:  # a fault of ours: this document waits for a replay
                log.exception("applying a document from %s failed", item.origin.source)
                reason = f"internal error while applying: {type(exc).__name__}: {exc}"[:500]
                outcomes[index] = self._refuse(item, reason, "internal", acks=acks)
        return [outcome for outcome in outcomes if outcome is not None]

    def _violation(self, document: PreparedDocument) -> str | None:
        try:
            return self.lines.violation(document)
        except DBAPIError as exc:
            raise StoreError(f"store unavailable: {_db_message(exc)}") from exc

    def _applied(self, result: ApplyResult) -> Outcome:
        self.stats.applied(result)
        return Outcome(result=result)

    def _refuse(
        self,
        item: Checked,
        reason: str,
        kind: str | None,
        *,
        alert: bool = False,
        acks: list[LineAck] | None = None,
    ) -> Outcome:
        """Dead-letter the item. A line's document that could be read counts as delivered
        (its sequence numbers are noted): the server holds it, as a dead letter QA can
        replay, and the line must not send it forever."""
        dead_letter_id = self.dead_letter(
            item.payload,
            reason,
            item.origin,
            topic=item.topic,
            kind=kind,
            alert=alert,
            prepared=item.prepared if acks is not None else None,
            acks=acks,
        )
        return Outcome(reason=reason, dead_letter_id=dead_letter_id)

    def capture(self, document: Any, origin: Origin) -> ApplyResult:
        """Check and apply an already decoded document; raises :class:`RejectedDocument`."""
        return self.apply(check_document(document), origin)

    def apply(self, document: dict[str, Any], origin: Origin) -> ApplyResult:
        """Apply a checked document in one transaction, retrying lost races (counted in
        :attr:`stats`, like every applied message)."""
        with gc_paused():
            result = self._apply_one(prepare_document(document, origin))
        self.stats.applied(result)
        return result

    def _apply_one(
        self, document: PreparedDocument, acks: list[LineAck] | None = None
    ) -> ApplyResult:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                with write_transaction(self.engine) as conn:
                    now = self.clock()
                    result = apply_prepared(conn, [document], now=now)[0]
                    document_acks = delivery.record(conn, [document], now)
                if acks is not None:
                    acks += document_acks
                return result
            except IntegrityError as exc:
                # Another process inserted the same batch/container/unit first; a retry
                # sees its rows. A conflict that persists is the document's own fault.
                if attempt == CONFLICT_RETRIES:
                    raise RejectedDocument(
                        f"store refused the document: {_db_message(exc)}"
                    ) from exc
            except DataError as exc:
                raise RejectedDocument(f"store refused a value: {_db_message(exc)}") from exc
            except OperationalError as exc:
                if _is_serialization_failure(exc) and attempt < CONFLICT_RETRIES:
                    time.sleep(0.01 * attempt)
                    continue
                raise StoreError(f"store unavailable: {_db_message(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def dead_letter(
        self,
        payload: bytes,
        reason: str,
        origin: Origin,
        *,
        topic: str | None = None,
        kind: str | None = None,
        alert: bool = False,
        prepared: PreparedDocument | None = None,
        acks: list[LineAck] | None = None,
    ) -> int:
        """Record a rejected payload with its reason (and an alert if ``alert``); the id of
        the dead-letter row. The source's oldest rows beyond the cap go in the same
        transaction; rows past the age limit at most once a minute."""
        kind = kind or dead_letter_store.reason_kind(reason)
        log.warning("dead letter (%s) from %s %s: %s", kind, origin.source, topic or "", reason)
        now = self.clock()
        try:
            with write_transaction(self.engine) as conn:
                dead_letter_id = int(
                    conn.execute(
                        dead_letters.insert().returning(dead_letters.c.id),
                        {
                            "received_at": now,
                            "source": origin.source,
                            "topic": topic,
                            "reason": reason,
                            "kind": kind,
                            "size": len(payload),
                            "payload": payload[: self.dead_letter_keep_bytes],
                        },
                    ).scalar_one()
                )
                if alert:
                    conn.execute(
                        alerts.insert(),
                        {
                            "at": now,
                            "kind": f"dead_letter_{kind}",
                            "subject": (topic or origin.source)[:512],
                            "event_id": f"dead-letter:{dead_letter_id}",
                            "detail": reason,
                        },
                    )
                if prepared is not None and acks is not None:
                    acks += delivery.record(conn, [prepared], now)
                dead_letter_store.prune_source(
                    conn, origin.source, topic, self.dead_letter_max_per_source
                )
                if time.monotonic() - self._age_pruned_at > AGE_PRUNE_EVERY_SECONDS:
                    self._age_pruned_at = time.monotonic()
                    dead_letter_store.prune_age(conn, now, self.dead_letter_max_age)
        except DBAPIError as exc:
            raise StoreError(f"store unavailable: {_db_message(exc)}") from exc
        with self.stats.lock:
            self.stats.dead_letters[kind] += 1
        return dead_letter_id

    def replay(self, dead_letter_id: int, *, actor: str, reason: str) -> Outcome:
        """Ingest a dead letter's payload again, from where it came (its topic's line for
        MQTT). Applied: the dead letter is deleted. Refused again: it stays, with the new
        reason in the outcome (no second row). Audited either way."""
        with write_transaction(self.engine) as conn:
            row = dead_letter_store.get_dead_letter(conn, dead_letter_id)
        if row is None:
            raise NotFound(f"dead letter: no dead letter {dead_letter_id}")
        if not row.complete:
            raise RejectedDocument(
                f"dead letter {dead_letter_id}: only {len(row.payload)} of its {row.size} "
                "bytes were kept; it cannot be replayed"
            )
        origin = Origin(row.source)
        if row.source == "mqtt":
            try:
                parsed = topics.parse_topic(row.topic or "")
                origin = Origin("mqtt", parsed.site, parsed.line)
            except TopicError:
                pass  # not a line's topic: replayed without one (and refused by the check)
        checked = self.check(row.payload, origin, row.topic)
        self.lines.reload()
        outcome: Outcome | None = None
        if checked.prepared is not None:
            violation = _unusable(checked.prepared) or self._violation(checked.prepared)
            if violation is not None:
                outcome = Outcome(reason=violation)
            else:
                try:
                    outcome = self._applied(self._apply_one(checked.prepared))
                except RejectedDocument as exc:
                    outcome = Outcome(reason=exc.reason)
        else:
            outcome = Outcome(reason=checked.reason or "rejected")
        with write_transaction(self.engine) as conn:
            if outcome.accepted:
                conn.execute(dead_letters.delete().where(dead_letters.c.id == dead_letter_id))
            audit.append(
                conn,
                actor=actor,
                action="dead_letter.replay",
                entity="dead_letter",
                entity_key=str(dead_letter_id),
                old_value={"kind": row.kind, "reason": row.reason, "topic": row.topic},
                new_value={"applied": True}
                if outcome.accepted
                else {"applied": False, "reason": outcome.reason},
                reason=reason,
                now=self.clock(),
            )
        return Outcome(result=outcome.result, reason=outcome.reason, dead_letter_id=dead_letter_id)


def _unusable(document: PreparedDocument) -> str | None:
    """Why an event of the document cannot be stored (an unreadable eventTime, a refused
    identifier), if one cannot."""
    return next((event.error for event in document.events if event.error), None)


def _db_message(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def _is_serialization_failure(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01")
