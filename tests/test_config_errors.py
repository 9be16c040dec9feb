"""One ``ConfigError`` per package root (issue 20), all sharing :class:`gs1.errors.InvalidConfig`.

The source of every package is read (not imported) for classes called ``ConfigError``, so a
new one anywhere, a driver's own included, fails here until it is the root's one.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import edge.scanners
import edge.vision
import gs1.serials
from edge.errors import ConfigError as EdgeConfigError
from edge.scanners import ScannerConfig
from gs1.errors import InvalidConfig
from serialtrace.demo.options import DemoOptions
from serialtrace.errors import ConfigError as SerialtraceConfigError
from server.errors import ConfigError as ServerConfigError
from simulators.errors import ConfigError as SimulatorsConfigError
from simulators.printer.faults import FaultConfig

REPOSITORY = Path(__file__).resolve().parents[1]
ROOTS = ("serialtrace", "edge", "server", "simulators", "epcis", "gs1")
THE_ONE = {
    "serialtrace": "serialtrace.errors",
    "edge": "edge.errors",
    "server": "server.errors",
    "simulators": "simulators.errors",
    "gs1": "gs1.serials.errors",
}


def config_error_classes(root: str) -> list[str]:
    """Module names under ``root`` that define a class called ConfigError."""
    found = []
    for path in sorted((REPOSITORY / root).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if any(isinstance(n, ast.ClassDef) and n.name == "ConfigError" for n in ast.walk(tree)):
            module = path.relative_to(REPOSITORY).with_suffix("").as_posix().replace("/", ".")
            found.append(module.removesuffix(".__init__"))
    return found


@pytest.mark.parametrize("root", ROOTS)
def test_each_package_root_has_at_most_its_one_config_error(root: str) -> None:
    expected = [THE_ONE[root]] if root in THE_ONE else []
    assert config_error_classes(root) == expected


@pytest.mark.parametrize("module", sorted(THE_ONE.values()))
def test_every_config_error_shares_the_base_and_is_a_value_error(module: str) -> None:
    cls = importlib.import_module(module).ConfigError
    assert issubclass(cls, InvalidConfig) and issubclass(cls, ValueError)


def test_the_drivers_names_are_the_edge_config_error() -> None:
    assert edge.scanners.ConfigError is EdgeConfigError
    assert edge.vision.ConfigError is EdgeConfigError
    assert not issubclass(gs1.serials.ConfigError, EdgeConfigError)


def test_a_drivers_config_error_is_caught_where_the_edge_one_is() -> None:
    with pytest.raises(EdgeConfigError) as caught:
        ScannerConfig(terminator=b"")
    assert caught.value.problems == ["terminator: expected at least one byte, got b''"]
    assert isinstance(caught.value, InvalidConfig)


def test_a_simulators_and_a_commands_config_error_are_theirs() -> None:
    with pytest.raises(SimulatorsConfigError, match=r"^faults.line_noise: expected a proba"):
        FaultConfig.from_mapping({"line_noise": 2})
    with pytest.raises(SerialtraceConfigError, match=r"^--units: expected a whole number"):
        DemoOptions(units=0).check()


@pytest.mark.parametrize(
    "cls",
    [
        EdgeConfigError,
        ServerConfigError,
        gs1.serials.ConfigError,
        SimulatorsConfigError,
        SerialtraceConfigError,
    ],
)
def test_every_config_error_lists_its_problems_alike(cls: type[InvalidConfig]) -> None:
    one = cls("store.url: expected a database URL, got ''")
    assert one.problems == ["store.url: expected a database URL, got ''"]
    assert str(one) == "store.url: expected a database URL, got ''"
    many = cls("line.toml", ["a: x", "b: y"])
    assert (many.source, many.problems) == ("line.toml", ["a: x", "b: y"])
    assert str(many) == "invalid configuration line.toml (2 problems):\n  - a: x\n  - b: y"
