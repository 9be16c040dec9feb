"""Issue 20: a batch's recall reach is ONE query (server.store.queries.batch_reach /
reach_of_batch), used by the API, the UI (through the API), drills and recalls; the old
second path (store ``recall_set`` next to genealogy ``batch_reach``) is gone."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.testclient import TestClient

import server.qa.genealogy
import server.store.queries
from tests.server import factory as f
from tests.server.test_api import Headers, capture

ROOT = Path(__file__).resolve().parents[2] / "server"


def defined_functions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    return found


def test_the_old_second_path_is_gone() -> None:
    assert not hasattr(server.store.queries, "recall_set")
    assert not hasattr(server.store.queries, "RecallSet")
    assert server.qa.genealogy.Reach is server.store.queries.Reach  # re-used, not redefined
    functions = defined_functions()
    assert "recall_set" not in functions
    assert functions["batch_reach"] == ["store/queries.py"]
    assert functions["reach_of_batch"] == ["store/queries.py"]


def test_every_user_of_the_reach_calls_the_one_query() -> None:
    for module in ("api/routes/batches.py", "qa/drills.py", "qa/recalls.py", "qa/genealogy.py"):
        text = (ROOT / module).read_text(encoding="utf-8")
        assert "batch_reach(" in text or "reach_of_batch(" in text, module


def test_units_take_the_nearest_shipped_level(client: TestClient, tokens: Headers) -> None:
    """Case 1 shipped on its own, case 2 on the pallet that was shipped later: each unit
    is attributed to the nearest shipment above it, as its unit trace says."""
    line = f.Line(units_per_case=2, cases_per_pallet=2)
    pallet, cases, serials = line.pallet()
    for document in line.documents:
        capture(client, tokens, document)
    capture(client, tokens, [f.shipping([cases[0]], customer="urn:epc:id:pgln:4000001.00000")])
    capture(client, tokens, [f.shipping([pallet], time="2025-03-04T08:00:00Z")])
    reach = client.get(f"/batches/{f.GTIN}/LOT1/recall", headers=tokens["qa"]).json()
    by_serial = {unit["serial"]: unit for unit in reach["units"]}
    for serial in serials:
        trace = client.get(f"/units/{f.GTIN}/{serial}", headers=tokens["qa"]).json()
        assert by_serial[serial]["shipment_id"] == trace["shipment"]["id"], serial
    assert by_serial[serials[0]]["customer"] == "urn:epc:id:pgln:4000001.00000"
    assert by_serial[serials[2]]["customer"] == "urn:epc:id:pgln:4012345.00000"
    assert sorted(s["units"] for s in reach["shipments"]) == [2, 2]
