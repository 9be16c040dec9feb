"""The one ingest path behind MQTT and ``POST /epcis/capture``.

:meth:`Ingestor.ingest_payload` checks a payload, applies it in one transaction and reports
what happened. A payload that is not acceptable becomes a dead-letter row with the reason
(never an exception to the caller); only a store fault (database unreachable) raises, as
:class:`StoreError`, so that the MQTT consumer leaves the message unacknowledged and the
broker delivers it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from server.errors import RejectedDocument, StoreError
from server.ingest.apply import ApplyResult, Origin, apply_prepared
from server.ingest.collector import gc_paused
from server.ingest.prepare import PreparedDocument, prepare_document
from server.ingest.validation import check_document, decode_payload
from server.store.engine import write_transaction
from server.store.schema import dead_letters

log = logging.getLogger(__name__)

DEAD_LETTER_KEEP_BYTES = 64 * 1024  # an oversize payload is kept truncated
CONFLICT_RETRIES = 5  # concurrent ingest processes racing on the same new rows


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
    ) -> None:
        self.engine = engine
        self.max_payload_bytes = max_payload_bytes
        self.clock = clock

    def ingest_payload(
        self, payload: bytes, origin: Origin, *, topic: str | None = None
    ) -> Outcome:
        """Decode, check and apply ``payload``; a rejected one becomes a dead letter."""
        try:
            document = decode_payload(payload, max_bytes=self.max_payload_bytes)
            return Outcome(result=self.apply(document, origin))
        except RejectedDocument as exc:
            dead_letter_id = self.dead_letter(payload, exc.reason, origin, topic=topic)
            return Outcome(reason=exc.reason, dead_letter_id=dead_letter_id)

    def check(self, payload: bytes, origin: Origin, topic: str | None = None) -> Checked:
        """Decode, schema-check and prepare ``payload`` (no store access): the first stage of
        ingest, which for MQTT the receiver process runs ahead of the writer
        (:func:`server.ingest.receiver.check_message`)."""
        try:
            document = decode_payload(payload, max_bytes=self.max_payload_bytes)
        except RejectedDocument as exc:
            return Checked(payload, origin, topic, reason=exc.reason)
        return Checked(payload, origin, topic, prepared=prepare_document(document, origin))

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

    def _apply_checked(self, items: Sequence[Checked]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        documents: list[tuple[int, PreparedDocument]] = []
        for index, item in enumerate(items):
            if item.prepared is None:
                reason = item.reason or "rejected"
                dead_letter_id = self.dead_letter(
                    item.payload, reason, item.origin, topic=item.topic
                )
                outcomes[index] = Outcome(reason=reason, dead_letter_id=dead_letter_id)
            else:
                documents.append((index, item.prepared))
        if len(documents) > 1:
            try:
                with write_transaction(self.engine) as conn:
                    results = apply_prepared(
                        conn, [document for _, document in documents], now=self.clock()
                    )
                for (index, _), result in zip(documents, results, strict=True):
                    outcomes[index] = Outcome(result=result)
                documents = []
            except (RejectedDocument, IntegrityError, DataError):
                pass  # one document's fault or a race: apply them one by one below
            except OperationalError as exc:
                if not _is_serialization_failure(exc):
                    raise StoreError(f"store unavailable: {_db_message(exc)}") from exc
        for index, document in documents:
            item = items[index]
            try:
                outcomes[index] = Outcome(result=self._apply_one(document))
            except RejectedDocument as exc:
                dead_letter_id = self.dead_letter(
                    item.payload, exc.reason, item.origin, topic=item.topic
                )
                outcomes[index] = Outcome(reason=exc.reason, dead_letter_id=dead_letter_id)
        return [outcome for outcome in outcomes if outcome is not None]

    def capture(self, document: Any, origin: Origin) -> ApplyResult:
        """Check and apply an already decoded document; raises :class:`RejectedDocument`."""
        return self.apply(check_document(document), origin)

    def apply(self, document: dict[str, Any], origin: Origin) -> ApplyResult:
        """Apply a checked document in one transaction, retrying lost races."""
        with gc_paused():
            return self._apply_one(prepare_document(document, origin))

    def _apply_one(self, document: PreparedDocument) -> ApplyResult:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                with write_transaction(self.engine) as conn:
                    return apply_prepared(conn, [document], now=self.clock())[0]
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
        self, payload: bytes, reason: str, origin: Origin, *, topic: str | None = None
    ) -> int:
        """Record a rejected payload with its reason; the id of the dead-letter row."""
        log.warning("dead letter from %s %s: %s", origin.source, topic or "", reason)
        try:
            with write_transaction(self.engine) as conn:
                return int(
                    conn.execute(
                        dead_letters.insert().returning(dead_letters.c.id),
                        {
                            "received_at": self.clock(),
                            "source": origin.source,
                            "topic": topic,
                            "reason": reason,
                            "size": len(payload),
                            "payload": payload[:DEAD_LETTER_KEEP_BYTES],
                        },
                    ).scalar_one()
                )
        except DBAPIError as exc:
            raise StoreError(f"store unavailable: {_db_message(exc)}") from exc


def _db_message(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def _is_serialization_failure(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40001", "40P01")
