"""One owner per concept (../shared/DESIGN.md): the old second ways are gone, and stay gone.

Each test reads the source (no import side effects) and names the file and line that
breaks the rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("identity", "gs1", "epcis", "edge", "server", "simulators", "serialtrace", "benchmarks")


def _sources(*skip: str) -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if str(path.relative_to(REPO)) not in skip:
                yield path


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_topic_names_come_from_epcis_topics_only() -> None:
    assert not (REPO / "edge" / "topics.py").exists()  # the second topic API, removed
    offenders = []
    for path in _sources("epcis/topics.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "serialtrace/v1" in node.value
                and " " not in node.value  # a topic, not a sentence about topics (help texts)
                and id(node) not in docstrings
            ):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert offenders == [], "topic names outside epcis.topics:\n" + "\n".join(offenders)
