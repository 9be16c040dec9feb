"""What a test leaves running: threads and child processes it started and did not stop.

The ``no_leaks`` fixture in ``tests/conftest.py`` takes a :class:`Snapshot` after the fixtures a
test shares with others (brokers, browsers, module servers) are up, and after the test's own
fixtures are torn down it waits, up to a deadline, for everything the test started to end. What
is still running then fails the test, and child processes are killed so that the next test does
not inherit them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field

# Threads a library keeps for the life of the process once anything first uses it: a pool, not
# a leak (anyio's worker threads idle out on their own schedule; asyncio's default executor;
# the blocking portal of the Starlette test client that schemathesis' ASGI transport keeps).
POOLED_THREADS = ("AnyIO worker thread", "asyncio_", "asyncio-portal")

# How long a test's threads and child processes get to end after its fixtures are torn down.
DEADLINE_S = float(os.environ.get("SERIALTRACE_TEST_LEAK_DEADLINE_S", "45"))


def _children() -> dict[int, int]:
    """This process's descendants that are alive (not zombies): pid -> parent pid."""
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                raw = stat.read().decode("ascii", "replace")
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so cut at the last ")".
        rest = raw[raw.rfind(")") + 2 :].split()
        if len(rest) < 2:
            continue
        parents[int(entry.name)] = int(rest[1])
        states[int(entry.name)] = rest[0]
    mine = {os.getpid()}
    found: dict[int, int] = {}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                grew = True
                if states[pid] != "Z":
                    found[pid] = ppid
    return found


def _started_since(before: set[int]) -> dict[int, str]:
    """Descendants that are new and were not started by a process running at ``before``: a
    shared process (the session's browser, a module's broker) may start helpers of its own at
    any time (Chromium starts utility processes on demand), and those are its own, not the
    test's."""
    now = _children()
    found: dict[int, str] = {}
    for pid in now:
        if pid in before:
            continue
        ancestor = now[pid]
        while ancestor in now and ancestor not in before:
            ancestor = now[ancestor]
        if ancestor not in before:  # reached this process: the test's own line of descent
            found[pid] = _cmdline(pid)
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:160]
    except OSError:
        return "?"


@dataclass
class Snapshot:
    threads: set[threading.Thread] = field(default_factory=lambda: set(threading.enumerate()))
    processes: set[int] = field(default_factory=lambda: set(_children()))

    def leftovers(self, deadline_s: float) -> tuple[list[str], dict[int, str]]:
        """What the test started and is still running after waiting up to ``deadline_s``."""
        end = time.monotonic() + deadline_s
        while True:
            threads = [
                t
                for t in threading.enumerate()
                if t not in self.threads and t.is_alive() and not t.name.startswith(POOLED_THREADS)
            ]
            processes = _started_since(self.processes)
            if (not threads and not processes) or time.monotonic() >= end:
                return [f"{t.name} (daemon={t.daemon})" for t in threads], processes
            time.sleep(0.05)  # polling what others end, bounded by the deadline above


def kill(processes: dict[int, str]) -> None:
    for pid in processes:
        with contextlib.suppress(OSError):  # ended meanwhile
            os.kill(pid, signal.SIGKILL)


def check(before: Snapshot, deadline_s: float, who: str) -> None:
    """Fail if anything started since ``before`` still runs after ``deadline_s`` (and kill
    the processes)."""
    import pytest  # here: the module is also imported where pytest is not the runner

    threads, processes = before.leftovers(deadline_s)
    kill(processes)
    if threads or processes:
        left = [f"thread {t}" for t in threads]
        left += [f"process {pid}: {cmd}" for pid, cmd in processes.items()]
        pytest.fail(f"{who} left running: " + "; ".join(left), pytrace=False)
