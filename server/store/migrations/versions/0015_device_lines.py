"""device lines: a device account is bound to one registered line

Revision ID: 0015
Revises: 0014

A ``device`` account names the line (``line_site``/``line_name``) it captures for over HTTP;
``POST /epcis/capture`` checks its events' read points and business locations against that
line's registered SGLNs, as the MQTT ingest does for a line's topic. A device account without
a line may capture nothing (``serialtrace server user line NAME SITE/LINE`` binds it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("line_site", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("line_name", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "line_name")
    op.drop_column("users", "line_site")
