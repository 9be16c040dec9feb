"""The half of applying a document that needs no store: what each event says on its own.

For every event of a checked document: its eventID (the CBV 2.0 event hash when it has
none), its body as stored (with the document's extra ``@context``) and that body's JSON
text, its ``events`` row, the units and other EPCs it names (the EPC index), and, for a
commissioning event, its lot, expiry, disposition and units. :mod:`server.ingest.apply`
adds what needs the store: keys, ids, and what other events and stored rows imply.

Kept free of store imports on purpose: the MQTT receiver process runs it for every message,
ahead of the writer and on the other core, so the writer thread only does what needs the
database. Measured on PostgreSQL with one ingest process, the writer waited for the
database about half of its time, and the database for the writer the other half; work
moved here runs while the writer waits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import Any, NamedTuple

import epcis
import gs1
from server.cbv import cbv_term, parse_time
from server.errors import RejectedDocument
from server.identifiers import SGTIN_URN, UnitKey, canonical, parse_sscc, parse_unit, refusal
from server.ingest.fields import FieldRow, field_rows
from server.ingest.validation import event_list

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Which list of an event fills which role in event_epcs (EPCIS query MATCH_* parameters).
EPC_ROLES = (
    ("epcList", "epc"),
    ("childEPCs", "child"),
    ("inputEPCList", "input"),
    ("outputEPCList", "output"),
)
CLASS_ROLES = (
    ("quantityList", "class"),
    ("childQuantityList", "childClass"),
    ("inputQuantityList", "inputClass"),
    ("outputQuantityList", "outputClass"),
)
# Lists of typed identifiers: (list, key of the identifier in each entry).
TYPED_ID_LISTS = (
    ("sourceList", "source"),
    ("destinationList", "destination"),
    ("bizTransactionList", "bizTransaction"),
)


# Event times outside [now - max age, now + max ahead] are refused (the document becomes a
# dead letter). Set from the server settings event_time_max_age_days / _ahead_days by the
# app; read from the same environment variables (the settings' names) in a process of its
# own (the MQTT receiver).
EVENT_TIME_WINDOW_ENV = (
    "SERIALTRACE_SERVER__EVENT_TIME_MAX_AGE_DAYS",
    "SERIALTRACE_SERVER__EVENT_TIME_MAX_AHEAD_DAYS",
)


def _window_days(name: str, default: float) -> float:
    legacy = name.replace("SERVER__", "SERVER_", 1)
    return float(os.environ.get(name) or os.environ.get(legacy) or default)


_EVENT_TIME_WINDOW = [
    timedelta(days=_window_days(EVENT_TIME_WINDOW_ENV[0], 365)),
    timedelta(days=_window_days(EVENT_TIME_WINDOW_ENV[1], 1)),
]


def set_event_time_window(max_age_days: float, max_ahead_days: float) -> None:
    """Accept event times from ``max_age_days`` ago to ``max_ahead_days`` ahead (this
    process and the receiver processes it starts later)."""
    _EVENT_TIME_WINDOW[:] = [timedelta(days=max_age_days), timedelta(days=max_ahead_days)]
    os.environ[EVENT_TIME_WINDOW_ENV[0]] = repr(float(max_age_days))
    os.environ[EVENT_TIME_WINDOW_ENV[1]] = repr(float(max_ahead_days))


def check_event_time(event_time: datetime, field_name: str, now: datetime | None = None) -> None:
    """Raise RejectedDocument for an event time outside the window around ``now``."""
    now = now or datetime.now(UTC)
    max_age, max_ahead = _EVENT_TIME_WINDOW
    if event_time > now + max_ahead or event_time < now - max_age:
        raise RejectedDocument(
            f"{field_name}: expected a time from {(now - max_age).isoformat(timespec='seconds')} "
            f"to {(now + max_ahead).isoformat(timespec='seconds')} (event_time_max_age_days "
            f"{max_age.total_seconds() / 86400:g}, event_time_max_ahead_days "
            f"{max_ahead.total_seconds() / 86400:g}), got {event_time.isoformat()}"
        )


@dataclass(frozen=True)
class Origin:
    """Where a document came from: ``mqtt`` (with the topic's site and line) or ``http``."""

    source: str
    site: str | None = None
    line: str | None = None


class Commissioning(NamedTuple):
    """What a commissioning ObjectEvent (ADD) creates: units of one lot."""

    lot: str | None
    expiry: str | None
    disposition: str
    units: list[UnitKey]  # in epcList order; EPCs that are not SGTINs left out
    grade: tuple[float, str] | None = None  # serialtrace:grade: overall, detail JSON


class Contents(NamedTuple):
    """The units and containers an AggregationEvent packs (its parentID and childEPCs) or an
    ObjectEvent names (its epcList)."""

    parent: str | None  # the parentID's SSCC (AggregationEvent)
    parent_epc: str | None  # the parentID as sent
    units: list[UnitKey]
    ssccs: list[tuple[str, str]]  # (SSCC, EPC as sent)
    unit_like: bool  # any child an SGTIN (parsed or not): the parent is at least a case


class PreparedEvent(NamedTuple):
    """One event of a document, as far as it can be known without the store."""

    event_id: str
    body: dict[str, Any]  # as stored: with its eventID and the document's extra @context
    text: str  # ``body`` as compact JSON
    row: dict[str, Any] | None  # the events row but record_time; None if ``error``
    error: str | None  # why the event cannot be stored (an unreadable eventTime)
    unit_refs: list[tuple[str, list[UnitKey]]]  # (role, units named in that role)
    epc_refs: list[tuple[str, str]]  # (canonical key, role) of every other EPC and class
    commissioning: Commissioning | None
    contents: Contents | None  # AggregationEvent and ObjectEvent
    # The EPCIS query index rows (server/ingest/fields.py) and the errorDeclaration, if any.
    fields: list[FieldRow] = []  # noqa: RUF012 - a NamedTuple default, never mutated
    declaration: dict[str, Any] | None = None


class PreparedDocument(NamedTuple):
    origin: Origin
    events: list[PreparedEvent]


def prepare_document(document: dict[str, Any], origin: Origin) -> PreparedDocument:
    """Prepare every event of a schema-checked ``document`` (no store access)."""
    context = _extra_context(document)
    namespaces = document.get("@context")
    return PreparedDocument(
        origin,
        [
            prepare_event(index, event, origin, context, namespaces)
            for index, event in enumerate(event_list(document))
        ],
    )


def prepare_event(
    index: int,
    event: dict[str, Any],
    origin: Origin,
    context: list[Any] | None = None,
    namespaces: Any = None,
) -> PreparedEvent:
    """The ``index``-th event of a document (the index names it in an error); ``namespaces``
    is the document's ``@context`` (the prefixes of its extension fields)."""
    event_id = event.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        event_id = epcis.event_hash(event)
        event = {**event, "eventID": event_id}
    if context is not None and "@context" not in event:
        event = {"@context": context, **event}
    row: dict[str, Any] | None = None
    error = refused_identifier(index, event)
    try:
        event_time = parse_time(event.get("eventTime"), f"eventList[{index}].eventTime")
        check_event_time(event_time, f"eventList[{index}].eventTime")
    except RejectedDocument as exc:
        error = error or exc.reason
    if error is None:
        site, line = _site_line(event, origin)
        row = {
            "event_id": event_id,
            "event_type": event.get("type"),
            "action": event.get("action"),
            "event_time": event_time,
            "biz_step": cbv_term(event.get("bizStep")),
            "disposition": cbv_term(event.get("disposition")),
            "read_point": (event.get("readPoint") or {}).get("id"),
            "biz_location": (event.get("bizLocation") or {}).get("id"),
            "site": site,
            "line": line,
            "source": origin.source,
        }
    unit_refs, epc_refs = _references(event)
    return PreparedEvent(
        event_id,
        event,
        json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        row,
        error,
        unit_refs,
        epc_refs,
        _commissioning(event),
        contents_of(event),
        field_rows(event, namespaces),
        declaration if isinstance(declaration := event.get("errorDeclaration"), dict) else None,
    )


def refused_identifier(index: int, event: dict[str, Any]) -> str | None:
    """Why an identifier of the event is refused (GS1 rules, :func:`server.identifiers.
    refusal`), naming where it is; None if every EPC, class, location, party and business
    transaction is acceptable."""
    for list_name, _ in EPC_ROLES:
        for position, epc in enumerate(event.get(list_name) or ()):
            # A unit (parse_unit is cached; _references asks again) is acceptable as it is.
            if isinstance(epc, str) and parse_unit(epc) is None and (reason := refusal(epc)):
                return f"eventList[{index}].{list_name}[{position}]: {reason}"
    for list_name, _ in CLASS_ROLES:
        for position, item in enumerate(event.get(list_name) or ()):
            epc_class = item.get("epcClass") if isinstance(item, dict) else None
            if isinstance(epc_class, str) and (reason := refusal(epc_class)) is not None:
                return f"eventList[{index}].{list_name}[{position}].epcClass: {reason}"
    candidates = [("parentID", event.get("parentID"))]
    for name in ("readPoint", "bizLocation"):
        place = event.get(name)
        candidates.append((f"{name}.id", place.get("id") if isinstance(place, dict) else None))
    for list_name, key in TYPED_ID_LISTS:  # parties (PGLN, SGLN) and documents (GDTI, GINC)
        for position, item in enumerate(event.get(list_name) or ()):
            value = item.get(key) if isinstance(item, dict) else None
            candidates.append((f"{list_name}[{position}].{key}", value))
    for where, value in candidates:
        if isinstance(value, str) and (reason := refusal(value)) is not None:
            return f"eventList[{index}].{where}: {reason}"
    return None


def _references(event: dict[str, Any]) -> tuple[list[tuple[str, list[UnitKey]]], list[Any]]:
    """The event's EPCs: units by role, and every other EPC and class as (key, role)."""
    unit_refs: list[tuple[str, list[UnitKey]]] = []
    epc_refs: list[tuple[str, str]] = []
    for list_name, role in EPC_ROLES:
        epcs = event.get(list_name)
        if not epcs:
            continue
        parsed = list(map(parse_unit, epcs))  # the hot path: 20-100 units per event
        if None not in parsed:
            unit_refs.append((role, parsed))  # type: ignore[arg-type]
            continue
        found = [unit is not None for unit in parsed]
        if any(found):
            unit_refs.append((role, list(compress(parsed, found))))  # type: ignore[arg-type]
        epc_refs.extend(
            (canonical(epc), role) for epc, unit in zip(epcs, parsed, strict=True) if unit is None
        )
    parent = event.get("parentID")
    if isinstance(parent, str):
        unit = parse_unit(parent)
        if unit is None:
            epc_refs.append((canonical(parent), "parent"))
        else:
            unit_refs.append(("parent", [unit]))
    for list_name, role in CLASS_ROLES:
        for item in event.get(list_name) or ():
            epc_class = item.get("epcClass") if isinstance(item, dict) else None
            if isinstance(epc_class, str):
                epc_refs.append((canonical(epc_class), role))
    return unit_refs, epc_refs


def contents_of(event: dict[str, Any]) -> Contents | None:
    """What an AggregationEvent or ObjectEvent names (None for other events)."""
    kind = event.get("type")
    if kind == "AggregationEvent":
        parent_epc = event.get("parentID")
        parent = parse_sscc(parent_epc) if isinstance(parent_epc, str) else None
        epcs = event.get("childEPCs") or ()
    elif kind == "ObjectEvent":
        parent_epc = parent = None
        epcs = event.get("epcList") or ()
    else:
        return None
    units: list[UnitKey] = []
    ssccs: list[tuple[str, str]] = []
    unit_like = False
    for epc in epcs:
        unit = parse_unit(epc)
        if unit is not None:
            units.append(unit)
            continue
        if epc.startswith(SGTIN_URN):
            unit_like = True
        elif (sscc := parse_sscc(epc)) is not None:
            ssccs.append((sscc, epc))
    return Contents(parent, parent_epc if parent else None, units, ssccs, unit_like or bool(units))


def _commissioning(event: dict[str, Any]) -> Commissioning | None:
    if not (
        event.get("type") == "ObjectEvent"
        and event.get("action") == "ADD"
        and cbv_term(event.get("bizStep")) == "commissioning"
    ):
        return None
    ilmd = event.get("ilmd")
    units = [unit for unit in map(parse_unit, event.get("epcList") or ()) if unit is not None]
    return Commissioning(
        ilmd_value(ilmd, "lotNumber"),
        ilmd_value(ilmd, "itemExpirationDate"),
        cbv_term(event.get("disposition")) or "active",
        units,
        unit_grade(event.get(GRADE_EXTENSION)),
    )


GRADE_EXTENSION = "serialtrace:grade"
GRADE_PARAMETERS = frozenset({"DEC", "SC", "MOD", "RM", "FPD", "AN", "GN", "UEC"})


def unit_grade(value: Any) -> tuple[float, str] | None:
    """The overall grade and the stored detail (JSON) of a ``serialtrace:grade`` extension;
    None when there is none or it is not one (the event is still stored as received)."""
    if not isinstance(value, dict):
        return None
    overall = value.get("overall")
    if isinstance(overall, bool) or not isinstance(overall, int | float):
        return None
    if not 0.0 <= overall <= 4.0:
        return None
    parameters = value.get("parameters")
    detail: dict[str, Any] = {"overall": float(overall)}
    if isinstance(parameters, dict):
        detail["parameters"] = {
            name: grade
            for name, grade in parameters.items()
            if name in GRADE_PARAMETERS
            and isinstance(grade, int)
            and not isinstance(grade, bool)
            and 0 <= grade <= 4
        }
    limiting = value.get("limiting")
    if isinstance(limiting, list):
        detail["limiting"] = [name for name in limiting if name in GRADE_PARAMETERS]
    for key, limit in (("letter", 1), ("iso", 32)):
        text = value.get(key)
        if isinstance(text, str) and len(text) <= limit:
            detail[key] = text
    return float(overall), json.dumps(detail, separators=(",", ":"), sort_keys=True)


def _extra_context(document: dict[str, Any]) -> list[Any] | None:
    """The document's @context if it declares more than the standard EPCIS context."""
    context = document.get("@context")
    if context is None or context == STANDARD_CONTEXT or context == [STANDARD_CONTEXT]:
        return None
    return context if isinstance(context, list) else [context]


def ilmd_value(ilmd: Any, suffix: str) -> str | None:
    if not isinstance(ilmd, dict):
        return None
    for key, value in ilmd.items():
        if (key == suffix or key.endswith(":" + suffix)) and isinstance(value, str):
            return value
    return None


def _site_line(event: dict[str, Any], origin: Origin) -> tuple[str, str]:
    if origin.site is not None:
        return origin.site, origin.line or "-"
    read_point = (event.get("readPoint") or {}).get("id")
    if isinstance(read_point, str) and read_point.startswith("urn:epc:id:sgln:"):
        try:
            identity = gs1.parse_epc_uri(read_point)
        except gs1.Gs1Error:
            return "-", "-"
        if identity.gln is not None:
            cpl = identity.company_prefix_length
            site = f"{identity.gln.company_prefix(cpl)}.{identity.gln.location_reference(cpl)}"
            return site, identity.extension or "-"
    return "-", "-"
