"""The PLC simulator: a conveyor with a trigger photo-eye and a fail-safe reject gate, on
the line's MQTT PLC topics (``serialtrace sim plc``)."""

from __future__ import annotations

from simulators.plc.conveyor import Conveyor, Gate, GateCounts, GateReport

__all__ = ["Conveyor", "Gate", "GateCounts", "GateReport"]
