"""AggregationEvents: packing (ADD) puts units or SSCCs into a container (case, pallet, …),
unpacking (DELETE) takes the children named (or all, if none) out again.

Each move is stamped with its eventTime (``parent_at``) and applies to a child only if it is
not older than what last moved that child, so events that arrive late (lost and sent again)
never undo a later packing or unpacking. :func:`retract` undoes what an erroneous
AggregationEvent asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, and_, exists, or_, select, update

from server.identifiers import UnitKey, sscc_key, unit_of_key
from server.ingest.prepare import Contents, contents_of
from server.store.dialect import chunks
from server.store.schema import (
    containers,
    error_declarations,
    event_bodies,
    event_epcs,
    events,
    unit_events,
    unit_is,
    units,
)

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
                unit_is(unit),
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
    set: a packing's children leave its container; an unpacking's children go back to where
    the other events put them (into the container, unless an event later than the unpacking
    moved them elsewhere: its effect stays)."""
    named = contents_of(event)
    if named is None or named.parent is None or named.parent_epc is None:
        return
    if event.get("action") == "ADD":
        _retract_packing(uow, named)
    elif event.get("action") == "DELETE":
        _retract_unpacking(uow, pk, event, named)


def _retract_packing(uow: UnitOfWork, named: Contents) -> None:
    conn = uow.conn
    parent = conn.execute(select(containers.c.id).where(containers.c.sscc == named.parent)).scalar()
    if parent is None:
        return
    for unit in named.units:
        conn.execute(
            update(units)
            .where(
                unit_is(unit),
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


# -- undoing an unpacking --------------------------------------------------------------------
# An unpacking left its mark on each child it took out: no parent, and its eventTime as
# parent_at. A child that still carries that mark gets the place the valid aggregation events
# up to the unpacking's time give it (replayed in time order with the rules above): back in
# the container, as of the packing that put it there. A child moved by a later event carries
# that event's mark and is left as it is.


_Valid = Select[int, str, datetime]  # (pk, action, eventTime) of AggregationEvents


@dataclass(frozen=True)
class _Move:
    """An aggregation event as a move of one child: into ``parent`` (packing), or out of it
    (an unpacking that names the child, or one that names no child: everything out)."""

    at: datetime
    pk: int
    parent: str  # the parent's key (event_epcs role "parent")
    packing: bool
    names_child: bool


def _place(moves: Iterable[_Move]) -> tuple[str | None, datetime | None]:
    """The parent key and ``parent_at`` a child's ``moves`` leave it with."""
    parent: str | None = None
    at: datetime | None = None
    for move in sorted(moves, key=attrgetter("at", "pk")):
        if move.packing:
            parent, at = move.parent, move.at
        elif parent == move.parent or (move.names_child and parent is None):
            parent, at = None, move.at
    return parent, at


def _retract_unpacking(uow: UnitOfWork, pk: int, event: dict[str, Any], named: Contents) -> None:
    """Put the children the erroneous unpacking ``pk`` took out, and that no later event
    moved, where the other valid aggregation events up to its time put them; the container
    it emptied (no children named) is ``packed`` again unless another unpacking of it
    counts."""
    conn = uow.conn
    assert named.parent is not None
    parent_key = sscc_key(named.parent)
    found = conn.execute(
        select(containers.c.id, containers.c.status).where(containers.c.sscc == named.parent)
    ).first()
    if found is None:
        return
    at = conn.execute(select(events.c.event_time).where(events.c.pk == pk)).scalar_one()
    valid = _valid_moves(pk, at)
    everything = not event.get("childEPCs")
    if everything:  # the children of the packings into the container
        packings = [
            event_pk
            for event_pk, action, _ in conn.execute(
                valid.where(events.c.pk.in_(_events_naming(parent_key, "parent")))
            )
            if action == "ADD"
        ]
        unit_ids = _children_of(conn, packings)
        container_keys = _child_keys_of(conn, packings)
    else:
        unit_ids = [
            unit_id for unit in named.units if (unit_id := _unit_id(conn, unit)) is not None
        ]
        container_keys = [sscc_key(sscc) for sscc, _ in named.ssccs]
    # The children that still carry the unpacking's mark.
    marked = and_(units.c.parent_id.is_(None), units.c.parent_at == at)
    unit_ids = [
        unit_id
        for part in chunks(unit_ids)
        for unit_id in conn.execute(select(units.c.id).where(units.c.id.in_(part), marked))
        .scalars()
        .all()
    ]
    container_marked = and_(containers.c.parent_id.is_(None), containers.c.parent_at == at)
    ssccs = [
        sscc
        for part in chunks([key[4:] for key in container_keys])
        for sscc in conn.execute(
            select(containers.c.sscc).where(containers.c.sscc.in_(part), container_marked)
        )
        .scalars()
        .all()
    ]
    unit_moves = _unit_moves(conn, valid, unit_ids)
    container_moves = _container_moves(conn, valid, [sscc_key(sscc) for sscc in ssccs])
    all_out = _everything_out(conn, valid, unit_moves, container_moves)
    for unit_id in unit_ids:
        moves = unit_moves.get(unit_id, [])
        place, moved_at = _place(moves + [m for m in all_out if _was_in(m, moves)])
        if everything and place != parent_key:
            continue  # not in the container when it was unpacked
        conn.execute(
            update(units)
            .where(units.c.id == unit_id)
            .values(parent_id=_container_id(conn, place), parent_at=moved_at)
        )
    for sscc in ssccs:
        moves = container_moves.get(sscc_key(sscc), [])
        place, moved_at = _place(moves + [m for m in all_out if _was_in(m, moves)])
        if everything and place != parent_key:
            continue
        conn.execute(
            update(containers)
            .where(containers.c.sscc == sscc)
            .values(parent_id=_container_id(conn, place), parent_at=moved_at)
        )
    if everything and found.status == "unpacked":
        others = conn.execute(
            _valid_moves(pk, None).where(
                events.c.pk.in_(_events_naming(parent_key, "parent")),
                events.c.action == "DELETE",
            )
        ).all()
        if not any(_names_no_child(conn, event_pk) for event_pk, _, _ in others):
            conn.execute(
                update(containers).where(containers.c.id == found.id).values(status="packed")
            )


def _valid_moves(unpacking: int, until: datetime | None) -> _Valid:
    """(pk, action, eventTime) of the AggregationEvents not declared erroneous but
    ``unpacking`` (up to ``until``, if given)."""
    query = select(events.c.pk, events.c.action, events.c.event_time).where(
        events.c.event_type == "AggregationEvent",
        events.c.pk != unpacking,
        ~exists().where(error_declarations.c.event_pk == events.c.pk),
    )
    return query if until is None else query.where(events.c.event_time <= until)


def _events_naming(key: str, role: str) -> Select[int]:
    return select(event_epcs.c.event_pk).where(event_epcs.c.epc == key, event_epcs.c.role == role)


def _children_of(conn: Connection, event_pks: Sequence[int]) -> list[int]:
    """The ids of the units ``event_pks`` name as children (by id, or by key if they named
    them before they were commissioned)."""
    found: set[int] = set()
    keys: set[str] = set()
    for part in chunks(event_pks):
        query = select(unit_events.c.unit_id).where(
            unit_events.c.event_pk.in_(part), unit_events.c.role == "child"
        )
        found.update(conn.execute(query).scalars())
        query = select(event_epcs.c.epc).where(
            event_epcs.c.event_pk.in_(part), event_epcs.c.role == "child"
        )
        keys.update(conn.execute(query).scalars())
    for key in keys:
        unit = unit_of_key(key)
        if unit is not None and (unit_id := _unit_id(conn, unit)) is not None:
            found.add(unit_id)
    return sorted(found)


def _child_keys_of(conn: Connection, event_pks: Sequence[int]) -> list[str]:
    """The keys of the SSCCs ``event_pks`` name as children."""
    found: set[str] = set()
    for part in chunks(event_pks):
        query = select(event_epcs.c.epc).where(
            event_epcs.c.event_pk.in_(part),
            event_epcs.c.role == "child",
            event_epcs.c.epc.startswith("(00)"),
        )
        found.update(conn.execute(query).scalars())
    return sorted(found)


def _unit_id(conn: Connection, unit: UnitKey) -> int | None:
    query = select(units.c.id).where(unit_is(unit))
    return conn.execute(query).scalar()


def _container_id(conn: Connection, key: str | None) -> int | None:
    if key is None:
        return None
    return conn.execute(select(containers.c.id).where(containers.c.sscc == key[4:])).scalar()


def _parents(conn: Connection, event_pks: Iterable[int]) -> dict[int, str]:
    """The parent key of each of ``event_pks`` that has an SSCC for parent."""
    found: dict[int, str] = {}
    for part in chunks(sorted(set(event_pks))):
        query = select(event_epcs.c.event_pk, event_epcs.c.epc).where(
            event_epcs.c.event_pk.in_(part),
            event_epcs.c.role == "parent",
            event_epcs.c.epc.startswith("(00)"),
        )
        found.update((int(event_pk), key) for event_pk, key in conn.execute(query))
    return found


def _moves(
    conn: Connection, rows: Sequence[tuple[Any, int, str, datetime]]
) -> dict[Any, list[_Move]]:
    """(child, pk, action, eventTime) rows of events naming a child -> the child's moves."""
    parents = _parents(conn, (pk for _, pk, _, _ in rows))
    moves: dict[Any, list[_Move]] = {}
    for child, pk, action, at in rows:
        if pk in parents:
            moves.setdefault(child, []).append(_Move(at, pk, parents[pk], action == "ADD", True))
    return moves


def _unit_moves(conn: Connection, valid: _Valid, unit_ids: Sequence[int]) -> dict[int, list[_Move]]:
    """The moves of each of the units ``unit_ids``: the events that name it as a child, by
    id or (named before it was commissioned) by key."""
    rows: list[tuple[Any, int, str, datetime]] = []
    by_key: dict[str, int] = {}
    for part in chunks(unit_ids):
        query = valid.add_columns(unit_events.c.unit_id).join(
            unit_events, unit_events.c.event_pk == events.c.pk
        )
        query = query.where(unit_events.c.unit_id.in_(part), unit_events.c.role == "child")
        rows += [(unit_id, pk, action, at) for pk, action, at, unit_id in conn.execute(query)]
        keys = select(units.c.id, units.c.gtin, units.c.serial, units.c.scheme).where(
            units.c.id.in_(part)
        )
        by_key.update(
            (UnitKey(gtin, serial, scheme).key, unit_id)
            for unit_id, gtin, serial, scheme in conn.execute(keys)
        )
    for key_part in chunks(list(by_key)):
        query = valid.add_columns(event_epcs.c.epc).join(
            event_epcs, event_epcs.c.event_pk == events.c.pk
        )
        query = query.where(event_epcs.c.epc.in_(key_part), event_epcs.c.role == "child")
        rows += [(by_key[key], pk, action, at) for pk, action, at, key in conn.execute(query)]
    return _moves(conn, rows)


def _container_moves(
    conn: Connection, valid: _Valid, keys: Sequence[str]
) -> dict[str, list[_Move]]:
    rows: list[tuple[Any, int, str, datetime]] = []
    for part in chunks(keys):
        query = valid.add_columns(event_epcs.c.epc).join(
            event_epcs, event_epcs.c.event_pk == events.c.pk
        )
        query = query.where(event_epcs.c.epc.in_(part), event_epcs.c.role == "child")
        rows += [(key, pk, action, at) for pk, action, at, key in conn.execute(query)]
    return _moves(conn, rows)


def _everything_out(
    conn: Connection,
    valid: _Valid,
    *moves_by_child: dict[Any, list[_Move]],
) -> list[_Move]:
    """The valid unpackings that name no child, of every container the children were packed
    into."""
    parents = sorted(
        {move.parent for moves in moves_by_child for ms in moves.values() for move in ms}
    )
    found: list[_Move] = []
    for parent in parents:
        query = valid.where(
            events.c.pk.in_(_events_naming(parent, "parent")), events.c.action == "DELETE"
        )
        for pk, _, at in conn.execute(query):
            if _names_no_child(conn, pk):
                found.append(_Move(at, pk, parent, False, False))
    return found


def _was_in(move: _Move, moves: Sequence[_Move]) -> bool:
    """Whether the child of ``moves`` was ever packed into the container ``move`` empties."""
    return any(m.packing and m.parent == move.parent for m in moves)


def _names_no_child(conn: Connection, pk: int) -> bool:
    body = conn.execute(select(event_bodies.c.body).where(event_bodies.c.event_pk == pk)).scalar()
    return body is not None and not json.loads(body).get("childEPCs")
