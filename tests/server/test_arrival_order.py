"""Parents under any arrival order (issue 21, item 3), on a real store (SQLite, PostgreSQL).

A line's stream with rework (a unit unpacked from one case and packed into another, a case
moved from one pallet to another) arrives in order, in the issue-21 "2b" pattern (events
lost, the rest arriving, the lost ones re-sent later in reverse order), and in random
orders, one event per document and in groups. After every arrival no unit or case is under
a parent other than the one the latest arrived aggregation naming it says (None if that
was an unpacking, or none arrived), no container has a level it will not keep, and once
everything arrived the tree is the in-order tree, with no container of unknown level.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from server.ingest.prepare import Origin
from server.ingest.service import Ingestor
from server.store import read_transaction
from server.store.schema import containers, units
from tests.server import factory as f

LINE = Origin("mqtt", "site1", "line1")
START = datetime.now(UTC) - timedelta(hours=1)
A, B, C, P, Q = (f.sscc(n) for n in (1, 2, 3, 100, 101))
LEVELS = {A: 1, B: 1, C: 1, P: 2, Q: 2}


def at(second: int) -> str:
    return (START + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


def serials(first: int) -> list[str]:
    return [f"U{first + i:04d}" for i in range(10)]


def stream() -> list[dict[str, Any]]:
    """The line's events in the order (and eventTime order) it emitted them."""
    return [
        f.commissioning(serials(0), time=at(1)),
        f.packing(A, serials(0), time=at(2)),
        f.commissioning(serials(10), time=at(3)),
        f.packing(B, serials(10), time=at(4)),
        f.unpacking(A, ["U0003"], time=at(5)),  # rework: out of A ...
        f.packing(B, ["U0003"], time=at(6)),  # ... into B
        f.packing(P, [A, B], time=at(7)),
        f.commissioning(serials(20), time=at(8)),
        f.packing(C, serials(20), time=at(9)),
        f.unpacking(P, [B], time=at(10)),  # case B moves from pallet P ...
        f.packing(Q, [B, C], time=at(11)),  # ... to pallet Q
        f.decommissioning(["U0005"], time=at(12)),
    ]


def child_keys(event: dict[str, Any]) -> list[str]:
    keys = []
    for epc in event.get("childEPCs", []):
        if ":sgtin:" in epc:
            keys.append(epc.rsplit(".", 1)[1])
        else:
            keys.append(next(s for s in LEVELS if f.sscc_uri(s) == epc))
    return keys


def parent_sscc(event: dict[str, Any]) -> str:
    return next(s for s in LEVELS if f.sscc_uri(s) == event["parentID"])


def expected_parents(arrived: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each child's parent by the latest (eventTime) arrived aggregation that names it."""
    latest: dict[str, tuple[str, str | None]] = {}
    for event in arrived:
        if event["type"] != "AggregationEvent":
            continue
        parent = parent_sscc(event) if event["action"] == "ADD" else None
        for child in child_keys(event):
            if child not in latest or latest[child][0] <= event["eventTime"]:
                latest[child] = (event["eventTime"], parent)
    return {child: parent for child, (_, parent) in latest.items()}


def tree(store: Engine) -> tuple[dict[str, str | None], dict[str, str | None], dict[str, int]]:
    """(unit serial -> parent SSCC, container SSCC -> parent SSCC, SSCC -> level)."""
    parent = aliased(containers)
    with read_transaction(store) as conn:
        unit_rows = conn.execute(
            select(units.c.serial, parent.c.sscc).join(
                parent, parent.c.id == units.c.parent_id, isouter=True
            )
        ).all()
        container_rows = conn.execute(
            select(containers.c.sscc, parent.c.sscc, containers.c.level).join(
                parent, parent.c.id == containers.c.parent_id, isouter=True
            )
        ).all()
    return (
        {row[0]: row[1] for row in unit_rows},
        {row[0]: row[1] for row in container_rows},
        {row[0]: int(row[2]) for row in container_rows},
    )


def deliver(ingestor: Ingestor, events: list[dict[str, Any]]) -> None:
    """The events as one group of one-event documents (one transaction)."""
    items = []
    for event in events:
        payload = json.dumps(f.document([event])).encode()
        items.append(ingestor.check(payload, LINE, "serialtrace/v1/site1/line1/events"))
    outcomes, _ = ingestor.apply_for_delivery(items)
    assert all(o.accepted for o in outcomes), [o.reason for o in outcomes]


def check_consistent(store: Engine, arrived: list[dict[str, Any]]) -> None:
    unit_parents, container_parents, levels = tree(store)
    expected = expected_parents(arrived)
    for serial, parent in unit_parents.items():
        assert parent == expected.get(serial), f"unit {serial} under {parent}"
    for sscc, parent in container_parents.items():
        assert parent == expected.get(sscc), f"container {sscc} under {parent}"
    for sscc, level in levels.items():
        assert level in (0, LEVELS[sscc]), f"container {sscc} given level {level}"


def replay(store: Engine, ingestor: Ingestor, order: list[int], group: int = 1) -> None:
    events = stream()
    arrived: list[dict[str, Any]] = []
    for start in range(0, len(order), group):
        batch = [events[i] for i in order[start : start + group]]
        deliver(ingestor, batch)
        arrived += batch
        check_consistent(store, arrived)
    unit_parents, container_parents, levels = tree(store)
    assert levels == LEVELS  # no container of unknown level once everything is there
    assert container_parents == {A: P, B: Q, C: Q, P: None, Q: None}
    want = {s: A for s in serials(0)} | {s: B for s in serials(10)} | {s: C for s in serials(20)}
    want["U0003"] = B
    assert unit_parents == want


def test_in_order(store: Engine, ingestor: Ingestor) -> None:
    replay(store, ingestor, list(range(12)))


def test_lost_then_resent_in_reverse_order(store: Engine, ingestor: Ingestor) -> None:
    """Issue 21's "2b" pattern: 2, 5, 7 and 9 lost; the rest arrive; then the lost ones,
    last first."""
    lost = [1, 4, 6, 8]
    replay(store, ingestor, [i for i in range(12) if i not in lost] + lost[::-1])


@pytest.mark.parametrize("seed", range(6))
def test_random_orders(store: Engine, ingestor: Ingestor, seed: int) -> None:
    order = list(range(12))
    random.Random(seed).shuffle(order)
    replay(store, ingestor, order, group=1 + seed % 3)
