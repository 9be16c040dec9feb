"""SLA clocks for complaints: first response (acknowledgement) and resolution.

A clock is ``met`` or ``breached`` once its event happened (in time or late), else
``on_track``, ``at_risk`` (``at_risk_fraction`` of the window gone) or ``breached``.
Durations and the at-risk fraction come from :class:`SlaPolicy`, made by
:meth:`QaSettings.policy` from the server's settings (``qa_first_response_hours``,
``qa_resolution_hours``, ``qa_at_risk_fraction``: :meth:`server.config.ServerSettings.qa`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class QaSettings(BaseModel):
    """The QA part of the server settings (the ``qa_*`` keys of
    :class:`server.config.ServerSettings`, which reads them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_response_hours: float = Field(default=24.0, gt=0)
    resolution_hours: float = Field(default=48.0, gt=0)
    at_risk_fraction: float = Field(default=0.75, gt=0, lt=1)
    satisfaction_target: float = Field(default=0.90, gt=0, le=1)
    batch_flag_factor: float = Field(default=3.0, gt=1)  # x the product's median rate
    batch_flag_min_complaints: int = Field(default=3, ge=1)

    def policy(self) -> SlaPolicy:
        return SlaPolicy(
            timedelta(hours=self.first_response_hours),
            timedelta(hours=self.resolution_hours),
            self.at_risk_fraction,
        )


class ClockState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"


@dataclass(frozen=True)
class SlaPolicy:
    first_response: timedelta = timedelta(hours=24)
    resolution: timedelta = timedelta(hours=48)
    at_risk_fraction: float = 0.75

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_fraction < 1:
            raise ValueError(
                f"at_risk_fraction: expected a value between 0 and 1, got {self.at_risk_fraction}"
            )


@dataclass(frozen=True)
class SlaClock:
    state: ClockState
    due_at: datetime
    remaining_seconds: float  # negative once overdue; at the event when it happened


def evaluate(
    started: datetime, done: datetime | None, window: timedelta, fraction: float, now: datetime
) -> SlaClock:
    due = started + window
    if done is not None:
        state = ClockState.MET if done <= due else ClockState.BREACHED
        return SlaClock(state, due, (due - done).total_seconds())
    remaining = (due - now).total_seconds()
    if remaining < 0:
        return SlaClock(ClockState.BREACHED, due, remaining)
    if now - started >= window * fraction:
        return SlaClock(ClockState.AT_RISK, due, remaining)
    return SlaClock(ClockState.ON_TRACK, due, remaining)


def response_clock(
    policy: SlaPolicy, received: datetime, acknowledged: datetime | None, now: datetime
) -> SlaClock:
    return evaluate(received, acknowledged, policy.first_response, policy.at_risk_fraction, now)


def resolution_clock(
    policy: SlaPolicy, received: datetime, resolved: datetime | None, now: datetime
) -> SlaClock:
    return evaluate(received, resolved, policy.resolution, policy.at_risk_fraction, now)
