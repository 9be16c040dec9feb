"""The trace store's tables (SQLAlchemy Core).

One ``MetaData`` holds every table; Alembic migrations in ``server/store/migrations`` create
them, and a test checks that the migrations and these definitions never drift apart.

Objects are keyed by their canonical GS1 key (see :mod:`server.identifiers`): a unit by
``(gtin, serial, scheme)`` (the code scheme, :mod:`identity`: ``gs1`` unless another
scheme's EPC named it), a container by its 18-digit SSCC, an event's EPCs by their key text in
``event_epcs`` (so a Digital Link and an EPC URI for the same object meet in one row), or,
for commissioned units, by unit id in ``unit_events``.

``units.parent_id`` and ``containers.parent_id`` point at ``containers.id`` WITHOUT a foreign
key, on purpose: aggregation events may arrive before the commissioning they depend on (they
are parked and applied later), containers are created on first sight in whatever order the
events arrive, and on PostgreSQL the foreign-key check cost about 37 % of the bulk insert
rate measured at 10 M units. Integrity comes from the ingest code, which creates a
container before any row points at it, inside the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from server.identifiers import UnitKey

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both engines (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()!r} has no time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite without declared type
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


events = Table(
    "events",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(512), nullable=False, unique=True),
    Column("event_type", String(32), nullable=False),
    Column("action", String(8)),
    Column("event_time", UtcDateTime, nullable=False, index=True),
    Column("record_time", UtcDateTime, nullable=False),
    Column("biz_step", String(256), index=True),
    Column("disposition", String(256)),
    Column("read_point", String(512)),
    Column("biz_location", String(512)),
    Column("site", String(64)),
    Column("line", String(64)),
    Column("source", String(16), nullable=False),
)

# Each event as received (JSON text), apart from its metadata: a unit trace reads only the
# metadata of a few events, which stays small enough to stay cached at 10M units.
event_bodies = Table(
    "event_bodies",
    metadata,
    Column("event_pk", Id, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
)

# Which events name which object, and how (epc, child, parent, input, output, class, ...).
event_epcs = Table(
    "event_epcs",
    metadata,
    Column("event_pk", Id, nullable=False, index=True),
    Column("epc", String(512), nullable=False),
    Column("role", String(12), nullable=False),
    Index("ix_event_epcs_epc", "epc"),
)

# Which events name which serialised unit, by the unit's id: the units' share of the EPC
# index. Unit ids grow in commissioning order, so a new unit's rows go to the right edge of
# this one B-tree (no rowid on SQLite) instead of to random pages of the event_epcs text
# index; at 1M units that index was about 40 % of the SQLite ingest time. Events naming a
# unit that is not commissioned when they are stored keep text rows in event_epcs; queries
# read both.
unit_events = Table(
    "unit_events",
    metadata,
    Column("unit_id", Id, primary_key=True),
    Column("event_pk", Id, primary_key=True),
    Column("role", String(12), primary_key=True),
    sqlite_with_rowid=False,
)

batches = Table(
    "batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("gtin", String(64), nullable=False),  # or another code scheme's product (0017)
    Column("lot", String(20), nullable=False),
    Column("expiry", String(10)),  # ISO date YYYY-MM-DD; day 00 kept as written (YYYY-MM-00)
    Column("site", String(64)),
    Column("line", String(64)),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("disposition", String(32), nullable=False, server_default="active"),
    Column("recalled_at", UtcDateTime),
    Column("recall_reason", Text),
    UniqueConstraint("gtin", "lot"),
)

# Units commissioned per batch, site and line (one upsert per document and batch).
batch_lines = Table(
    "batch_lines",
    metadata,
    Column("batch_id", Id, primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("commissioned", BigInteger, nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
)

# Raw-material lots consumed by a batch (TransformationEvent inputs).
batch_inputs = Table(
    "batch_inputs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False, index=True),
    Column("input", String(512), nullable=False),  # canonical key of the input class / EPC
    Column("quantity", Float),
    Column("uom", String(8)),
    Column("event_pk", Id, nullable=False),
)

# A unit is keyed by (gtin, serial, scheme) (0017): ``scheme`` is the code scheme's name
# (:mod:`identity`, "gs1" for every unit before 0017); for another scheme ``gtin`` holds its
# product code. Both are 64 wide, so a scheme with longer codes needs no schema change.
units = Table(
    "units",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("gtin", String(64), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("batch_id", Id, index=True),
    Column("parent_id", Id, index=True),  # containers.id, no FK (see module docstring)
    Column("shipment_id", Id),
    Column("status", String(16), nullable=False),  # active | decommissioned | destroyed
    Column("status_reason", String(256)),
    Column("disposition", String(256)),
    Column("commission_event", Id, nullable=False),
    Column("grade", Float),  # ISO/IEC 15415 overall grade 0-4 at commissioning (0008)
    Column("grade_detail", Text),  # JSON: letter, iso, parameters, limiting (docs/events.md)
    # eventTime of the aggregation that last put the unit in or took it out of a container
    # (0012): a packing or unpacking older than it, arriving late, changes nothing.
    Column("parent_at", UtcDateTime),
    Column("scheme", String(16), nullable=False, server_default="gs1"),
    UniqueConstraint("gtin", "serial", "scheme"),
)


def unit_is(unit: UnitKey) -> ColumnElement[bool]:
    """The ``units`` row of ``unit`` (gtin, serial and scheme)."""
    return and_(
        units.c.gtin == unit.gtin, units.c.serial == unit.serial, units.c.scheme == unit.scheme
    )


containers = Table(
    "containers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sscc", String(18), nullable=False, unique=True),
    Column("epc", String(512), nullable=False),  # the SSCC as first received (URI)
    Column("level", SmallInteger, nullable=False),  # 0 unknown, 1 case, 2 pallet, ...
    Column("parent_id", Id, index=True),
    Column("shipment_id", Id, index=True),
    Column("status", String(16), nullable=False),  # packed | unpacked | decommissioned
    Column("site", String(64)),
    Column("line", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("parent_at", UtcDateTime),  # as units.parent_at (0012)
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_pk", Id, nullable=False, unique=True),
    Column("shipped_at", UtcDateTime, nullable=False),
    Column("destination", String(512)),
    Column("customer", String(512)),
    Column("biz_transaction", String(512)),
    Column("ssccs", Text, nullable=False),  # JSON list of the SSCCs shipped
    Column("detail", Text, nullable=False),  # JSON: source/destination/bizTransaction lists
)

# Events whose units were not commissioned yet; applied again when they arrive.
parked_events = Table(
    "parked_events",
    metadata,
    Column("event_pk", Id, primary_key=True),
    Column("parked_at", UtcDateTime, nullable=False),
    Column("waiting", Integer, nullable=False),
)

parked_refs = Table(
    "parked_refs",
    metadata,
    Column("event_pk", Id, nullable=False, index=True),
    Column("epc", String(512), nullable=False, index=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("event_id", String(512), nullable=False),
    Column("detail", Text, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("topic", String(512)),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # the first bytes only (see ingest)
    # What kind of refusal (size, decode, limit, schema, content, location, topic, store,
    # internal, poison): /metrics counts by it, the CLI and API filter by it.
    Column("kind", String(32), nullable=False, server_default="rejected"),
    Index("ix_dead_letters_source_topic_id", "source", "topic", "id"),
    Index("ix_dead_letters_received_at", "received_at"),
)

# The line registry: which read points and business locations (SGLNs) each line may report.
# An event published on serialtrace/v1/{site}/{line}/events naming another location is
# dead-lettered (see server.lines).
lines = Table(
    "lines",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# A read point belongs to one line; a business location (the site's SGLN) to all its lines.
line_locations = Table(
    "line_locations",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("location", String(512), primary_key=True),
    Index("ix_line_locations_location", "location"),
)

# The same eventID with other content: the body that came later, kept for QA (the stored
# event is never overwritten); an alert names it.
event_conflicts = Table(
    "event_conflicts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(512), nullable=False, index=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("site", String(64)),
    Column("line", String(64)),
    Column("body", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", SmallInteger, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    # Added by 0006: the printed name signatures carry, and when the password last changed.
    Column("full_name", String(128)),
    Column("password_changed_at", UtcDateTime),
    # Added by 0015: the registered line (site/line) a device account captures for.
    Column("line_site", String(64)),
    Column("line_name", String(64)),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),  # 0006: logout or an admin's revocation
)

# Failed logins and e-signatures per user name and per client address (0006): what the
# throttle and the lockout count. ``scope`` is "user" or "address".
auth_throttle = Table(
    "auth_throttle",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
)

# Append-only, hash-chained; UPDATE and DELETE are refused by triggers (see migrations).
audit_trail = Table(
    "audit_trail",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_key", String(256), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("reason", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

# -- EPCIS 2.0 query index and resources (migration 0007) ---------------------------------

# Query parameters (EQ_readPoint, EQ_bizLocation, GE_recordTime) and subscriptions (new
# events since a record time) read these events columns by index.
Index("ix_events_record_time", events.c.record_time)
Index("ix_events_read_point", events.c.read_point)
Index("ix_events_biz_location", events.c.biz_location)

# One row per queryable value an event carries beyond its events columns: business
# transactions, sources and destinations by type, persistent dispositions, quantities, the
# transformation id, ILMD and extension fields (top level and nested), sensor metadata and
# reports, error declaration fields. ``field`` names what the value is (see
# server/ingest/fields.py); the value is in ``text``, ``num`` or ``time``. Filled at ingest, so
# that every SimpleEventQuery parameter is answered from an index, never by reading bodies.
event_fields = Table(
    "event_fields",
    metadata,
    Column("event_pk", Id, nullable=False, index=True),
    Column("field", String(300), nullable=False),
    Column("text", String(300)),
    Column("num", Float),
    Column("time", UtcDateTime),
    Index("ix_event_fields_field_text", "field", "text"),
    Index("ix_event_fields_field_num", "field", "num"),
    Index("ix_event_fields_field_time", "field", "time"),
)

# An event declared erroneous (EPCIS 2.0 section 7.4.1.4) by a later capture of the same
# eventID with an errorDeclaration; the stored body stays as it was.
error_declarations = Table(
    "error_declarations",
    metadata,
    Column("event_pk", Id, primary_key=True, autoincrement=False),
    Column("declared_at", UtcDateTime, nullable=False, index=True),
    Column("reason", String(300), index=True),
    Column("corrective_ids", Text, nullable=False),  # JSON list of eventIDs
    Column("declaration", Text, nullable=False),  # the errorDeclaration object (JSON)
    Column("recorded_at", UtcDateTime, nullable=False),
)

# Capture jobs of POST /capture (their status and errors).
capture_jobs = Table(
    "capture_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("capture_id", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("running", SmallInteger, nullable=False),
    Column("success", SmallInteger, nullable=False),
    Column("error_behaviour", String(16), nullable=False),
    Column("errors", Text, nullable=False),  # JSON list of RFC 7807 problems
    Column("event_count", Integer, nullable=False),
    Column("username", String(64)),
)

# Named queries (POST /queries).
named_queries = Table(
    "named_queries",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("query", Text, nullable=False),  # JSON object of query parameters
    Column("created_at", UtcDateTime, nullable=False),
    Column("username", String(64)),
)

# Webhook subscriptions to named queries; they survive a restart.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("query_name", String(128), nullable=False, index=True),
    Column("dest", Text, nullable=False),
    Column("secret", Text),  # the signatureToken the webhook is signed with (never shown)
    Column("stream", SmallInteger, nullable=False),
    Column("schedule", Text),  # JSON object (second, minute, hour, dayOfMonth, month, dayOfWeek)
    Column("report_if_empty", SmallInteger, nullable=False),
    Column("initial_record_time", UtcDateTime, nullable=False),
    Column("min_record_time", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_notified_at", UtcDateTime),
    Column("last_run_at", UtcDateTime),
    Column("username", String(64)),
    # Added by 0016: the GS1-EPC-Format deliveries are written in (None: as captured).
    Column("epc_format", String(32)),
)

# Which events a subscription delivered: each matching event once per subscriber, whatever
# the order in which concurrent transactions commit.
subscription_deliveries = Table(
    "subscription_deliveries",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    Column("event_pk", Id, primary_key=True),
    sqlite_with_rowid=False,
)


# -- server-confirmed delivery (issue 21; server/delivery.py) ---------------------------------

line_delivery = Table(
    "line_delivery",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    # The server holds every event of the line up to this line sequence number.
    Column("contiguous", BigInteger, nullable=False),
    Column("highest", BigInteger, nullable=False),  # the highest number seen
    Column("received", BigInteger, nullable=False),  # distinct numbers stored
    Column("duplicates", BigInteger, nullable=False),  # numbers that came again
    Column("last_seen_at", UtcDateTime, nullable=False),
)

delivery_seqs = Table(
    "delivery_seqs",
    metadata,
    # Numbers stored above the line's contiguous one (deleted as the gap below closes).
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)

delivery_gaps = Table(
    "delivery_gaps",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("first_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("alerted_at", UtcDateTime),
)

delivery_batch_closes = Table(
    "delivery_batch_closes",
    metadata,
    # A batch-close event (serialtrace:reconciliation) and its line sequence number: the
    # batch is closed on the server once the line's contiguous number reaches it.
    Column("event_id", String(512), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("lot", String(300)),  # the LGTIN class the close names
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_delivery_batch_closes_line", "site", "line", "seq"),
)


# -- master data (migration 0014) ---------------------------------------------------------

# Names for the URNs the store keeps (locations, parties, products): one row per URN,
# captured from EPCIS master-data documents (``source`` "epcis") or edited by QA ("qa").
# ``attributes`` is the vocabulary element's attribute list as JSON.
master_data = Table(
    "master_data",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("urn", String(512), nullable=False, unique=True),
    Column("vocabulary", String(256), nullable=False),
    Column("name", String(256)),
    Column("attributes", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# -- master data hierarchy and attributes (migration 0016) ---------------------------------

# The ``children`` of a vocabulary element (EPCIS 2.0 section 6.5): one row per parent and
# direct child URN; WD_readPoint/WD_bizLocation walk it down from the locations asked for.
master_data_children = Table(
    "master_data_children",
    metadata,
    Column("parent", String(512), primary_key=True),
    Column("child", String(512), primary_key=True),
)
# A vocabulary element's attributes, one row per attribute (and per value of a list), for
# HASATTR_/EQATTR_: ``attribute`` as :func:`server.masterdata.store.attribute_name` writes it,
# ``value`` the value as text (bounded like the field index), None for a structured value.
master_data_attributes = Table(
    "master_data_attributes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("urn", String(512), nullable=False),
    Column("attribute", String(300), nullable=False),
    Column("value", String(300)),
    Index("ix_master_data_attributes_attribute_value", "attribute", "value"),
    Index("ix_master_data_attributes_urn", "urn"),
)
