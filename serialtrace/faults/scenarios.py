"""The faults of issue 21, each a run of one batch on a fresh :class:`FaultStack`:

=========================  ==============================================================
``no-fault``                 the control: the same batch with nothing going wrong
``broker-kill-server-away``  the server is killed, then the broker is killed (SIGKILL) three
                             times and started again; the server comes back at the end
``server-kill``              the trace server is killed three times and started again
``edge-kill``                the edge agent is killed three times and started again
``broker-outage``            the broker is stopped for 6 s, then started again
``disk-full-edge``           the edge's data folder (a tmpfs) runs full for 4 s
``disk-full-server``         the server's database folder (a tmpfs) runs full for 4 s
``camera-stall``             the camera stalls for 3 s and then delivers what it held back
=========================  ==============================================================

After the fault the belt runs to the planned count (a halted line is resumed, as an operator
does once the alarm is dealt with), the batch is stopped and closed, and, once the outbox is
empty, :func:`serialtrace.faults.audit.audit` compares printed labels, edge records and server
records unit by unit. Every fault must also be visible as an alarm within
:data:`ALARM_S` seconds: a new signal on the agent's ``/status`` alarms or the server's
``/health`` (see :class:`serialtrace.faults.stack.AlarmWatch`).

The goals (issue 21): 0 lost, 0 wrong parents, 0 false rejects from a stall, every fault
visible as an alarm within 5 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serialtrace.errors import ConfigError
from serialtrace.faults.audit import Audit, audit
from serialtrace.faults.processes import SmallDisk
from serialtrace.faults.stack import FaultStack

ALARM_S = 5.0
#: the alarm signal of a trace server that is away
SERVER_AWAY = frozenset({"server: unreachable"})

Scenario = Callable[[FaultStack, int, float, int], list[float | None]]


@dataclass
class FaultRun:
    """The outcome of one fault scenario."""

    name: str
    units: int
    audit: Audit
    alarms: list[float | None] = field(default_factory=list)  # per fault injected
    printed_at_faults: list[int] = field(default_factory=list)  # unit labels, per fault
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def late_alarms(self) -> int:
        return sum(1 for delay in self.alarms if delay is None or delay > ALARM_S)

    def missed(self) -> dict[str, int]:
        """The goals missed: the audit's problems (false rejects count as one only for the
        camera stall, the fault whose goal they are; elsewhere they are figures) and late
        alarms."""
        problems = dict(self.audit.problems())
        if self.name != "camera-stall":
            problems.pop("false_rejects", None)
        if self.late_alarms:
            problems["late_alarms"] = self.late_alarms
        return problems

    @property
    def ok(self) -> bool:
        return not self.missed()

    def figures(self) -> dict[str, Any]:
        return {
            "fault": self.name,
            "units": self.units,
            **self.audit.figures(),
            "alarms_s": [None if d is None else round(d, 2) for d in self.alarms],
            "late_alarms": self.late_alarms,
            "printed_at_faults": self.printed_at_faults,
            "seconds": round(self.seconds, 1),
            "phases_s": {name: round(value, 1) for name, value in self.phases.items()},
            "missed": self.missed(),
            "ok": self.ok,
        }

    def explain(self) -> str:
        """What went wrong, for an assertion message."""
        lines = [f"{self.name}: goals missed {self.missed()}", f"figures: {self.figures()}"]
        for name in self.audit.problems():
            values = getattr(self.audit, name)
            if isinstance(values, list):
                lines.append(f"  {name}: {values[:10]}")
            else:
                lines.append(f"  {name}: {values}")
        for side, text in self.logs.items():
            lines.append(f"--- {side} log (tail) ---\n{text}")
        return "\n".join(lines)


def _inject(
    stack: FaultStack, action: Callable[[], object], allowed: frozenset[str] = frozenset()
) -> float | None:
    """Do ``action`` and wait (at most ALARM_S) for a new alarm signal: its delay, or None.

    First the alarms of an earlier fault are given up to 20 s to clear (to the ``allowed``
    signals: those of a part the scenario keeps away on purpose), so that the new fault must
    show itself by a signal of its own."""
    baseline = stack.alarms.settle(allowed, 20.0)
    since = time.monotonic()
    stack.printed_at_faults.append(len(stack.printed.order))
    action()
    return stack.alarms.wait_new(since, baseline, ALARM_S)


def _hold(seconds: float) -> None:
    """A fault lasts ``seconds`` (a duration chosen by the scenario, not a wait for a
    condition)."""
    time.sleep(seconds)


def _clear_frames(stack: FaultStack) -> None:
    for frame in (stack.folder / "frames").iterdir():  # a new camera session after a restart
        frame.unlink(missing_ok=True)


def _at(stack: FaultStack, units: int, share: float, timeout: float) -> None:
    stack.run_belt(units, timeout, until=max(1, int(units * share)))


def no_fault(stack: FaultStack, units: int, timeout: float, kills: int = 3) -> list[float | None]:
    """The control: the same batch with nothing going wrong."""
    return []


def broker_kill_server_away(
    stack: FaultStack, units: int, timeout: float, kills: int = 3
) -> list[float | None]:
    alarms: list[float | None] = []
    _at(stack, units, 0.1, timeout)
    stack.server.kill()
    # What the server's absence shows: its /health unreachable. (The agent raises no alarm
    # for it: the outbox keeps what the server has not confirmed; its depth alarm is at
    # 10,000 events.) A broker kill must show by a signal of its own.
    away = stack.alarms.wait_for(SERVER_AWAY, ALARM_S)
    for kill in range(kills):
        _at(stack, units, 0.2 + 0.6 * kill / kills, timeout)
        alarms.append(_inject(stack, stack.broker.kill, away))
        _hold(1.5)
        stack.broker.start()
    stack.run_belt(units, timeout)
    stack.server.start()
    return alarms


def server_kill(
    stack: FaultStack, units: int, timeout: float, kills: int = 3
) -> list[float | None]:
    alarms: list[float | None] = []
    for kill in range(kills):
        _at(stack, units, 0.2 + 0.6 * kill / kills, timeout)
        alarms.append(_inject(stack, stack.server.kill))
        _hold(2.0)
        stack.server.start()
    return alarms


def edge_kill(stack: FaultStack, units: int, timeout: float, kills: int = 3) -> list[float | None]:
    alarms: list[float | None] = []
    for kill in range(kills):
        _at(stack, units, 0.2 + 0.6 * kill / kills, timeout)
        alarms.append(_inject(stack, stack.edge.kill))
        _clear_frames(stack)
        stack.edge.start()
    return alarms


def broker_outage(
    stack: FaultStack, units: int, timeout: float, kills: int = 3
) -> list[float | None]:
    _at(stack, units, 0.3, timeout)
    alarm = _inject(stack, stack.broker.stop)
    _hold(6.0)
    stack.broker.start()
    return [alarm]


def _disk_full(side: str) -> Scenario:
    def disk_full(
        stack: FaultStack, units: int, timeout: float, kills: int = 3
    ) -> list[float | None]:
        _at(stack, units, 0.3, timeout)
        alarm = _inject(stack, lambda: stack.fill_disk(side))
        _hold(4.0)
        stack.free_disk(side)
        return [alarm]

    return disk_full


def camera_stall(
    stack: FaultStack, units: int, timeout: float, kills: int = 3
) -> list[float | None]:
    _at(stack, units, 0.3, timeout)
    alarm = _inject(stack, stack.camera.stall)
    _hold(3.0)
    stack.camera.recover()
    return [alarm]


#: name -> scenario
SCENARIOS: dict[str, Scenario] = {
    "no-fault": no_fault,
    "broker-kill-server-away": broker_kill_server_away,
    "server-kill": server_kill,
    "edge-kill": edge_kill,
    "broker-outage": broker_outage,
    "disk-full-edge": _disk_full("edge"),
    "disk-full-server": _disk_full("server"),
    "camera-stall": camera_stall,
}
#: the scenarios that need the small disks (root, for the tmpfs mounts)
NEEDS_DISKS = frozenset({"disk-full-edge", "disk-full-server"})


def run_fault(stack: FaultStack, name: str, *, units: int, kills: int = 3) -> FaultRun:
    """Run fault ``name`` during a new batch of ``units`` on ``stack`` (started), healed
    first of what an earlier run left behind; ``kills``: how often the kill faults kill."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ConfigError(f"fault: expected one of {', '.join(SCENARIOS)}, got {name!r}")
    if units < 20:
        raise ConfigError(f"units: expected at least 20, got {units}")
    if name in NEEDS_DISKS and not stack.disks:
        raise ConfigError(f"{name}: the stack has no small disks ({SmallDisk.available()})")
    timeout = units / stack.rate_per_minute * 60 * 3 + 120
    began = time.monotonic()
    phases: dict[str, float] = {}

    def phase(label: str) -> None:
        phases[label] = time.monotonic() - began - sum(phases.values())

    stack.heal()
    phase("heal")
    stack.start_batch(units)
    stack.plc.run(units)
    if kills < 1:
        raise ConfigError(f"kills: expected at least 1, got {kills}")
    alarms = scenario(stack, units, timeout, kills)
    phase("fault")
    stack.finish(units, timeout)
    phase("finish")
    result = audit(stack)
    phase("audit")
    run = FaultRun(
        name,
        units,
        result,
        alarms,
        list(stack.printed_at_faults),
        time.monotonic() - began,
        phases,
    )
    if not run.ok:
        run.logs = {
            "alarm watch (signal changes, seconds before the report)": stack.alarms.report(),
            "edge": stack.edge.tail(),
            "server": stack.server.tail(),
        }
    return run
