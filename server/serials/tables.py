"""The serial authority's tables, defined on the trace store's one ``MetaData``.

Created by the migration ``0009_serial_authority``; importing this module registers them
with :data:`server.store.schema.metadata` (the migration imports it, so does the authority),
which is what the drift test compares against the migrated database.

A *scope* is what a counter counts: the serials of one GTIN (``sgtin``) or the SSCCs of one
extension digit and company prefix (``sscc``). Every scope is a sequence of *positions*
``0, 1, 2, …``; what a position means is fixed for life by the scope's ``scheme``:

* ``ff3-1/{alphabet}/{length}/key:{key id}``: position = counter, serial = FF3-1(counter);
* ``sequential/{width}``: position = SSCC serial reference;
* ``list``: position = place in the lists imported for the scope (``serial_list_values``).

A pool is the positions ``start .. stop-1`` of one scope, handed to one line; ``next_position``
only grows, so no position is in two pools.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, UniqueConstraint

from server.store.schema import Id, UtcDateTime, metadata

serial_scopes = Table(
    "serial_scopes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # sgtin | sscc
    Column("name", String(20), nullable=False),  # GTIN-14, or extension digit + company prefix
    Column("scheme", String(96), nullable=False),  # pinned at creation (see module docstring)
    Column("next_position", BigInteger, nullable=False),  # first position never handed out
    Column("limit_position", BigInteger, nullable=False),  # positions that may ever exist
    Column("volume", BigInteger),  # the planned lifetime volume the scheme was checked for
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    UniqueConstraint("kind", "name"),
)

# Which device identity (a user with role ``device``) is which line.
serial_lines = Table(
    "serial_lines",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("site", "line"),
)

serial_pools = Table(
    "serial_pools",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope_id", Id, nullable=False),
    Column("username", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("line", String(64), nullable=False),
    Column("request_token", String(64), nullable=False),  # a retried request gets this pool
    Column("start", BigInteger, nullable=False),
    Column("stop", BigInteger, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    # what the line reported of the pool so far (the rest is still issued to it)
    Column("used", BigInteger, nullable=False, server_default="0"),
    Column("destroyed", BigInteger, nullable=False, server_default="0"),
    Column("returned", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("username", "request_token"),
    Index("ix_serial_pools_scope_id_start", "scope_id", "start"),
)

# Serials and SSCCs imported from a brand owner or an L4 system: the positions of a list scope.
serial_list_values = Table(
    "serial_list_values",
    metadata,
    Column("scope_id", Id, primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("value", String(20), nullable=False),
    Column("import_id", Id, nullable=False, index=True),
    UniqueConstraint("scope_id", "value"),
    sqlite_with_rowid=False,
)

serial_imports = Table(
    "serial_imports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope_id", Id, nullable=False, index=True),
    Column("format", String(16), nullable=False),  # csv | epcis | openscs
    Column("supplier", String(256), nullable=False),  # brand owner or L4 system, as given
    Column("reference", String(256), nullable=False),  # their pool/collection id or file name
    Column("first_position", BigInteger, nullable=False),
    Column("stop_position", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),  # of the document as received
    Column("imported_at", UtcDateTime, nullable=False),
    Column("imported_by", String(64), nullable=False),
)

# What a line reported of an issued position; no row: issued (or never issued).
serial_states = Table(
    "serial_states",
    metadata,
    Column("scope_id", Id, primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("status", String(12), nullable=False),  # used | destroyed | returned
    Column("pool_id", Id, nullable=False),
    Column("reported_at", UtcDateTime, nullable=False),
    sqlite_with_rowid=False,
)

SERIAL_TABLES = (
    "serial_imports",
    "serial_lines",
    "serial_list_values",
    "serial_pools",
    "serial_scopes",
    "serial_states",
)
