"""accounts: printed names, password age, token revocation, login throttle

Revision ID: 0006
Revises: 0004

Users get the printed name their electronic signatures carry (``full_name``) and the time
their password last changed; tokens can be revoked (logout, an admin); ``auth_throttle``
counts failed logins and e-signatures per user name and per client address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.schema import UtcDateTime

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("full_name", sa.String(length=128), nullable=True))
    op.add_column("users", sa.Column("password_changed_at", UtcDateTime(), nullable=True))
    op.add_column("tokens", sa.Column("revoked_at", UtcDateTime(), nullable=True))
    op.create_table(
        "auth_throttle",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", UtcDateTime(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_auth_throttle")),
    )


def downgrade() -> None:
    op.drop_table("auth_throttle")
    op.drop_column("tokens", "revoked_at")
    op.drop_column("users", "password_changed_at")
    op.drop_column("users", "full_name")
