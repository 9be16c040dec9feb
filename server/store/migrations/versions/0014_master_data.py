"""master_data: names for locations, parties and products

Revision ID: 0014
Revises: 0007

One row per URN (SGLN, PGLN, GTIN class...) with its vocabulary type, display name and the
vocabulary element's attributes as JSON; filled from EPCIS master-data documents
(``epcisHeader.epcisMasterData`` or an ``EPCISMasterDataDocument``) and edited by QA.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "master_data",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("urn", sa.String(512), nullable=False),
        sa.Column("vocabulary", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_data")),
        sa.UniqueConstraint("urn", name=op.f("uq_master_data_urn")),
    )


def downgrade() -> None:
    op.drop_table("master_data")
