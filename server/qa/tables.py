"""The QA tables, defined on the trace store's one ``MetaData``.

Created by the migration ``0002_qa``; importing this module registers them with
:data:`server.store.schema.metadata` (the migration imports it, so does the API), which is
what the drift test compares against the migrated database.

A batch without a ``qa_batch_status`` row is in quarantine: new batches arrive from the
edge through EPCIS events and must be released by QA before they ship.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from server.store.schema import Id, UtcDateTime, metadata

# -- batch record and release -------------------------------------------------------------

qa_production_records = Table(
    "qa_production_records",
    metadata,
    Column("batch_id", Id, primary_key=True),
    Column("line", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("planned", BigInteger, nullable=False),
    Column("produced", BigInteger, nullable=False),  # printed labels
    Column("rejected", BigInteger, nullable=False),
    Column("sampled", BigInteger, nullable=False),
    Column("scrapped", BigInteger, nullable=False),
    Column("deviations", Text, nullable=False),  # JSON list of {reference, description}
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

qa_inspections = Table(
    "qa_inspections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False, index=True),
    Column("test", String(128), nullable=False),
    Column("specification", String(256), nullable=False),
    Column("result", String(256), nullable=False),
    Column("passed", SmallInteger, nullable=False),
    Column("tested_at", UtcDateTime, nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

qa_material_lots = Table(
    "qa_material_lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False, index=True),
    Column("material", String(128), nullable=False),
    Column("supplier", String(128), nullable=False),
    Column("supplier_lot", String(64), nullable=False, index=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("quantity", Float),
    Column("uom", String(8)),
    Column("recorded_by", String(64), nullable=False),
)

qa_signatures = Table(
    "qa_signatures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False),
    Column("username", String(64), nullable=False),
    Column("full_name", String(128), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("meaning", String(128), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_key", String(256), nullable=False),
    Column("audit_hash", String(64), nullable=False),  # the audit_trail row it belongs to
)

qa_batch_status = Table(
    "qa_batch_status",
    metadata,
    Column("batch_id", Id, primary_key=True),
    Column("status", String(16), nullable=False),  # quarantine | released | rejected
    Column("signature_id", Id),
    Column("changed_at", UtcDateTime, nullable=False),
)

# -- recalls ------------------------------------------------------------------------------

qa_recalls = Table(
    "qa_recalls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("recall_class", String(4), nullable=False),  # I | II | III
    Column("reason", Text, nullable=False),
    Column("scope", Text, nullable=False),  # JSON: {"batches": [...], "material_lot": ...}
    Column("status", String(16), nullable=False),  # open | closed
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("closed_at", UtcDateTime),
)

qa_recall_units = Table(
    "qa_recall_units",
    metadata,
    Column("recall_id", Id, primary_key=True),
    Column("unit_id", Id, primary_key=True),
    Column("gtin", String(14), nullable=False),
    Column("serial", String(20), nullable=False),
    Column("batch_id", Id, nullable=False),
    Column("shipment_id", Id),  # the shipment that carried it (own, case's or pallet's)
    Column("returned_at", UtcDateTime),
    Column("returned_by", String(64)),
    Index("ix_qa_recall_units_gtin_serial", "gtin", "serial"),
)

qa_recall_containers = Table(
    "qa_recall_containers",
    metadata,
    Column("recall_id", Id, primary_key=True),
    Column("sscc", String(18), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("parent_sscc", String(18)),
)

qa_recall_customers = Table(
    "qa_recall_customers",
    metadata,
    Column("recall_id", Id, primary_key=True),
    Column("shipment_id", Id, primary_key=True),
    Column("shipped_at", UtcDateTime, nullable=False),
    Column("customer", String(512)),
    Column("destination", String(512)),
    Column("biz_transaction", String(512)),
    Column("units", BigInteger, nullable=False),
    Column("ssccs", Text, nullable=False),  # JSON list
)

# -- drills -------------------------------------------------------------------------------

qa_drills = Table(
    "qa_drills",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, nullable=False, index=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("run_by", String(64), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("complete", SmallInteger, nullable=False),
    Column("result", Text, nullable=False),  # JSON of the DrillResult
)

# -- complaints ---------------------------------------------------------------------------

qa_complaints = Table(
    "qa_complaints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),  # hotline | online | social | distributor
    Column("received_at", UtcDateTime, nullable=False),
    Column("reporter", String(256), nullable=False),
    Column("contact", String(256)),
    Column("description", Text, nullable=False),
    Column("category", String(64)),
    Column("code", String(512)),  # as given: element string, HRI, Digital Link, EPC URI
    Column("gtin", String(14)),
    Column("serial", String(20)),
    Column("batch_id", Id, index=True),
    Column("shipment_id", Id),
    Column("status", String(16), nullable=False),
    Column("owner", String(64)),
    Column("acknowledged_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("satisfaction", SmallInteger),  # 1..5 at closure or from a survey
    Column("external_ref", String(128)),
    UniqueConstraint("external_ref"),
)

qa_complaint_notes = Table(
    "qa_complaint_notes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("author", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("filename", String(256)),
    Column("content_type", String(128)),
    Column("content", LargeBinary),
)
