"""Product master data, lot rules, lots and batch orders, on the trace store's ``MetaData``.

Created by the migration ``0011_production``; importing this module registers the tables
(the migration imports it, so does the API), which is what the drift test compares.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from server.store.schema import Id, UtcDateTime, metadata

products = Table(
    "products",
    metadata,
    Column("gtin", String(14), primary_key=True),
    Column("company_prefix_length", SmallInteger, nullable=False),
    Column("name", String(256), nullable=False),
    Column("strength", String(128), nullable=False),
    Column("markets", Text, nullable=False),  # JSON list of ISO 3166-1 alpha-2 codes
    Column("shelf_life_months", Integer, nullable=False),
    Column("shelf_life_days", Integer, nullable=False),
    Column("expiry_rule", String(16), nullable=False),  # exact | end_of_month
    Column("units_per_case", Integer, nullable=False),
    Column("cases_per_pallet", Integer, nullable=False),
    Column("unit_template", String(128), nullable=False),
    Column("case_template", String(128), nullable=False),
    Column("pallet_template", String(128), nullable=False),
    Column("serial_alphabet", String(16), nullable=False),
    Column("serial_length", SmallInteger, nullable=False),
    Column("active", SmallInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# The lot-code rule of a line (line "*": every line of the site; site "*": every site).
lot_rules = Table(
    "lot_rules",
    metadata,
    Column("site", String(64), primary_key=True),
    Column("line", String(64), primary_key=True),
    Column("pattern", String(128), nullable=False),
    Column("site_code", String(10), nullable=False),
    Column("line_code", String(10), nullable=False),
    Column("shifts", String(256), nullable=False),  # "A@06:00,B@14:00,C@22:00"
    Column("timezone", String(64), nullable=False),  # IANA name: the plant's clock
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

# The next sequence number of each rendering of a pattern without its sequence.
lot_sequences = Table(
    "lot_sequences",
    metadata,
    Column("period", String(64), primary_key=True),
    Column("next", BigInteger, nullable=False),
)

# Every lot the system knows, per GTIN; gtin "" is a rule lot reserved for a line (its
# offline reserve) and not used yet.
lots = Table(
    "lots",
    metadata,
    Column("gtin", String(14), primary_key=True),
    Column("lot", String(20), primary_key=True),
    Column("source", String(8), nullable=False),  # rule | manual | mes | plc | import
    Column("site", String(64)),
    Column("line", String(64)),
    Column("period", String(64)),
    Column("order_id", Id),
    Column("reserved_at", UtcDateTime, nullable=False),
    Column("reserved_by", String(64), nullable=False),
    Index("ix_lots_lot", "lot"),
)

batch_orders = Table(
    "batch_orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("gtin", String(14), nullable=False),
    Column("planned", BigInteger, nullable=False),
    Column("lot", String(20)),  # None until a rule lot is taken at release
    Column("lot_source", String(8), nullable=False),  # rule | manual | mes
    Column("manufacturing_date", String(10), nullable=False),  # ISO date
    Column("expiry", String(6), nullable=False),  # YYMMDD, day 00: end of month
    Column("expiry_computed", String(6), nullable=False),
    Column("expiry_reason", Text),  # why the expiry is not the computed one
    Column("materials", Text, nullable=False),  # JSON list of raw-material lots
    Column("site", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # created|released|started|closed|cancelled
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("released_at", UtcDateTime),
    Column("released_by", String(64)),
    Column("started_at", UtcDateTime),
    Column("confirmed_by", String(64)),  # the operator who confirmed it on the HMI
    Column("closed_at", UtcDateTime),
    Column("reconciliation", Text),  # JSON: the line's counts at batch close
    Index("ix_batch_orders_site_line_state", "site", "line", "state"),
)
