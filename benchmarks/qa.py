"""QA benchmark: a full mock-recall drill of one 100,000-unit batch (goal: under 5 s).

Builds the batch in a fresh store: units in cases of 20, cases in pallets of 50, every
pallet shipped (10 shipments to 4 customers), a production record that reconciles, a QC
result and 3 raw-material lots. The rows are BULK INSERTS of exactly the rows the server's
ingest writes for those EPCIS events (units, containers, shipments, batch) — not the MQTT
ingest path, whose rate ``benchmarks/server.py`` measures — plus the QA rows through
:mod:`server.qa.release`. Then it times, three times each (best and median printed):

* the drill (:func:`server.qa.drills.run_drill`): backward (batch record, raw materials,
  batches sharing them), forward (every unit, case, pallet, shipment, customer),
  completeness, HTML and PDF report, stored in ``qa_drills``;
* opening a recall of the batch (reach computed and 100,000 unit rows frozen).

    .venv/bin/python benchmarks/qa.py              # 100,000 units, SQLite
    .venv/bin/python benchmarks/qa.py --pg         # ... and PostgreSQL (postgresql:///test)
    .venv/bin/python benchmarks/qa.py --quick      # 10,000 units, < 30 s
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, text

import gs1
from server.auth import Role, User
from server.qa import drills, recalls, release
from server.store import create_store_engine, upgrade, write_transaction
from server.store.dialect import bulk_insert
from server.store.schema import batches, containers, shipments, units

PREFIX, ITEM = "0614141", "107346"
GTIN = "1" + PREFIX + "07346"
GTIN += gs1.check_digit(GTIN)
UNITS_PER_CASE, CASES_PER_PALLET = 20, 50
CUSTOMERS = [f"urn:epc:id:pgln:40123{i}.00000" for i in range(4)]
SHIPMENTS = 10
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
QA = User(1, "bench-qa", Role.QA)


def sscc(number: int, extension: int) -> str:
    body = f"{extension}{PREFIX}{number:09d}"
    return body + gs1.check_digit(body)


def build(engine: Engine, n_units: int) -> release.BatchRef:
    pallets = -(-n_units // (UNITS_PER_CASE * CASES_PER_PALLET))
    with write_transaction(engine) as conn:
        batch_id = conn.execute(
            batches.insert().returning(batches.c.id),
            {
                "gtin": GTIN,
                "lot": "BENCH1",
                "expiry": "2027-12-31",
                "site": "S1",
                "line": "L1",
                "first_seen": T0,
                "disposition": "active",
            },
        ).scalar_one()
        per_shipment = -(-pallets // SHIPMENTS)
        shipment_ids = []
        for s in range(SHIPMENTS):
            ssccs = [
                sscc(p, 1) for p in range(s * per_shipment, min(pallets, (s + 1) * per_shipment))
            ]
            shipment_ids.append(
                conn.execute(
                    shipments.insert().returning(shipments.c.id),
                    {
                        "event_pk": s + 1,
                        "shipped_at": T0 + timedelta(days=1, hours=s),
                        "destination": f"urn:epc:id:sgln:40123{s % 4}.00001.0",
                        "customer": CUSTOMERS[s % 4],
                        "biz_transaction": f"urn:epc:id:gdti:4012345.00001.{s}",
                        "ssccs": json.dumps(ssccs),
                        "detail": "{}",
                    },
                ).scalar_one()
            )
        pallet_ids = []
        for p in range(pallets):
            pallet_ids.append(
                conn.execute(
                    containers.insert().returning(containers.c.id),
                    {
                        "sscc": sscc(p, 1),
                        "epc": f"urn:epc:id:sscc:{PREFIX}.1{p:09d}",
                        "level": 2,
                        "parent_id": None,
                        "shipment_id": shipment_ids[p // per_shipment],
                        "status": "packed",
                        "site": "S1",
                        "line": "L1",
                        "created_at": T0,
                    },
                ).scalar_one()
            )
        case_rows = [
            {
                "sscc": sscc(c, 0),
                "epc": f"urn:epc:id:sscc:{PREFIX}.0{c:09d}",
                "level": 1,
                "parent_id": pallet_ids[c // CASES_PER_PALLET],
                "shipment_id": None,
                "status": "packed",
                "site": "S1",
                "line": "L1",
                "created_at": T0,
            }
            for c in range(-(-n_units // UNITS_PER_CASE))
        ]
        conn.execute(containers.insert(), case_rows)
        first_case = conn.execute(
            text("SELECT min(id) FROM containers WHERE level = 1")
        ).scalar_one()
        rows = [
            (
                GTIN,
                f"B{i:09d}",
                batch_id,
                first_case + i // UNITS_PER_CASE,
                None,
                "active",
                None,
                "active",
                1,
            )
            for i in range(n_units)
        ]
        columns = (
            "gtin",
            "serial",
            "batch_id",
            "parent_id",
            "shipment_id",
            "status",
            "status_reason",
            "disposition",
            "commission_event",
        )
        for start in range(0, len(rows), 10_000):
            bulk_insert(conn, units, columns, rows[start : start + 10_000])
        batch = release.BatchRef(int(batch_id), GTIN, "BENCH1")
        release.record_production(
            conn,
            batch,
            release.ProductionRecord(
                line="L1",
                started_at=T0,
                finished_at=T0 + timedelta(hours=8),
                planned=n_units,
                produced=n_units + 30,
                rejected=20,
                sampled=10,
                scrapped=0,
                deviations=[],
                updated_at=T0,
                updated_by=QA.username,
            ),
            reason="benchmark",
        )
        release.add_inspection(
            conn,
            batch,
            test="assay",
            specification="95-105 %",
            result="99.8 %",
            passed=True,
            tested_at=T0,
            approver=QA,
            now=T0,
            reason="benchmark",
        )
        for m in range(3):
            release.add_material_lot(
                conn,
                batch,
                material=f"material {m}",
                supplier="Acme",
                supplier_lot=f"RM-{m}",
                received_at=T0 - timedelta(days=9),
                quantity=10.0,
                uom="KGM",
                user=QA,
                now=T0,
                reason="benchmark",
            )
    return batch


def timed(label: str, runs: int, action: Callable[[], object]) -> list[float]:
    figures = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        figures.append(time.perf_counter() - start)
    print(
        f"  {label}: best {min(figures):.3f} s, median {statistics.median(figures):.3f} s "
        f"({runs} runs)"
    )
    return figures


def bench(engine: Engine, n_units: int, runs: int) -> None:
    start = time.perf_counter()
    batch = build(engine, n_units)
    print(f"  built {n_units:,} units in {time.perf_counter() - start:.1f} s (bulk insert)")
    phases: list[dict[str, float]] = []

    def drill() -> None:
        with write_transaction(engine) as conn:
            result = drills.run_drill(conn, batch, run_by="bench", now=datetime.now(UTC))
        assert result.complete, result.gaps
        assert result.counts["units"] == n_units and result.counts["customers"] == 4
        phases.append(result.timings)

    timed("full drill (backward + forward + completeness + HTML/PDF report)", runs, drill)
    for phase in phases[0]:
        values = [p[phase] for p in phases]
        print(f"    {phase}: median {statistics.median(values):.3f} s")

    def recall() -> None:
        with write_transaction(engine) as conn:
            recall_id = recalls.open_recall(
                conn,
                batch_refs=[batch],
                material_lot=None,
                recall_class=recalls.RecallClass.II,
                reason="benchmark",
                user=QA,
                now=datetime.now(UTC),
            )
            status = recalls.recall_status(conn, recall_id)
            assert status.units == n_units
            conn.rollback()  # keep the store as built for the next run

    timed("open recall (reach + freeze units) + status", runs, recall)


@contextmanager
def sqlite_store() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{folder}/qa.db")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def pg_store(url: str) -> Iterator[Engine]:
    schema = f"bench_qa_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_store_engine(url, schema=schema)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000 units, < 30 s")
    parser.add_argument("--pg", action="store_true", help="also PostgreSQL")
    parser.add_argument("--pg-url", default="postgresql+psycopg:///test")
    args = parser.parse_args()
    n_units = 10_000 if args.quick else args.units
    if n_units < UNITS_PER_CASE * CASES_PER_PALLET * SHIPMENTS:
        parser.error(f"--units: expected at least {UNITS_PER_CASE * CASES_PER_PALLET * SHIPMENTS}")
    print(f"SQLite, {n_units:,} units")
    with sqlite_store() as engine:
        bench(engine, n_units, args.runs)
    if args.pg:
        print(f"PostgreSQL, {n_units:,} units")
        with pg_store(args.pg_url) as engine:
            bench(engine, n_units, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
