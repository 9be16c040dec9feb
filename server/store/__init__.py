"""The trace store: tables, engine factory, migrations and queries."""

from __future__ import annotations

from server.store.engine import create_store_engine, read_transaction, write_transaction
from server.store.migrate import upgrade

__all__ = ["create_store_engine", "read_transaction", "upgrade", "write_transaction"]
