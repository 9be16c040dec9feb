"""Trace server benchmark: MQTT ingest vs raw inserts, unit trace, recall, size.

Loads N units (cases of 20, pallets of 50 cases, a shipment per pallet, a batch per
100,000 units) as EPCIS documents through the real path: a Mosquitto of its own, MQTT 5
QoS 1, :class:`server.ingest.mqtt.MqttIngest` (manual ack after commit) into SQLite and/or
PostgreSQL. Documents carry 5 cases each (5 commissioning events of 20 EPCs + 5 packing
events = 100 units), as the edge batches them. Prints, per engine:

* units/s ingested through MQTT over TLS with authentication (the broker set up as
  ``serialtrace broker init`` does it: TLS listener, password file, ACL) and, in the same
  run and into a fresh store of its own, over plain TCP to an open broker, with the cost of
  TLS and authentication in per cent (``--transport tls|plain|both``, default both; plain
  first, then TLS; ``--repeat N`` alternates them N times),
* (the broker holds the messages for the server's persistent
  session, published beforehand by a separate process, so publishing does not compete for
  the CPU; the clock runs from the moment the consumer is connected (its receiver process
  started) until the last document is applied;
  ``--consumers N``: N server processes on an MQTT 5 shared subscription, each with its
  own persistent session, as several ``serialtrace server`` processes with
  ``mqtt_share_group`` run),
* the raw insert rate of the same rows: every row ingest wrote (events with their bodies,
  event_epcs, event_fields, unit_events, units, containers, batches, shipments, ...), read back and
  inserted with the driver alone into empty twins of those tables (same keys and indexes),
  same database, same run (SQLite: executemany; PostgreSQL: COPY; 20,000-row transactions),
* unit trace p50/p99 over random units, timed right after ingest, before the raw phase:
  the full QA answer (two statements), and its first statement alone (the unit, its chain of
  containers and its shipment; run right after the full answer, so from warm caches),
* time to build the recall set of one 100,000-unit batch,
* database size per million units.

    .venv/bin/python benchmarks/server.py                 # 1M units, both engines
    .venv/bin/python benchmarks/server.py --units 10000000
    .venv/bin/python benchmarks/server.py --quick         # 20k units, < 30 s
    .venv/bin/python benchmarks/server.py --writer-only --engine sqlite  # the writer alone
    .venv/bin/python benchmarks/server.py --engine postgresql --consumers 2
    .venv/bin/python benchmarks/server.py --quick --engine sqlite --repeat 2  # A, B, A, B
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import secrets
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import (
    Column,
    Engine,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    select,
    text,
)

import gs1
from epcis import topics
from epcis.broker import BrokerLink
from serialtrace.services import Broker, start_mosquitto
from server.identifiers import UnitKey
from server.ingest.apply import Origin
from server.ingest.mqtt import MqttIngest
from server.ingest.service import Ingestor
from server.lines import register_line
from server.store import create_store_engine, read_transaction, upgrade, write_transaction
from server.store.queries import batch_reach, trace_unit, unit_chain
from server.store.schema import (
    batch_lines,
    batches,
    containers,
    event_bodies,
    event_epcs,
    event_fields,
    events,
    shipments,
    unit_events,
    units,
)

READ_POINT = "urn:epc:id:sgln:0614141.07346.1"
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"serialtrace": "urn:serialtrace:epcis:"},
]
# Events carry the line sequence number ``serialtrace:seq`` as the edge sends them (issue 21:
# the server records it and publishes an acknowledgement per line after each commit);
# ``--no-seq`` sends them without, as before, to measure what delivery tracking costs.
NO_SEQ_ENV = "SERIALTRACE_BENCH_NO_SEQ"
PREFIX, ITEM = "0614141", "107346"
GTIN = "1" + PREFIX + "07346"
GTIN += gs1.check_digit(GTIN)
UNITS_PER_CASE, CASES_PER_PALLET, CASES_PER_DOC = 20, 50, 5
BATCH_UNITS = 100_000
ROUND_UNITS = 500_000  # published, then drained, per round (bounded broker memory)
ALPHABET = string.ascii_uppercase + string.digits


def sscc_uri(number: int, extension: int) -> str:
    return f"urn:epc:id:sscc:{PREFIX}.{extension}{number:09d}"


def documents(first_case: int, cases: int, seed: int) -> Iterator[bytes]:
    """Documents for cases [first_case, first_case + cases): 100 units each."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    numbered = not os.environ.get(NO_SEQ_ENV)
    for case in range(first_case, first_case + cases):
        # The case's first line sequence number: two events per case, two more per pallet.
        seq = 2 * case + 2 * (case // CASES_PER_PALLET) + 1
        unit_index = case * UNITS_PER_CASE
        lot = f"L{unit_index // BATCH_UNITS:05d}"
        epcs = [
            f"urn:epc:id:sgtin:{PREFIX}.{ITEM}.{''.join(rng.choices(ALPHABET, k=16))}"
            for _ in range(UNITS_PER_CASE)
        ]
        base = {
            "eventTimeZoneOffset": "+00:00",
            "readPoint": {"id": READ_POINT},
        }
        first_event = len(events)
        events.append(
            {
                **base,
                "type": "ObjectEvent",
                "eventID": f"urn:uuid:c-{case}",
                "eventTime": "2025-03-01T08:00:00Z",
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "epcList": epcs,
                "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2027-12-31"},
            }
        )
        events.append(
            {
                **base,
                "type": "AggregationEvent",
                "eventID": f"urn:uuid:a-{case}",
                "eventTime": "2025-03-01T08:00:01Z",
                "action": "ADD",
                "bizStep": "packing",
                "parentID": sscc_uri(case, 0),
                "childEPCs": epcs,
            }
        )
        if (case + 1) % CASES_PER_PALLET == 0:
            pallet = case // CASES_PER_PALLET
            children = [sscc_uri(c, 0) for c in range(case + 1 - CASES_PER_PALLET, case + 1)]
            events.append(
                {
                    **base,
                    "type": "AggregationEvent",
                    "eventID": f"urn:uuid:p-{pallet}",
                    "eventTime": "2025-03-01T08:10:00Z",
                    "action": "ADD",
                    "bizStep": "packing",
                    "parentID": sscc_uri(pallet, 1),
                    "childEPCs": children,
                }
            )
            events.append(
                {
                    **base,
                    "type": "ObjectEvent",
                    "eventID": f"urn:uuid:s-{pallet}",
                    "eventTime": "2025-03-02T08:00:00Z",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "epcList": [sscc_uri(pallet, 1)],
                    "destinationList": [
                        {
                            "type": "owning_party",
                            "destination": f"urn:epc:id:pgln:4012345.{pallet % 100:05d}",
                        }
                    ],
                }
            )
        if numbered:
            for offset, event in enumerate(events[first_event:]):
                event["serialtrace:seq"] = seq + offset
        if (case + 1 - first_case) % CASES_PER_DOC == 0 or case == first_case + cases - 1:
            yield json.dumps(
                {
                    "@context": CONTEXT,
                    "type": "EPCISDocument",
                    "schemaVersion": "2.0",
                    "creationDate": "2025-03-01T08:00:00Z",
                    "epcisBody": {"eventList": events},
                }
            ).encode()
            events = []


def publish(link: BrokerLink, first_case: int, cases: int, seed: int) -> None:
    """Publish documents with QoS 1 (runs in a child process)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    link.configure(client)
    client.connect(link.host, link.port)
    client.loop_start()
    infos = [
        client.publish(topics.events_topic("bench", "line1"), payload, qos=1)
        for payload in documents(first_case, cases, seed)
    ]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.loop_stop()
    client.disconnect()


def mqtt_ingest(
    engine: Engine,
    store: tuple[str, str | None],
    broker: Broker,
    total_cases: int,
    *,
    window: int,
    group: int,
    consumers: int,
) -> float:
    """Seconds to drain all documents through MQTT ingest (publishing excluded): one
    consumer in this process, or ``consumers`` server processes on a shared subscription."""
    client_id = f"bench-{secrets.token_hex(4)}"
    client_ids = [client_id] if consumers == 1 else [f"{client_id}-{i}" for i in range(consumers)]
    share_group = None if consumers == 1 else "bench"
    secure = broker.setup is not None
    # A server identity per consumer (the broker binds the client id to it), the line's own
    # identity for the publisher.
    links = {
        one: broker.link("server", one) if secure else BrokerLink.parse(broker.url)
        for one in client_ids
    }
    publisher_link = broker.link("line", "bench", "line1") if secure else links[client_id]
    with write_transaction(engine) as conn:
        register_line(
            conn, "bench", "line1", [READ_POINT], actor="bench", reason="benchmark",
            now=datetime.now(UTC),
        )  # fmt: skip
    ingestor = Ingestor(engine, max_payload_bytes=1 << 20)
    for one in client_ids:  # create the persistent sessions and subscriptions
        consumer = MqttIngest(
            ingestor,
            links[one],
            client_id=one,
            share_group=share_group,
            max_inflight=window,
            group_commit=group,
        )
        consumer.start()
        if not consumer.connected.wait(10):
            raise SystemExit("broker not reachable")
        time.sleep(0.3)
        consumer.stop()
    elapsed = 0.0
    round_cases = ROUND_UNITS // UNITS_PER_CASE
    for first in range(0, total_cases, round_cases):
        cases = min(round_cases, total_cases - first)
        child = multiprocessing.Process(target=publish, args=(publisher_link, first, cases, first))
        child.start()
        child.join()
        documents = -(-cases // CASES_PER_DOC)
        if consumers == 1:
            seconds, dead = _drain_here(
                ingestor, links[client_id], client_id, window, group, documents
            )
        else:
            seconds, dead = _drain_in_processes(store, links, client_ids, window, group, documents)
        elapsed += seconds
        if dead:
            raise SystemExit(f"{dead} documents dead-lettered")
        print(
            f"    {first * UNITS_PER_CASE + cases * UNITS_PER_CASE:>10,} units ingested, "
            f"{(first + cases) * UNITS_PER_CASE / elapsed:,.0f} units/s so far",
            flush=True,
        )
    return elapsed


def _drain_here(
    ingestor: Ingestor,
    broker_url: BrokerLink,
    client_id: str,
    window: int,
    group: int,
    documents: int,
) -> tuple[float, int]:
    """One consumer in this process: (seconds to apply ``documents``, dead letters)."""
    consumer = MqttIngest(
        ingestor, broker_url, client_id=client_id, max_inflight=window, group_commit=group
    )
    consumer.start()
    if not consumer.connected.wait(60):
        raise SystemExit("broker not reachable")
    start = time.perf_counter()  # receiver process started and connected: messages flow now
    while consumer.applied + consumer.dead_lettered < documents:
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    consumer.stop()
    return seconds, consumer.dead_lettered


def _drain_in_processes(
    store: tuple[str, str | None],
    links: dict[str, BrokerLink],
    client_ids: list[str],
    window: int,
    group: int,
    documents: int,
) -> tuple[float, int]:
    """One server process per client id on the shared subscription (as several
    ``serialtrace server`` processes with ``mqtt_share_group`` run): (seconds from the first
    connection until all ``documents`` are applied, dead letters). Process start-up happens
    before the clock starts, as in :func:`_drain_here`."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    counts = [context.Value("q", 0) for _ in client_ids]
    dead = [context.Value("q", 0) for _ in client_ids]
    connected = [context.Value("d", 0.0) for _ in client_ids]  # time.monotonic(), system-wide
    ready = [context.Event() for _ in client_ids]
    children = [
        context.Process(
            target=_consume,
            args=(
                (store, links[one], one, window, group),
                (counts[i], dead[i], connected[i], ready[i], stop),
            ),
        )
        for i, one in enumerate(client_ids)
    ]
    for child in children:
        child.start()
    for event in ready:
        if not event.wait(60):
            raise SystemExit("an ingest process did not start")
    start = min(c.value for c in connected)
    deadline = start + 3600
    while sum(c.value for c in counts) + sum(d.value for d in dead) < documents:
        if time.monotonic() > deadline:
            raise SystemExit("ingest processes did not finish within an hour")
        time.sleep(0.005)
    seconds = time.monotonic() - start
    stop.set()
    for child in children:
        child.join(60)
    return seconds, sum(d.value for d in dead)


def _consume(
    setup: tuple[tuple[str, str | None], BrokerLink, str, int, int],
    shared: tuple[Any, Any, Any, Any, Any],
) -> None:
    """An ingest process of ``_drain_in_processes``."""
    (url, schema), broker_url, client_id, window, group = setup
    count, dead, connected, ready, stop = shared
    engine = create_store_engine(url, schema=schema)
    consumer = MqttIngest(
        Ingestor(engine, max_payload_bytes=1 << 20),
        broker_url,
        client_id=client_id,
        share_group="bench",
        max_inflight=window,
        group_commit=group,
    )
    consumer.start()
    if not consumer.connected.wait(60):
        raise SystemExit("broker not reachable")
    connected.value = time.monotonic()
    ready.set()
    while not stop.is_set():
        count.value, dead.value = consumer.applied, consumer.dead_lettered
        time.sleep(0.005)
    consumer.stop()
    engine.dispose()


# Every table MQTT ingest writes to for these documents.
INGEST_TABLES = (
    events,
    event_bodies,
    event_epcs,
    event_fields,
    unit_events,
    batches,
    batch_lines,
    units,
    containers,
    shipments,
)
RAW_CHUNK_ROWS = 20_000


def raw_copy(table: Table, metadata: MetaData) -> Table:
    """An empty twin ``raw_<name>`` of ``table``: same columns, keys, indexes and layout
    (a table without rowid on SQLite stays one)."""
    copy = Table(
        f"raw_{table.name}",
        metadata,
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in table.columns
        ),
        **{f"sqlite_{k}": v for k, v in table.dialect_options["sqlite"].items() if v is not None},
    )
    for index in table.indexes:
        Index(f"raw_{index.name}", *(copy.c[c.name] for c in index.columns), unique=index.unique)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            UniqueConstraint(
                *(copy.c[c.name] for c in constraint.columns), name=f"raw_{constraint.name}"
            )
    return copy


def raw_insert(engine: Engine, total_units: int) -> float:
    """Units per second inserting, with the driver alone, the rows ingest wrote (every
    table, every column, as stored) into empty twins of the tables (same keys and
    indexes), in the same database: the ceiling for the ingest rate. SQLite: executemany,
    one transaction per chunk of rows; PostgreSQL: COPY, one transaction per chunk."""
    metadata = MetaData()
    twins = [(table, raw_copy(table, metadata)) for table in INGEST_TABLES]
    metadata.drop_all(engine)
    metadata.create_all(engine)
    postgres = engine.dialect.name == "postgresql"
    elapsed = 0.0
    reader = engine.raw_connection()
    writer = engine.raw_connection()
    try:
        source = reader.cursor()
        target = writer.cursor()
        for table, twin in twins:
            names = [c.name for c in table.columns]
            for rows in _chunks(source, table, names, postgres=postgres):
                start = time.perf_counter()
                if postgres:
                    statement = f"COPY {twin.name} ({', '.join(names)}) FROM STDIN"
                    with target.copy(statement) as copy:
                        for row in rows:
                            copy.write_row(row)
                    writer.commit()
                else:
                    marks = ", ".join("?" for _ in names)
                    target.execute("BEGIN")
                    target.executemany(f"INSERT INTO {twin.name} VALUES ({marks})", rows)
                    target.execute("COMMIT")
                elapsed += time.perf_counter() - start
    finally:
        reader.close()
        writer.close()
    metadata.drop_all(engine)
    return total_units / elapsed


def _chunks(source: Any, table: Table, names: list[str], *, postgres: bool) -> Iterator[list[Any]]:
    """The rows of ``table`` in chunks. On SQLite each chunk is its own short read (keyset on
    rowid, or on the primary key of a table without rowid): one SELECT left open over the
    whole table would pin the WAL, so no checkpoint could reset it while the twin is
    written, and at 10M units it grew past 50 GB."""
    columns = ", ".join(names)
    if postgres:
        source.execute(f"SELECT {columns} FROM {table.name}")
        while rows := source.fetchmany(RAW_CHUNK_ROWS):
            yield rows
        return
    rowid = table.dialect_options["sqlite"].get("with_rowid") is not False
    key = ["rowid"] if rowid else [c.name for c in table.primary_key.columns]
    keys = ", ".join(key)
    marks = ", ".join("?" for _ in key)
    last: tuple[Any, ...] | None = None
    while True:
        after = "" if last is None else f"WHERE ({keys}) > ({marks})"
        source.execute(
            f"SELECT {keys}, {columns} FROM {table.name} {after} ORDER BY {keys} LIMIT ?",
            (*(last or ()), RAW_CHUNK_ROWS),
        )
        rows = source.fetchall()
        if not rows:
            return
        last = tuple(rows[-1][: len(key)])
        yield [row[len(key) :] for row in rows]


def writer_only(engine: Engine, total_units: int, group: int) -> None:
    """The writer alone: pre-checked documents applied in-process, ``group`` documents a
    transaction, the rate printed per 100,000 units (no broker, no schema check)."""
    with write_transaction(engine) as conn:
        register_line(
            conn, "bench", "line1", [READ_POINT], actor="bench", reason="benchmark",
            now=datetime.now(UTC),
        )  # fmt: skip
    ingestor = Ingestor(engine, max_payload_bytes=1 << 20)
    origin = Origin("mqtt", "bench", "line1")
    step = 100_000 // UNITS_PER_CASE
    for first in range(0, total_units // UNITS_PER_CASE, step):
        checked = [
            ingestor.check(payload, origin, "bench") for payload in documents(first, step, first)
        ]
        start = time.perf_counter()
        for index in range(0, len(checked), group):
            ingestor.apply_checked(checked[index : index + group])
        rate = step * UNITS_PER_CASE / (time.perf_counter() - start)
        print(f"    {(first + step) * UNITS_PER_CASE:>10,} units: writer {rate:,.0f} units/s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def trace_timings(engine: Engine, samples: int) -> tuple[list[float], list[float]]:
    with read_transaction(engine) as conn:
        count = conn.execute(text("SELECT max(id) FROM units")).scalar_one()
        ids = random.Random(5).sample(range(1, count + 1), min(samples, count))
        keys = [
            UnitKey(row.gtin, row.serial)
            for row in conn.execute(select(units.c.gtin, units.c.serial).where(units.c.id.in_(ids)))
        ]
    full, chain = [], []
    with engine.connect() as conn:
        for key in keys:
            start = time.perf_counter()
            trace_unit(conn, key)
            full.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            unit_chain(conn, key)
            chain.append((time.perf_counter() - start) * 1000)
            conn.rollback()
    return full, chain


def autovacuum_workers(engine: Engine) -> int:
    """PostgreSQL autovacuum workers running now (they compete with the traces timed)."""
    if engine.dialect.name != "postgresql":
        return 0
    query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
    with engine.connect() as conn:
        return int(conn.execute(text(query)).scalar_one())


def database_bytes(engine: Engine, sqlite_path: Path | None) -> int:
    if sqlite_path is not None:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        )


def open_store(
    name: str, args: argparse.Namespace, workdir: Path, tag: str
) -> tuple[Engine, tuple[str, str | None], Path | None, str | None]:
    """A fresh, migrated store: (engine, (url, schema), SQLite path, PostgreSQL schema)."""
    if name == "sqlite":
        sqlite_path = workdir / f"bench-{tag}.db"
        store: tuple[str, str | None] = (f"sqlite:///{sqlite_path}", None)
        engine = create_store_engine(store[0])
        upgrade(engine)
        return engine, store, sqlite_path, None
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    store = (args.pg_url, schema)
    engine = create_store_engine(args.pg_url, schema=schema)
    upgrade(engine)
    return engine, store, None, schema


def drop_store(engine: Engine, args: argparse.Namespace, schema: str | None) -> None:
    engine.dispose()
    if schema is not None and not args.keep:
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def ingest_over(
    name: str, args: argparse.Namespace, workdir: Path, transport: str, tag: str
) -> tuple[float, Engine, tuple[str, str | None], Path | None, str | None]:
    """Seconds to ingest ``args.units`` over ``transport`` (``tls``: the production broker
    set-up, authenticated; ``plain``: an open broker) into a fresh store, and that store."""
    engine, store, sqlite_path, schema = open_store(name, args, workdir, tag)
    broker = start_mosquitto(workdir / f"broker-{tag}", secure=transport == "tls")
    try:
        seconds = mqtt_ingest(
            engine,
            store,
            broker,
            args.units // UNITS_PER_CASE,
            window=args.window,
            group=args.group_commit,
            consumers=args.consumers,
        )
    except BaseException:
        drop_store(engine, args, schema)
        raise
    finally:
        broker.stop()
    return seconds, engine, store, sqlite_path, schema


def run_engine(name: str, args: argparse.Namespace, workdir: Path) -> None:
    print(f"\n== {name}: {args.units:,} units ==", flush=True)
    if args.writer_only:
        engine, _, _, schema = open_store(name, args, workdir, "writer")
        try:
            writer_only(engine, args.units, args.group_commit)
        finally:
            drop_store(engine, args, schema)
        return
    transports = ["plain", "tls"] if args.transport == "both" else [args.transport]
    runs = [one for _ in range(args.repeat) for one in transports]
    rates: dict[str, list[float]] = {one: [] for one in transports}
    cases = args.units // UNITS_PER_CASE
    kept: tuple[Engine, Path | None, str | None] | None = None
    seconds = 0.0
    for index, transport in enumerate(runs):
        print(f"  ingest over {transport} ({index + 1} of {len(runs)})", flush=True)
        seconds, engine, _, sqlite_path, schema = ingest_over(
            name, args, workdir, transport, f"{name}-{transport}-{index}"
        )
        rates[transport].append(cases * UNITS_PER_CASE / seconds)
        if index == len(runs) - 1:
            kept = (engine, sqlite_path, schema)
        else:
            drop_store(engine, args, schema)
    assert kept is not None
    engine, sqlite_path, schema = kept
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        ingest_rate = rates[runs[-1]][-1]
        # Trace and recall first, on the store as ingest left it (as a serving store is):
        # the raw phase writes and drops a copy of every table, which evicts the store's
        # pages from the caches.
        vacuums = autovacuum_workers(engine)
        full, chain = trace_timings(engine, args.trace_samples)
        vacuums = max(vacuums, autovacuum_workers(engine))
        with read_transaction(engine) as conn:
            start = time.perf_counter()
            reach = batch_reach(conn, GTIN, "L00000")
            recall_seconds = time.perf_counter() - start
        assert reach is not None
        size = database_bytes(engine, sqlite_path)
        raw_rate = raw_insert(engine, args.units)
        how = "" if args.consumers == 1 else f", {args.consumers} processes"
        for transport in transports:
            each = ", ".join(f"{rate:,.0f}" for rate in rates[transport])
            label = "TLS + auth" if transport == "tls" else "plain TCP"
            print(
                f"  MQTT ingest, {label:<10} {statistics.median(rates[transport]):>10,.0f} "
                f"units/s  (median of: {each}{how})"
            )
        if len(transports) == 2:
            plain, tls = (statistics.median(rates[one]) for one in ("plain", "tls"))
            print(f"  TLS + auth against plain {tls / plain - 1:>+8.1%} ingest rate (- is slower)")
        print(
            f"  raw insert, same rows  {raw_rate:>10,.0f} units/s  "
            f"(ingest = {ingest_rate / raw_rate:.0%} of raw)"
        )
        print(
            f"  unit trace (full)      p50 {percentile(full, 0.5):.2f} ms  "
            f"p99 {percentile(full, 0.99):.2f} ms  ({len(full)} units)"
        )
        print(
            f"  unit + chain statement p50 {percentile(chain, 0.5):.2f} ms  "
            f"p99 {percentile(chain, 0.99):.2f} ms"
        )
        if vacuums:
            print(f"  (PostgreSQL autovacuum ran during the traces: {vacuums} worker(s))")
        print(
            f"  recall set of a batch  {recall_seconds * 1000:,.0f} ms  "
            f"({len(reach.unit_rows):,} units, {len(reach.containers):,} containers, "
            f"{len(reach.shipments):,} shipments)"
        )
        print(
            f"  database size          {size / args.units * 1e6 / 2**20:,.0f} MiB per million "
            f"units ({size / 2**20:,.0f} MiB)",
            flush=True,
        )
    finally:
        drop_store(engine, args, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 units, < 30 s")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default=os.environ.get("SERIALTRACE_TEST_PG_URL", "postgresql+psycopg:///test")
    )
    parser.add_argument(
        "--window", type=int, default=400, help="MQTT receive window (max in flight)"
    )
    parser.add_argument(
        "--group-commit", type=int, default=200, help="messages per ingest transaction"
    )
    parser.add_argument(
        "--writer-only",
        action="store_true",
        help="time only the writer (in-process, pre-checked documents), per 100,000 units",
    )
    parser.add_argument(
        "--consumers",
        type=int,
        default=1,
        help="ingest processes on an MQTT 5 shared subscription (default: one, in-process)",
    )
    parser.add_argument(
        "--transport",
        choices=["tls", "plain", "both"],
        default="both",
        help="MQTT over TLS with authentication, plain TCP, or both (default)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="ingest runs per transport, alternated"
    )
    parser.add_argument(
        "--no-seq",
        action="store_true",
        help="events without line sequence numbers (no delivery tracking): the before figure",
    )
    parser.add_argument("--trace-samples", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    args = parser.parse_args()
    # The benchmark's documents carry fixed 2025 event times: widen the ingest window (the
    # receiver processes it starts inherit it through the environment).
    from server.ingest.prepare import set_event_time_window

    set_event_time_window(36500, 36500)
    if args.no_seq:
        os.environ[NO_SEQ_ENV] = "1"  # the publisher and receiver processes inherit it
    if args.quick:
        args.units, args.trace_samples = 20_000, 300
    args.units -= args.units % (UNITS_PER_CASE * CASES_PER_PALLET)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for name in engines:
            run_engine(name, args, Path(tmp))


if __name__ == "__main__":
    main()
