"""Serial authority: scopes, lines, pools, imported lists and the books

Revision ID: 0009
Revises: 0008

Importing :mod:`server.serials.tables` registers the tables with the store's ``MetaData``;
they are created explicitly below.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.serials.tables  # noqa: F401  (registers the tables with the store's MetaData)
from server.store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "serial_scopes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("scheme", sa.String(length=96), nullable=False),
        sa.Column("next_position", sa.BigInteger(), nullable=False),
        sa.Column("limit_position", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_scopes")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_serial_scopes_kind_name")),
    )
    op.create_table(
        "serial_lines",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_serial_lines")),
        sa.UniqueConstraint("site", "line", name=op.f("uq_serial_lines_site_line")),
    )
    op.create_table(
        "serial_pools",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("request_token", sa.String(length=64), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("stop", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("destroyed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_pools")),
        sa.UniqueConstraint(
            "username", "request_token", name=op.f("uq_serial_pools_username_request_token")
        ),
    )
    op.create_index(
        "ix_serial_pools_scope_id_start", "serial_pools", ["scope_id", "start"], unique=False
    )
    op.create_table(
        "serial_list_values",
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("import_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("scope_id", "position", name=op.f("pk_serial_list_values")),
        sa.UniqueConstraint("scope_id", "value", name=op.f("uq_serial_list_values_scope_id_value")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_serial_list_values_import_id"), "serial_list_values", ["import_id"], unique=False
    )
    op.create_table(
        "serial_imports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("supplier", sa.String(length=256), nullable=False),
        sa.Column("reference", sa.String(length=256), nullable=False),
        sa.Column("first_position", sa.BigInteger(), nullable=False),
        sa.Column("stop_position", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_imports")),
    )
    op.create_index(
        op.f("ix_serial_imports_scope_id"), "serial_imports", ["scope_id"], unique=False
    )
    op.create_table(
        "serial_states",
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("pool_id", ID, nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope_id", "position", name=op.f("pk_serial_states")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "serial_states",
        "serial_imports",
        "serial_list_values",
        "serial_pools",
        "serial_lines",
        "serial_scopes",
    ):
        op.drop_table(table)
