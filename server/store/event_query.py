"""EPCIS 2.0 SimpleEventQuery over the stored events, from indexed columns only.

Every parameter of the standard (section 8.2.7.1) becomes a condition on the ``events``
columns, the EPC index (``event_epcs``, ``unit_events``), the field index (``event_fields``,
filled at ingest by :mod:`server.ingest.fields`) or ``error_declarations``; no stored body
is read to decide whether an event matches. Values: repeat a parameter or separate values
with ``|``. Times are compared as instants (zones and fractions of a second normalised).

Paging is keyset: the ``nextPageToken`` carries the sort key and store key of the last event
of the page (and how many events were delivered, for ``eventCountLimit``), bound to the
query it came from; a page starts strictly after it, so events captured meanwhile never
shift a page, and none is delivered twice.

Master data: ``WD_readPoint``/``WD_bizLocation`` (a location and its descendants in the
stored hierarchy), ``HASATTR_{field}`` and ``EQATTR_{field}_{attribute}`` are resolved when the
query runs (so a stored query sees master data captured since): the master-data tables give a
set of URNs first, then the events are filtered by the indexed column of the field.

Errors: :class:`QueryParameterError` (``QueryParameterException``) names the parameter and
what was expected; :class:`QueryTooLarge` (``QueryTooLargeException``) is raised when
``maxEventCount`` is exceeded; :class:`QueryTooComplex` (``QueryTooComplexException``) when
master data resolves a parameter to more URNs than the store compares.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)

from gs1.identifiers import equivalent_forms
from server.errors import RejectedDocument
from server.identifiers import canonical, key_pattern, unit_of_key
from server.ingest.fields import STANDARD_PREFIXES, bounded, expand, measurement_type, term
from server.masterdata.store import (
    HierarchyTooLarge,
    attribute_name,
    descendants,
    urns_with_attribute,
)
from server.store.schema import (
    error_declarations,
    event_bodies,
    event_epcs,
    event_fields,
    events,
    unit_events,
    unit_is,
    units,
)

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_epcClass": ("class", "childClass"),
    "MATCH_inputEPCClass": ("inputClass",),
    "MATCH_outputEPCClass": ("outputClass",),
    "MATCH_anyEPCClass": ("class", "childClass", "inputClass", "outputClass"),
}
# EQ_ parameters on an events column.
COLUMNS = {
    "EQ_readPoint": events.c.read_point,
    "EQ_bizLocation": events.c.biz_location,
    "EQ_eventID": events.c.event_id,
}
# Location parameters: a location matches in either form (EPC URI or GS1 Digital Link).
LOCATIONS = frozenset({"EQ_readPoint", "EQ_bizLocation"})
# WD_ (with descendants): the location column the master-data hierarchy is walked for.
WITH_DESCENDANTS = {"WD_readPoint": events.c.read_point, "WD_bizLocation": events.c.biz_location}
# The vocabulary-valued fields HASATTR_/EQATTR_ take: an events column (CBV terms stored bare)
# or EPC index roles (classes, whose master data is keyed by the class URN).
ATTRIBUTE_COLUMNS = {
    "readPoint": events.c.read_point,
    "bizLocation": events.c.biz_location,
    "bizStep": events.c.biz_step,
    "disposition": events.c.disposition,
}
ATTRIBUTE_ROLES = {
    "epcClass": MATCH_ROLES["MATCH_epcClass"],
    "inputEPCClass": MATCH_ROLES["MATCH_inputEPCClass"],
    "outputEPCClass": MATCH_ROLES["MATCH_outputEPCClass"],
}
TERMS = {"EQ_bizStep": events.c.biz_step, "EQ_disposition": events.c.disposition}
TIMES = {
    "eventTime": events.c.event_time,
    "recordTime": events.c.record_time,
    "errorDeclarationTime": error_declarations.c.declared_at,
    "errorDeclaration_Time": error_declarations.c.declared_at,  # query-schema.json spelling
}
# EQ_ parameters on an event_fields text value: parameter -> field name.
TEXT_FIELDS = {
    "EQ_persistentDisposition_set": "pds",
    "EQ_persistentDisposition_unset": "pdu",
    "EQ_transformationID": "tid",
    "EQ_correctiveEventID": "edc",
    "EQ_deviceID": "s:deviceID",
    "EQ_dataProcessingMethod": "s:dataProcessingMethod",
    "EQ_microorganism": "s:microorganism",
    "EQ_chemicalSubstance": "s:chemicalSubstance",
    "EQ_bizRules": "s:bizRules",
    "EQ_stringValue": "s:stringValue",
    "EQ_hexBinaryValue": "s:hexBinaryValue",
    "EQ_uriValue": "s:uriValue",
    "EQ_type": "s:type",
}
SENSOR_TIMES = ("time", "startTime", "endTime")
SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percValue")
COMPARE = {"GT": "__gt__", "GE": "__ge__", "LT": "__lt__", "LE": "__le__", "EQ": "__eq__"}
PAGING = frozenset({"perPage", "nextPageToken"})
CONTROL = frozenset({"orderBy", "orderDirection", "eventCountLimit", "maxEventCount"})
# Named query / subscription controls that are no query parameters.
IGNORED = frozenset({"@context", "queryType"})
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
UOM = re.compile(r"[A-Z0-9]{2,4}\Z")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
# The prefixes of flexible parameter names for extension fields, longest first:
# (prefix after the operator, field prefix of top-level fields, of nested fields).
EXTENSION_SCOPES = (
    ("INNER_ERROR_DECLARATION_", "edi:", "edi:"),
    ("ERROR_DECLARATION_", "ed:", "ed:"),
    ("INNER_ILMD_", "ili:", "ili:"),
    ("ILMD_", "il:", "il:"),
    ("INNER_readPoint_", "rpi:", "rpi:"),
    ("readPoint_", "rp:", "rp:"),
    ("INNER_bizLocation_", "bli:", "bli:"),
    ("bizLocation_", "bl:", "bl:"),
    ("INNER_", "xi:", "xi:"),
    ("", "x:", "x:"),
)
MAX_VALUES = 1000  # values of one parameter
MAX_PARAMETERS = 100


class QueryParameterError(RejectedDocument):
    """A query parameter is unknown or has a value the standard does not allow
    (``epcisException:QueryParameterException``)."""


class QueryTooLarge(RejectedDocument):
    """More events match than ``maxEventCount`` allows
    (``epcisException:QueryTooLargeException``)."""


class QueryTooComplex(RejectedDocument):
    """Master data resolves a parameter to more URNs than the store compares
    (``epcisException:QueryTooComplexException``)."""


Resolver = Callable[[Connection], ColumnElement[bool]]
# Values master data may put into one query's statement, all parameters together: SQLite
# takes at most 32,766 bound values in a statement, and one WD_ parameter may stand for
# 10,000 locations in two forms each.
MAX_MASTER_DATA_VALUES = 30_000


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next_page_token: str | None
    keys: list[int] = field(default_factory=list)  # the events' store keys, in page order


@dataclass
class EventQuery:
    """A checked SimpleEventQuery: its conditions, order and limits."""

    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    # Conditions on master data, resolved to URNs on the connection the query runs on.
    resolvers: list[Resolver] = field(default_factory=list)
    order_by: str | None = None  # eventTime, recordTime, or an extension field name
    ascending: bool = False
    event_count_limit: int | None = None
    max_event_count: int | None = None
    fingerprint: str = ""


def _values(name: str, raw: Sequence[str]) -> list[str]:
    values = [value for item in raw for value in item.split("|") if value]
    if len(values) > MAX_VALUES:
        raise QueryParameterError(
            f"{name}: expected at most {MAX_VALUES} values, got {len(values)}"
        )
    return values


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 80 else repr(value[:77]) + "..."


def _one(name: str, raw: Sequence[str]) -> str:
    values = _values(name, raw)
    if len(values) != 1:
        raise QueryParameterError(f"{name}: expected one value, got {len(values)}")
    return values[0]


def parse_time(name: str, value: str) -> datetime:
    """An instant from an RFC 3339 date-time with a zone (``Z`` or ``±hh:mm``)."""
    if len(value) > 40 or RFC3339.match(value) is None:
        raise QueryParameterError(
            f"{name}: expected an ISO 8601 date-time with offset, got {_shown(value)}"
        )
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise QueryParameterError(
            f"{name}: expected a real calendar date-time, got {_shown(value)}"
        ) from None


def parse_number(name: str, value: str) -> float:
    if len(value) > 40 or NUMBER.match(value.strip()) is None:
        raise QueryParameterError(f"{name}: expected a number, got {_shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise QueryParameterError(f"{name}: expected a finite number, got {_shown(value)}")
    return number


def parse_int(name: str, value: str, minimum: int) -> int:
    if not value.isdigit() or len(value) > 12 or int(value) < minimum:
        raise QueryParameterError(
            f"{name}: expected an integer of at least {minimum}, got {_shown(value)}"
        )
    return int(value)


def parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise QueryParameterError(f"{name}: expected true or false, got {_shown(value)}")


def params_from_json(query: Mapping[str, Any]) -> dict[str, list[str]]:
    """Query parameters (name -> values as text) from a JSON query object (named queries,
    ``query-schema.json``): lists, strings, numbers and booleans."""
    params: dict[str, list[str]] = {}
    for name, value in query.items():
        if name in IGNORED:
            continue
        items = value if isinstance(value, list) else [value]
        texts = []
        for item in items:
            if isinstance(item, bool):
                texts.append("true" if item else "false")
            elif isinstance(item, int | float | str):
                texts.append(str(item))
            elif item is None and name.startswith("EXISTS_"):
                texts.append("true")
            else:
                raise QueryParameterError(
                    f"{name}: expected a string, number, boolean or a list of them, "
                    f"got {json.dumps(item)[:80]}"
                )
        params[name] = texts
    return params


def check_query(
    params: Mapping[str, Sequence[str]], prefixes: Mapping[str, str] | None = None
) -> EventQuery:
    """The :class:`EventQuery` for ``params``; raises :class:`QueryParameterError` naming
    the first bad parameter. ``prefixes`` are extension namespaces (GS1-Extensions) for
    extension field names given as ``prefix:name``."""
    known = {**STANDARD_PREFIXES, **(prefixes or {})}
    if len(params) > MAX_PARAMETERS:
        raise QueryParameterError(
            f"query: expected at most {MAX_PARAMETERS} parameters, got {len(params)}"
        )
    query = EventQuery()
    for name, raw in params.items():
        for value in raw:
            if "\x00" in value:  # no stored text holds one; PostgreSQL refuses it as a bind
                raise QueryParameterError(
                    f"{name}: expected text without NUL characters, got {_shown(value)}"
                )
        if name in PAGING:
            continue
        if name in CONTROL:
            _control(query, name, raw, known)
            continue
        resolver = _master_data(name, raw, known)
        if resolver is not None:
            query.resolvers.append(resolver)
        else:
            query.conditions.append(_condition(name, raw, known))
    if query.event_count_limit is not None and query.max_event_count is not None:
        raise QueryParameterError(
            "eventCountLimit: expected either eventCountLimit or maxEventCount, got both"
        )
    if query.event_count_limit is not None and query.order_by is None:
        raise QueryParameterError("eventCountLimit: expected orderBy to be given with it, got none")
    canonical_params = sorted((k, sorted(v)) for k, v in params.items() if k not in PAGING)
    query.fingerprint = hashlib.sha256(json.dumps(canonical_params).encode()).hexdigest()[:16]
    return query


def _control(query: EventQuery, name: str, raw: Sequence[str], known: Mapping[str, str]) -> None:
    value = _one(name, raw)
    if name == "orderBy":
        if value in ("eventTime", "recordTime"):
            query.order_by = value
        elif ":" in value:
            query.order_by = "x:" + expand(value, known)
        else:
            raise QueryParameterError(
                f"orderBy: expected eventTime, recordTime or an extension field name "
                f"(prefix:name), got {_shown(value)}"
            )
    elif name == "orderDirection":
        if value not in ("ASC", "DESC"):
            raise QueryParameterError(f"orderDirection: expected ASC or DESC, got {_shown(value)}")
        query.ascending = value == "ASC"
    elif name == "eventCountLimit":
        query.event_count_limit = parse_int(name, value, 1)
    else:
        query.max_event_count = parse_int(name, value, 0)


def _in_fields(name: str, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Events with an event_fields row named ``name`` that meets ``conditions``."""
    return events.c.pk.in_(
        select(event_fields.c.event_pk).where(event_fields.c.field == bounded(name), *conditions)
    )


def _declared(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return events.c.pk.in_(select(error_declarations.c.event_pk).where(*conditions))


def _condition(name: str, raw: Sequence[str], known: Mapping[str, str]) -> ColumnElement[bool]:
    """The condition of one query parameter."""
    if name == "eventType":
        return events.c.event_type.in_(_values(name, raw))
    if name == "EQ_action":
        actions = _values(name, raw)
        bad = [action for action in actions if action not in ACTIONS]
        if bad:
            raise QueryParameterError(
                f"EQ_action: expected ADD, OBSERVE or DELETE, got {_shown(bad[0])}"
            )
        return events.c.action.in_(actions)
    if name in LOCATIONS:
        return COLUMNS[name].in_(forms(_values(name, raw)))
    if name in COLUMNS:
        return COLUMNS[name].in_(_values(name, raw))
    if name in TERMS:
        return TERMS[name].in_([term(value) for value in _values(name, raw)])
    if name in MATCH_ROLES:
        return events.c.pk.in_(matching(_values(name, raw), MATCH_ROLES[name]))
    if name in TEXT_FIELDS:
        values = _values(name, raw)
        if name == "EQ_type":
            values = [measurement_type(value) for value in values]
        elif name == "EQ_persistentDisposition_set" or name == "EQ_persistentDisposition_unset":
            values = [term(value) for value in values]
        return _in_fields(TEXT_FIELDS[name], event_fields.c.text.in_([bounded(v) for v in values]))
    if name == "EQ_booleanValue":
        flag = parse_bool(name, _one(name, raw))
        return _in_fields("s:booleanValue", event_fields.c.text == ("true" if flag else "false"))
    if name == "EXISTS_errorDeclaration":
        return _declared() if parse_bool(name, _one(name, raw) if raw else "true") else true()
    if name == "EXISTS_sensorElementList":
        return _in_fields("s") if parse_bool(name, _one(name, raw) if raw else "true") else true()
    if name == "EQ_errorReason":
        return _declared(error_declarations.c.reason.in_([term(v) for v in _values(name, raw)]))
    operator, _, rest = name.partition("_")
    if operator in ("GE", "LT") and rest in TIMES:
        moment = parse_time(name, _one(name, raw))
        column = TIMES[rest]
        condition = column >= moment if operator == "GE" else column < moment
        return condition if column.table is events else _declared(condition)
    if operator in ("GE", "LT") and rest in SENSOR_TIMES:
        moment = parse_time(name, _one(name, raw))
        column = event_fields.c.time
        return _in_fields("s:" + rest, column >= moment if operator == "GE" else column < moment)
    if operator in COMPARE:
        numeric = _numeric(operator, rest, name, raw)
        if numeric is not None:
            return numeric
    if operator == "EQ":
        for kind, prefix in (
            ("bizTransaction_", "bt:"),
            ("source_", "src:"),
            ("destination_", "dst:"),
        ):
            if rest.startswith(kind) and len(rest) > len(kind):
                values = [bounded(v) for v in _values(name, raw)]
                return _in_fields(prefix + term(rest[len(kind) :]), event_fields.c.text.in_(values))
    if operator in COMPARE or operator == "EXISTS":
        extension = _extension(operator, rest, name, raw, known)
        if extension is not None:
            return extension
    raise QueryParameterError(
        f"{name}: unsupported query parameter; expected a SimpleEventQuery parameter of "
        "EPCIS 2.0 (section 8.2.7.1), e.g. eventType, EQ_bizStep, MATCH_epc, GE_eventTime, "
        "or EQ_/GT_/GE_/LT_/LE_/EXISTS_ with an extension field named prefix:name"
    )


def _master_data(name: str, raw: Sequence[str], known: Mapping[str, str]) -> Resolver | None:
    """The resolver of a master-data parameter (``WD_``, ``HASATTR_``, ``EQATTR_``); None
    for any other parameter."""
    if name in WITH_DESCENDANTS:
        roots = _values(name, raw)
        column = WITH_DESCENDANTS[name]

        def with_descendants(conn: Connection) -> ColumnElement[bool]:
            try:
                return column.in_(forms(descendants(conn, forms(roots))))
            except HierarchyTooLarge as exc:
                raise QueryTooComplex(f"{name}: {exc}") from None

        return with_descendants
    operator, _, rest = name.partition("_")
    if operator not in ("HASATTR", "EQATTR"):
        return None
    fields = sorted([*ATTRIBUTE_COLUMNS, *ATTRIBUTE_ROLES])
    if operator == "HASATTR":
        field_name, attribute = rest, None
    else:
        field_name, _, attribute = rest.partition("_")
        if not attribute:
            raise QueryParameterError(
                f"{name}: expected EQATTR_{{field}}_{{attribute name}}, got no attribute name"
            )
    if field_name not in fields:
        raise QueryParameterError(
            f"{name}: expected a vocabulary field after {operator}_ ({', '.join(fields)}), "
            f"got {_shown(field_name)}"
        )
    values = _values(name, raw)
    if not values:
        raise QueryParameterError(f"{name}: expected at least one value, got none")
    if attribute is None:
        names, wanted = [attribute_name(value, known) for value in values], None
    else:
        names, wanted = [attribute_name(attribute, known)], values

    def with_attribute(conn: Connection) -> ColumnElement[bool]:
        try:
            urns = sorted(urns_with_attribute(conn, names, wanted))
        except HierarchyTooLarge as exc:
            raise QueryTooComplex(f"{name}: {exc}") from None
        if not urns:
            return false()
        if field_name in ATTRIBUTE_ROLES:
            return events.c.pk.in_(matching(urns, ATTRIBUTE_ROLES[field_name]))
        column = ATTRIBUTE_COLUMNS[field_name]
        if field_name in ("bizStep", "disposition"):
            return column.in_(sorted({term(urn) for urn in urns}))
        return column.in_(forms(urns))

    return with_attribute


def forms(values: Iterable[str]) -> list[str]:
    """``values`` with every other form of the same identifiers (an EPC URI's GS1 Digital
    Link, a Digital Link's EPC URIs; :func:`gs1.identifiers.equivalent_forms`), so that a
    location is found whichever form it was captured or asked in."""
    return sorted({form for value in values for form in equivalent_forms(value)})


def _numeric(operator: str, rest: str, name: str, raw: Sequence[str]) -> ColumnElement[bool] | None:
    """Quantity and sensor value parameters: ``GT_quantity``, ``EQ_quantity_KGM``,
    ``GE_value_CEL``, ``LT_percRank``, ..."""
    base, _, uom = rest.partition("_")
    if base == "quantity":
        if uom and not UOM.match(uom):
            return None
        field_name = f"q:{uom}" if uom else "q"
    elif base in SENSOR_NUMBERS and UOM.match(uom):
        field_name = f"s:{base}:{uom}"
    elif base == "percRank" and not uom:
        field_name = "s:percRank"
    else:
        return None
    column = event_fields.c.num
    if operator == "EQ":
        numbers = [parse_number(name, value) for value in _values(name, raw)]
        return _in_fields(field_name, column.in_(numbers))
    number = parse_number(name, _one(name, raw))
    return _in_fields(field_name, getattr(column, COMPARE[operator])(number))


def _extension(
    operator: str, rest: str, name: str, raw: Sequence[str], known: Mapping[str, str]
) -> ColumnElement[bool] | None:
    """``EQ_/GT_/GE_/LT_/LE_/EXISTS_`` on an extension field of the event, its ILMD, its
    readPoint or bizLocation, or its error declaration (``INNER_`` for nested fields)."""
    for scope, top, _inner in EXTENSION_SCOPES:
        if not rest.startswith(scope):
            continue
        field_name = rest[len(scope) :]
        if ":" not in field_name:
            return None
        location = scope in ("readPoint_", "bizLocation_", "INNER_readPoint_", "INNER_bizLocation_")
        if location and operator not in ("EQ", "EXISTS"):
            return None
        key = top + expand(field_name, known)
        if operator == "EXISTS":
            flag = parse_bool(name, _one(name, raw)) if raw and raw != [""] else True
            return _in_fields(key) if flag else true()
        if operator == "EQ":
            return _in_fields(key, _equals(_values(name, raw)))
        value = _one(name, raw)
        method = COMPARE[operator]
        if RFC3339.match(value):
            return _in_fields(key, getattr(event_fields.c.time, method)(parse_time(name, value)))
        if NUMBER.match(value.strip()):
            return _in_fields(key, getattr(event_fields.c.num, method)(parse_number(name, value)))
        return _in_fields(key, getattr(event_fields.c.text, method)(bounded(value)))
    return None


def _equals(values: list[str]) -> ColumnElement[bool]:
    """An event_fields value equal to one of ``values`` (as text, number or instant)."""
    conditions: list[ColumnElement[bool]] = [event_fields.c.text.in_([bounded(v) for v in values])]
    numbers = [float(v) for v in values if len(v) <= 40 and NUMBER.match(v.strip())]
    numbers = [n for n in numbers if math.isfinite(n)]
    if numbers:
        conditions.append(event_fields.c.num.in_(numbers))
    moments = [datetime.fromisoformat(v.upper()) for v in values if RFC3339.match(v)]
    if moments:
        conditions.append(event_fields.c.time.in_(moments))
    return or_(*conditions)


def matching(values: list[str], roles: tuple[str, ...]) -> CompoundSelect[Any]:
    """The pks of events naming any of ``values`` in one of ``roles``: by key text in
    event_epcs, and, for commissioned units, by unit id in unit_events."""
    exact = []
    conditions = []
    unit_conditions = []
    classes = any(role.endswith(("class", "Class")) for role in roles)
    for value in values:
        pattern = key_pattern(value)
        if pattern is None:
            key = canonical(value)
            exact.append(key)
            unit = unit_of_key(key)
            if unit is not None:
                unit_conditions.append(unit_is(unit))
        else:
            exact.append(value)  # a class named by the pattern itself (quantity elements)
            conditions.append(event_epcs.c.epc.like(pattern, escape="\\"))
            if classes and pattern.endswith("(21)%"):  # the lots (LGTIN) of that GTIN
                conditions.append(event_epcs.c.epc.like(pattern[:-5] + "(10)%", escape="\\"))
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


# -- running a query ---------------------------------------------------------------------


def build_query(conn: Connection, params: Mapping[str, Sequence[str]]) -> Select[Any]:
    """The SELECT of the events matching ``params`` (pk, body, record time)."""
    query = check_query(params)
    return _select(conn, query)


def _select(conn: Connection, query: EventQuery) -> Select[Any]:
    return (
        select(
            events.c.pk,
            event_bodies.c.body,
            events.c.record_time,
            error_declarations.c.declaration,
        )
        .join(event_bodies, event_bodies.c.event_pk == events.c.pk)
        .outerjoin(error_declarations, error_declarations.c.event_pk == events.c.pk)
        .where(*query.conditions, *_resolved(conn, query))
    )


def _resolved(conn: Connection, query: EventQuery) -> list[ColumnElement[bool]]:
    """The master-data conditions of ``query``, resolved on ``conn``; QueryTooComplex when
    they would bind more than :data:`MAX_MASTER_DATA_VALUES` values together."""
    resolved = [resolve(conn) for resolve in query.resolvers]
    bound = sum(
        len(value) if isinstance(value, list | tuple) else 1
        for condition in resolved
        for value in condition.compile().params.values()
    )
    if bound > MAX_MASTER_DATA_VALUES:
        raise QueryTooComplex(
            f"master data parameters: expected at most {MAX_MASTER_DATA_VALUES} locations, "
            f"elements and their forms in one query, all parameters together, got {bound}"
        )
    return resolved


def _sort_key(conn: Connection, query: EventQuery) -> tuple[Any, str]:
    """The sort expression of ``query`` and the kind of its values (time, num, text, pk)."""
    if query.order_by == "eventTime":
        return events.c.event_time, "time"
    if query.order_by == "recordTime":
        return events.c.record_time, "time"
    if query.order_by is None:
        return events.c.pk, "pk"
    name = bounded(query.order_by)
    probe = conn.execute(
        select(event_fields.c.num, event_fields.c.time).where(event_fields.c.field == name).limit(1)
    ).first()
    column, kind = event_fields.c.text, "text"
    if probe is not None and probe.num is not None:
        column, kind = event_fields.c.num, "num"
    elif probe is not None and probe.time is not None:
        column, kind = event_fields.c.time, "time"
    key = (
        select(func.min(column))
        .where(event_fields.c.event_pk == events.c.pk, event_fields.c.field == name)
        .scalar_subquery()
    )
    return key, kind


def run_query(
    conn: Connection,
    params: Mapping[str, Sequence[str]],
    *,
    per_page: int,
    token: str | None = None,
    after: int | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> EventPage:
    """One page of the events matching ``params``, oldest first unless ``orderBy`` says
    otherwise; ``token`` is the ``nextPageToken`` of the previous page (``after``: a store
    key to start after, the old form)."""
    query = check_query(params, prefixes)
    return run_checked(conn, query, per_page=per_page, token=token, after=after)


def run_checked(
    conn: Connection,
    query: EventQuery,
    *,
    per_page: int,
    token: str | None = None,
    after: int | None = None,
    extra: Iterable[ColumnElement[bool]] = (),
) -> EventPage:
    statement = _select(conn, query).where(*extra)
    key, kind = _sort_key(conn, query)
    delivered = 0
    if token is not None:
        position = _read_token(token, query.fingerprint, kind)
        delivered = position[2]
        statement = statement.where(_after(key, kind, query.ascending, position[0], position[1]))
    elif after is not None:
        statement = statement.where(events.c.pk > after)
    elif query.max_event_count is not None:
        count = conn.execute(
            select(func.count()).select_from(
                statement.with_only_columns(events.c.pk).limit(query.max_event_count + 1).subquery()
            )
        ).scalar_one()
        if count > query.max_event_count:
            raise QueryTooLarge(
                f"maxEventCount: the query matches more than {query.max_event_count} events; "
                "narrow it or page through it without maxEventCount"
            )
    limit = per_page
    if query.event_count_limit is not None:
        limit = min(limit, query.event_count_limit - delivered)
        if limit <= 0:
            return EventPage([], None)
    statement = statement.add_columns(key.label("sort_key"))
    if kind == "pk":
        statement = statement.order_by(events.c.pk)
    else:
        direction = key.asc() if query.ascending else key.desc()
        if kind in ("num", "text") or query.order_by not in ("eventTime", "recordTime"):
            statement = statement.order_by(key.is_(None), direction, events.c.pk)
        else:
            statement = statement.order_by(direction, events.c.pk)
    rows = conn.execute(statement.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if query.event_count_limit is not None and delivered + len(rows) >= query.event_count_limit:
        more = False
    page = [event_of(row.body, row.record_time, row.declaration) for row in rows]
    next_token = None
    if more and rows:
        last = rows[-1]
        next_token = _write_token(
            last.sort_key, int(last.pk), delivered + len(rows), query.fingerprint
        )
    return EventPage(page, next_token, [int(row.pk) for row in rows])


def _after(key: Any, kind: str, ascending: bool, value: Any, pk: int) -> ColumnElement[bool]:
    """Events after (``value``, ``pk``) in the page order (events without the sort key last)."""
    if kind == "pk":
        return events.c.pk > pk
    if value is None:
        return and_(key.is_(None), events.c.pk > pk)
    beyond = key > value if ascending else key < value
    return or_(beyond, and_(key == value, events.c.pk > pk), key.is_(None))


def _write_token(value: Any, pk: int, delivered: int, fingerprint: str) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    data = json.dumps(
        {"v": value, "p": pk, "n": delivered, "q": fingerprint}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _read_token(token: str, fingerprint: str, kind: str) -> tuple[Any, int, int]:
    """(sort value, pk, events delivered) of a token this query wrote."""
    problem = QueryParameterError(
        f"nextPageToken: expected a token from a previous page of this query, got {_shown(token)}"
    )
    if len(token) > 600 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise problem
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(data, dict) or data.get("q") != fingerprint:
        raise problem
    pk, delivered, value = data.get("p"), data.get("n"), data.get("v")
    if not isinstance(pk, int) or not isinstance(delivered, int) or isinstance(pk, bool):
        raise problem
    if kind == "time" and isinstance(value, dict) and isinstance(value.get("t"), str):
        try:
            value = datetime.fromisoformat(value["t"])
        except ValueError:
            raise problem from None
    elif value is not None and not _of_kind(value, kind):
        raise problem
    return value, pk, delivered


def _of_kind(value: Any, kind: str) -> bool:
    if kind in ("num", "pk"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind == "text" and isinstance(value, str)


def event_of(body: str, record_time: datetime, declaration: str | None = None) -> dict[str, Any]:
    """A stored event as a query answers it: its body as captured, the server's recordTime,
    and the errorDeclaration recorded for it since, if any."""
    event: dict[str, Any] = json.loads(body)
    event["recordTime"] = record_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if declaration is not None and "errorDeclaration" not in event:
        event["errorDeclaration"] = json.loads(declaration)
    return event
