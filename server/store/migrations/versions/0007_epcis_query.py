"""EPCIS 2.0 query index and resources

Revision ID: 0007
Revises: 0011

``event_fields`` (every queryable value of an event beyond its events columns, filled at
ingest), ``error_declarations``, ``capture_jobs``, ``named_queries``, ``subscriptions`` and
``subscription_deliveries``. On SQLite, timestamps that the bulk insert of ingest wrote
without fractional seconds (``2031-01-02 10:00:00``) get them (``.000000``), so that text
comparison orders every stored time like the query's bound value (the ``GE_eventTime``
exact-bound bug). Existing events get their index rows when they are captured again; the
migration does not read bodies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
# Columns the ingest bulk insert wrote (SQLite stores text).
BULK_TIMES = (("events", "event_time"), ("events", "record_time"), ("containers", "created_at"))


def upgrade() -> None:
    op.create_index("ix_events_record_time", "events", ["record_time"])
    op.create_index("ix_events_read_point", "events", ["read_point"])
    op.create_index("ix_events_biz_location", "events", ["biz_location"])
    op.create_table(
        "event_fields",
        sa.Column("event_pk", ID, nullable=False),
        sa.Column("field", sa.String(300), nullable=False),
        sa.Column("text", sa.String(300)),
        sa.Column("num", sa.Float()),
        sa.Column("time", TIME),
    )
    op.create_index("ix_event_fields_event_pk", "event_fields", ["event_pk"])
    op.create_index("ix_event_fields_field_text", "event_fields", ["field", "text"])
    op.create_index("ix_event_fields_field_num", "event_fields", ["field", "num"])
    op.create_index("ix_event_fields_field_time", "event_fields", ["field", "time"])
    op.create_table(
        "error_declarations",
        sa.Column("event_pk", ID, nullable=False, autoincrement=False),
        sa.Column("declared_at", TIME, nullable=False),
        sa.Column("reason", sa.String(300)),
        sa.Column("corrective_ids", sa.Text(), nullable=False),
        sa.Column("declaration", sa.Text(), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("event_pk", name=op.f("pk_error_declarations")),
    )
    op.create_index("ix_error_declarations_declared_at", "error_declarations", ["declared_at"])
    op.create_index("ix_error_declarations_reason", "error_declarations", ["reason"])
    op.create_table(
        "capture_jobs",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("capture_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("running", sa.SmallInteger(), nullable=False),
        sa.Column("success", sa.SmallInteger(), nullable=False),
        sa.Column("error_behaviour", sa.String(16), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_jobs")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_capture_jobs_capture_id")),
    )
    op.create_table(
        "named_queries",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("username", sa.String(64)),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_named_queries")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("query_name", sa.String(128), nullable=False),
        sa.Column("dest", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text()),
        sa.Column("stream", sa.SmallInteger(), nullable=False),
        sa.Column("schedule", sa.Text()),
        sa.Column("report_if_empty", sa.SmallInteger(), nullable=False),
        sa.Column("initial_record_time", TIME, nullable=False),
        sa.Column("min_record_time", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_notified_at", TIME),
        sa.Column("last_run_at", TIME),
        sa.Column("username", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index("ix_subscriptions_query_name", "subscriptions", ["query_name"])
    op.create_table(
        "subscription_deliveries",
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("event_pk", ID, nullable=False),
        sa.PrimaryKeyConstraint(
            "subscription_id", "event_pk", name=op.f("pk_subscription_deliveries")
        ),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        for table, column in BULK_TIMES:
            op.execute(
                f"UPDATE {table} SET {column} = {column} || '.000000' WHERE length({column}) = 19"
            )


def downgrade() -> None:
    op.drop_table("subscription_deliveries")
    op.drop_index("ix_subscriptions_query_name", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("named_queries")
    op.drop_table("capture_jobs")
    op.drop_index("ix_error_declarations_reason", table_name="error_declarations")
    op.drop_index("ix_error_declarations_declared_at", table_name="error_declarations")
    op.drop_table("error_declarations")
    for name in ("time", "num", "text"):
        op.drop_index(f"ix_event_fields_field_{name}", table_name="event_fields")
    op.drop_index("ix_event_fields_event_pk", table_name="event_fields")
    op.drop_table("event_fields")
    for name in ("biz_location", "read_point", "record_time"):
        op.drop_index(f"ix_events_{name}", table_name="events")
