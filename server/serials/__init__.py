"""The serial authority: one place that hands serials and SSCCs to lines, across hosts and
sites, and keeps the books of what became of each one.

* :mod:`~server.serials.authority`: pools (durable before they leave), reports, books, lists;
* :mod:`~server.serials.journal`: the high-water journal that survives a database restore;
* :mod:`~server.serials.provisioning`: lists from brand owners and L4 systems (CSV, EPCIS,
  OPEN-SCS-style JSON);
* :mod:`~server.serials.routes`: ``/serials/…`` over HTTP; :mod:`~server.serials.app`: the
  authority alone (``serialtrace serials serve``).

It runs inside the trace server (same store, same users) or on its own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from gs1.serials import ConfigError as SerialConfigError
from gs1.serials import SerialKey
from server.config import ServerSettings
from server.errors import ConfigError
from server.serials.authority import Pool, ScopeKey, SerialAuthority
from server.serials.journal import HighWaterJournal

log = logging.getLogger(__name__)


def read_key(path: Path) -> SerialKey:
    """The authority's FF3-1 key from a hex file readable by its owner only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
        return SerialKey.from_key_file(text, mode, name=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"serials_key_file: expected a readable hex key file, got {str(path)!r} ({exc})"
        ) from exc
    except SerialConfigError as exc:
        raise ConfigError(f"serials_key_file: {exc}") from exc


def authority_for(settings: ServerSettings, engine: Engine) -> SerialAuthority:
    """The authority of a server's settings, its journal reconciled (counters raised above
    anything handed out before a restore)."""
    key = None if settings.serials_key_file is None else read_key(settings.serials_key_file)
    journal = None
    if settings.serials_journal is not None:
        journal = HighWaterJournal(settings.serials_journal)
    authority = SerialAuthority(
        engine, key=key, journal=journal, max_pool=settings.serials_max_pool
    )
    for scope, (was, now) in authority.reconcile_journal(now=datetime.now(UTC)).items():
        log.warning("serial authority: %s raised from %d to %d (journal)", scope, was, now)
    if journal is None:
        log.warning(
            "serial authority: no serials_journal configured; a restore of the database from "
            "a backup could hand out serials again"
        )
    return authority


__all__ = ["HighWaterJournal", "Pool", "ScopeKey", "SerialAuthority", "authority_for", "read_key"]
