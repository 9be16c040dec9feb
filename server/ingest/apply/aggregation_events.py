"""AggregationEvents: packing (ADD) puts units or SSCCs into a container (case, pallet, …),
unpacking (DELETE) takes the children named (or all, if none) out again.

Each move is stamped with its eventTime (``parent_at``) and applies to a child only if it is
not older than what last moved that child, so events that arrive late (lost and sent again)
never undo a later packing or unpacking. :func:`retract` undoes what an erroneous
AggregationEvent asserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from server.identifiers import UnitKey
from server.ingest.prepare import Contents, contents_of
from server.store.dialect import chunks
from server.store.schema import containers, units

if TYPE_CHECKING:
    from server.ingest.apply.unit_of_work import UnitOfWork


def not_moved_after(column: Any, event_time: Any) -> Any:
    """``column`` (a ``parent_at``) says no event later than ``event_time`` moved the row."""
    return or_(column.is_(None), column <= event_time)


def derive(
    uow: UnitOfWork,
    pk: int,
    event: dict[str, Any],
    event_time: datetime,
    named: Contents | None,
) -> None:
    """Apply a packing (ADD) or an unpacking (DELETE)."""
    named = named if named is not None else contents_of(event)
    if named is None:
        return
    action = event.get("action")
    if action == "ADD":
        _pack(uow, pk, named, event_time)
    elif action == "DELETE":
        _unpack(uow, pk, event, named, event_time)


def _pack(uow: UnitOfWork, pk: int, named: Contents, event_time: datetime) -> None:
    """Put the children into the parent, each only if this packing is not older than what
    last moved it (``parent_at``)."""
    if named.parent is None or named.parent_epc is None:
        return
    parent = uow.container(named.parent, named.parent_epc)
    unit_children, sscc_children = named.units, named.ssccs
    level = 1 if unit_children else 0
    if sscc_children:
        children = [uow.container(sscc, epc) for sscc, epc in sscc_children]
        level = max(level, 1 + max(max(child.level, 1) for child in children))
        parents = uow.container_parents
        for child in children:  # written once for the group (flush_container_parents)
            earlier = parents.get(child.id)
            if earlier is None or earlier[1] <= event_time:
                parents[child.id] = (parent.id, event_time)
    if level > parent.level:
        uow.conn.execute(
            update(containers)
            .where(containers.c.id == parent.id)
            .values(level=level, status="packed")
        )
        parent.level = level
    if unit_children:
        _move_units(uow, pk, unit_children, parent.id, event_time)


def _move_units(
    uow: UnitOfWork, pk: int, keys: Sequence[UnitKey], parent_id: int, event_time: datetime
) -> None:
    """Set the units' parent as of ``event_time`` unless a later event moved them."""
    stored: list[UnitKey] = []
    pending = uow.pending
    for unit in keys:
        row = pending.get(unit)
        if row is None:
            stored.append(unit)
        elif row["_parent_at"] is None or row["_parent_at"] <= event_time:
            row["parent_id"] = parent_id
            row["_parent_at"] = event_time
            row["parent_at"] = uow.db_time(event_time)
    if not stored:
        return
    ids, missing = uow.find_units(stored)
    for part in chunks(ids):
        uow.conn.execute(
            update(units)
            .where(units.c.id.in_(part), not_moved_after(units.c.parent_at, event_time))
            .values(parent_id=parent_id, parent_at=event_time)
        )
    if missing:
        uow.park(pk, missing)


def _unpack(
    uow: UnitOfWork, pk: int, event: dict[str, Any], named: Contents, event_time: datetime
) -> None:
    """Take the children out, each only if this unpacking is not older than what last moved
    it; a child not in the container yet (its packing still on the way) is marked as out as
    of this time, so that the older packing, when it comes, leaves it out; an unpacking that
    names units not commissioned yet is parked and applied again when they are (the same rule
    then holds for them)."""
    uow.flush_container_parents()  # this reads and writes containers.parent_id
    if named.parent is None or named.parent_epc is None:
        return
    conn = uow.conn
    parent = uow.container(named.parent, named.parent_epc)
    out = {"parent_id": None, "parent_at": event_time}
    everything = not event.get("childEPCs")
    named_units = set(named.units)
    for unit, row in uow.pending.items():  # units of this group, not inserted yet
        if (
            (row["parent_id"] == parent.id or (not everything and row["parent_id"] is None))
            and (everything or unit in named_units)
            and (row["_parent_at"] is None or row["_parent_at"] <= event_time)
        ):
            row["parent_id"] = None
            row["_parent_at"] = event_time
            row["parent_at"] = uow.db_time(event_time)
    if everything:  # everything out of the container
        conn.execute(
            update(units)
            .where(units.c.parent_id == parent.id, not_moved_after(units.c.parent_at, event_time))
            .values(**out)
        )
        conn.execute(
            update(containers)
            .where(
                containers.c.parent_id == parent.id,
                not_moved_after(containers.c.parent_at, event_time),
            )
            .values(**out)
        )
        conn.execute(
            update(containers).where(containers.c.id == parent.id).values(status="unpacked")
        )
        return
    if named.units:
        _, missing = uow.find_units([u for u in named.units if u not in uow.pending])
        if missing:
            uow.park(pk, missing)
    for unit in named.units:
        conn.execute(
            update(units)
            .where(
                units.c.gtin == unit.gtin,
                units.c.serial == unit.serial,
                or_(units.c.parent_id == parent.id, units.c.parent_id.is_(None)),
                not_moved_after(units.c.parent_at, event_time),
            )
            .values(**out)
        )
    for sscc, epc in named.ssccs:
        uow.container(sscc, epc)  # known from now on (its level unknown until packed)
        conn.execute(
            update(containers)
            .where(
                containers.c.sscc == sscc,
                or_(containers.c.parent_id == parent.id, containers.c.parent_id.is_(None)),
                not_moved_after(containers.c.parent_at, event_time),
            )
            .values(**out)
        )


def retract(uow: UnitOfWork, pk: int, event: dict[str, Any]) -> None:
    """Undo what an erroneous AggregationEvent asserted, where the state is still the one it
    set: a packing's children leave its container."""
    named = contents_of(event)
    if event.get("action") == "ADD" and named is not None:
        _retract_packing(uow, named)


def _retract_packing(uow: UnitOfWork, named: Contents) -> None:
    conn = uow.conn
    if named.parent is None:
        return
    parent = conn.execute(select(containers.c.id).where(containers.c.sscc == named.parent)).scalar()
    if parent is None:
        return
    for unit in named.units:
        conn.execute(
            update(units)
            .where(
                units.c.gtin == unit.gtin,
                units.c.serial == unit.serial,
                units.c.parent_id == parent,
            )
            .values(parent_id=None)
        )
    for sscc, _ in named.ssccs:
        conn.execute(
            update(containers)
            .where(containers.c.sscc == sscc, containers.c.parent_id == parent)
            .values(parent_id=None)
        )
