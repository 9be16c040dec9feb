"""Gate timing: every unit's trigger -> verdict time against the reject gate's deadline.

The PLC's reject gate lets a unit through only if its accept arrived before the unit reached
the gate, ``deadline`` after its trigger (configured, ``[line] verdict_deadline_ms``, or
announced by the PLC per trigger, ``deadline_ms``). For each verdict the edge sends, the
*margin* is ``deadline - (verdict sent - trigger received)``: below zero the verdict was
*missed* (a good unit went to the reject bin), below ``guard`` it was *at risk*.

:class:`GateTiming` keeps the last ``window`` verdicts and says, on :meth:`assess`, whether
the missed fraction is above ``max_miss_rate`` (the gate-timing alarm) and whether the policy
should act: missed plus at-risk verdicts reach ``policy_at_risk_rate`` of at least
``MIN_ASSESSED`` verdicts (act before good units are lost), or the alarm stands with
``MIN_MISSED`` misses in the window. It also keeps
one point per second for the HMI's charts: units verified (the line rate) and the smallest and
median margin. :meth:`record` is cheap and thread-safe (called from the pipeline's threads);
it never calls back into the agent, which polls :meth:`assess` from its state loop.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Verdicts needed in the window before the policy may act (one slow unit at start is noise).
MIN_ASSESSED = 20
#: Missed verdicts in the window that make the policy act (with the alarm raised), even
#: before MIN_ASSESSED verdicts: a gate that every verdict misses must not cost twenty good
#: units, and one rare miss alarms without stopping the line.
MIN_MISSED = 3
#: Seconds of history kept for the charts.
HISTORY_S = 600


@dataclass(frozen=True)
class TimingSettings:
    deadline_s: float = 0.150
    guard_s: float = 0.030
    window: int = 200
    max_miss_rate: float = 0.0
    policy_at_risk_rate: float = 0.05


@dataclass(frozen=True)
class Assessment:
    """The window's verdicts: how many, missed, at risk; the alarm text and whether the
    configured policy should act."""

    verdicts: int
    missed: int
    at_risk: int
    alarm: str | None
    act: bool


class GateTiming:
    def __init__(self, settings: TimingSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._window: collections.deque[tuple[bool, bool]] = collections.deque(
            maxlen=settings.window
        )
        self._missed = 0
        self._at_risk = 0
        self.total = 0
        self.total_missed = 0
        self.last_margin_ms: float | None = None
        self.last_deadline_ms: float = settings.deadline_s * 1000
        # one bucket per whole second: [second, units, min margin ms, margins ms]
        self._seconds: collections.deque[tuple[int, int, float, list[float]]] = collections.deque(
            maxlen=HISTORY_S
        )

    def deadline(self, announced_ms: float | None) -> float:
        """The deadline (s) of a unit: announced by the PLC with its trigger, else configured."""
        return self.settings.deadline_s if announced_ms is None else announced_ms / 1000.0

    def record(self, elapsed_s: float, deadline_s: float) -> float:
        """A verdict sent ``elapsed_s`` after its trigger; returns the margin in seconds."""
        margin = deadline_s - elapsed_s
        missed = margin < 0
        at_risk = not missed and margin < self.settings.guard_s
        margin_ms = margin * 1000
        second = math.floor(self._clock())
        with self._lock:
            if len(self._window) == self._window.maxlen:
                old_missed, old_risk = self._window[0]
                self._missed -= old_missed
                self._at_risk -= old_risk
            self._window.append((missed, at_risk))
            self._missed += missed
            self._at_risk += at_risk
            self.total += 1
            self.total_missed += missed
            self.last_margin_ms = margin_ms
            self.last_deadline_ms = deadline_s * 1000
            if self._seconds and self._seconds[-1][0] == second:
                _, units, low, margins = self._seconds[-1]
                margins.append(margin_ms)
                self._seconds[-1] = (second, units + 1, min(low, margin_ms), margins)
            else:
                self._seconds.append((second, 1, margin_ms, [margin_ms]))
        return margin

    def reset_window(self) -> None:
        """Judge afresh (after the policy acted, or the batch resumed)."""
        with self._lock:
            self._window.clear()
            self._missed = self._at_risk = 0

    def assess(self) -> Assessment:
        with self._lock:
            n, missed, at_risk = len(self._window), self._missed, self._at_risk
        alarm = None
        if n and missed / n > self.settings.max_miss_rate:
            alarm = (
                f"gate timing: {missed} of the last {n} verdicts missed the reject gate's "
                f"{self.last_deadline_ms:.0f} ms deadline (good units rejected for no verdict)"
            )
        enough = n >= min(MIN_ASSESSED, self.settings.window)
        act = (alarm is not None and missed >= MIN_MISSED) or (
            enough and (missed + at_risk) / n >= self.settings.policy_at_risk_rate
        )
        return Assessment(n, missed, at_risk, alarm, act)

    def rate_per_minute(self, seconds: int = 10) -> float:
        """Units verified per minute over the last ``seconds`` whole seconds."""
        now = math.floor(self._clock())
        with self._lock:
            recent = [(s, u) for s, u, _, _ in self._seconds if now - seconds <= s < now]
        if not recent:
            return 0.0
        span = now - recent[0][0]  # whole seconds covered (less than ``seconds`` at start)
        return sum(u for _, u in recent) * 60.0 / span

    def snapshot(self, seconds: int = 300, *, history: bool = True) -> dict[str, Any]:
        """For the API and the HMI: the window, the last margin, and per second the units
        verified, the smallest and the median margin (ms)."""
        now = math.floor(self._clock())
        assessment = self.assess()
        with self._lock:
            points = [
                {
                    "t": s,
                    "units": u,
                    "min_margin_ms": round(low, 1),
                    "median_margin_ms": round(sorted(m)[len(m) // 2], 1),
                }
                for s, u, low, m in self._seconds
                if history and s >= now - seconds
            ]
            last = self.last_margin_ms
        return {
            "deadline_ms": round(self.last_deadline_ms, 1),
            "guard_ms": round(self.settings.guard_s * 1000, 1),
            "last_margin_ms": None if last is None else round(last, 1),
            "window": assessment.verdicts,
            "missed": assessment.missed,
            "at_risk": assessment.at_risk,
            "total": self.total,
            "total_missed": self.total_missed,
            **({"history": points} if history else {}),
        }
