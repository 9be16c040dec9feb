"""Gate timing: margins against the reject gate's deadline, the alarm, the policy's trigger."""

from __future__ import annotations

import threading

import pytest

from edge.gate_timing import GateTiming, TimingSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def timing(**settings: float) -> tuple[GateTiming, Clock]:
    clock = Clock()
    values = {"deadline_s": 0.150, "guard_s": 0.030, "window": 50, **settings}
    return GateTiming(TimingSettings(**values), clock=clock), clock  # type: ignore[arg-type]


def test_the_margin_is_the_deadline_minus_trigger_to_verdict() -> None:
    gate, _ = timing()
    assert gate.record(0.100, 0.150) == pytest.approx(0.050)
    assert gate.last_margin_ms == pytest.approx(50.0)
    assert gate.record(0.200, 0.150) == pytest.approx(-0.050)  # missed
    assert gate.total == 2 and gate.total_missed == 1


def test_the_plc_announced_deadline_wins_over_the_configured_one() -> None:
    gate, _ = timing()
    assert gate.deadline(None) == pytest.approx(0.150)
    assert gate.deadline(400.0) == pytest.approx(0.400)


def test_on_time_verdicts_raise_nothing() -> None:
    gate, _ = timing()
    for _ in range(100):
        gate.record(0.050, 0.150)
    assessment = gate.assess()
    assert assessment.alarm is None and not assessment.act
    assert (assessment.verdicts, assessment.missed, assessment.at_risk) == (50, 0, 0)


def test_one_missed_verdict_alarms_but_the_policy_waits_for_enough_verdicts() -> None:
    gate, _ = timing()
    gate.record(0.300, 0.150)
    assessment = gate.assess()
    assert assessment.alarm is not None and "1 of the last 1 verdicts missed" in assessment.alarm
    assert "150 ms deadline" in assessment.alarm
    assert not assessment.act  # one unit is not a trend yet
    gate.record(0.300, 0.150)
    assert not gate.assess().act
    gate.record(0.300, 0.150)
    assert gate.assess().act  # three good units lost: act now


def test_a_rare_miss_alarms_without_making_the_policy_act() -> None:
    gate, _ = timing(policy_at_risk_rate=0.5)
    gate.record(0.300, 0.150)
    for _ in range(40):
        gate.record(0.050, 0.150)
    assert gate.assess().alarm is not None and not gate.assess().act  # 1 in 41: alarm only
    gate.record(0.300, 0.150)
    assert not gate.assess().act
    gate.record(0.300, 0.150)
    assert gate.assess().act  # the third miss in the window


def test_verdicts_at_risk_trigger_the_policy_before_any_is_missed() -> None:
    gate, _ = timing(policy_at_risk_rate=0.1)
    for index in range(40):
        gate.record(0.130 if index % 5 == 0 else 0.050, 0.150)  # 20 % within the guard
    assessment = gate.assess()
    assert assessment.missed == 0 and assessment.at_risk == 8
    assert assessment.alarm is None and assessment.act


def test_a_miss_rate_below_the_allowed_one_does_not_alarm() -> None:
    gate, _ = timing(max_miss_rate=0.05, policy_at_risk_rate=0.5)
    for index in range(50):
        gate.record(0.200 if index == 0 else 0.050, 0.150)
    assert gate.assess().alarm is None  # 1 in 50 = 2 % <= 5 %
    gate.record(0.200, 0.150)
    gate.record(0.200, 0.150)
    gate.record(0.200, 0.150)
    assert gate.assess().alarm is not None  # 3 in the last 50 = 6 %


def test_the_window_slides_and_can_be_reset() -> None:
    gate, _ = timing()
    gate.record(0.300, 0.150)
    for _ in range(50):
        gate.record(0.050, 0.150)
    assert gate.assess().missed == 0  # the miss left the window
    gate.record(0.300, 0.150)
    gate.reset_window()
    assert gate.assess().verdicts == 0 and gate.total_missed == 2


def test_history_has_one_point_per_second_with_rate_and_margins() -> None:
    gate, clock = timing()
    for margin_ms in (10, 50, 90):
        gate.record(0.150 - margin_ms / 1000, 0.150)
    clock.now += 1
    gate.record(0.160, 0.150)
    clock.now += 1
    snapshot = gate.snapshot()
    points = [(p["units"], p["min_margin_ms"], p["median_margin_ms"]) for p in snapshot["history"]]
    assert points == [(3, 10.0, 50.0), (1, -10.0, -10.0)]
    assert snapshot["deadline_ms"] == 150.0 and snapshot["total_missed"] == 1
    assert gate.rate_per_minute(seconds=2) == pytest.approx(120.0)  # 4 units in 2 s
    assert "history" not in gate.snapshot(history=False)


def test_recording_from_many_threads_loses_nothing() -> None:
    gate, _ = timing(window=100_000)
    threads = [
        threading.Thread(target=lambda: [gate.record(0.05, 0.15) for _ in range(2000)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert gate.total == 8000 and gate.assess().verdicts == 8000
