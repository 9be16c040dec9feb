"""The order in which ``quickstart.sh test`` hands modules to its xdist workers
(``tests/conftest.py``): the modules with the most ``slow`` tests first, each module's tests in
their own order, so that no long module is left for the end while the other worker idles."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.conftest import pytest_collection_modifyitems


class Item:
    """What the hook reads of a collected test: its node id and its ``slow`` mark."""

    def __init__(self, nodeid: str, *, slow: bool = False) -> None:
        self.nodeid, self.slow = nodeid, slow

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


def collected() -> list[Item]:
    return [
        Item("tests/a/test_many.py::test_one"),
        Item("tests/a/test_many.py::test_two"),
        Item("tests/b/test_some.py::test_slow", slow=True),
        Item("tests/b/test_some.py::test_quick"),
        Item("tests/c/test_chaos.py::test_kill[sqlite]", slow=True),
        Item("tests/c/test_chaos.py::test_kill[postgresql]", slow=True),
        Item("tests/d/test_pure.py::test_round_trip"),
    ]


def order(config: Any) -> list[str]:
    items = collected()
    pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    return [item.nodeid for item in items]


def test_a_worker_gets_the_modules_with_the_most_slow_tests_first():
    assert order(SimpleNamespace(workerinput={"workerid": "gw0"})) == [
        "tests/c/test_chaos.py::test_kill[sqlite]",
        "tests/c/test_chaos.py::test_kill[postgresql]",
        "tests/b/test_some.py::test_slow",
        "tests/b/test_some.py::test_quick",
        "tests/a/test_many.py::test_one",
        "tests/a/test_many.py::test_two",
        "tests/d/test_pure.py::test_round_trip",
    ]


def test_without_workers_the_collection_order_stays():
    assert order(SimpleNamespace()) == [item.nodeid for item in collected()]
