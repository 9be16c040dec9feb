"""One exception root for the edge (issue 20): everything the edge raises on purpose is an
:class:`edge.errors.EdgeError`, every configuration problem an :class:`edge.errors.ConfigError`
(the drivers' own included), so a caller catches one class, not nine."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import edge
from edge.errors import ConfigError, EdgeError


def edge_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(edge.__path__, prefix="edge."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("edge."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


EXCEPTIONS = edge_exceptions()


def test_the_edge_has_its_exceptions() -> None:
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in EXCEPTIONS}
    for expected in (
        "edge.devices.DeviceFault",
        "edge.wiring.WiringError",
        "edge.store.StoreError",
        "edge.printers.errors.PrinterError",
        "edge.scanners.errors.ScannerError",
        "edge.vision.errors.VisionError",
        "edge.vision.grading.grader.GradingFailed",
    ):
        assert expected in names


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_edge_exception_is_an_edge_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, EdgeError)


@pytest.mark.parametrize(
    "cls",
    [cls for cls in EXCEPTIONS if cls.__name__ == "ConfigError"],
    ids=lambda cls: cls.__module__,
)
def test_every_config_error_is_the_edge_config_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, ConfigError) and issubclass(cls, ValueError)


def test_a_config_error_lists_its_problems() -> None:
    one = ConfigError("scanner.timeout_s: expected more than 0, got -1")
    assert one.problems == ["scanner.timeout_s: expected more than 0, got -1"]
    assert str(one) == "scanner.timeout_s: expected more than 0, got -1"
    many = ConfigError("line.toml", ["a: x", "b: y"])
    assert str(many) == "invalid configuration line.toml (2 problems):\n  - a: x\n  - b: y"
    assert str(ConfigError("line.toml", ["a: x"])).startswith(
        "invalid configuration line.toml (1 problem):"
    )
