"""EPCIS 2.0 SimpleEventQuery over the stored events (``GET /epcis/events``).

Supported parameters: ``eventType``, ``EQ_action``, ``EQ_bizStep``, ``EQ_disposition``,
``EQ_readPoint``, ``EQ_bizLocation``, ``EQ_eventID``, ``GE_eventTime``, ``LT_eventTime``,
``GE_recordTime``, ``LT_recordTime``, ``MATCH_epc``, ``MATCH_anyEPC``, ``MATCH_parentID``,
``MATCH_inputEPC``, ``MATCH_outputEPC``, ``MATCH_epcClass``, ``MATCH_anyEPCClass``; each
may be repeated or hold several values separated by ``|``. EPCs match by canonical key
(a Digital Link finds events captured with EPC URIs), and ``urn:epc:idpat:sgtin:…`` patterns
match by prefix. Paging is keyset on the event's store key: the ``nextPageToken`` names the
last event of the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    false,
    or_,
    select,
    union_all,
)

from server.cbv import cbv_term, parse_time
from server.errors import RejectedDocument
from server.identifiers import canonical, key_pattern, unit_of_key
from server.store.schema import event_bodies, event_epcs, events, unit_events, units

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_epcClass": ("class", "childClass"),
    "MATCH_anyEPCClass": ("class", "childClass", "inputClass", "outputClass"),
}
EQUALS = {
    "EQ_action": events.c.action,
    "EQ_readPoint": events.c.read_point,
    "EQ_bizLocation": events.c.biz_location,
    "EQ_eventID": events.c.event_id,
}
TERMS = {"EQ_bizStep": events.c.biz_step, "EQ_disposition": events.c.disposition}
TIMES = {
    "GE_eventTime": (events.c.event_time, True),
    "LT_eventTime": (events.c.event_time, False),
    "GE_recordTime": (events.c.record_time, True),
    "LT_recordTime": (events.c.record_time, False),
}
PAGING = frozenset({"perPage", "nextPageToken"})
SUPPORTED = frozenset({"eventType", *MATCH_ROLES, *EQUALS, *TERMS, *TIMES, *PAGING})


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next_page_token: str | None


def _values(raw: Sequence[str]) -> list[str]:
    return [value for item in raw for value in item.split("|") if value]


def build_query(params: Mapping[str, Sequence[str]]) -> Select[Any]:
    """The SELECT for ``params``; raises :class:`RejectedDocument` naming a bad parameter."""
    unknown = sorted(set(params) - SUPPORTED)
    if unknown:
        raise RejectedDocument(
            f"{unknown[0]}: unsupported query parameter; expected one of "
            f"{', '.join(sorted(SUPPORTED))}"
        )
    for name, raw in params.items():
        for value in raw:
            if "\x00" in value:  # no stored text holds one; PostgreSQL refuses it as a bind
                shown = repr(value) if len(value) <= 80 else repr(value[:77]) + "..."
                raise RejectedDocument(f"{name}: expected text without NUL characters, got {shown}")
    query = select(events.c.pk, event_bodies.c.body, events.c.record_time).join(
        event_bodies, event_bodies.c.event_pk == events.c.pk
    )
    if "eventType" in params:
        kinds = _values(params["eventType"])
        bad = [kind for kind in kinds if kind not in EVENT_TYPES]
        if bad:
            raise RejectedDocument(
                f"eventType: expected one of {', '.join(sorted(EVENT_TYPES))}, got {bad[0]!r}"
            )
        query = query.where(events.c.event_type.in_(kinds))
    for name, column in EQUALS.items():
        if name in params:
            query = query.where(column.in_(_values(params[name])))
    for name, column in TERMS.items():
        if name in params:
            query = query.where(column.in_([cbv_term(v) for v in _values(params[name])]))
    for name, (column, inclusive) in TIMES.items():
        if name in params:
            moments = [parse_time(value, name) for value in _values(params[name])]
            if len(moments) != 1:
                raise RejectedDocument(f"{name}: expected one date-time, got {len(moments)}")
            query = query.where(column >= moments[0] if inclusive else column < moments[0])
    for name, roles in MATCH_ROLES.items():
        if name in params:
            query = query.where(events.c.pk.in_(_matching(_values(params[name]), roles)))
    return query


def _matching(values: list[str], roles: tuple[str, ...]) -> CompoundSelect[Any]:
    """The pks of events naming any of ``values`` in one of ``roles``: by key text in
    event_epcs, and, for commissioned units, by unit id in unit_events."""
    exact = []
    conditions = []
    unit_conditions = []
    for value in values:
        pattern = key_pattern(value)
        if pattern is None:
            key = canonical(value)
            exact.append(key)
            unit = unit_of_key(key)
            if unit is not None:
                unit_conditions.append(
                    and_(units.c.gtin == unit.gtin, units.c.serial == unit.serial)
                )
        else:
            conditions.append(event_epcs.c.epc.like(pattern, escape="\\"))
            unit_conditions.append(_gtin_condition(pattern))
    if exact:
        conditions.append(event_epcs.c.epc.in_(exact))
    by_text = select(event_epcs.c.event_pk).where(event_epcs.c.role.in_(roles), or_(*conditions))
    by_unit = select(unit_events.c.event_pk).where(
        unit_events.c.role.in_(roles),
        unit_events.c.unit_id.in_(select(units.c.id).where(or_(false(), *unit_conditions))),
    )
    return union_all(by_text, by_unit)


def _gtin_condition(pattern: str) -> ColumnElement[bool]:
    """The units an SGTIN key pattern of :func:`key_pattern` matches: ``(01){gtin}(21)%``
    (one GTIN) or ``(01)_{prefix}%`` (any GTIN of a company prefix)."""
    if pattern.endswith("(21)%"):
        return units.c.gtin == pattern[len("(01)") : -len("(21)%")]
    return units.c.gtin.like(pattern[len("(01)") :], escape="\\")


def run_query(
    conn: Connection, params: Mapping[str, Sequence[str]], *, per_page: int, after: int | None
) -> EventPage:
    query = build_query(params)
    if after is not None:
        query = query.where(events.c.pk > after)
    rows = conn.execute(query.order_by(events.c.pk).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    page = [_with_record_time(json.loads(row.body), row.record_time) for row in rows]
    return EventPage(page, str(rows[-1].pk) if more and rows else None)


def _with_record_time(event: dict[str, Any], record_time: datetime) -> dict[str, Any]:
    event["recordTime"] = record_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event
