"""The line's moving ISO/IEC 15415 grade, and the alarm when it falls before rejects start.

A printhead losing dots or a ribbon wrinkling shows first as a falling grade (modulation,
fixed pattern damage, unused error correction), long before codes stop reading. The trend
keeps the mean overall grade of the last ``window`` units and of each parameter, remembers
the best moving grade of the batch (its baseline, once a full window has been seen) and
raises an alarm when the moving grade has fallen ``drop`` or more below it; the alarm names
the parameter that fell most. It clears when the moving grade is back within half of
``drop`` of the baseline (hysteresis, so a grade hovering at the limit does not flap).

Pure and thread-safe; the agent feeds it every graded unit and shows :meth:`snapshot` on the
HMI.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from edge.errors import ConfigError
from edge.vision.grading.report import ABBREVIATIONS, PARAMETERS

_NAMES = {abbreviation: name for name, abbreviation in ABBREVIATIONS.items()}

HISTORY = 240
"""Moving-grade points kept for the HMI's chart (one per unit)."""


@dataclass(frozen=True)
class TrendSettings:
    window: int = 50
    """Units in the moving grade."""
    drop: float = 0.5
    """Fall of the moving grade below its baseline that raises the alarm (grade points)."""
    min_grade: float | None = None
    """The line's reject limit, if any (shown with the alarm: rejects start below it)."""

    def __post_init__(self) -> None:
        if not 2 <= self.window <= 10_000:
            raise ConfigError(f"trend_window: expected 2 to 10000 units, got {self.window!r}")
        if not (math.isfinite(self.drop) and 0.05 <= self.drop <= 4.0):
            raise ConfigError(f"trend_drop: expected 0.05 to 4 grade points, got {self.drop!r}")
        if self.min_grade is not None and not 0.0 <= self.min_grade <= 4.0:
            raise ConfigError(f"min_grade: expected 0 to 4, got {self.min_grade!r}")


@dataclass(frozen=True)
class TrendAlarm:
    """The moving grade fell: by how much, and which parameter fell most."""

    moving: float
    baseline: float
    parameter: str | None
    parameter_from: float | None
    parameter_to: float | None
    min_grade: float | None

    @property
    def message(self) -> str:
        text = (
            f"grade falling: moving grade {self.moving:.2f} is {self.baseline - self.moving:.2f} "
            f"below its baseline {self.baseline:.2f}"
        )
        if self.parameter is not None:
            text += (
                f"; falling: {self.parameter} ({ABBREVIATIONS[self.parameter]} "
                f"{self.parameter_from:.1f} -> {self.parameter_to:.1f})"
            )
        if self.min_grade is not None:
            text += f"; rejects start below {self.min_grade:.1f}"
        return text


class GradeTrend:
    """Moving grade of the last ``window`` units with a baseline and a falling-grade alarm.

    ``on_change(alarm)`` is called when the alarm is raised (with it) and when it clears
    (with None), outside the trend's lock.
    """

    def __init__(
        self,
        settings: TrendSettings | None = None,
        on_change: Callable[[TrendAlarm | None], None] | None = None,
    ) -> None:
        self.settings = settings or TrendSettings()
        self._on_change = on_change
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new batch starts); clears a raised alarm."""
        had_alarm = False
        with self._lock:
            had_alarm = getattr(self, "_alarm", None) is not None
            window = self.settings.window
            self._overall: deque[float] = deque(maxlen=window)
            self._parameters: dict[str, deque[int]] = {
                name: deque(maxlen=window) for name in PARAMETERS
            }
            self._baseline: float | None = None
            self._baseline_parameters: dict[str, float] = {}
            self._alarm: TrendAlarm | None = None
            self._history: deque[float] = deque(maxlen=HISTORY)
            self._units = 0
        if had_alarm and self._on_change is not None:
            self._on_change(None)

    def add(self, overall: float, parameters: Mapping[str, int]) -> None:
        """One more graded unit: its overall grade and its parameter grades 0-4, by name
        (``modulation``) or abbreviation (``MOD``, as in the commissioning event)."""
        parameters = {_NAMES.get(name, name): grade for name, grade in parameters.items()}
        if not (math.isfinite(overall) and 0.0 <= overall <= 4.0):
            return  # not a grade: nothing to learn from
        changed: tuple[TrendAlarm | None] | None = None
        with self._lock:
            self._units += 1
            self._overall.append(overall)
            for name, values in self._parameters.items():
                grade = parameters.get(name)
                if isinstance(grade, int) and 0 <= grade <= 4:
                    values.append(grade)
            if len(self._overall) < self.settings.window:
                return
            moving = sum(self._overall) / len(self._overall)
            self._history.append(round(moving, 3))
            means = self._means()
            if self._baseline is None or moving > self._baseline:
                self._baseline = moving
                self._baseline_parameters = dict(means)
            drop = self.settings.drop
            if self._alarm is None and moving <= self._baseline - drop + 1e-9:
                self._alarm = self._make_alarm(moving, means)
                changed = (self._alarm,)
            elif self._alarm is not None and moving >= self._baseline - drop / 2:
                self._alarm = None
                changed = (None,)
            elif self._alarm is not None:
                self._alarm = self._make_alarm(moving, means)
        if changed is not None and self._on_change is not None:
            self._on_change(changed[0])

    def _means(self) -> dict[str, float]:
        return {
            name: sum(values) / len(values) for name, values in self._parameters.items() if values
        }

    def _make_alarm(self, moving: float, means: dict[str, float]) -> TrendAlarm:
        assert self._baseline is not None
        falling = None
        worst = 0.0
        for name, mean in means.items():
            fall = self._baseline_parameters.get(name, mean) - mean
            if fall > worst + 1e-9:
                falling, worst = name, fall
        return TrendAlarm(
            moving=moving,
            baseline=self._baseline,
            parameter=falling,
            parameter_from=self._baseline_parameters.get(falling) if falling else None,
            parameter_to=means.get(falling) if falling else None,
            min_grade=self.settings.min_grade,
        )

    @property
    def alarm(self) -> TrendAlarm | None:
        with self._lock:
            return self._alarm

    def snapshot(self) -> dict[str, object]:
        """What the HMI shows: the moving grade and its baseline, each parameter's moving
        mean, the parameter falling most, the alarm and the chart's points."""
        with self._lock:
            moving = sum(self._overall) / len(self._overall) if self._overall else None
            means = self._means()
            falling = None
            worst = 0.0
            for name, mean in means.items():
                fall = self._baseline_parameters.get(name, mean) - mean
                if fall > worst + 1e-9:
                    falling, worst = name, fall
            return {
                "units": self._units,
                "window": self.settings.window,
                "moving": None if moving is None else round(moving, 3),
                "full": len(self._overall) == self.settings.window,
                "baseline": None if self._baseline is None else round(self._baseline, 3),
                "drop": self.settings.drop,
                "min_grade": self.settings.min_grade,
                "parameters": {name: round(mean, 3) for name, mean in means.items()},
                "falling": falling,
                "falling_by": round(worst, 3) if falling else 0.0,
                "alarm": None if self._alarm is None else self._alarm.message,
                "history": list(self._history),
            }
