"""Counter allocator: durable, disjoint leases across threads, processes and crashes."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sqlite3
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from edge.serials.allocator import CounterAllocator, CounterScope, Lease
from gs1.serials.errors import ConfigError, ExhaustedError, SchemeMismatchError

SCOPE = CounterScope(
    kind="sgtin", name="09506000134352", scheme="ff3-1/numeric/12/key:k", limit=10**8
)
FORK = multiprocessing.get_context("fork")


def assert_disjoint_and_contiguous(leases: list[Lease], total: int) -> None:
    ordered = sorted(leases, key=lambda lease: lease.start)
    assert ordered[0].start == 0
    for before, after in itertools.pairwise(ordered):
        assert before.stop == after.start
    assert ordered[-1].stop == total


def test_leases_follow_each_other_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "serials.db"
    first = CounterAllocator(path).lease(SCOPE, "line-1", 1000)
    second = CounterAllocator(path).lease(SCOPE, "line-2", 500)
    assert (first.start, first.stop, first.line) == (0, 1000, "line-1")
    assert (second.start, second.stop, second.line) == (1000, 1500, "line-2")
    reopened = CounterAllocator(path)
    assert reopened.next_counter(SCOPE) == 1500
    assert reopened.leases(SCOPE.kind, SCOPE.name) == [first, second]


def test_database_is_wal_with_full_sync(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    with sqlite3.connect(tmp_path / "serials.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with allocator._connection() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_scopes_count_independently(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    other = CounterScope("sgtin", "09506000134369", SCOPE.scheme, SCOPE.limit)
    allocator.lease(SCOPE, "line-1", 10)
    assert allocator.lease(other, "line-1", 10).start == 0


def test_a_scope_is_pinned_to_its_first_scheme(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    allocator.lease(SCOPE, "line-1", 10)
    changed = CounterScope(SCOPE.kind, SCOPE.name, "ff3-1/safe/10/key:k", SCOPE.limit)
    with pytest.raises(SchemeMismatchError) as error:
        allocator.lease(changed, "line-1", 10)
    assert str(error.value) == (
        "sgtin 09506000134352: expected scheme 'ff3-1/numeric/12/key:k' (pinned at its first "
        "lease), got 'ff3-1/safe/10/key:k'"
    )
    assert allocator.next_counter(SCOPE) == 10


def test_the_last_lease_is_short_then_the_scope_is_exhausted(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    small = CounterScope("sscc", "0952123456", "sequential/6", 25)
    assert allocator.lease(small, "line-1", 20).size == 20
    assert allocator.lease(small, "line-1", 20).size == 5
    with pytest.raises(ExhaustedError) as error:
        allocator.lease(small, "line-1", 20)
    assert str(error.value) == (
        "sscc 0952123456: all 25 counters allowed for scheme sequential/6 have been leased"
    )


@pytest.mark.parametrize(
    ("line", "size", "message"),
    [
        ("", 10, "line: expected a non-empty printable line id, got ''"),
        ("l\n1", 10, "line: expected a non-empty printable line id, got 'l\\n1'"),
        ("line-1", 0, "range size: expected a whole number >= 1, got 0"),
    ],
)
def test_bad_lease_requests(tmp_path: Path, line: str, size: int, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        CounterAllocator(tmp_path / "serials.db").lease(SCOPE, line, size)
    assert str(error.value) == message


def test_raise_floor_skips_counters_after_a_restore(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    allocator.lease(SCOPE, "line-1", 100)
    skipped = allocator.raise_floor(SCOPE, 5000, line="restore")
    assert skipped is not None
    assert (skipped.start, skipped.stop, skipped.line) == (100, 5000, "restore")
    assert allocator.raise_floor(SCOPE, 10, line="restore") is None
    assert allocator.lease(SCOPE, "line-1", 1).start == 5000


def test_threads_sharing_one_allocator_never_overlap(tmp_path: Path) -> None:
    allocator = CounterAllocator(tmp_path / "serials.db")
    leases: list[Lease] = []

    def line(name: str) -> None:
        for size in range(1, 21):
            leases.append(allocator.lease(SCOPE, name, size))

    threads = [threading.Thread(target=line, args=(f"line-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_disjoint_and_contiguous(leases, 4 * sum(range(1, 21)))


def _lease_in_process(path: Path, line: str, sizes: list[int]) -> list[Lease]:
    allocator = CounterAllocator(path)
    return [allocator.lease(SCOPE, line, size) for size in sizes]


def test_processes_sharing_one_database_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "serials.db"
    CounterAllocator(path)
    sizes = [7, 1, 100, 13, 2] * 6
    with FORK.Pool(4) as pool:
        results = pool.starmap(_lease_in_process, [(path, f"line-{i}", sizes) for i in range(4)])
    leases = [lease for result in results for lease in result]
    assert len({lease.line for lease in leases}) == 4
    assert_disjoint_and_contiguous(leases, 4 * sum(sizes))
    assert CounterAllocator(path).leases(SCOPE.kind, SCOPE.name) == sorted(
        leases, key=lambda lease: lease.start
    )


def _lease_forever(path: Path, sender: Connection) -> None:
    allocator = CounterAllocator(path)
    while True:  # bounded by the parent, which kills this process
        lease = allocator.lease(SCOPE, "line-crash", 10)
        sender.send((lease.start, lease.stop))


def test_a_lease_reported_before_a_crash_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "serials.db"
    CounterAllocator(path)
    receiver, sender = FORK.Pipe(duplex=False)
    process = FORK.Process(target=_lease_forever, args=(path, sender))
    process.start()
    reported = [receiver.recv() for _ in range(20)]
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)
    while receiver.poll():
        reported.append(receiver.recv())
    allocator = CounterAllocator(path)
    on_disk = {(lease.start, lease.stop) for lease in allocator.leases(SCOPE.kind, SCOPE.name)}
    assert set(reported) <= on_disk
    assert allocator.lease(SCOPE, "line-1", 1).start >= max(stop for _, stop in reported)
