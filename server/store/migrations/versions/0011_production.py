"""Production: product master data, lot rules, lots and batch orders

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.production.tables  # noqa: F401  (registers the tables with the store's MetaData)
from server.store.schema import UtcDateTime

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("company_prefix_length", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("strength", sa.String(length=128), nullable=False),
        sa.Column("markets", sa.Text(), nullable=False),
        sa.Column("shelf_life_months", sa.Integer(), nullable=False),
        sa.Column("shelf_life_days", sa.Integer(), nullable=False),
        sa.Column("expiry_rule", sa.String(length=16), nullable=False),
        sa.Column("units_per_case", sa.Integer(), nullable=False),
        sa.Column("cases_per_pallet", sa.Integer(), nullable=False),
        sa.Column("unit_template", sa.String(length=128), nullable=False),
        sa.Column("case_template", sa.String(length=128), nullable=False),
        sa.Column("pallet_template", sa.String(length=128), nullable=False),
        sa.Column("serial_alphabet", sa.String(length=16), nullable=False),
        sa.Column("serial_length", sa.SmallInteger(), nullable=False),
        sa.Column("active", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("gtin", name=op.f("pk_products")),
    )
    op.create_table(
        "lot_rules",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("pattern", sa.String(length=128), nullable=False),
        sa.Column("site_code", sa.String(length=10), nullable=False),
        sa.Column("line_code", sa.String(length=10), nullable=False),
        sa.Column("shifts", sa.String(length=256), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("site", "line", name=op.f("pk_lot_rules")),
    )
    op.create_table(
        "lot_sequences",
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("next", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_lot_sequences")),
    )
    op.create_table(
        "lots",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("period", sa.String(length=64), nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("reserved_at", UtcDateTime(), nullable=False),
        sa.Column("reserved_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot", name=op.f("pk_lots")),
    )
    op.create_index("ix_lots_lot", "lots", ["lot"], unique=False)
    op.create_table(
        "batch_orders",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("planned", sa.BigInteger(), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("lot_source", sa.String(length=8), nullable=False),
        sa.Column("manufacturing_date", sa.String(length=10), nullable=False),
        sa.Column("expiry", sa.String(length=6), nullable=False),
        sa.Column("expiry_computed", sa.String(length=6), nullable=False),
        sa.Column("expiry_reason", sa.Text(), nullable=True),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("reconciliation", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_batch_orders_number")),
    )
    op.create_index(
        "ix_batch_orders_site_line_state", "batch_orders", ["site", "line", "state"], unique=False
    )


def downgrade() -> None:
    for table in ("batch_orders", "lots", "lot_sequences", "lot_rules", "products"):
        op.drop_table(table)
