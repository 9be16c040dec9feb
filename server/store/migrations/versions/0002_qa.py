"""QA: batch record and release, signatures, recalls, drills, complaints

Revision ID: 0002
Revises: 0001

Importing :mod:`server.qa.tables` here registers the QA tables with the store's
``MetaData`` wherever migrations run; the tables themselves are created explicitly below.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.qa.tables  # noqa: F401  (registers the QA tables with the store's MetaData)
from server.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QA_TABLES = (
    "qa_batch_status",
    "qa_complaint_notes",
    "qa_complaints",
    "qa_drills",
    "qa_inspections",
    "qa_material_lots",
    "qa_production_records",
    "qa_recall_containers",
    "qa_recall_customers",
    "qa_recall_units",
    "qa_recalls",
    "qa_signatures",
)


def upgrade() -> None:
    op.create_table(
        "qa_batch_status",
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("signature_id", ID, nullable=True),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_qa_batch_status")),
    )
    op.create_table(
        "qa_complaint_notes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("complaint_id", ID, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_complaint_notes")),
    )
    op.create_index(
        op.f("ix_qa_complaint_notes_complaint_id"),
        "qa_complaint_notes",
        ["complaint_id"],
        unique=False,
    )
    op.create_table(
        "qa_complaints",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("reporter", sa.String(length=256), nullable=False),
        sa.Column("contact", sa.String(length=256), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("code", sa.String(length=512), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("batch_id", ID, nullable=True),
        sa.Column("shipment_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("external_ref", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_complaints")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_qa_complaints_external_ref")),
    )
    op.create_index(op.f("ix_qa_complaints_batch_id"), "qa_complaints", ["batch_id"], unique=False)
    op.create_table(
        "qa_drills",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("run_by", sa.String(length=64), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("complete", sa.SmallInteger(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_drills")),
    )
    op.create_index(op.f("ix_qa_drills_batch_id"), "qa_drills", ["batch_id"], unique=False)
    op.create_table(
        "qa_inspections",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("test", sa.String(length=128), nullable=False),
        sa.Column("specification", sa.String(length=256), nullable=False),
        sa.Column("result", sa.String(length=256), nullable=False),
        sa.Column("passed", sa.SmallInteger(), nullable=False),
        sa.Column("tested_at", UtcDateTime(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_inspections")),
    )
    op.create_index(
        op.f("ix_qa_inspections_batch_id"), "qa_inspections", ["batch_id"], unique=False
    )
    op.create_table(
        "qa_material_lots",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("material", sa.String(length=128), nullable=False),
        sa.Column("supplier", sa.String(length=128), nullable=False),
        sa.Column("supplier_lot", sa.String(length=64), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("uom", sa.String(length=8), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_material_lots")),
    )
    op.create_index(
        op.f("ix_qa_material_lots_batch_id"), "qa_material_lots", ["batch_id"], unique=False
    )
    op.create_index(
        op.f("ix_qa_material_lots_supplier_lot"), "qa_material_lots", ["supplier_lot"], unique=False
    )
    op.create_table(
        "qa_production_records",
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("planned", sa.BigInteger(), nullable=False),
        sa.Column("produced", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("sampled", sa.BigInteger(), nullable=False),
        sa.Column("scrapped", sa.BigInteger(), nullable=False),
        sa.Column("deviations", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_qa_production_records")),
    )
    op.create_table(
        "qa_recall_containers",
        sa.Column("recall_id", ID, nullable=False),
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_sscc", sa.String(length=18), nullable=True),
        sa.PrimaryKeyConstraint("recall_id", "sscc", name=op.f("pk_qa_recall_containers")),
    )
    op.create_table(
        "qa_recall_customers",
        sa.Column("recall_id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("shipped_at", UtcDateTime(), nullable=False),
        sa.Column("customer", sa.String(length=512), nullable=True),
        sa.Column("destination", sa.String(length=512), nullable=True),
        sa.Column("biz_transaction", sa.String(length=512), nullable=True),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("ssccs", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("recall_id", "shipment_id", name=op.f("pk_qa_recall_customers")),
    )
    op.create_table(
        "qa_recall_units",
        sa.Column("recall_id", ID, nullable=False),
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=True),
        sa.Column("returned_at", UtcDateTime(), nullable=True),
        sa.Column("returned_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("recall_id", "unit_id", name=op.f("pk_qa_recall_units")),
    )
    op.create_index(
        "ix_qa_recall_units_gtin_serial", "qa_recall_units", ["gtin", "serial"], unique=False
    )
    op.create_table(
        "qa_recalls",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("recall_class", sa.String(length=4), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_recalls")),
    )
    op.create_table(
        "qa_signatures",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("meaning", sa.String(length=128), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=256), nullable=False),
        sa.Column("audit_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_signatures")),
    )


def downgrade() -> None:
    for name in reversed(QA_TABLES):
        op.drop_table(name)
