"""Per-line delivery state on a real store (SQLite and PostgreSQL): sequence numbers, gaps,
duplicates, acknowledgements, gap alerts, batch closes, GET /delivery and /metrics."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from server import delivery
from server.delivery import LineAck
from server.ingest.prepare import Origin
from server.ingest.service import Checked, Ingestor
from server.store import read_transaction, write_transaction
from server.store.schema import alerts, units
from tests.server import factory as f

LINE = Origin("mqtt", "site1", "line1")
TOPIC = "serialtrace/v1/site1/line1/events"


def numbered(events: list[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    """The events with line sequence numbers ``first, first + 1, …``."""
    return [{**event, delivery.SEQ_FIELD: first + i} for i, event in enumerate(events)]


def send(ingestor: Ingestor, *documents: list[dict[str, Any]]) -> list[LineAck]:
    items: list[Checked] = []
    for events in documents:
        document = f.document(events)
        document["@context"] = [*f.CONTEXT, {"serialtrace": "urn:serialtrace:epcis:"}]
        items.append(ingestor.check(json.dumps(document).encode(), LINE, TOPIC))
    outcomes, acks = ingestor.apply_for_delivery(items)
    assert all(outcome.accepted for outcome in outcomes), [o.reason for o in outcomes]
    return acks


def state(store: Engine) -> delivery.LineDelivery:
    with read_transaction(store) as conn:
        (found,) = delivery.line_states(conn)
    return found


def unit_events(count: int, prefix: str) -> list[dict[str, Any]]:
    return [f.commissioning([f"{prefix}{i:05d}"]) for i in range(count)]


def test_in_order_delivery_acknowledges_up_to_the_last(ingestor: Ingestor, store: Engine) -> None:
    events = numbered(unit_events(5, "A"), 1)
    acks = send(ingestor, events[:2], events[2:])
    assert acks == [LineAck("site1", "line1", 5, (), ())]  # upTo covers them all
    assert json.loads(acks[0].payload()) == {"upTo": 5}
    assert acks[0].topic == "serialtrace/v1/site1/line1/acks"
    line = state(store)
    assert (line.contiguous, line.highest, line.received, line.duplicates) == (5, 5, 5, 0)
    assert line.gaps == ()


def test_gap_detected_reported_and_closed_by_a_late_resend(
    ingestor: Ingestor, store: Engine
) -> None:
    events = numbered(unit_events(10, "G"), 1)
    send(ingestor, events[:3])  # 1-3
    (ack,) = send(ingestor, events[6:])  # 7-10: 4-6 lost on the way
    assert (ack.up_to, ack.seqs, ack.missing) == (3, (7, 8, 9, 10), ((4, 6),))
    line = state(store)
    assert (line.contiguous, line.highest, line.missing) == (3, 10, 3)
    assert [(gap.first_seq, gap.last_seq) for gap in line.gaps] == [(4, 6)]
    opened = line.gaps[0].opened_at
    (ack,) = send(ingestor, [events[4]])  # 5 comes: the gap splits, keeps its first-seen time
    assert (ack.up_to, ack.missing) == (3, ((4, 4), (6, 6)))
    assert [(g.first_seq, g.last_seq, g.opened_at) for g in state(store).gaps] == [
        (4, 4, opened),
        (6, 6, opened),
    ]
    (ack,) = send(ingestor, [events[3], events[5]])
    assert (ack.up_to, ack.missing) == (10, ())
    line = state(store)
    assert (line.contiguous, line.highest, line.received, line.gaps) == (10, 10, 10, ())


def test_duplicates_are_counted_and_harmless(ingestor: Ingestor, store: Engine) -> None:
    events = numbered(unit_events(4, "D"), 1)
    send(ingestor, events)
    send(ingestor, [events[2]])  # at or below the contiguous number
    send(ingestor, events[:1], events[:1])  # twice in one group
    line = state(store)
    assert (line.contiguous, line.received, line.duplicates) == (4, 4, 3)
    with read_transaction(store) as conn:
        assert len(conn.execute(select(units.c.serial)).all()) == 4


def test_a_gap_open_too_long_raises_one_alert(ingestor: Ingestor, store: Engine) -> None:
    events = numbered(unit_events(4, "L"), 1)
    send(ingestor, [events[0], events[3]])
    line = state(store)
    opened = line.gaps[0].opened_at
    with write_transaction(store) as conn:
        early = delivery.alert_old_gaps(conn, opened + timedelta(seconds=5), timedelta(seconds=60))
        late = delivery.alert_old_gaps(conn, opened + timedelta(seconds=61), timedelta(seconds=60))
        again = delivery.alert_old_gaps(conn, opened + timedelta(seconds=90), timedelta(seconds=60))
    assert early == [] and again == []
    assert [(a.site, a.line, a.first_seq, a.last_seq) for a in late] == [("site1", "line1", 2, 3)]
    with read_transaction(store) as conn:
        rows = conn.execute(select(alerts.c.kind, alerts.c.subject, alerts.c.detail)).all()
    assert [(r.kind, r.subject) for r in rows] == [("delivery_gap", "site1/line1")]
    assert "events 2-3 missing" in rows[0].detail
    assert state(store).gaps[0].alerted


def test_a_batch_is_closed_on_the_server_only_when_everything_before_its_close_is_there(
    ingestor: Ingestor, store: Engine
) -> None:
    close = f.commissioning(["C00099"])  # stands in for the close event: it carries the
    close[delivery.RECONCILIATION_FIELD] = {"printed": 3}  # reconciliation extension
    events = numbered([*unit_events(2, "C"), close], 1)
    send(ingestor, [events[0], events[2]])  # the close (3) came, event 2 did not
    (closed,) = state(store).batch_closes
    assert (closed.seq, closed.closed_on_server) == (3, False)
    send(ingestor, [events[1]])
    (closed,) = state(store).batch_closes
    assert closed.closed_on_server


def test_numbers_of_another_kind_are_ignored(ingestor: Ingestor, store: Engine) -> None:
    events = unit_events(3, "X")
    events[0][delivery.SEQ_FIELD] = "1"
    events[1][delivery.SEQ_FIELD] = True
    events[2][delivery.SEQ_FIELD] = -5
    assert send(ingestor, events) == []
    with read_transaction(store) as conn:
        assert delivery.line_states(conn) == []


def test_api_and_metrics_show_the_line(
    ingestor: Ingestor, store: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    events = numbered(unit_events(5, "M"), 1)
    send(ingestor, events[:2], events[4:])
    listed = client.get("/delivery", headers=tokens["qa"]).json()
    assert [(x["site"], x["line"], x["contiguous_seq"], x["missing"]) for x in listed] == [
        ("site1", "line1", 2, 2)
    ]
    one = client.get("/delivery/site1/line1", headers=tokens["qa"]).json()
    assert [(g["first_seq"], g["last_seq"]) for g in one["gaps"]] == [(3, 4)]
    assert client.get("/delivery/site1/nope", headers=tokens["qa"]).status_code == 404
    assert client.get("/delivery/site1/a+b", headers=tokens["qa"]).status_code == 422
    assert client.get("/delivery").status_code == 401
    text = client.get("/metrics").text
    assert 'serialtrace_delivery_contiguous_seq{line="line1",site="site1"} 2.0' in text
    assert 'serialtrace_delivery_missing_events{line="line1",site="site1"} 2.0' in text
