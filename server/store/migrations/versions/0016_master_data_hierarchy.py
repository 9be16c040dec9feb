"""master data hierarchy and attributes: children and attribute rows of vocabulary elements

Revision ID: 0016
Revises: 0015

``master_data_children`` holds the ``children`` of a vocabulary element (EPCIS 2.0 section
6.5: a location's sub-locations), one row per parent and direct child, which
``WD_readPoint``/``WD_bizLocation`` walk down. ``master_data_attributes`` holds each attribute
of an element as a row (attribute name, value as text) for ``HASATTR_``/``EQATTR_``. Both are
filled on capture from then on; elements stored before keep their JSON attributes, which
are not copied here (capture the master data again to make them queryable).

``subscriptions.epc_format``: the ``GS1-EPC-Format`` a subscription asked for, which its
deliveries are written in; None (subscriptions made before) means as captured.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "master_data_children",
        sa.Column("parent", sa.String(512), nullable=False),
        sa.Column("child", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("parent", "child", name=op.f("pk_master_data_children")),
    )
    op.create_table(
        "master_data_attributes",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("urn", sa.String(512), nullable=False),
        sa.Column("attribute", sa.String(300), nullable=False),
        sa.Column("value", sa.String(300)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_data_attributes")),
    )
    op.create_index(
        "ix_master_data_attributes_attribute_value",
        "master_data_attributes",
        ["attribute", "value"],
    )
    op.create_index("ix_master_data_attributes_urn", "master_data_attributes", ["urn"])
    op.add_column("subscriptions", sa.Column("epc_format", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("epc_format")
    op.drop_index("ix_master_data_attributes_urn", table_name="master_data_attributes")
    op.drop_index("ix_master_data_attributes_attribute_value", table_name="master_data_attributes")
    op.drop_table("master_data_attributes")
    op.drop_table("master_data_children")
