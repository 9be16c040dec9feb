"""The devices' last known state behind the agent's ``/health`` (edge/health.py)."""

from __future__ import annotations

from edge.health import DeviceStates, HealthReport, PartHealth


def test_a_job_under_way_when_the_device_faulted_does_not_clear_the_fault() -> None:
    states = DeviceStates()
    states.fault("printer", "printer reports head_open", at=10.0)
    states.working("printer", since=9.5)  # a label sent before the fault came out
    assert states.faults() == {"printer": "printer reports head_open"}
    states.working("camera", since=11.0)  # another device
    assert states.faults() == {"printer": "printer reports head_open"}
    states.working("printer", since=10.5)  # a label sent after it came out: fixed
    assert states.faults() == {}


def test_resuming_clears_every_fault() -> None:
    states = DeviceStates()
    states.fault("printer", "offline", at=1.0)
    states.fault("plc", "PLC: e-stop", at=2.0)
    states.clear()
    assert states.faults() == {}


def test_report_names_each_failing_part_and_lists_every_part() -> None:
    report = HealthReport(
        (PartHealth("mqtt"), PartHealth("printer", "printer reports paper_out")),
        {"edge-writer": True},
    )
    assert not report.ok
    assert report.as_dict() == {
        "status": "failing",
        "parts": [
            {"part": "mqtt", "ok": True, "problem": None},
            {"part": "printer", "ok": False, "problem": "printer reports paper_out"},
        ],
        "failing": [{"part": "printer", "problem": "printer reports paper_out"}],
        "workers": {"edge-writer": True},
        "mqtt": True,
        "plc": False,
    }
