"""A real serial authority for edge tests: the authority app on its own port (in this
process, or as ``serialtrace serials serve`` in a child process that a test can kill), on a
migrated store, with a GTIN, an SSCC prefix and line identities registered."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine

from gs1.serials import NUMERIC, SerialKey, SerialScheme
from serialtrace.services import free_port, serve_asgi
from server.auth import Role, add_user
from server.config import ServerSettings
from server.serials import SerialAuthority
from server.serials.app import create_authority_app
from server.store import write_transaction

KEY = SerialKey(bytes(range(32)))
NOW = datetime(2025, 3, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def prepare(
    store: Engine,
    *,
    gtins: tuple[str, ...],
    sscc_prefixes: tuple[tuple[int, str], ...] = (),
    lines: dict[str, tuple[str, str]],
    password: str,
) -> SerialAuthority:
    """Register GTINs (numeric/12), SSCC prefixes and device users bound to lines
    (``{username: (site, line)}``) on a migrated store."""
    books = SerialAuthority(store, key=KEY, journal=None)
    for gtin in gtins:
        books.register_gtin(gtin, SerialScheme(NUMERIC, 12), 10**7, actor="qa", reason="t", now=NOW)
    for extension, prefix in sscc_prefixes:
        books.register_sscc(extension, prefix, actor="qa", reason="t", now=NOW)
    for username, (site, line) in lines.items():
        with write_transaction(store) as conn:
            add_user(conn, username, password, Role.DEVICE, now=NOW)
        books.register_line(username, site, line, actor="admin", reason="t", now=NOW)
    return books


def key_file(folder: Path) -> Path:
    path = folder / "authority.key"
    path.write_text(KEY.hex())
    os.chmod(path, 0o600)
    return path


class ThreadedAuthority:
    """The authority app served by uvicorn in a thread of this process; stop/start at will."""

    def __init__(self, store: Engine, folder: Path) -> None:
        self.settings = ServerSettings(
            db_url=store.url.render_as_string(hide_password=False),
            migrate_on_start=False,
            serials_key_file=key_file(folder),
            serials_journal=folder / "serials.journal",
        )
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(
            serve_asgi(create_authority_app(self.settings, engine=self.store), self.port)
        )

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


class AuthorityProcess:
    """``serialtrace serials serve`` in a child process (SIGKILL-able)."""

    def __init__(self, db_url: str, folder: Path, log: Path) -> None:
        self.args = [
            sys.executable, "-m", "serialtrace", "serials", "serve", "--db", db_url,
            "--key-file", str(key_file(folder)), "--journal", str(folder / "serials.journal"),
        ]  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [*self.args, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError("authority did not come up:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
