"""Per-event cost of the EPCIS hot paths: build + hash + encode at the edge, validate at the server.

Run: ``.venv/bin/python benchmarks/epcis_events.py`` (real sizes) or ``--quick`` (< 30 s).
Prints microseconds per event (best of several rounds, one core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# This folder holds edge.py and server.py: put the repository first so that `edge` and
# `server` are the packages, not those scripts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import epcis
from epcis import validation

READ_POINT = "urn:epc:id:sgln:0950600.00001.L1"
SITE = "urn:epc:id:sgln:0950600.00001.0"
T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def _unit(i: int) -> str:
    return f"urn:epc:id:sgtin:0950600.013435.S{i:011d}"


def _commission(i: int) -> epcis.ObjectEvent:
    return epcis.commissioning_event(
        [_unit(i)],
        event_time=T0 + timedelta(milliseconds=i),
        read_point=READ_POINT,
        biz_location=SITE,
        lot="LOT2611",
        expiry=date(2028, 11, 30),
    )


def _best_per_item(run: Callable[[int], object], items: int, rounds: int) -> float:
    """Best-of-``rounds`` wall time per item, in microseconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(items):
            run(i)
        best = min(best, time.perf_counter() - start)
    return best / items * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, finishes in seconds")
    args = parser.parse_args()
    items, rounds, batch = (2_000, 3, 100) if args.quick else (20_000, 5, 500)

    events = [_commission(i) for i in range(batch)]
    single_docs = [epcis.encode_document([e], creation_date=T0) for e in events]
    batch_doc = epcis.encode_document(events, creation_date=T0)
    single_texts = [json.dumps(d) for d in single_docs]
    encoded_events = [d["epcisBody"]["eventList"][0] for d in single_docs]
    validation._fast_validator()  # compile outside the timings (reported separately below)
    start = time.perf_counter()
    validation._certain_validator()
    certain_compile = time.perf_counter() - start
    start = time.perf_counter()
    validation._explaining_validator()
    explain_compile = time.perf_counter() - start

    rows = [
        (
            "build commissioning event (with eventID hash)",
            _best_per_item(_commission, items, rounds),
        ),
        (
            "build + encode_document (1 event)",
            _best_per_item(
                lambda i: epcis.encode_document([_commission(i)], creation_date=T0), items, rounds
            ),
        ),
        (
            "build + encode_document + json.dumps (1 event)",
            _best_per_item(
                lambda i: json.dumps(epcis.encode_document([_commission(i)], creation_date=T0)),
                items,
                rounds,
            ),
        ),
        (
            "event_hash of a JSON event",
            _best_per_item(lambda i: epcis.event_hash(encoded_events[i % batch]), items, rounds),
        ),
        (
            "validate_document, 1-event document",
            _best_per_item(
                lambda i: epcis.validate_document(single_docs[i % batch]), items, rounds
            ),
        ),
        (
            f"validate_document, {batch}-event document (per event)",
            _best_per_item(lambda i: epcis.validate_document(batch_doc), 1, rounds) / batch,
        ),
        (
            "  of which the certain check (jsonschema-rs), 1-event doc",
            _best_per_item(
                lambda i: validation.certainly_valid(single_docs[i % batch]), items, rounds
            ),
        ),
        (
            "the authority alone (fastjsonschema), 1-event document",
            _best_per_item(
                lambda i: validation._fast_validator()(single_docs[i % batch]), items, rounds
            ),
        ),
        (
            "json.loads + validate + decode_document (1 event)",
            _best_per_item(
                lambda i: epcis.decode_document(_validated(json.loads(single_texts[i % batch]))),
                items,
                rounds,
            ),
        ),
        (
            "jsonschema (explaining validator), 1-event document",
            _best_per_item(
                lambda i: list(
                    validation._explaining_validator().iter_errors(single_docs[i % batch])
                ),
                max(items // 10, 50),
                rounds,
            ),
        ),
    ]
    start = time.perf_counter()
    validation._fast_validator.cache_clear()
    validation._fast_validator()
    fast_compile = time.perf_counter() - start

    print(f"epcis hot paths ({'quick' if args.quick else 'full'}: {items} items x {rounds} rounds)")
    for label, micros in rows:
        print(f"  {label:<56} {micros:8.1f} us/event")
    print(
        f"  {'one-off: compile fast validator (fastjsonschema)':<56} {fast_compile * 1e3:8.1f} ms"
    )
    label = "one-off: compile certain validator (jsonschema-rs)"
    print(f"  {label:<56} {certain_compile * 1e3:8.1f} ms")
    label = "one-off: build explaining validator (jsonschema)"
    print(f"  {label:<56} {explain_compile * 1e3:8.1f} ms")


def _validated(doc: dict[str, object]) -> dict[str, object]:
    epcis.check_document(doc)
    return doc


if __name__ == "__main__":
    main()
