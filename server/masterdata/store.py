"""The master-data store: vocabulary elements from EPCIS documents and QA's edits.

An EPCIS 2.0 document carries master data in ``epcisHeader.epcisMasterData.vocabularyList``
(any document) or ``epcisBody.vocabularyList`` (an ``EPCISMasterDataDocument``): a list of
vocabularies, each ``{"type": <vtype URI>, "vocabularyElementList": [{"id": <URN>,
"attributes": [{"id": <attribute URI>, "attribute": <value>}, ...]}, ...]}``. The name shown
for a URN is its ``cbvmda:name`` attribute (or the product name attributes for a GTIN class).

Everything in a document is untrusted: an element that is not an object, has no ``id`` or a
too-long one, is skipped and counted, never a crash; one bad element never loses the others.
A name QA set by hand is not overwritten by a later document.

For the query side (EPCIS 2.0 section 6.5 and 8.2.7.1): an element's ``children`` (URNs of
its sub-locations) go to ``master_data_children`` and its attributes, one row per value, to
``master_data_attributes``; both are replaced whenever the element is captured again, as its
JSON attributes are. :func:`descendants` walks the hierarchy down (cycles and depth bounded),
:func:`urns_with_attribute` finds the elements that have an attribute (with a value).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from server import audit
from server.ingest.fields import STANDARD_PREFIXES, bounded, namespaces
from server.production.tables import products
from server.store.dialect import chunks
from server.store.schema import master_data, master_data_attributes, master_data_children

MAX_URN = 512
MAX_NAME = 256
MAX_ATTRIBUTES = 200
MAX_ELEMENTS = 10_000
MAX_CHILDREN = 1000  # children of one element
MAX_VALUES = 50  # values of one attribute whose value is a list
MAX_DEPTH = 32  # levels WD_ walks down the hierarchy
MAX_DESCENDANTS = 10_000  # URNs one WD_ parameter may stand for
# The forms of a CBV master-data attribute name (CBV 2.0 section 10), stored as cbvmda:local.
CBV_MDA = ("urn:epcglobal:cbv:mda#", "urn:epcglobal:cbv:mda:", "https://ref.gs1.org/cbv/mda#")
# Attribute ids that give an element's display name, best first (CBV 2.0 master data
# attributes, full URI and compact JSON-LD forms).
NAME_ATTRIBUTES = (
    "urn:epcglobal:cbv:mda#name",
    "cbvmda:name",
    "https://ref.gs1.org/cbv/mda#name",
    "urn:epcglobal:cbv:mda#regulatedProductName",
    "cbvmda:regulatedProductName",
    "urn:epcglobal:cbv:mda#tradeItemDescription",
    "cbvmda:tradeItemDescription",
    "urn:epcglobal:cbv:mda#descriptionShort",
    "cbvmda:descriptionShort",
)
QA_VOCABULARY = "urn:epcglobal:epcis:vtype:Other"


class MasterDataError(ValueError):
    """Bad master data from a person (names the field and what was expected)."""


class HierarchyTooLarge(ValueError):
    """A location has more descendants than :data:`MAX_DESCENDANTS`."""


@dataclass(frozen=True)
class MasterDataItem:
    urn: str
    vocabulary: str
    name: str | None
    attributes: list[dict[str, Any]]
    source: str  # epcis | qa
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class CaptureCount:
    stored: int
    skipped: int


def vocabulary_lists(document: Any) -> list[Any]:
    """Every vocabulary list a parsed EPCIS document carries (header and body)."""
    if not isinstance(document, dict):
        return []
    found: list[Any] = []
    header = document.get("epcisHeader")
    if isinstance(header, dict):
        master = header.get("epcisMasterData")
        if isinstance(master, dict) and isinstance(master.get("vocabularyList"), list):
            found.extend(master["vocabularyList"])
    body = document.get("epcisBody")
    if isinstance(body, dict) and isinstance(body.get("vocabularyList"), list):
        found.extend(body["vocabularyList"])
    return found


def _name_of(attributes: list[dict[str, Any]]) -> str | None:
    by_id = {item["id"]: item.get("attribute") for item in attributes}
    for key in NAME_ATTRIBUTES:
        value = by_id.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_NAME]
        if isinstance(value, dict):  # a language map or a structured value
            text = value.get("@value") or value.get("value")
            if isinstance(text, str) and text.strip():
                return text.strip()[:MAX_NAME]
    return None


def _attributes(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    return [
        {"id": item["id"], "attribute": item.get("attribute")}
        for item in raw[:MAX_ATTRIBUTES]
        if isinstance(item, dict) and isinstance(item.get("id"), str) and len(item["id"]) <= 512
    ]


def capture_master_data(
    conn: Connection, document: Any, *, user: str, now: datetime
) -> CaptureCount:
    """Store the vocabulary elements of a parsed EPCIS document in ``conn``'s transaction
    (insert or update by URN; a name QA set by hand is kept). Returns what was stored and
    how many elements were skipped as malformed."""
    stored = skipped = 0
    seen = 0
    prefixes = namespaces(document.get("@context")) if isinstance(document, dict) else {}
    for vocabulary in vocabulary_lists(document):
        if not isinstance(vocabulary, dict) or not isinstance(vocabulary.get("type"), str):
            skipped += 1
            continue
        vtype = vocabulary["type"][:256]
        elements = vocabulary.get("vocabularyElementList")
        if not isinstance(elements, list):
            continue
        for element in elements:
            seen += 1
            if seen > MAX_ELEMENTS:
                skipped += 1
                continue
            urn = element.get("id") if isinstance(element, dict) else None
            if not isinstance(urn, str) or not urn.strip() or len(urn) > MAX_URN:
                skipped += 1
                continue
            attributes = _attributes(element.get("attributes"))
            _upsert(conn, urn.strip(), vtype, _name_of(attributes), attributes, user, now)
            _index(conn, urn.strip(), attributes, element.get("children"), prefixes)
            stored += 1
    return CaptureCount(stored, skipped)


def _upsert(
    conn: Connection,
    urn: str,
    vocabulary: str,
    name: str | None,
    attributes: list[dict[str, Any]],
    user: str,
    now: datetime,
) -> None:
    row = conn.execute(
        select(master_data.c.id, master_data.c.source, master_data.c.name).where(
            master_data.c.urn == urn
        )
    ).first()
    values = {
        "vocabulary": vocabulary,
        "attributes": json.dumps(attributes),
        "updated_at": now,
        "updated_by": user,
    }
    if row is None:
        conn.execute(insert(master_data).values(urn=urn, name=name, source="epcis", **values))
        return
    if row.source != "qa":
        values["name"] = name if name is not None else row.name
    conn.execute(update(master_data).where(master_data.c.id == row.id).values(**values))


def attribute_name(name: str, prefixes: Mapping[str, str]) -> str:
    """An attribute name as stored and queried: a CBV master-data attribute as
    ``cbvmda:{local}`` in any of its forms, another ``prefix:local`` with a known prefix
    expanded to ``{namespace}{local}``, anything else as written."""
    for form in CBV_MDA:
        if name.startswith(form):
            return "cbvmda:" + name[len(form) :]
    prefix, colon, local = name.partition(":")
    if colon and prefix == "cbvmda":
        return name
    if colon and prefix in prefixes and not local.startswith("//"):
        return attribute_name(prefixes[prefix] + local, {})
    return name


def _attribute_names(name: str, prefixes: Mapping[str, str]) -> set[str]:
    """The names an attribute is stored under: :func:`attribute_name`; with a prefix the
    document declared itself, also as written, so that a query naming it with that prefix
    finds it without declaring the prefix again (as extension fields, server.ingest.fields)."""
    found = {attribute_name(name, prefixes)}
    prefix, colon, _ = name.partition(":")
    if colon and prefix in prefixes and prefix not in STANDARD_PREFIXES:
        found.add(name)
    return found


def _value_texts(value: Any) -> list[str | None]:
    """The values of an attribute as text: a string, number or boolean as JSON writes it
    (``true``, ``12.5``), each item of a list of them; None (present, no comparable value)
    for an object or anything else."""
    items = value[:MAX_VALUES] if isinstance(value, list) else [value]
    texts: list[str | None] = []
    for item in items:
        if isinstance(item, bool):
            texts.append("true" if item else "false")
        elif isinstance(item, str):
            texts.append(bounded(item))
        elif isinstance(item, int | float):
            texts.append(json.dumps(item))
        else:
            texts.append(None)
    return texts or [None]


def _index(
    conn: Connection,
    urn: str,
    attributes: list[dict[str, Any]],
    children: Any,
    prefixes: Mapping[str, str],
) -> None:
    """Replace the children and attribute rows of ``urn`` by those of this element."""
    conn.execute(delete(master_data_children).where(master_data_children.c.parent == urn))
    conn.execute(delete(master_data_attributes).where(master_data_attributes.c.urn == urn))
    kept = sorted(
        {
            child.strip()
            for child in (children[:MAX_CHILDREN] if isinstance(children, list) else [])
            if isinstance(child, str) and child.strip() and len(child) <= MAX_URN
        }
        - {urn}
    )
    if kept:
        conn.execute(
            insert(master_data_children), [{"parent": urn, "child": child} for child in kept]
        )
    rows = {
        (bounded(name), text)
        for item in attributes
        for name in _attribute_names(item["id"], prefixes)
        for text in _value_texts(item.get("attribute"))
    }
    if rows:
        conn.execute(
            insert(master_data_attributes),
            [
                {"urn": urn, "attribute": name, "value": text}
                for name, text in sorted(rows, key=lambda row: (row[0], row[1] or ""))
            ],
        )


def descendants(conn: Connection, roots: Iterable[str]) -> set[str]:
    """``roots`` and every URN below them in the stored hierarchy (children, their children,
    ... at most :data:`MAX_DEPTH` levels down; a cycle ends where it comes back). Raises
    :class:`HierarchyTooLarge` past :data:`MAX_DESCENDANTS` URNs."""
    found = {root for root in roots if root}
    level = sorted(found)
    for _ in range(MAX_DEPTH):
        if not level:
            break
        below: set[str] = set()
        for part in chunks(level):
            below.update(
                conn.execute(
                    select(master_data_children.c.child).where(
                        master_data_children.c.parent.in_(part)
                    )
                ).scalars()
            )
        level = sorted(below - found)
        found.update(level)
        if len(found) > MAX_DESCENDANTS:
            raise HierarchyTooLarge(
                f"expected at most {MAX_DESCENDANTS} locations with their descendants, "
                f"got more than {MAX_DESCENDANTS}"
            )
    return found


def urns_with_attribute(
    conn: Connection, names: Sequence[str], values: Sequence[str] | None = None
) -> set[str]:
    """The URNs of the elements with an attribute named one of ``names`` (as
    :func:`attribute_name` writes them) and, if ``values`` are given, with one of those
    values (compared as text)."""
    conditions = [master_data_attributes.c.attribute.in_([bounded(name) for name in names])]
    if values is not None:
        conditions.append(master_data_attributes.c.value.in_([bounded(v) for v in values]))
    found = set(
        conn.execute(select(master_data_attributes.c.urn).where(*conditions).distinct()).scalars()
    )
    if len(found) > MAX_DESCENDANTS:
        raise HierarchyTooLarge(
            f"expected at most {MAX_DESCENDANTS} master data elements with the attribute, "
            f"got {len(found)}"
        )
    return found


def names_for(conn: Connection, urns: Iterable[str | None]) -> dict[str, str]:
    """URN -> display name for those of ``urns`` that have one. A 14-digit GTIN is named
    by the product master data (``/production/products``), "name strength"."""
    wanted = sorted({urn for urn in urns if urn})
    names: dict[str, str] = {}
    gtins = [key for key in wanted if len(key) == 14 and key.isdigit()]
    if gtins:
        for gtin, name, strength in conn.execute(
            select(products.c.gtin, products.c.name, products.c.strength).where(
                products.c.gtin.in_(gtins)
            )
        ):
            names[gtin] = f"{name} {strength}".strip()
    for part in chunks(wanted):
        for urn, name in conn.execute(
            select(master_data.c.urn, master_data.c.name).where(
                master_data.c.urn.in_(part), master_data.c.name.is_not(None)
            )
        ):
            names[urn] = name
    return names


def _item(row: Any) -> MasterDataItem:
    try:
        attributes = json.loads(row.attributes)
    except ValueError:
        attributes = []
    return MasterDataItem(
        urn=row.urn,
        vocabulary=row.vocabulary,
        name=row.name,
        attributes=attributes if isinstance(attributes, list) else [],
        source=row.source,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def get_item(conn: Connection, urn: str) -> MasterDataItem | None:
    row = conn.execute(select(master_data).where(master_data.c.urn == urn)).first()
    return None if row is None else _item(row)


def list_items(
    conn: Connection, *, q: str | None, limit: int, offset: int
) -> tuple[int, list[MasterDataItem]]:
    """Items by URN, filtered by ``q`` (in URN or name, case-insensitive); (total, page)."""
    query = select(master_data)
    count = select(func.count()).select_from(master_data)
    if q:
        pattern = f"%{q.lower()}%"
        condition = or_(
            func.lower(master_data.c.urn).like(pattern),
            func.lower(master_data.c.name).like(pattern),
        )
        query = query.where(condition)
        count = count.where(condition)
    total = int(conn.execute(count).scalar_one())
    rows = conn.execute(query.order_by(master_data.c.urn).limit(limit).offset(offset)).all()
    return total, [_item(row) for row in rows]


def set_name(
    conn: Connection,
    urn: str,
    name: str,
    *,
    vocabulary: str | None,
    actor: str,
    reason: str,
    now: datetime,
) -> MasterDataItem:
    """QA sets the display name of ``urn`` (created when unknown); recorded in the audit
    trail with the old and new name and the reason."""
    urn = urn.strip()
    name = name.strip()
    if not urn or len(urn) > MAX_URN or ":" not in urn:
        raise MasterDataError(f"urn: expected a URI of at most {MAX_URN} characters, got {urn!r}")
    if not name or len(name) > MAX_NAME:
        raise MasterDataError(f"name: expected 1 to {MAX_NAME} characters, got {len(name)}")
    if not reason.strip():
        raise MasterDataError("reason: expected why the name changes, got nothing")
    before = get_item(conn, urn)
    if before is None:
        conn.execute(
            insert(master_data).values(
                urn=urn,
                vocabulary=vocabulary or QA_VOCABULARY,
                name=name,
                attributes="[]",
                source="qa",
                updated_at=now,
                updated_by=actor,
            )
        )
    else:
        conn.execute(
            update(master_data)
            .where(master_data.c.urn == urn)
            .values(
                name=name,
                vocabulary=vocabulary or before.vocabulary,
                source="qa",
                updated_at=now,
                updated_by=actor,
            )
        )
    audit.append(
        conn,
        actor=actor,
        action="master_data_name",
        entity="master_data",
        entity_key=urn[:256],
        old_value=None if before is None else {"name": before.name},
        new_value={"name": name},
        reason=reason.strip(),
        now=now,
    )
    item = get_item(conn, urn)
    assert item is not None
    return item


def named(names: dict[str, str], urns: Sequence[str | None]) -> list[str | None]:
    """The names of ``urns`` in order (None where there is none)."""
    return [names.get(urn) if urn else None for urn in urns]
