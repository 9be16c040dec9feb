"""``serialtrace qa …`` against a store filled through the real ingest, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from serialtrace.cli import main
from server.ingest.apply import Origin
from server.ingest.service import Ingestor
from tests.server import factory as f


def fill(ingestor: Ingestor) -> None:
    line = f.Line(units_per_case=2, cases_per_pallet=2)
    pallet, _cases, _serials = line.pallet()
    for document in [*line.documents, [f.shipping([pallet])]]:
        outcome = ingestor.ingest_payload(
            f.payload(document), Origin("mqtt", "site1", "line1"), topic="t"
        )
        assert outcome.accepted, outcome.reason


def test_drill_completeness_and_listing(
    store: Engine, ingestor: Ingestor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(ingestor)
    url = store.url
    if store.dialect.name == "postgresql":  # the test's own schema, as libpq options
        with store.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    db = ["--db", url.render_as_string(hide_password=False)]
    html, pdf = tmp_path / "drill.html", tmp_path / "drill.pdf"
    code = main(
        ["qa", "drill", "--batch", f"{f.GTIN}/LOT1", "--html", str(html), "--pdf", str(pdf), *db]
    )
    out = capsys.readouterr().out
    assert code == 1  # no production record, inspections or raw materials yet
    assert f"drill 1: batch (01){f.GTIN}(10)LOT1 (quarantine)" in out
    assert "units 4, shipped units 4, cases 2, pallets 1, shipments 1, customers 1" in out
    assert "  gap: no production record" in out
    assert "no production record" in html.read_text() and pdf.read_bytes().startswith(b"%PDF-")

    assert main(["qa", "completeness", *db]) == 1
    assert f"(01){f.GTIN}(10)LOT1: 4 units" in capsys.readouterr().out
    assert main(["qa", "drills", *db]) == 0
    assert "\tGAPS\t" in capsys.readouterr().out


def test_bad_batch_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qa", "drill", "--batch", "LOT1", "--db", "sqlite://"]) == 2
    assert capsys.readouterr().err == (
        "serialtrace: error: --batch: expected GTIN/LOT (lot of 1 to 20 characters), got 'LOT1'\n"
    )
