"""device-plane trust: dead-letter kinds and indexes, the line registry, event conflicts

Revision ID: 0005
Revises: 0008

``dead_letters.kind`` says what kind of refusal a dead letter is (metrics and filters count
by it); two indexes serve the per-source cap and the age purge. ``lines`` and
``line_locations`` are the registry that binds a line's topic to its read points and
business locations. ``event_conflicts`` keeps the body of an event that came again under a
stored eventID with other content.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.schema import UtcDateTime

revision = "0005"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = UtcDateTime()


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(32), nullable=False, server_default="rejected")
        )
    op.create_index("ix_dead_letters_source_topic_id", "dead_letters", ["source", "topic", "id"])
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])
    op.create_table(
        "lines",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("site", "line", name=op.f("pk_lines")),
    )
    op.create_table(
        "line_locations",
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("location", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("site", "line", "location", name=op.f("pk_line_locations")),
    )
    op.create_index("ix_line_locations_location", "line_locations", ["location"])
    op.create_table(
        "event_conflicts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("line", sa.String(64)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_conflicts")),
    )
    op.create_index("ix_event_conflicts_event_id", "event_conflicts", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_event_conflicts_event_id", table_name="event_conflicts")
    op.drop_table("event_conflicts")
    op.drop_index("ix_line_locations_location", table_name="line_locations")
    op.drop_table("line_locations")
    op.drop_table("lines")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_index("ix_dead_letters_source_topic_id", table_name="dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("kind")
