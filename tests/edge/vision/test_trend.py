from __future__ import annotations

import pytest

from edge.vision import ConfigError
from edge.vision.trend import GradeTrend, TrendAlarm, TrendSettings

GOOD = {
    "decode": 4,
    "symbol_contrast": 4,
    "modulation": 4,
    "reflectance_margin": 4,
    "fixed_pattern_damage": 4,
    "axial_nonuniformity": 4,
    "grid_nonuniformity": 4,
    "unused_error_correction": 4,
}


def worn(modulation: int) -> dict[str, int]:
    return {**GOOD, "modulation": modulation, "reflectance_margin": modulation}


def test_a_falling_grade_raises_one_alarm_naming_the_parameter_before_rejects() -> None:
    changes: list[TrendAlarm | None] = []
    trend = GradeTrend(TrendSettings(window=10, drop=0.5, min_grade=1.5), changes.append)
    for _ in range(30):
        trend.add(4.0, GOOD)
    assert trend.snapshot()["baseline"] == 4.0 and changes == []
    for _ in range(4):  # 4 of the last 10 at 3.0: moving 3.6, not yet 0.5 down
        trend.add(3.0, worn(3))
    assert changes == []
    trend.add(3.0, worn(3))  # 5 of 10: moving 3.5 = baseline - drop
    assert len(changes) == 1 and changes[0] is not None
    alarm = changes[0]
    assert alarm.moving == pytest.approx(3.5) and alarm.baseline == pytest.approx(4.0)
    assert alarm.parameter == "modulation"
    assert alarm.message == (
        "grade falling: moving grade 3.50 is 0.50 below its baseline 4.00; "
        "falling: modulation (MOD 4.0 -> 3.5); rejects start below 1.5"
    )
    for _ in range(3):
        trend.add(3.0, worn(3))
    assert len(changes) == 1  # raised once, not per unit
    snapshot = trend.snapshot()
    assert snapshot["falling"] == "modulation" and snapshot["alarm"] is not None
    assert snapshot["history"][-1] == pytest.approx(3.2)


def test_the_alarm_clears_with_hysteresis() -> None:
    changes: list[TrendAlarm | None] = []
    trend = GradeTrend(TrendSettings(window=4, drop=1.0), changes.append)
    for grade in (4.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0):
        trend.add(grade, GOOD)
    assert changes and changes[-1] is not None  # moving 3.0 = 4.0 - 1.0
    trend.add(4.0, GOOD)  # moving 3.25: within drop / 2? no (needs >= 3.5)
    assert changes[-1] is not None
    trend.add(4.0, GOOD)  # moving 3.5: cleared
    assert changes[-1] is None and trend.alarm is None


def test_reset_starts_a_new_baseline_and_clears_the_alarm() -> None:
    changes: list[TrendAlarm | None] = []
    trend = GradeTrend(TrendSettings(window=2, drop=0.5), changes.append)
    for grade in (4.0, 4.0, 2.0, 2.0):
        trend.add(grade, GOOD)
    assert trend.alarm is not None
    trend.reset()
    assert changes[-1] is None and trend.snapshot()["units"] == 0
    for grade in (2.0, 2.0, 2.0):
        trend.add(grade, GOOD)
    assert trend.alarm is None and trend.snapshot()["baseline"] == 2.0


def test_no_baseline_until_a_full_window() -> None:
    trend = GradeTrend(TrendSettings(window=5))
    for _ in range(4):
        trend.add(1.0, GOOD)
    snapshot = trend.snapshot()
    assert snapshot["baseline"] is None and snapshot["full"] is False
    assert snapshot["moving"] == 1.0


def test_values_that_are_not_grades_are_ignored() -> None:
    trend = GradeTrend(TrendSettings(window=2))
    for value in (float("nan"), -1.0, 5.0, float("inf")):
        trend.add(value, GOOD)
    assert trend.snapshot()["units"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 1}, "trend_window: expected 2 to 10000 units, got 1"),
        ({"drop": 0.0}, "trend_drop: expected 0.05 to 4 grade points, got 0.0"),
        ({"min_grade": 5.0}, "min_grade: expected 0 to 4, got 5.0"),
    ],
)
def test_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TrendSettings(**kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_parameters_by_abbreviation_as_the_event_carries_them() -> None:
    trend = GradeTrend(TrendSettings(window=2, drop=0.5))
    for _ in range(2):
        trend.add(4.0, {"SC": 4, "MOD": 4})
    for _ in range(2):
        trend.add(2.0, {"SC": 2, "MOD": 4})
    assert trend.snapshot()["falling"] == "symbol_contrast"
