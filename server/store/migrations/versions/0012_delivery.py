"""Server-confirmed delivery: per-line sequence numbers, gaps, batch closes

Revision ID: 0012
Revises: 0007

``line_delivery`` (per line: the contiguous and highest sequence number, distinct numbers
stored, duplicates), ``delivery_seqs`` (numbers stored above the contiguous one),
``delivery_gaps`` (open gaps with when they opened and when they were alerted) and
``delivery_batch_closes`` (each batch-close event with its sequence number). See
server/delivery.py and docs/mqtt.md. ``units.parent_at`` and ``containers.parent_at``: the
eventTime of the aggregation that last moved the row, so that a late (re-sent) packing or
unpacking never undoes a later one (server/ingest/apply.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.schema import UtcDateTime

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = UtcDateTime()


def upgrade() -> None:
    op.create_table(
        "line_delivery",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("contiguous", sa.BigInteger(), nullable=False),
        sa.Column("highest", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("site", "line", name=op.f("pk_line_delivery")),
    )
    op.create_table(
        "delivery_seqs",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("site", "line", "seq", name=op.f("pk_delivery_seqs")),
    )
    op.create_table(
        "delivery_gaps",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("alerted_at", TIME),
        sa.PrimaryKeyConstraint("site", "line", "first_seq", name=op.f("pk_delivery_gaps")),
    )
    op.create_table(
        "delivery_batch_closes",
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("lot", sa.String(300)),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_delivery_batch_closes")),
    )
    op.create_index(
        "ix_delivery_batch_closes_line", "delivery_batch_closes", ["site", "line", "seq"]
    )
    # Plain ADD COLUMN (nullable): no table rewrite on either engine.
    op.add_column("units", sa.Column("parent_at", TIME, nullable=True))
    op.add_column("containers", sa.Column("parent_at", TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("containers") as batch:
        batch.drop_column("parent_at")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("parent_at")
    op.drop_index("ix_delivery_batch_closes_line", table_name="delivery_batch_closes")
    op.drop_table("delivery_batch_closes")
    op.drop_table("delivery_gaps")
    op.drop_table("delivery_seqs")
    op.drop_table("line_delivery")
