"""``serialtrace sim …``: the device simulators.

Each simulator package ``simulators/<device>/`` that has a ``cli`` module with
``register(subparsers)`` adds its own sub-command here (``sim printer``, ``sim camera``, …).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import simulators


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sim", help="run a device simulator (printer, camera, …)")
    sim_subparsers = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    for info in sorted(pkgutil.iter_modules(simulators.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"{simulators.__name__}.{info.name}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"{simulators.__name__}.{info.name}.cli":
                raise
            continue
        module.register(sim_subparsers)
