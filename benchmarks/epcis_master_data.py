"""EPCIS master-data queries and identifier translation: what they cost per query.

Builds a SQLite store (in a temporary folder) with a location hierarchy of one site, 20
halls and 50 docks a hall (1,021 locations, captured as master data with a city attribute
each) and N events (20,000 by default) at random docks, 10 SGTINs each. Then times, as
``GET /epcis/events`` runs them (first page of 100 events, bodies read and decoded):

1. ``EQ_readPoint`` = one dock (no master data);
2. ``WD_readPoint`` = the site (1,021 locations resolved, then the indexed column);
3. ``WD_readPoint`` = one hall (51 locations);
4. ``EQATTR_readPoint_cbvmda:city`` = one city (50 docks);

and the translation of one page of 100 events (1,000 EPCs, read points) to GS1 Digital Link
and back to EPC URIs (``GS1-EPC-Format``), with the identifier caches emptied before each
run (cold) and kept (cached). Prints p50/p99 in milliseconds.

    .venv/bin/python benchmarks/epcis_master_data.py [--events 20000] [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gs1.epc import parse_epc_uri
from gs1.identifiers import _to_epc_uri, parse_identifier, to_digital_link
from server.epc_format import apply_epc_format
from server.ingest.apply import Origin
from server.ingest.prepare import set_event_time_window
from server.ingest.service import Ingestor
from server.masterdata import capture_master_data
from server.store import create_store_engine, read_transaction, upgrade, write_transaction
from server.store.event_query import run_query

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SITE = "urn:epc:id:sgln:0614141.00000.0"
CACHES = (parse_epc_uri, parse_identifier, to_digital_link, _to_epc_uri)


def hall(h: int) -> str:
    return f"urn:epc:id:sgln:0614141.{h + 1:05d}.0"


def dock(h: int, d: int) -> str:
    return f"urn:epc:id:sgln:0614141.{h + 1:05d}.{d + 1}"


def master_data() -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"id": SITE, "children": [hall(h) for h in range(20)]}]
    for h in range(20):
        elements.append({"id": hall(h), "children": [dock(h, d) for d in range(50)]})
        for d in range(50):
            city = {"id": "urn:epcglobal:cbv:mda#city", "attribute": f"City{h}"}
            elements.append({"id": dock(h, d), "attributes": [city]})
    vocabulary = {
        "type": "urn:epcglobal:epcis:vtype:ReadPoint",
        "vocabularyElementList": elements,
    }
    return {"@context": CONTEXT, "epcisBody": {"vocabularyList": [vocabulary]}}


def events(count: int, rng: random.Random) -> list[dict[str, Any]]:
    found = []
    for n in range(count):
        found.append(
            {
                "type": "ObjectEvent",
                "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
                "eventTime": f"2031-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "eventTimeZoneOffset": "+00:00",
                "action": "OBSERVE",
                "bizStep": "receiving",
                "epcList": [f"urn:epc:id:sgtin:0614141.107346.B{n}x{k}" for k in range(10)],
                "readPoint": {"id": dock(rng.randrange(20), rng.randrange(50))},
            }
        )
    return found


def timed(runs: int, call: Callable[[], object]) -> str:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"p50 {statistics.median(times):7.2f} ms  p99 {p99:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    set_event_time_window(36500.0, 36500.0)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(engine)
        with write_transaction(engine) as conn:
            capture_master_data(conn, master_data(), user="bench", now=datetime.now(UTC))
        ingestor = Ingestor(engine, max_payload_bytes=64 * 1024 * 1024)
        all_events = events(args.events, rng)
        for start in range(0, len(all_events), 500):
            document = {
                "@context": CONTEXT,
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2031-01-01T00:00:00Z",
                "epcisBody": {"eventList": all_events[start : start + 500]},
            }
            ingestor.capture(document, Origin("http"))
        print(f"SQLite, {args.events} events, 1,021 locations, {args.runs} runs each")
        queries = {
            "EQ_readPoint (one dock)": {"EQ_readPoint": [dock(3, 7)]},
            "WD_readPoint (site, 1,021 locations)": {"WD_readPoint": [SITE]},
            "WD_readPoint (hall, 51 locations)": {"WD_readPoint": [hall(3)]},
            "EQATTR_readPoint_cbvmda:city (50 docks)": {"EQATTR_readPoint_cbvmda:city": ["City3"]},
        }
        page: list[dict[str, Any]] = []
        for label, params in queries.items():

            def run(params: dict[str, list[str]] = params) -> None:
                nonlocal page
                with read_transaction(engine) as conn:
                    page = run_query(conn, params, per_page=100).events

            print(f"{label:45} {timed(args.runs, run)}")
        with read_transaction(engine) as conn:
            page = run_query(conn, {"WD_readPoint": [SITE]}, per_page=100).events
            links, _ = apply_epc_format(conn, page, "Always_GS1_Digital_Link")
            for mode, given in (("Always_GS1_Digital_Link", page), ("Always_EPC_URN", links)):
                for cold in (True, False):

                    def translate(mode: str = mode, given: Any = given, cold: bool = cold) -> None:
                        if cold:  # nothing parsed before: every identifier new
                            for cached in CACHES:
                                cached.cache_clear()
                        apply_epc_format(conn, given, mode)

                    label = f"{mode}, 100 events ({'cold' if cold else 'cached'})"
                    print(f"{label:45} {timed(args.runs, translate)}")
        engine.dispose()


if __name__ == "__main__":
    main()
