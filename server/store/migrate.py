"""Run the Alembic migrations programmatically (no alembic.ini needed).

Every server process and store command calls :func:`upgrade` at start, and the store is
nearly always at the newest revision already. That case is recognised without Alembic: the
store's ``alembic_version`` row against the newest revision of the migration files (their
``revision = "…"`` and ``down_revision = "…"`` lines, :func:`newest_in_files`). Alembic
(which brings Mako and Pygments: about a third of a second) is imported, and the migration
scripts loaded, only when there is something to do or the files are not a plain chain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"

_REVISION = re.compile(r'^revision = "(\w+)"$', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision = (?:None|"(\w+)")$', re.MULTILINE)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database at ``engine`` to ``revision`` (default: the newest)."""
    if revision == "head" and _stored_revisions(engine) == [newest_in_files()]:
        return  # at the newest revision already: nothing for Alembic to do
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database at ``engine`` back to ``revision``."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    stored = _stored_revisions(engine)
    if len(stored) <= 1:
        return stored[0] if stored else None
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:  # several heads: Alembic says so
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision, as Alembic reads the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def newest_in_files() -> str | None:
    """The newest revision of the migration files if they form one chain (each file one
    ``revision``, one ``down_revision``, a single revision no file revises), else None."""
    revises: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions = _REVISION.findall(source)
        downs = _DOWN_REVISION.findall(source)
        if len(revisions) != 1 or len(downs) != 1 or revisions[0] in revises:
            return None
        revises[revisions[0]] = downs[0] or None
    heads = set(revises) - set(revises.values())
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> list[str]:
    """The revisions in the store's version table (none for a new store)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return []
        return list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
