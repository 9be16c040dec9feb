"""What a process loads at start: only what its command needs.

The suite, the demo and the fault stacks start ``serialtrace`` processes many times (set-up
commands, the trace server and its receiver); a module-level import of the camera, the web
framework or the migration tool in the wrong place costs every one of them. Each check runs
a fresh interpreter and looks at ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.store import create_store_engine, upgrade
from server.store.migrate import head_revision, newest_in_files

#: Runs the command given as arguments, then writes the names of the loaded modules to the
#: file named by the first argument.
PROBE = """
import json, sys
from serialtrace.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""

HEAVY = ("numpy", "cv2", "fastapi", "sqlalchemy", "alembic", "pydantic", "uvicorn")
OURS = ("edge", "server", "simulators", "epcis")


def loaded(tmp_path: Path, *argv: str) -> set[str]:
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *argv],
        check=True,
        capture_output=True,
        timeout=120,
    )
    found = json.loads(out.read_text())
    assert found["code"] == 0, found["code"]
    return set(found["modules"])


def packages(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(name for name in names if name in modules)


def test_version_loads_no_command(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "--version")
    assert packages(modules, (*HEAVY, *OURS, "gs1")) == []
    assert [m for m in modules if m.startswith("serialtrace.commands.")] == []


def test_a_gs1_command_loads_gs1_and_nothing_of_the_line_or_server(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "gs1", "--help")
    assert "gs1" in modules
    assert packages(modules, (*HEAVY, *OURS)) == []
    assert [m for m in modules if m.startswith("serialtrace.commands.")] == [
        "serialtrace.commands.gs1"
    ]


def test_a_store_at_the_newest_revision_needs_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trace.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    modules = loaded(tmp_path, "server", "migrate", "--db", url)
    unneeded = ("alembic", "mako", "fastapi", "numpy", "cv2", "psycopg", "reportlab")
    assert packages(modules, (*unneeded, "edge", "simulators")) == []


def test_the_migration_files_name_the_head_alembic_finds() -> None:
    """The start-up shortcut reads the files' revision lines; Alembic reads the scripts."""
    assert newest_in_files() == head_revision()


@pytest.mark.timeout(120)
def test_the_trace_server_loads_no_migration_tool_pdf_or_postgresql_driver() -> None:
    """At import (a server on SQLite): Alembic only to migrate, reportlab for the first PDF,
    psycopg for PostgreSQL, jsonschema to explain a refused document."""
    probe = (
        "import json, sys; import server.api.app, server.ingest.receiver; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    modules = set(json.loads(done.stdout))
    assert packages(modules, ("alembic", "mako", "reportlab", "psycopg", "jsonschema")) == []
