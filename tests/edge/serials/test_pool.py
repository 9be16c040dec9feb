"""Serial and SSCC pools: what a line takes, and what survives a restart."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edge.serials.allocator import CounterAllocator
from edge.serials.pool import SerialPool, SsccPool
from gs1 import Gtin, Sscc
from gs1.serials.alphabet import NUMERIC
from gs1.serials.errors import ConfigError
from gs1.serials.generator import SerialGenerator
from gs1.serials.key import SerialKey
from gs1.serials.scheme import SerialScheme

KEY = SerialKey(bytes(range(32)))
GTIN = Gtin.parse("09506000134352")


@pytest.fixture
def allocator(tmp_path: Path) -> CounterAllocator:
    return CounterAllocator(tmp_path / "serials.db")


@pytest.fixture
def generator() -> SerialGenerator:
    return SerialGenerator(KEY, GTIN, SerialScheme(NUMERIC, 10))


def test_take_hands_out_the_generator_sequence_leasing_as_it_goes(
    allocator: CounterAllocator, generator: SerialGenerator
) -> None:
    pool = SerialPool(allocator, generator, line="line-1", range_size=7)
    assert pool.state.lease is None
    taken = [pool.take() for _ in range(20)]
    assert taken == generator.serials(0, 20)
    leases = allocator.leases("sgtin", GTIN.value)
    assert [(lease.start, lease.stop) for lease in leases] == [(0, 7), (7, 14), (14, 21)]
    state = pool.state
    assert (state.next_counter, state.remaining) == (20, 1)


def test_take_many_equals_repeated_take(
    allocator: CounterAllocator, generator: SerialGenerator, tmp_path: Path
) -> None:
    many = SerialPool(allocator, generator, line="line-1", range_size=5000).take_many(12_345)
    other = CounterAllocator(tmp_path / "other.db")
    one_by_one = SerialPool(other, generator, line="line-1", range_size=5000)
    assert many == [one_by_one.take() for _ in range(12_345)]
    assert SerialPool(allocator, generator, line="line-1").take_many(0) == []


def test_a_restarted_pool_never_reuses_the_rest_of_its_range(
    allocator: CounterAllocator, generator: SerialGenerator
) -> None:
    before = SerialPool(allocator, generator, line="line-1", range_size=100)
    first = before.take_many(30)
    after = SerialPool(allocator, generator, line="line-1", range_size=100)  # "restart"
    assert after.state.lease is None
    second = after.take_many(30)
    assert not set(first) & set(second)
    assert second == generator.serials(100, 130)
    assert after.state.remaining == 70


def test_lines_sharing_an_allocator_never_overlap(
    allocator: CounterAllocator, generator: SerialGenerator
) -> None:
    pools = [SerialPool(allocator, generator, line=f"line-{i}", range_size=97) for i in range(3)]
    taken: list[str] = []
    lock = threading.Lock()

    def run(pool: SerialPool) -> None:
        for _ in range(50):
            serials = pool.take_many(13)
            with lock:
                taken.extend(serials)

    threads = [threading.Thread(target=run, args=(pool,)) for pool in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 3 * 50 * 13


def test_one_pool_shared_by_threads_hands_each_serial_out_once(
    allocator: CounterAllocator, generator: SerialGenerator
) -> None:
    pool = SerialPool(allocator, generator, line="line-1", range_size=50)
    taken: list[str] = []

    def run() -> None:
        for _ in range(500):
            taken.append(pool.take())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(generator.serials(0, 2000))


def test_sscc_pool_issues_valid_sequential_ssccs_never_reused(
    allocator: CounterAllocator,
) -> None:
    pool = SsccPool(
        allocator, extension=3, company_prefix="0952123456", line="line-1", range_size=4
    )
    ssccs = pool.take_many(6)
    assert all(isinstance(sscc, Sscc) for sscc in ssccs)
    assert [sscc.value for sscc in ssccs[:2]] == [
        Sscc.build(3, "0952123456", 0).value,
        Sscc.build(3, "0952123456", 1).value,
    ]
    assert [Sscc.parse(sscc.value) for sscc in ssccs] == ssccs
    restarted = SsccPool(allocator, extension=3, company_prefix="0952123456", line="line-1")
    assert restarted.take() == Sscc.build(3, "0952123456", 8)
    other_extension = SsccPool(allocator, extension=4, company_prefix="0952123456", line="line-1")
    assert other_extension.take() == Sscc.build(4, "0952123456", 0)


def test_sscc_pool_rejects_a_bad_company_prefix(allocator: CounterAllocator) -> None:
    with pytest.raises(ConfigError, match="company_prefix"):
        SsccPool(allocator, extension=3, company_prefix="12AB", line="line-1")


def test_range_size_must_be_positive(
    allocator: CounterAllocator, generator: SerialGenerator
) -> None:
    with pytest.raises(ConfigError) as error:
        SerialPool(allocator, generator, line="line-1", range_size=0)
    assert str(error.value) == "range size: expected a whole number >= 1, got 0"


def test_gtin_scope_is_pinned_to_the_generator_scheme_and_key() -> None:
    from edge.serials import gtin_scope
    from gs1.serials import SAFE, max_volume

    scope = gtin_scope(SerialGenerator(KEY, GTIN, SerialScheme(SAFE, 10)))
    assert (scope.kind, scope.name) == ("sgtin", GTIN.value)
    assert scope.scheme == f"ff3-1/safe/10/key:{KEY.key_id}"
    assert scope.limit == max_volume(34**10)
