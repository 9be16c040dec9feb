"""EPCIS query benchmark: latency of five typical trading-partner queries, beside the unit
trace, on a store of N units (1M by default; ``--units 10000000`` for 10M).

Loads N units through the server's own ingest writer (checked and prepared documents
applied in groups, as the MQTT consumer does; no broker: this measures queries, not
ingest): cases of 20 units, pallets of 50 cases, a batch (lot) per 100,000 units, a
shipping event per pallet with a purchase order, a destination and an owning party, so that
every query below has its index to use. Then times, over random targets, each query as
``GET /epcis/events`` runs it (:func:`server.store.event_query.run_query`, first page of 100
events, bodies read and decoded), and prints p50/p99 in milliseconds:

1. one unit's events (``MATCH_anyEPC`` = an SGTIN: the DSCSA verification/trace question);
2. a pallet's packing event (``MATCH_parentID`` = an SSCC);
3. the commissioning of one lot (``EQ_bizStep=commissioning`` and ``EQ_ILMD_cbvmda:lotNumber``);
4. what was shipped to one customer in one day (``EQ_bizStep=shipping``,
   ``EQ_destination_owning_party``, ``GE_eventTime``/``LT_eventTime``);
5. the events of one purchase order (``EQ_bizTransaction_po``);

and the unit trace (:func:`server.store.queries.trace_unit`) for comparison.

    .venv/bin/python benchmarks/epcis_query.py                       # 1M units, both engines
    .venv/bin/python benchmarks/epcis_query.py --units 10000000 --engine postgresql
    .venv/bin/python benchmarks/epcis_query.py --quick               # 20k units
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import secrets
import signal
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, select, text

import gs1
from server.identifiers import UnitKey
from server.ingest.apply import Origin
from server.ingest.prepare import prepare_document, set_event_time_window
from server.ingest.service import Checked, Ingestor
from server.ingest.validation import decode_payload
from server.store import create_store_engine, read_transaction, upgrade
from server.store.event_query import run_query
from server.store.queries import trace_unit
from server.store.schema import units

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
PREFIX, ITEM = "0614141", "107346"
GTIN = "1" + PREFIX + "07346"
GTIN += gs1.check_digit(GTIN)
UNITS_PER_CASE, CASES_PER_PALLET, CASES_PER_DOC = 20, 50, 5
BATCH_UNITS = 100_000
CUSTOMERS = 100
GROUP = 200  # documents per ingest transaction
ROUND = 2000  # documents prepared ahead of the writer at most
ALPHABET = string.ascii_uppercase + string.digits


def sscc_uri(number: int, extension: int) -> str:
    return f"urn:epc:id:sscc:{PREFIX}.{extension}{number:09d}"


def customer(pallet: int) -> str:
    return f"urn:epc:id:pgln:4012345.{pallet % CUSTOMERS:05d}"


def ship_day(pallet: int) -> str:
    return f"2025-{1 + pallet // 2800 % 12:02d}-{1 + pallet % 28:02d}"


def po(pallet: int) -> str:
    return f"urn:epc:id:gdti:0614141.00001.{pallet}"


def documents(cases: int, seed: int) -> Iterator[bytes]:
    """EPCIS documents for ``cases`` cases (100 units a document)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    base = {"eventTimeZoneOffset": "+00:00", "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1"}}
    for case in range(cases):
        lot = f"L{case * UNITS_PER_CASE // BATCH_UNITS:05d}"
        epcs = [
            f"urn:epc:id:sgtin:{PREFIX}.{ITEM}.{''.join(rng.choices(ALPHABET, k=16))}"
            for _ in range(UNITS_PER_CASE)
        ]
        events.append(
            {
                **base,
                "type": "ObjectEvent",
                "eventID": f"urn:uuid:c-{case}",
                "eventTime": "2025-01-01T08:00:00Z",
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
                "eventTime": "2025-01-01T08:00:01Z",
                "action": "ADD",
                "bizStep": "packing",
                "parentID": sscc_uri(case, 0),
                "childEPCs": epcs,
            }
        )
        if (case + 1) % CASES_PER_PALLET == 0:
            pallet = case // CASES_PER_PALLET
            events.append(
                {
                    **base,
                    "type": "AggregationEvent",
                    "eventID": f"urn:uuid:p-{pallet}",
                    "eventTime": "2025-01-01T08:10:00Z",
                    "action": "ADD",
                    "bizStep": "packing",
                    "parentID": sscc_uri(pallet, 1),
                    "childEPCs": [
                        sscc_uri(c, 0) for c in range(case + 1 - CASES_PER_PALLET, case + 1)
                    ],
                }
            )
            events.append(
                {
                    **base,
                    "type": "ObjectEvent",
                    "eventID": f"urn:uuid:s-{pallet}",
                    "eventTime": f"{ship_day(pallet)}T10:00:00Z",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "epcList": [sscc_uri(pallet, 1)],
                    "bizTransactionList": [{"type": "po", "bizTransaction": po(pallet)}],
                    "destinationList": [
                        {"type": "owning_party", "destination": customer(pallet)},
                        {"type": "location", "destination": "urn:epc:id:sgln:4012345.00001.0"},
                    ],
                }
            )
        if (case + 1) % CASES_PER_DOC == 0 or case == cases - 1:
            yield json.dumps(
                {
                    "@context": CONTEXT,
                    "type": "EPCISDocument",
                    "schemaVersion": "2.0",
                    "creationDate": "2025-01-01T08:00:00Z",
                    "epcisBody": {"eventList": events},
                }
            ).encode()
            events = []


ORIGIN = Origin("mqtt", "bench", "line1")


def check(payload: bytes) -> Checked:
    """Decode, schema-check and prepare one document (in a worker process, as the MQTT
    receiver process does: :meth:`Ingestor.check`)."""
    document = decode_payload(payload, max_bytes=1 << 20)
    return Checked(payload, ORIGIN, "bench", prepared=prepare_document(document, ORIGIN))


def load(engine: Engine, total_units: int) -> float:
    """Ingest ``total_units`` units; the seconds it took. Documents are checked and prepared
    by worker processes; the writer applies them in groups, as MQTT ingest does."""
    ingestor = Ingestor(engine, max_payload_bytes=1 << 20)
    start = time.perf_counter()
    source = documents(total_units // UNITS_PER_CASE, seed=7)
    with multiprocessing.Pool(2) as pool:
        while True:
            # A round of ROUND documents at a time: what is prepared waits in memory only
            # until the writer applies it (unbounded, 10M units would be gigabytes).
            payloads = list(itertools.islice(source, ROUND))
            if not payloads:
                break
            checked = pool.map(check, payloads, 50)
            for index in range(0, len(checked), GROUP):
                ingestor.apply_checked(checked[index : index + GROUP])
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(engine: Engine, runs: list[Callable[[Any], Any]]) -> list[float]:
    times = []
    with engine.connect() as conn:
        for run in runs:
            start = time.perf_counter()
            run(conn)
            times.append((time.perf_counter() - start) * 1000)
            conn.rollback()
    return times


def query(params: dict[str, str], expect_some: bool = True) -> Callable[[Any], Any]:
    def run(conn: Any) -> None:
        page = run_query(conn, {k: [v] for k, v in params.items()}, per_page=100)
        if expect_some and not page.events:
            raise AssertionError(f"no events for {params}")

    return run


def measure(engine: Engine, total_units: int, samples: int) -> None:
    rng = random.Random(11)
    pallets = total_units // UNITS_PER_CASE // CASES_PER_PALLET
    with read_transaction(engine) as conn:
        count = conn.execute(text("SELECT max(id) FROM units")).scalar_one()
        ids = rng.sample(range(1, count + 1), min(samples, count))
        keys = [
            UnitKey(row.gtin, row.serial)
            for row in conn.execute(select(units.c.gtin, units.c.serial).where(units.c.id.in_(ids)))
        ]
    unit_uris = [f"urn:epc:id:sgtin:{PREFIX}.{ITEM}.{key.serial}" for key in keys]
    lots = max(1, total_units // BATCH_UNITS)
    picks = [rng.randrange(pallets) for _ in range(samples)]
    suites: list[tuple[str, list[Callable[[Any], Any]]]] = [
        ("1 unit's events (MATCH_anyEPC)", [query({"MATCH_anyEPC": uri}) for uri in unit_uris]),
        (
            "2 pallet packing (MATCH_parentID)",
            [query({"MATCH_parentID": sscc_uri(p, 1)}) for p in picks],
        ),
        (
            "3 lot commissioning (bizStep + ILMD lot)",
            [
                query(
                    {
                        "EQ_bizStep": "commissioning",
                        "EQ_ILMD_cbvmda:lotNumber": f"L{rng.randrange(lots):05d}",
                    }
                )
                for _ in picks
            ],
        ),
        (
            "4 shipped to a customer on a day",
            [
                query(
                    {
                        "EQ_bizStep": "shipping",
                        "EQ_destination_owning_party": customer(p),
                        "GE_eventTime": f"{ship_day(p)}T00:00:00Z",
                        "LT_eventTime": f"{ship_day(p)}T23:59:59.999Z",
                    }
                )
                for p in picks
            ],
        ),
        (
            "5 one purchase order (EQ_bizTransaction_po)",
            [query({"EQ_bizTransaction_po": po(p)}) for p in picks],
        ),
        (
            "unit trace (QA, for comparison)",
            [lambda conn, key=key: trace_unit(conn, key) for key in keys],
        ),
    ]
    for name, runs in suites:
        times = timed(engine, runs)
        print(
            f"  {name:<44} p50 {percentile(times, 0.5):7.2f} ms  "
            f"p99 {percentile(times, 0.99):7.2f} ms  ({len(times)} queries)",
            flush=True,
        )


def run_engine(name: str, args: argparse.Namespace, workdir: Path) -> None:
    print(f"\n== {name}: {args.units:,} units ==", flush=True)
    admin = None
    schema = None
    if name == "sqlite":
        engine = create_store_engine(f"sqlite:///{workdir / 'query-bench.db'}")
    else:
        schema = f"qbench_{secrets.token_hex(4)}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_store_engine(args.pg_url, schema=schema)
    try:
        upgrade(engine)
        seconds = load(engine, args.units)
        print(f"  loaded in {seconds:.0f} s ({args.units / seconds:,.0f} units/s)")
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        measure(engine, args.units, args.samples)
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def main() -> None:
    # A benchmark stopped with SIGTERM still drops its PostgreSQL schema (finally clauses).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    set_event_time_window(36500, 36500)  # the generated events are dated 2025
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 units")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url", default=os.environ.get("SERIALTRACE_TEST_PG_URL", "postgresql+psycopg:///test")
    )
    parser.add_argument("--samples", type=int, default=500, help="queries of each kind")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    args = parser.parse_args()
    if args.quick:
        args.units, args.samples = 20_000, 100
    args.units -= args.units % (UNITS_PER_CASE * CASES_PER_PALLET)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for name in engines:
            run_engine(name, args, Path(tmp))


if __name__ == "__main__":
    main()
