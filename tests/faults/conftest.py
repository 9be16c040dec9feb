"""One fault stack (broker, trace server, edge agent, line) for the module; each fault runs
on it in a batch of its own. A run that leaves it beyond healing gets a new stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serialtrace.faults import FaultStack
from tests.support import leaks

#: PLC triggers a minute: the full-size rate (``serialtrace bench faults``); a batch of 40 is
#: 4 s of belt
RATE = 600.0


class Stacks:
    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.stack: FaultStack | None = None

    def get(self) -> FaultStack:
        if self.stack is not None:
            try:
                self.stack.heal()
                return self.stack
            except Exception:  # beyond healing: the next test gets a fresh stack
                self.stack.close()
                self.stack = None
        self.stack = FaultStack(self.factory.mktemp("faults"), rate_per_minute=RATE).start()
        return self.stack

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    """The module's fault stack (built on first use, rebuilt when it cannot be healed). Its
    tests restart its processes, so they are marked ``shared_stack`` and the leak check runs
    here, once the stack is closed."""
    before = leaks.Snapshot()
    holder = Stacks(tmp_path_factory)
    yield holder
    holder.close()
    leaks.check(before, 30.0, "the fault stack")
