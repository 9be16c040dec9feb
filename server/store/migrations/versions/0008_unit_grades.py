"""units.grade, units.grade_detail: each unit's print-quality grade at commissioning

Revision ID: 0008
Revises: 0006

The edge grades every printed code per ISO/IEC 15415 and sends the grade with the
commissioning event (``serialtrace:grade``, docs/events.md); ingest keeps the overall grade
(0-4) in ``grade`` for the batch's distribution and the rest (letter, ISO notation,
parameter grades, the lowest parameters) as JSON in ``grade_detail``. Both are nullable: units
commissioned without a grade (older edges, other systems) have none. Adding a nullable
column rewrites no rows on either engine.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("units", sa.Column("grade", sa.Float(), nullable=True))
    op.add_column("units", sa.Column("grade_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("units", "grade_detail")
    op.drop_column("units", "grade")
