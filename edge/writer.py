"""Group commit: one thread applies every state change, many per transaction.

Each submitted command is a function of the write connection; the writer takes what is queued,
runs each command inside a ``SAVEPOINT`` (a command that raises is undone alone and gets its
exception back), commits once (one fsync for the whole group), and only then resolves the
futures and runs the ``then`` callbacks in submission order. Anything a callback does (send a
label to the printer, answer an API call, wake the publisher) therefore happens after the
change is on disk.

At 50 units/s, one fsync per unit would be the bottleneck; one per group is not.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from edge.errors import EdgeError

log = logging.getLogger(__name__)

T = TypeVar("T")

Command = Callable[[sqlite3.Connection], T]


@dataclass
class _Item(Generic[T]):
    command: Command[T]
    then: Callable[[T], None] | None
    future: Future[T] = field(default_factory=Future)


@dataclass
class WriterStats:
    commits: int = 0
    commands: int = 0
    failed_commands: int = 0
    largest_group: int = 0
    commit_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        mean = self.commands / self.commits if self.commits else 0.0
        return {**self.__dict__, "mean_group": round(mean, 2)}


class WriterStopped(EdgeError, RuntimeError):
    """A command was submitted after the writer stopped."""


class Writer:
    """The single owner of the write connection."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        gather_s: float = 0.0,
        max_group: int = 500,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._gather_s = gather_s
        self._max_group = max_group
        self._after_commit = after_commit
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._running = False
        self.stats = WriterStats()

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="edge-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Apply what is queued, then stop."""
        if not self._running:
            return
        self._running = False
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def submit(self, command: Command[T], then: Callable[[T], None] | None = None) -> Future[T]:
        """Queue a command; the future resolves after the commit that covers it."""
        if not self._running:
            raise WriterStopped("the agent's writer is stopped")
        item: _Item[T] = _Item(command, then)
        self._queue.put(item)
        return item.future

    def call(self, command: Command[T], timeout: float = 30.0) -> T:
        """Run a command and wait until it is committed; re-raises its exception.

        Not from the writer's own thread (a ``then`` callback): that would wait forever."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("Writer.call from the writer thread would deadlock; use submit")
        return self.submit(command).result(timeout=timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group: list[_Item[Any]] = [first]
            deadline = time.monotonic() + self._gather_s
            while len(group) < self._max_group:
                try:
                    timeout = deadline - time.monotonic()
                    item = (
                        self._queue.get(timeout=timeout)
                        if timeout > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._apply(group)

    def _apply(self, group: list[_Item[Any]]) -> None:
        conn = self._conn
        results: list[tuple[bool, Any]] = []
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in group:
                conn.execute("SAVEPOINT command")
                try:
                    value = item.command(conn)
                except Exception as exc:
                    if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                        raise  # SQLite undid the whole transaction (disk full): the group fails
                    conn.execute("ROLLBACK TO command")
                    conn.execute("RELEASE command")
                    results.append((False, exc))
                    continue
                conn.execute("RELEASE command")
                results.append((True, value))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # the commit itself failed: nothing of the group happened
            log.error("group commit of %d commands failed: %s", len(group), exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the writer thread must live on
                    conn.execute("ROLLBACK")
            for item in group:
                item.future.set_exception(exc)
            self.stats.failed_commands += len(group)
            return
        self.stats.commit_seconds += time.perf_counter() - started
        self.stats.commits += 1
        self.stats.commands += len(group)
        self.stats.largest_group = max(self.stats.largest_group, len(group))
        for item, (ok, value) in zip(group, results, strict=True):
            if not ok:
                self.stats.failed_commands += 1
                item.future.set_exception(value)
                continue
            item.future.set_result(value)
            if item.then is not None:
                try:
                    item.then(value)
                except Exception:  # a callback's fault must not stop the writer
                    log.exception("post-commit callback failed")
        if self._after_commit is not None:
            self._after_commit()
