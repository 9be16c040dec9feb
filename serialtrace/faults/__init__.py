"""The fault-injection suite: the whole system (Mosquitto, ``serialtrace server``,
``serialtrace edge run``, the simulated line and PLC) under broker, server and edge kills, a
broker outage, a full disk on either side and a camera stall; after each, printed labels,
edge records and server records are compared unit by unit.

Run small by ``tests/faults/`` (CI) and at full size by ``serialtrace bench faults``; see
docs/performance.md.
"""

from serialtrace.faults.audit import Audit, audit
from serialtrace.faults.scenarios import ALARM_S, SCENARIOS, FaultRun, run_fault
from serialtrace.faults.stack import FaultStack

__all__ = ["ALARM_S", "SCENARIOS", "Audit", "FaultRun", "FaultStack", "audit", "run_fault"]
