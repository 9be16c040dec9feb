"""What the agent's ``GET /health`` says, part by part, and the devices' last known state.

``/health`` answers 200 only when every part it speaks for works, else 503 with each
failing part named (``{"part": …, "problem": …}``):

================  =========================================================================
``mqtt``          the outbox publisher's broker link: connected, not refused for good (bad
                  credentials, not authorised, an untrusted certificate), its session not
                  taken over by another client lately (MQTT 5 reason 0x8E, or the
                  connection closed 3 times in 60 s: Mosquitto 2.0.11 sends no reason)
``plc``           the PLC link's two broker connections are up and not refused, and the PLC
                  reported no fault since the batch last (re)started
``printer``,      each device the line has, by its last known state: the fault that stopped
``camera``, …     the line (printer offline, head open, camera gone, scanner port lost, the
                  serial buffer empty), until the device works again or the batch resumes
``workers``       every worker thread of the agent runs (writer, print and verify stages,
                  packer, outbox publisher, state loop, device probe, PLC command worker,
                  timer)
``outbox``        the oldest event not yet confirmed is younger than ``outbox.max_age_s``
================  =========================================================================

An idle line (no batch) is healthy. What a device is doing is known from its work: a
device fault raised by a driver marks it faulted, the next job it was given after that and
did well marks it working again. Between batches the agent asks its printers for their
status (:meth:`edge.agent.Agent._probe_devices`), which marks them the same way. Problems
name links by their redacted URL (user, never the password): ``/health`` needs no token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.agent import Agent

#: How long after the broker said another client took the publisher's session over
#: (MQTT 5 reason 0x8E: a second agent with this line's client id) ``/health`` fails.
TAKEOVER_ALARM_S = 300.0


@dataclass(frozen=True)
class PartHealth:
    """One part ``/health`` speaks for: ``problem`` is None when it works."""

    part: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {"part": self.part, "ok": self.ok, "problem": self.problem}


@dataclass(frozen=True)
class HealthReport:
    parts: tuple[PartHealth, ...]
    workers: Mapping[str, bool]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def failing(self) -> list[PartHealth]:
        return [part for part in self.parts if not part.ok]

    def as_dict(self) -> dict[str, Any]:
        by_name = {part.part: part.ok for part in self.parts}
        return {
            "status": "ok" if self.ok else "failing",
            "parts": [part.as_dict() for part in self.parts],
            "failing": [{"part": part.part, "problem": part.problem} for part in self.failing],
            "workers": dict(self.workers),
            "mqtt": by_name.get("mqtt", False),  # the booleans of earlier versions
            "plc": by_name.get("plc", False),
        }


class DeviceStates:
    """The last known state of each device: faulted (and why) or working. Thread-safe;
    :meth:`working` is cheap when nothing is faulted (it runs once per unit)."""

    def __init__(self) -> None:
        self._faults: dict[str, tuple[str, float]] = {}  # device -> (problem, when)
        self._lock = threading.Lock()

    def fault(self, device: str, problem: str, at: float) -> None:
        """``device`` faulted at ``at`` (``time.time()``)."""
        with self._lock:
            self._faults[device] = (problem, at)

    def working(self, device: str, since: float) -> None:
        """``device`` did a job it was given at ``since``: a fault from before that is over
        (a job that was under way when the device faulted says nothing)."""
        if device not in self._faults:
            return
        with self._lock:
            fault = self._faults.get(device)
            if fault is not None and fault[1] <= since:
                del self._faults[device]

    def clear(self) -> None:
        """The operator cleared the fault (resumed the batch, started a new one)."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> dict[str, str]:
        """What is wrong with each faulted device."""
        with self._lock:
            return {device: problem for device, (problem, _) in self._faults.items()}


def _joined(problems: list[str]) -> str | None:
    return "; ".join(problems) if problems else None


def _mqtt(agent: Agent, now: float) -> PartHealth:
    publisher = agent.publisher
    stats = publisher.stats
    problems: list[str] = []
    if stats.refused is not None:
        problems.append(stats.refused)
    elif not publisher.connected:
        why = f" ({stats.last_error})" if stats.last_error else ""
        problems.append(f"not connected to {publisher.broker}{why}")
    if stats.last_takeover is not None and now - stats.last_takeover < TAKEOVER_ALARM_S:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stats.last_takeover))
        problems.append(f"session taken over at {when}: {stats.takeover}")
    return PartHealth("mqtt", _joined(problems))


def _plc(agent: Agent, faults: dict[str, str]) -> PartHealth:
    plc = agent.plc
    problems = [plc.refused[name] for name in sorted(plc.refused)]
    if not plc.connected and not problems:
        problems.append(f"PLC link not connected to {plc.broker}")
    fault = faults.pop("plc", None)
    if fault is not None:
        problems.append(fault)
    return PartHealth("plc", _joined(problems))


def _devices(agent: Agent, faults: dict[str, str]) -> list[PartHealth]:
    names = ["printer", "camera"]
    labeller = agent.devices.labeller
    if labeller is not None:
        names += ["case printer", "scanner"]
        probe = getattr(labeller, "device_problems", None)
        if callable(probe):  # e.g. the scanner's port was lost (its reader ended)
            for device, problem in probe().items():
                faults.setdefault(device, problem)
    names += sorted(set(faults) - set(names))  # e.g. the serial buffer ran dry
    return [PartHealth(name, faults.get(name)) for name in names]


def _workers(agent: Agent) -> tuple[PartHealth, dict[str, bool]]:
    workers = agent.workers_alive()
    dead = [name for name, alive in workers.items() if not alive]
    problem = f"not running: {', '.join(dead)}" if dead else None
    return PartHealth("workers", problem), workers


def _outbox(agent: Agent, now: float) -> PartHealth:
    limit = agent.config.outbox.max_age_s
    age = agent.outbox_oldest_age_s(now)
    if age <= limit:
        return PartHealth("outbox")
    stats = agent.publisher.stats
    by = "the trace server" if stats.confirm_by == "server" else "the broker"
    return PartHealth(
        "outbox",
        f"the oldest event not confirmed by {by} is {age:.0f} s old "
        f"(limit outbox.max_age_s = {limit:g} s; {stats.depth} waiting)",
    )


def assess(agent: Agent) -> HealthReport:
    """Every part of ``agent`` as it is now."""
    now = time.time()
    faults = agent.device_states.faults()
    workers_part, workers = _workers(agent)
    parts = (
        _mqtt(agent, now),
        _plc(agent, faults),
        *_devices(agent, faults),
        workers_part,
        _outbox(agent, now),
    )
    return HealthReport(parts, workers)
