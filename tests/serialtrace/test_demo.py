"""The demo end to end: 1,000 units at 600 units/min with a 2 % defect rate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from serialtrace.demo import GTIN, Demo, DemoError, DemoOptions
from serialtrace.services import free_port


@pytest.mark.slow
def test_demo_runs_a_batch_that_reconciles_and_traces_every_unit(tmp_path: Path):
    options = DemoOptions(
        units=1000,
        ppm=600,
        defect_rate=0.02,
        seed=3,
        data_dir=tmp_path / "demo",
        exit_after=True,
        server_port=free_port(),
        hmi_port=free_port(),
    )
    output = io.StringIO()
    with Demo(options, Console(file=output, width=120)) as demo:
        demo.start()
        summary = demo.run_batch()
        demo.report(summary)

        rec = summary.reconciliation
        assert rec["balanced"] is True
        assert rec["printed"] == (
            rec["commissioned"] + rec["rejected"] + rec["sampled"] + rec["scrapped"]
        )
        assert rec["printed"] == 1000
        assert 900 <= rec["commissioned"] < 1000  # the defects were caught, not all units lost

        # The server holds exactly the commissioned units, each with case, pallet and shipment.
        assert demo.agent is not None
        serials = [
            row[0]
            for row in demo.agent.read(
                lambda conn: conn.execute(
                    "SELECT serial FROM units WHERE state = 'commissioned'"
                ).fetchall()
            )
        ]
        assert len(serials) == rec["commissioned"]
        assert sum(summary.server_batch["counts"].values()) == len(serials)
        lot = summary.batch["lot"]
        for serial in serials:
            trace = demo.api.get(f"/units/{GTIN}/{serial}").json()
            assert trace["lot"] == lot
            levels = [parent["level"] for parent in trace["parents"]]
            assert levels == ["case", "pallet"], (serial, trace["parents"])
            assert trace["shipment"] is not None, serial
            assert trace["parents"][1]["sscc"] in trace["shipment"]["ssccs"]
    text = output.getvalue()
    assert "reconciliation" in text and "qa web ui: http://127.0.0.1:" in text


def test_demo_refuses_a_data_folder_it_did_not_make(tmp_path: Path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DemoError, match="not empty and was not made by serialtrace demo"):
        Demo(DemoOptions(data_dir=tmp_path), Console(file=io.StringIO())).start()
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"units": 0}, "--units: expected a whole number >= 1, got 0"),
        ({"ppm": 0}, "--ppm: expected 1..6000 units per minute, got 0"),
        ({"defect_rate": 0.9}, "--defect-rate: expected 0..0.5, got 0.9"),
    ],
)
def test_bad_options_are_refused_naming_the_option(changes, message):
    with pytest.raises(ValueError) as caught:
        DemoOptions(**changes).check()
    assert str(caught.value) == message
