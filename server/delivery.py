"""Server-confirmed delivery: per-line sequence numbers, gaps, acknowledgements, batch closes.

Every event a line publishes carries the line's sequence number, ``serialtrace:seq`` (1, 2,
3, … with no holes; :mod:`edge.outbox`). In the same transaction that stores a group of
documents, :func:`record` notes each number per line (``line_delivery``): the highest
*contiguous* number (the server holds every event up to it), the numbers held above it
(``delivery_seqs``), duplicates, and the *gaps* between (``delivery_gaps``, each with the
time it was first seen). After the commit, the MQTT writer publishes one :class:`LineAck`
per line on the line's ``acks`` topic: ``{"upTo": contiguous, "seqs": [numbers of this
group above it], "missing": [[first, last], …]}``. The edge deletes an event only on such
an acknowledgement, sends the ``missing`` ranges again at once and everything unconfirmed
after its timeout (docs/mqtt.md). A re-sent event is harmless: ingest is idempotent by
eventID, and here it only counts as a duplicate.

A gap open longer than ``gap_alert_after`` raises one ``delivery_gap`` alert (log,
``alerts`` table, ``/metrics``, ``GET /delivery``, ``/health`` detail; health itself stays
ok: the line's events are safe in its outbox, and the edge keeps sending them).

A batch-close event (the ``serialtrace:reconciliation`` extension) is recorded with its
number: the batch is *closed on the server* once the line's contiguous number reaches it,
i.e. the server holds every event up to and including the close.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from epcis import topics
from epcis.codec import SERIALTRACE_PREFIX
from server.ingest.prepare import PreparedDocument
from server.store.schema import (
    alerts,
    delivery_batch_closes,
    delivery_gaps,
    delivery_seqs,
    line_delivery,
)

log = logging.getLogger(__name__)

SEQ_FIELD = f"{SERIALTRACE_PREFIX}:seq"
RECONCILIATION_FIELD = f"{SERIALTRACE_PREFIX}:reconciliation"
MAX_SEQ = 2**62
MAX_ACK_SEQS = 5_000  # the edge refuses more than 10 000
MAX_ACK_RANGES = 100  # as many ranges as the edge reads
GAP_ALERT_KIND = "delivery_gap"

LineKey = tuple[str, str]


def seq_of(body: dict[str, Any]) -> int | None:
    """The event's line sequence number, or None if it has none (or not a usable one)."""
    value = body.get(SEQ_FIELD)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEQ:
        return None
    return value


@dataclass(frozen=True)
class LineAck:
    """What the server tells a line after a commit."""

    site: str
    line: str
    up_to: int
    seqs: tuple[int, ...] = ()
    missing: tuple[tuple[int, int], ...] = ()

    @property
    def topic(self) -> str:
        return topics.acks_topic(self.site, self.line)

    def payload(self) -> bytes:
        body: dict[str, Any] = {"upTo": self.up_to}
        if self.seqs:
            body["seqs"] = list(self.seqs[:MAX_ACK_SEQS])
        if self.missing:
            body["missing"] = [list(gap) for gap in self.missing[:MAX_ACK_RANGES]]
        return json.dumps(body, separators=(",", ":")).encode()

    def merged(self, later: LineAck) -> LineAck:
        """This acknowledgement and a later one of the same line as one."""
        seqs = sorted({*self.seqs, *later.seqs})
        up_to = max(self.up_to, later.up_to)
        return LineAck(
            self.site,
            self.line,
            up_to,
            tuple(seq for seq in seqs if seq > up_to),
            later.missing,
        )


@dataclass
class _Close:
    event_id: str
    seq: int
    lot: str | None


@dataclass
class _Incoming:
    seqs: list[int] = field(default_factory=list)
    closes: list[_Close] = field(default_factory=list)


def _lot_of(body: dict[str, Any]) -> str | None:
    quantities = body.get("quantityList")
    if isinstance(quantities, list) and quantities and isinstance(quantities[0], dict):
        epc_class = quantities[0].get("epcClass")
        if isinstance(epc_class, str):
            return epc_class[:300]
    return None


def gather(documents: Iterable[PreparedDocument]) -> dict[LineKey, _Incoming]:
    """The sequence numbers (and batch closes) per line of documents that came from a line's
    topic (an HTTP capture names no line: it is not part of a line's stream)."""
    found: dict[LineKey, _Incoming] = defaultdict(_Incoming)
    for document in documents:
        origin = document.origin
        if origin.site is None or origin.line is None:
            continue
        for event in document.events:
            seq = seq_of(event.body)
            if seq is None:
                continue
            incoming = found[(origin.site, origin.line)]
            incoming.seqs.append(seq)
            if RECONCILIATION_FIELD in event.body:
                incoming.closes.append(_Close(event.event_id, seq, _lot_of(event.body)))
    return found


def record(conn: Connection, documents: Iterable[PreparedDocument], now: datetime) -> list[LineAck]:
    """Note the documents' sequence numbers per line (in the caller's transaction, the one
    that stores them); the acknowledgement for each line, to publish after the commit."""
    return [
        _record_line(conn, site, line, incoming, now)
        for (site, line), incoming in sorted(gather(documents).items())
    ]


def _record_line(
    conn: Connection, site: str, line: str, incoming: _Incoming, now: datetime
) -> LineAck:
    where = and_(line_delivery.c.site == site, line_delivery.c.line == line)
    row = conn.execute(
        select(
            line_delivery.c.contiguous,
            line_delivery.c.highest,
            line_delivery.c.received,
            line_delivery.c.duplicates,
        )
        .where(where)
        .with_for_update()
    ).first()
    if row is None:
        contiguous = highest = received = duplicates = 0
        conn.execute(
            insert(line_delivery).values(
                site=site,
                line=line,
                contiguous=0,
                highest=0,
                received=0,
                duplicates=0,
                last_seen_at=now,
            )
        )
    else:
        contiguous, highest, received, duplicates = (int(value) for value in row)
    unique = set(incoming.seqs)
    duplicates += len(incoming.seqs) - len(unique)
    above = sorted(seq for seq in unique if seq > contiguous)
    duplicates += len(unique) - len(above)
    seqs_where = and_(delivery_seqs.c.site == site, delivery_seqs.c.line == line)
    held: set[int] = set()
    if highest > contiguous:  # numbers held above a gap
        held = {int(seq) for (seq,) in conn.execute(select(delivery_seqs.c.seq).where(seqs_where))}
    new = [seq for seq in above if seq not in held]
    duplicates += len(above) - len(new)
    received += len(new)
    everything = held.union(new)
    before = contiguous
    while contiguous + 1 in everything:
        contiguous += 1
    highest = max(highest, max(new, default=0))
    if contiguous > before and held:
        conn.execute(delete(delivery_seqs).where(seqs_where, delivery_seqs.c.seq <= contiguous))
    keep = [seq for seq in new if seq > contiguous]
    if keep:
        conn.execute(
            insert(delivery_seqs), [{"site": site, "line": line, "seq": seq} for seq in keep]
        )
    conn.execute(
        update(line_delivery)
        .where(where)
        .values(
            contiguous=contiguous,
            highest=highest,
            received=received,
            duplicates=duplicates,
            last_seen_at=now,
        )
    )
    missing = _gap_ranges(contiguous, highest, everything)
    if missing or held:
        _sync_gaps(conn, site, line, missing, now)
    for close in incoming.closes:
        _record_close(conn, site, line, close, now)
    # The explicit list: this group's numbers the cumulative upTo does not cover.
    listed = tuple(seq for seq in above if seq > contiguous)
    return LineAck(site, line, contiguous, listed, tuple(missing[:MAX_ACK_RANGES]))


def _gap_ranges(contiguous: int, highest: int, held: set[int]) -> list[tuple[int, int]]:
    """The ranges in ``(contiguous, highest]`` not held (linear in what is held, however
    large the numbers)."""
    ranges: list[tuple[int, int]] = []
    previous = contiguous
    for seq in sorted(seq for seq in held if contiguous < seq <= highest):
        if seq > previous + 1:
            ranges.append((previous + 1, seq - 1))
        previous = seq
    if highest > previous:
        ranges.append((previous + 1, highest))
    return ranges


def _sync_gaps(
    conn: Connection, site: str, line: str, ranges: Sequence[tuple[int, int]], now: datetime
) -> None:
    """Make ``delivery_gaps`` say ``ranges``: a range that overlaps a gap seen before keeps
    its first-seen time and alert (a gap that shrinks or splits is the same gap)."""
    where = and_(delivery_gaps.c.site == site, delivery_gaps.c.line == line)
    old = conn.execute(
        select(
            delivery_gaps.c.first_seq,
            delivery_gaps.c.last_seq,
            delivery_gaps.c.opened_at,
            delivery_gaps.c.alerted_at,
        ).where(where)
    ).all()
    rows: list[dict[str, Any]] = []
    for first, last in ranges:
        overlapping = [gap for gap in old if gap.first_seq <= last and gap.last_seq >= first]
        opened = min((gap.opened_at for gap in overlapping), default=now)
        alerted = min(
            (gap.alerted_at for gap in overlapping if gap.alerted_at is not None), default=None
        )
        rows.append(
            {
                "site": site,
                "line": line,
                "first_seq": first,
                "last_seq": last,
                "opened_at": opened,
                "alerted_at": alerted,
            }
        )
    current = {(gap.first_seq, gap.last_seq, gap.opened_at, gap.alerted_at) for gap in old}
    wanted = {(r["first_seq"], r["last_seq"], r["opened_at"], r["alerted_at"]) for r in rows}
    if current == wanted:
        return
    closed = [
        gap
        for gap in old
        if not any(lo <= gap.last_seq and hi >= gap.first_seq for lo, hi in ranges)
    ]
    for gap in closed:
        log.info("delivery gap %s/%s %d-%d closed", site, line, gap.first_seq, gap.last_seq)
    conn.execute(delete(delivery_gaps).where(where))
    if rows:
        conn.execute(insert(delivery_gaps), rows)


def _record_close(conn: Connection, site: str, line: str, close: _Close, now: datetime) -> None:
    exists = conn.execute(
        select(delivery_batch_closes.c.event_id).where(
            delivery_batch_closes.c.event_id == close.event_id
        )
    ).first()
    if exists is None:
        conn.execute(
            insert(delivery_batch_closes).values(
                event_id=close.event_id,
                site=site,
                line=line,
                seq=close.seq,
                lot=close.lot,
                recorded_at=now,
            )
        )


# -- gap alerts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GapAlert:
    site: str
    line: str
    first_seq: int
    last_seq: int
    opened_at: datetime


def alert_old_gaps(conn: Connection, now: datetime, alert_after: timedelta) -> list[GapAlert]:
    """Raise one ``delivery_gap`` alert for each gap open longer than ``alert_after`` and not
    alerted yet (in the caller's transaction)."""
    due = conn.execute(
        select(
            delivery_gaps.c.site,
            delivery_gaps.c.line,
            delivery_gaps.c.first_seq,
            delivery_gaps.c.last_seq,
            delivery_gaps.c.opened_at,
        ).where(
            delivery_gaps.c.alerted_at.is_(None), delivery_gaps.c.opened_at <= now - alert_after
        )
    ).all()
    raised: list[GapAlert] = []
    for gap in due:
        subject = f"{gap.site}/{gap.line}"
        detail = (
            f"line {subject}: events {gap.first_seq}-{gap.last_seq} missing since "
            f"{gap.opened_at.isoformat()} (more than {alert_after.total_seconds():.0f} s)"
        )
        log.warning("delivery gap: %s", detail)
        conn.execute(
            insert(alerts).values(
                at=now,
                kind=GAP_ALERT_KIND,
                subject=subject,
                event_id=f"delivery-gap:{subject}:{gap.first_seq}-{gap.last_seq}"[:512],
                detail=detail,
            )
        )
        conn.execute(
            update(delivery_gaps)
            .where(
                delivery_gaps.c.site == gap.site,
                delivery_gaps.c.line == gap.line,
                delivery_gaps.c.first_seq == gap.first_seq,
            )
            .values(alerted_at=now)
        )
        raised.append(GapAlert(gap.site, gap.line, gap.first_seq, gap.last_seq, gap.opened_at))
    return raised


# -- what the API, the QA UI and /metrics show ---------------------------------------------


@dataclass(frozen=True)
class Gap:
    first_seq: int
    last_seq: int
    opened_at: datetime
    alerted: bool

    @property
    def events(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class BatchClose:
    event_id: str
    seq: int
    lot: str | None
    recorded_at: datetime
    closed_on_server: bool


@dataclass(frozen=True)
class LineDelivery:
    site: str
    line: str
    contiguous: int
    highest: int
    received: int
    duplicates: int
    last_seen_at: datetime
    gaps: tuple[Gap, ...]
    batch_closes: tuple[BatchClose, ...]

    @property
    def missing(self) -> int:
        return sum(gap.events for gap in self.gaps)

    def oldest_gap_age_s(self, now: datetime) -> float:
        if not self.gaps:
            return 0.0
        return max(0.0, (now - min(gap.opened_at for gap in self.gaps)).total_seconds())

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "site": self.site,
            "line": self.line,
            "contiguous_seq": self.contiguous,
            "highest_seq": self.highest,
            "received": self.received,
            "duplicates": self.duplicates,
            "missing": self.missing,
            "last_seen_at": self.last_seen_at.isoformat(),
            "oldest_gap_age_s": round(self.oldest_gap_age_s(now), 1),
            "gap_alert": any(gap.alerted for gap in self.gaps),
            "gaps": [
                {
                    "first_seq": gap.first_seq,
                    "last_seq": gap.last_seq,
                    "events": gap.events,
                    "opened_at": gap.opened_at.isoformat(),
                    "age_s": round(max(0.0, (now - gap.opened_at).total_seconds()), 1),
                    "alerted": gap.alerted,
                }
                for gap in self.gaps
            ],
            "batch_closes": [
                {
                    "event_id": close.event_id,
                    "seq": close.seq,
                    "lot": close.lot,
                    "recorded_at": close.recorded_at.isoformat(),
                    "closed_on_server": close.closed_on_server,
                }
                for close in self.batch_closes
            ],
        }


def line_states(
    conn: Connection, site: str | None = None, line: str | None = None, *, closes: int = 20
) -> list[LineDelivery]:
    """Every line's delivery state (or one line's), with its open gaps and its last
    ``closes`` batch closes."""
    query = select(line_delivery).order_by(line_delivery.c.site, line_delivery.c.line)
    if site is not None:
        query = query.where(line_delivery.c.site == site)
    if line is not None:
        query = query.where(line_delivery.c.line == line)
    states: list[LineDelivery] = []
    for row in conn.execute(query).all():
        gaps = tuple(
            Gap(gap.first_seq, gap.last_seq, gap.opened_at, gap.alerted_at is not None)
            for gap in conn.execute(
                select(delivery_gaps)
                .where(delivery_gaps.c.site == row.site, delivery_gaps.c.line == row.line)
                .order_by(delivery_gaps.c.first_seq)
            ).all()
        )
        batch_closes = tuple(
            BatchClose(c.event_id, c.seq, c.lot, c.recorded_at, c.seq <= row.contiguous)
            for c in conn.execute(
                select(delivery_batch_closes)
                .where(
                    delivery_batch_closes.c.site == row.site,
                    delivery_batch_closes.c.line == row.line,
                )
                .order_by(delivery_batch_closes.c.seq.desc())
                .limit(closes)
            ).all()
        )
        states.append(
            LineDelivery(
                row.site,
                row.line,
                int(row.contiguous),
                int(row.highest),
                int(row.received),
                int(row.duplicates),
                row.last_seen_at,
                gaps,
                batch_closes,
            )
        )
    return states


def merge_acks(acks: Iterable[LineAck]) -> list[LineAck]:
    """One acknowledgement per line from several (in order: the later gap view wins)."""
    by_line: dict[LineKey, LineAck] = {}
    for ack in acks:
        key = (ack.site, ack.line)
        earlier = by_line.get(key)
        by_line[key] = ack if earlier is None else earlier.merged(ack)
    return list(by_line.values())
