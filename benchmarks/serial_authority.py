"""Serial authority: pool hand-out time, and how long a line runs offline on its buffer.

Run: ``.venv/bin/python benchmarks/serial_authority.py`` (``--quick`` for a short run,
``--pg URL`` to measure PostgreSQL too, e.g. ``--pg postgresql:///test``).

Prints, for pools of 10,000 serials (goal: under 50 ms each):

* ``grant`` in process: the authority's transaction (journal fsync, scope row, pool row,
  commit with fsync) and the 10,000 FF3-1 serials, on SQLite (and PostgreSQL);
* ``POST /serials/pools`` over HTTP to uvicorn on 127.0.0.1, as a line asks for a pool:
  the above plus JSON both ways and the client parsing the answer;
* an imported list's pool (10,000 rows read back).

Then the offline figure: an edge buffer with the default configuration (``[serials]``
``buffer_hours``, ``low_water_hours``, ``pool_size``) at 600 units a minute is filled from
the authority over HTTP (time to fill), the authority is stopped, and the line takes serials
until the buffer is empty: the count, divided by 600 a minute, is the time it runs offline
from a full buffer; the low-water mark is the least it has when the authority goes away
(a refill starts below it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

# Put the repository first so that `edge` and `server` are the packages, not scripts here.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from edge.config import SerialsConfig
from edge.serials.buffer import Scope, SerialBuffer, Sizing
from edge.serials.errors import BufferEmptyError
from edge.serials.link import AuthorityClient, AuthorityLink
from gs1.serials import NUMERIC, SerialKey, SerialScheme
from serialtrace.services import free_port, serve_asgi
from server.auth import Role, add_user
from server.config import ServerSettings
from server.serials import HighWaterJournal, ScopeKey, SerialAuthority
from server.serials.app import create_authority_app
from server.store import create_store_engine, upgrade, write_transaction

GTIN = "09506000134352"
LIST_GTIN = "04012345000009"
KEY = SerialKey(bytes.fromhex("2DE79D232DF5585D68CE47882AE256D6" * 2))
PASSWORD = "benchmark line password"
NOW = datetime(2025, 3, 1, tzinfo=UTC)
POOL = 10_000
LINE_RATE = 600.0


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   "
        f"max {ordered[-1] * 1000:6.1f} ms   ({len(ordered)} pools, "
        f"{POOL / statistics.median(ordered):,.0f} serials/s)"
    )


def timed(count: int, action: Callable[[int], object]) -> list[float]:
    samples = []
    for n in range(count):
        start = time.perf_counter()
        action(n)
        samples.append(time.perf_counter() - start)
    return samples


@contextlib.contextmanager
def store(kind: str, folder: Path, pg_url: str | None) -> Iterator[Engine]:
    if kind == "sqlite":
        engine = create_store_engine(f"sqlite:///{folder / 'authority.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    assert pg_url is not None
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_store_engine(pg_url, schema=schema)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def prepare(engine: Engine, journal: HighWaterJournal, list_size: int) -> SerialAuthority:
    authority = SerialAuthority(engine, key=KEY, journal=journal)
    authority.register_gtin(
        GTIN, SerialScheme(NUMERIC, 12), 99_999_999, actor="bench", reason="bench", now=NOW
    )
    with write_transaction(engine) as conn:
        add_user(conn, "bench-line", PASSWORD, Role.DEVICE, now=NOW)
    authority.register_line("bench-line", "plant1", "line1", actor="bench", reason="b", now=NOW)
    values = [f"BO{n:010d}" for n in range(list_size)]
    authority.import_lists(
        {ScopeKey.sgtin(LIST_GTIN): values},
        format="csv",
        supplier="bench",
        reference="bench",
        sha256="0" * 64,
        actor="bench",
        now=NOW,
    )
    return authority


def bench_handout(kind: str, folder: Path, pg_url: str | None, pools: int) -> None:
    print(f"\n{kind}: pools of {POOL:,} serials")
    with store(kind, folder, pg_url) as engine:
        journal = HighWaterJournal(folder / f"{kind}.journal")
        authority = prepare(engine, journal, list_size=POOL * 5)
        from server.auth import User

        line = User(0, "bench-line", Role.DEVICE)
        key, listed = ScopeKey.sgtin(GTIN), ScopeKey.sgtin(LIST_GTIN)
        authority.grant(line, key, POOL, "warm-up", now=NOW)
        samples = timed(pools, lambda n: authority.grant(line, key, POOL, f"g{n}", now=NOW))
        print(f"  grant (in process)            {milliseconds(samples)}")
        samples = timed(5, lambda n: authority.grant(line, listed, POOL, f"l{n}", now=NOW))
        print(f"  grant, imported list          {milliseconds(samples)}")
        key_file = folder / f"{kind}.key"
        key_file.write_text(KEY.hex())
        os.chmod(key_file, 0o600)
        settings = ServerSettings(
            db_url=engine.url.render_as_string(hide_password=False),
            migrate_on_start=False,
            serials_key_file=key_file,
            serials_journal=folder / f"{kind}-http.journal",
        )
        with serve_asgi(create_authority_app(settings, engine=engine), free_port()) as url:
            client = AuthorityClient(url, "bench-line", PASSWORD)
            scope = Scope.sgtin(GTIN)
            client.request_pool(scope, POOL, "http-warm-up", None)
            samples = timed(pools, lambda n: client.request_pool(scope, POOL, f"h{n}", None))
            print(f"  POST /serials/pools (HTTP)    {milliseconds(samples)}")
            client.close()
        journal.close()


def bench_offline(base: Path, quick: bool) -> None:
    folder = base / "offline"
    folder.mkdir()
    defaults = SerialsConfig()
    hours = 0.5 if quick else defaults.buffer_hours
    low_hours = hours * defaults.low_water_hours / defaults.buffer_hours
    sizing = Sizing.hours(LINE_RATE, hours, low_hours, defaults.pool_size)
    print(
        f"\nOffline at {LINE_RATE:.0f} units/min, buffer_hours {hours:g} "
        f"(default {defaults.buffer_hours:g}), low_water_hours {low_hours:g} "
        f"(default {defaults.low_water_hours:g}), pool_size {defaults.pool_size:,}:"
    )
    with store("sqlite", folder, None) as engine:
        journal = HighWaterJournal(folder / "offline.journal")
        prepare(engine, journal, list_size=1)
        key_file = folder / "offline.key"
        key_file.write_text(KEY.hex())
        os.chmod(key_file, 0o600)
        settings = ServerSettings(
            db_url=engine.url.render_as_string(hide_password=False),
            migrate_on_start=False,
            serials_key_file=key_file,
            serials_journal=folder / "offline-http.journal",
        )
        scope = Scope.sgtin(GTIN)
        link: AuthorityLink | None = None
        buffer = SerialBuffer(
            folder / "edge-buffer.sqlite",
            {scope: sizing},
            on_low=lambda: link.wake() if link else None,
        )
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(
                serve_asgi(create_authority_app(settings, engine=engine), free_port())
            )
            link = AuthorityLink(buffer, AuthorityClient(url, "bench-line", PASSWORD))
            start = time.perf_counter()
            link.start(lambda kind, name, values: {})
            while buffer.remaining(scope) < sizing.target:
                time.sleep(0.05)
            filled = time.perf_counter() - start
            print(
                f"  filled {sizing.target:,} serials in {filled:.1f} s "
                f"({link.pools_received} pools over HTTP, {sizing.target / filled:,.0f}/s)"
            )
        # the authority is gone: the line takes serials until the buffer is empty
        taken = 0
        start = time.perf_counter()
        with contextlib.suppress(BufferEmptyError):
            while True:
                buffer.take(scope)
                taken += 1
        drained = time.perf_counter() - start
        link.stop()
        journal.close()
    print(f"  took {taken:,} serials offline ({taken / drained:,.0f} takes/s, durable)")
    print(f"  offline from a full buffer: {taken / LINE_RATE / 60:.2f} h at {LINE_RATE:.0f}/min")
    print(
        f"  offline from the low-water mark (the least when the authority goes away): "
        f"{sizing.low_water / LINE_RATE / 60:.2f} h"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pools, a 30 min buffer")
    parser.add_argument("--pg", metavar="URL", help="also measure on this PostgreSQL database")
    parser.add_argument(
        "--dir", type=Path, default=Path.cwd(), help="where throw-away databases go (default: here)"
    )
    args = parser.parse_args()
    logging.getLogger("edge.serials.link").setLevel(logging.ERROR)  # "unreachable" is the point
    pools = 10 if args.quick else 40
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="authority-bench-", dir=args.dir) as folder:
        bench_handout("sqlite", Path(folder), None, pools)
        if args.pg:
            pg = make_url(args.pg).set(drivername="postgresql+psycopg")
            bench_handout("postgresql", Path(folder), pg.render_as_string(False), pools)
        bench_offline(Path(folder), args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
