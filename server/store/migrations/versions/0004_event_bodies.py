"""event_bodies: events' JSON bodies in a table of their own

Revision ID: 0004
Revises: 0003

A unit trace reads the metadata of a few events at random places; with the bodies inline
the events table was most of the database and those reads missed the cache at 10M units.
Downgrade puts the bodies back in ``events.body`` (as a nullable column: SQLite cannot add
a NOT NULL column without a default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_bodies",
        sa.Column("event_pk", ID, nullable=False, autoincrement=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_pk", name=op.f("pk_event_bodies")),
    )
    op.execute("INSERT INTO event_bodies (event_pk, body) SELECT pk, body FROM events")
    op.execute("ALTER TABLE events DROP COLUMN body")


def downgrade() -> None:
    op.execute("ALTER TABLE events ADD COLUMN body TEXT")
    op.execute(
        "UPDATE events SET body = (SELECT b.body FROM event_bodies b WHERE b.event_pk = events.pk)"
    )
    op.drop_table("event_bodies")
