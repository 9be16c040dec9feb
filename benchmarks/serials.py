"""Serial-number throughput: FF3-1 generation, durable pool, SSCCs, GS1 make+parse.

Run: ``.venv/bin/python benchmarks/serials.py`` (real sizes) or ``--quick`` (< 30 s).
Prints serials issued per second on one core (goal: >= 100,000/s with durability amortised
per range), GS1 element strings made and parsed per second (every rule of the Barcode Syntax
Dictionary on; goal: >= 13,000/s), and Digital Link, EPC URI and compressed Digital Link
parses per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ff3 import FF3Cipher

# This folder holds edge.py and server.py: put the repository first so that `edge` and
# `server` are the packages, not those scripts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gs1
import gs1.identifiers
from edge.serials import CounterAllocator, SerialPool, SsccPool, gtin_scope
from gs1.serials import CSET82, NUMERIC, SAFE, SerialGenerator, SerialKey, SerialScheme, gtin_tweak

GTIN = gs1.Gtin.parse("09506000134352")
KEY = SerialKey(bytes.fromhex("2DE79D232DF5585D68CE47882AE256D6" * 2))


def rate(count: int, action: Callable[[], object]) -> tuple[float, float]:
    """(items per second, seconds) of one run of ``action`` that yields ``count`` items."""
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    return count / seconds, seconds


def line(label: str, per_second: float, seconds: float, note: str = "") -> None:
    print(f"  {label:<44} {per_second:>12,.0f} /s  ({seconds:6.2f} s){note}")


def bench_generator(count: int) -> None:
    print(f"FF3-1 generator, batched, {count:,} serials per scheme (no allocator):")
    for scheme in (SerialScheme(NUMERIC, 12), SerialScheme(SAFE, 10), SerialScheme(CSET82, 20)):
        generator = SerialGenerator(KEY, GTIN, scheme)
        per_second, seconds = rate(count, partial(generator.serials, 0, count))
        line(f"serials({scheme.name})", per_second, seconds)
    reference = FF3Cipher(KEY.hex(), gtin_tweak(GTIN).hex(), 10)
    sample = max(count // 50, 2000)
    plaintexts = [f"{c:012d}" for c in range(sample)]
    per_second, seconds = rate(sample, lambda: [reference.encrypt(p) for p in plaintexts])
    line("PyPI ff3, one call per serial (numeric/12)", per_second, seconds)


def bench_pool(count: int, folder: Path) -> None:
    range_size = 10_000
    print(
        f"SerialPool (SQLite WAL, synchronous=FULL, range {range_size:,}), {count:,} serials, "
        f"database in {folder}:"
    )
    for method in ("take", "take_many"):
        allocator = CounterAllocator(folder / f"{method}.db")
        pool = SerialPool(
            allocator,
            SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 12)),
            line="bench",
            range_size=range_size,
        )
        per_second, seconds = rate(count, partial(_drain, pool, method, count))
        leases = len(allocator.leases("sgtin", GTIN.value))
        line(f"pool.{method}()", per_second, seconds, f"  {leases} durable leases")
    allocator = CounterAllocator(folder / "leases.db")
    scope = gtin_scope(SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 12)))
    leases = 200
    per_second, seconds = rate(
        leases, lambda: [allocator.lease(scope, "bench", range_size) for _ in range(leases)]
    )
    line("allocator.lease() (one fsynced commit each)", per_second, seconds,
         f"  {1000 * seconds / leases:.2f} ms per lease")  # fmt: skip
    sscc_pool = SsccPool(
        CounterAllocator(folder / "sscc.db"),
        extension=0,
        company_prefix="9506000",
        line="bench",
        range_size=1000,
    )
    sscc_count = max(count // 20, 1000)
    per_second, seconds = rate(sscc_count, lambda: [sscc_pool.take() for _ in range(sscc_count)])
    line("SsccPool.take() (range 1,000)", per_second, seconds)


def _drain(pool: SerialPool, method: str, count: int) -> None:
    """Take ``count`` serials one by one, or 1,000 at a time."""
    if method == "take":
        take = pool.take
        for _ in range(count):
            take()
    else:
        for _ in range(count // 1000):
            pool.take_many(1000)


def bench_gs1(count: int) -> None:
    print(f"GS1 UnitCode make + element_string + gs1.parse, {count:,} codes:")
    serials = SerialGenerator(KEY, GTIN, SerialScheme(CSET82, 12)).serials(0, count)

    def make_and_parse() -> None:
        for serial in serials:
            code = gs1.UnitCode.create(gtin=GTIN, serial=serial, lot="LOT2611", expiry="281130")
            if gs1.parse(code.element_string()) != code:
                raise AssertionError(f"round trip failed for {serial!r}")

    per_second, seconds = rate(count, make_and_parse)
    line("make + parse", per_second, seconds)

    codes = [
        gs1.UnitCode.create(gtin=GTIN, serial=serial, lot="LOT2611", expiry="281130")
        for serial in serials[: max(count // 10, 1000)]
    ]
    links = [code.digital_link() for code in codes]
    per_second, seconds = rate(len(links), lambda: [gs1.parse(link) for link in links])
    line("parse Digital Link (strict)", per_second, seconds)
    uris = [code.sgtin_uri(7) for code in codes]
    per_second, seconds = rate(
        len(uris), lambda: [gs1.identifiers.parse_identifier(uri) for uri in uris]
    )
    line("parse_identifier(SGTIN EPC URI)", per_second, seconds)
    compressed = [gs1.compress_digital_link(code.elements()) for code in codes]
    per_second, seconds = rate(len(compressed), lambda: [gs1.parse(c) for c in compressed])
    line("parse compressed Digital Link", per_second, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under 30 s")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.cwd(),
        help="where the throw-away SQLite databases go (default: here; /tmp may be RAM)",
    )
    args = parser.parse_args()
    count = 100_000 if args.quick else 1_000_000
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}, one core")
    bench_generator(count)
    with tempfile.TemporaryDirectory(prefix="serials-bench-", dir=args.dir) as folder:
        bench_pool(count, Path(folder))
    bench_gs1(count // 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
