"""code schemes: a unit is keyed by (gtin, serial, scheme); gtin and serial 64 wide

Revision ID: 0017
Revises: 0016

``units.scheme``: the code scheme (:mod:`identity`) the unit's code follows, ``gs1`` for
every unit stored before. The unique key ``(gtin, serial)`` becomes ``(gtin, serial,
scheme)`` (its leading columns are the same, so lookups by GTIN and serial keep their
index). ``units.gtin``/``units.serial`` and ``batches.gtin`` widen to 64 characters: another
scheme's product code goes in ``gtin`` and its serial in ``serial``, so adding a scheme needs
no schema change.

On SQLite the two tables are rebuilt (SQLite cannot change a column's type in place): about
as long as copying the units table. On PostgreSQL widening a varchar is a catalog change;
the new unique index is built once.

Downgrade refuses while any unit of another scheme is stored (the old key could not hold it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("scheme", sa.String(16), nullable=False, server_default="gs1"))
        batch.alter_column(
            "gtin", existing_type=sa.String(14), type_=sa.String(64), existing_nullable=False
        )
        batch.alter_column(
            "serial", existing_type=sa.String(20), type_=sa.String(64), existing_nullable=False
        )
        batch.drop_constraint(op.f("uq_units_gtin_serial"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_units_gtin_serial_scheme"), ["gtin", "serial", "scheme"]
        )
    with op.batch_alter_table("batches") as batch:
        batch.alter_column(
            "gtin", existing_type=sa.String(14), type_=sa.String(64), existing_nullable=False
        )


def downgrade() -> None:
    conn = op.get_bind()
    others = conn.execute(sa.text("SELECT count(*) FROM units WHERE scheme != 'gs1'")).scalar()
    if others:
        raise RuntimeError(
            f"units: expected only GS1 units to go below 0017, got {others} of other code"
            " schemes (export and delete them first)"
        )
    with op.batch_alter_table("batches") as batch:
        batch.alter_column(
            "gtin", existing_type=sa.String(64), type_=sa.String(14), existing_nullable=False
        )
    with op.batch_alter_table("units") as batch:
        batch.drop_constraint(op.f("uq_units_gtin_serial_scheme"), type_="unique")
        batch.create_unique_constraint(op.f("uq_units_gtin_serial"), ["gtin", "serial"])
        batch.alter_column(
            "serial", existing_type=sa.String(64), type_=sa.String(20), existing_nullable=False
        )
        batch.alter_column(
            "gtin", existing_type=sa.String(64), type_=sa.String(14), existing_nullable=False
        )
        batch.drop_column("scheme")
