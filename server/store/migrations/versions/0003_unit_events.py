"""unit_events: the units' share of the EPC index, keyed by unit id

Revision ID: 0003
Revises: 0002

Moves the event_epcs rows that name a stored unit (key ``(01){gtin}(21){serial}``) to
unit_events; downgrade moves them back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# event_epcs.epc = '(01)' || gtin || '(21)' || serial: gtin at 5-18, '(21)' at 19-22.
NAMES_A_UNIT = (
    "substr(e.epc, 1, 4) = '(01)' AND substr(e.epc, 19, 4) = '(21)'"
    " AND u.gtin = substr(e.epc, 5, 14) AND u.serial = substr(e.epc, 23)"
)


def upgrade() -> None:
    op.create_table(
        "unit_events",
        sa.Column("unit_id", ID, nullable=False),
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "event_pk", "role", name=op.f("pk_unit_events")),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO unit_events (unit_id, event_pk, role) SELECT DISTINCT u.id, e.event_pk,"
        f" e.role FROM event_epcs e JOIN units u ON {NAMES_A_UNIT}"
    )
    op.execute(
        "DELETE FROM event_epcs WHERE EXISTS"
        f" (SELECT 1 FROM units u WHERE {NAMES_A_UNIT.replace('e.epc', 'event_epcs.epc')})"
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO event_epcs (event_pk, epc, role)"
        " SELECT x.event_pk, '(01)' || u.gtin || '(21)' || u.serial, x.role"
        " FROM unit_events x JOIN units u ON u.id = x.unit_id"
    )
    op.drop_table("unit_events")
