"""initial schema

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# The audit trail is append-only: the database itself refuses UPDATE and DELETE.
SQLITE_AUDIT_TRIGGERS = (
    """CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail
    BEGIN SELECT RAISE(ABORT, 'audit_trail is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_trail_no_delete BEFORE DELETE ON audit_trail
    BEGIN SELECT RAISE(ABORT, 'audit_trail is append-only: DELETE refused'); END""",
)
POSTGRESQL_AUDIT_TRIGGERS = (
    """CREATE FUNCTION audit_trail_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_trail is append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON audit_trail FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_refuse()""",
)


def _create_audit_triggers() -> None:
    dialect = op.get_bind().dialect.name
    statements = SQLITE_AUDIT_TRIGGERS if dialect == "sqlite" else POSTGRESQL_AUDIT_TRIGGERS
    for statement in statements:
        op.execute(statement)


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_trail_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_trail_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail")
        op.execute("DROP FUNCTION IF EXISTS audit_trail_refuse()")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("event_id", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_table(
        "audit_trail",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=256), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_trail")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_trail_hash")),
    )
    op.create_table(
        "batch_inputs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("input", sa.String(length=512), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("uom", sa.String(length=8), nullable=True),
        sa.Column("event_pk", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_inputs")),
    )
    op.create_index(op.f("ix_batch_inputs_batch_id"), "batch_inputs", ["batch_id"], unique=False)

    op.create_table(
        "batch_lines",
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=64), nullable=False),
        sa.Column("commissioned", sa.BigInteger(), nullable=False),
        sa.Column("first_at", UtcDateTime(), nullable=False),
        sa.Column("last_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "site", "line", name=op.f("pk_batch_lines")),
    )
    op.create_table(
        "batches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.String(length=10), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("disposition", sa.String(length=32), server_default="active", nullable=False),
        sa.Column("recalled_at", UtcDateTime(), nullable=True),
        sa.Column("recall_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("gtin", "lot", name=op.f("uq_batches_gtin_lot")),
    )
    op.create_table(
        "containers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("epc", sa.String(length=512), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("shipment_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
        sa.UniqueConstraint("sscc", name=op.f("uq_containers_sscc")),
    )
    op.create_index(op.f("ix_containers_parent_id"), "containers", ["parent_id"], unique=False)
    op.create_index(op.f("ix_containers_shipment_id"), "containers", ["shipment_id"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=512), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_table(
        "event_epcs",
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("epc", sa.String(length=512), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
    )
    op.create_index("ix_event_epcs_epc", "event_epcs", ["epc"], unique=False)
    op.create_index(op.f("ix_event_epcs_event_pk"), "event_epcs", ["event_pk"], unique=False)

    op.create_table(
        "events",
        sa.Column("pk", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=512), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("record_time", UtcDateTime(), nullable=False),
        sa.Column("biz_step", sa.String(length=256), nullable=True),
        sa.Column("disposition", sa.String(length=256), nullable=True),
        sa.Column("read_point", sa.String(length=512), nullable=True),
        sa.Column("biz_location", sa.String(length=512), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("line", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(op.f("ix_events_biz_step"), "events", ["biz_step"], unique=False)
    op.create_index(op.f("ix_events_event_time"), "events", ["event_time"], unique=False)

    op.create_table(
        "parked_events",
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("parked_at", UtcDateTime(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_pk", name=op.f("pk_parked_events")),
    )
    op.create_table(
        "parked_refs",
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("epc", sa.String(length=512), nullable=False),
    )
    op.create_index(op.f("ix_parked_refs_epc"), "parked_refs", ["epc"], unique=False)
    op.create_index(op.f("ix_parked_refs_event_pk"), "parked_refs", ["event_pk"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("shipped_at", UtcDateTime(), nullable=False),
        sa.Column("destination", sa.String(length=512), nullable=True),
        sa.Column("customer", sa.String(length=512), nullable=True),
        sa.Column("biz_transaction", sa.String(length=512), nullable=True),
        sa.Column("ssccs", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("event_pk", name=op.f("uq_shipments_event_pk")),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_tokens")),
    )
    op.create_index(op.f("ix_tokens_user_id"), "tokens", ["user_id"], unique=False)

    op.create_table(
        "units",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("batch_id", ID, nullable=True),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("shipment_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=256), nullable=True),
        sa.Column("disposition", sa.String(length=256), nullable=True),
        sa.Column("commission_event", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("gtin", "serial", name=op.f("uq_units_gtin_serial")),
    )
    op.create_index(op.f("ix_units_batch_id"), "units", ["batch_id"], unique=False)
    op.create_index(op.f("ix_units_parent_id"), "units", ["parent_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )

    _create_audit_triggers()


def downgrade() -> None:
    _drop_audit_triggers()
    op.drop_table("users")
    op.drop_index(op.f("ix_units_parent_id"), table_name="units")
    op.drop_index(op.f("ix_units_batch_id"), table_name="units")

    op.drop_table("units")
    op.drop_index(op.f("ix_tokens_user_id"), table_name="tokens")

    op.drop_table("tokens")
    op.drop_table("shipments")
    op.drop_index(op.f("ix_parked_refs_event_pk"), table_name="parked_refs")
    op.drop_index(op.f("ix_parked_refs_epc"), table_name="parked_refs")

    op.drop_table("parked_refs")
    op.drop_table("parked_events")
    op.drop_index(op.f("ix_events_event_time"), table_name="events")
    op.drop_index(op.f("ix_events_biz_step"), table_name="events")

    op.drop_table("events")
    op.drop_index(op.f("ix_event_epcs_event_pk"), table_name="event_epcs")
    op.drop_index("ix_event_epcs_epc", table_name="event_epcs")

    op.drop_table("event_epcs")
    op.drop_table("dead_letters")
    op.drop_index(op.f("ix_containers_shipment_id"), table_name="containers")
    op.drop_index(op.f("ix_containers_parent_id"), table_name="containers")

    op.drop_table("containers")
    op.drop_table("batches")
    op.drop_table("batch_lines")
    op.drop_index(op.f("ix_batch_inputs_batch_id"), table_name="batch_inputs")

    op.drop_table("batch_inputs")
    op.drop_table("audit_trail")
    op.drop_table("alerts")
