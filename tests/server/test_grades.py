"""Units' print-quality grades: kept at ingest from the commissioning event's
``serialtrace:grade`` (migration 0008), shown with the unit, and a batch's distribution."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from server.ingest.prepare import unit_grade
from server.store.migrate import downgrade, upgrade
from tests.server import factory as f

Headers = dict[str, dict[str, str]]
CONTEXT = [*f.CONTEXT, {"serialtrace": "urn:serialtrace:epcis:"}]


def graded(serial: str, overall: Any, **extra: Any) -> dict[str, Any]:
    event = f.commissioning([serial], lot="LOTG")
    event["serialtrace:grade"] = {
        "overall": overall,
        "letter": "B",
        "iso": f"{overall}/08/660",
        "parameters": {"DEC": 4, "SC": 4, "MOD": 3, "RM": 3, "FPD": 4, "AN": 4, "GN": 4, "UEC": 4},
        "limiting": ["MOD", "RM"],
        **extra,
    }
    return event


def capture(client: TestClient, tokens: Headers, events: list[dict[str, Any]]) -> None:
    document = f.document(events)
    document["@context"] = CONTEXT
    response = client.post(
        "/epcis/capture", content=json.dumps(document).encode(), headers=tokens["device"]
    )
    assert response.status_code == 202, response.text


def test_grades_are_kept_shown_and_counted(client: TestClient, tokens: Headers) -> None:
    capture(
        client,
        tokens,
        [
            graded("G1", 4.0, limiting=[], letter="A"),
            graded("G2", 3.0),
            graded("G3", 3.0),
            graded("G4", 1.0, letter="D"),
            f.commissioning(["G5"], lot="LOTG"),  # an older edge: no grade
            graded("G6", "high"),  # not a grade: ignored, the unit is still commissioned
        ],
    )
    unit = client.get(f"/units/{f.GTIN}/G2", headers=tokens["qa"]).json()
    assert unit["grade"] == {
        "overall": 3.0,
        "letter": "B",
        "iso": "3.0/08/660",
        "parameters": {"AN": 4, "DEC": 4, "FPD": 4, "GN": 4, "MOD": 3, "RM": 3, "SC": 4, "UEC": 4},
        "limiting": ["MOD", "RM"],
    }
    assert client.get(f"/units/{f.GTIN}/G5", headers=tokens["qa"]).json()["grade"] is None
    assert client.get(f"/units/{f.GTIN}/G6", headers=tokens["qa"]).json()["status"] == "active"
    distribution = client.get(f"/batches/{f.GTIN}/LOTG/grades", headers=tokens["operator"])
    assert distribution.status_code == 200
    assert distribution.json() == {
        "gtin": f.GTIN,
        "lot": "LOTG",
        "graded": 4,
        "ungraded": 2,
        "letters": {"A": 1, "B": 2, "C": 0, "D": 1, "F": 0},
        "grades": {"4.0": 1, "3.0": 2, "1.0": 1},
        "mean": 2.75,
        "lowest": 1.0,
    }
    missing = client.get(f"/batches/{f.GTIN}/NOPE/grades", headers=tokens["operator"])
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"batch: GTIN {f.GTIN} lot 'NOPE' unknown"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("B", None),
        ({"overall": True}, None),
        ({"overall": 4.5}, None),
        ({"overall": -1}, None),
        ({"overall": 2}, (2.0, '{"overall":2.0}')),
        (
            {
                "overall": 2.0,
                "parameters": {"SC": 2, "XX": 4, "MOD": 9, "RM": True},
                "limiting": ["SC", "<script>"],
                "letter": "C",
                "iso": "x" * 40,
            },
            (2.0, '{"letter":"C","limiting":["SC"],"overall":2.0,"parameters":{"SC":2}}'),
        ),
    ],
)
def test_only_what_is_a_grade_is_kept(value: Any, expected: tuple[float, str] | None) -> None:
    assert unit_grade(value) == expected


def test_migration_0008_adds_the_grade_columns_and_takes_them_away(store: Engine) -> None:
    def columns() -> set[str]:
        return {column["name"] for column in inspect(store).get_columns("units")}

    assert {"grade", "grade_detail"} <= columns()
    downgrade(store, "0006")
    assert not {"grade", "grade_detail"} & columns()
    upgrade(store)
    assert {"grade", "grade_detail"} <= columns()
