"""Unit by unit: printed labels = edge records = server records.

The printed labels are the simulated printers' own record of what they put on paper; the edge
records are the agent's SQLite store; the server records are the trace server's database
(read directly, read-only). Figures:

* ``lost_at_edge``: a unit label printed that the agent has no record of;
* ``lost_at_server``: a unit the agent commissioned (or commissioned and later decommissioned)
  that the server does not hold;
* ``unknown_at_server``: a unit the server holds that no printer printed;
* ``wrong_status``: the server's status differs from the agent's final state (commissioned =
  active, decommissioned = decommissioned);
* ``wrong_parents``: a unit whose case on the server differs from its case at the edge (a
  packed case at the edge and none on the server counts too), and a case whose pallet does;
* ``false_rejects``: a unit rejected on a camera verdict although its label was printed
  without any fault (a frame paired with the wrong unit, say);
* ``quality_rejects`` (a figure, not a problem): a unit printed without a fault but rejected
  for print quality on its own image (its code read and matched; the simulated camera's
  optics blur and add noise, so a few fall below the grade at any rate, fault or none);
* ``unverified_at_gate`` (a figure, not a problem): a good unit rejected without a camera
  verdict on its own image: the gate's ``no_verdict`` (the verdict came too late), no frame
  for it (``no frame``), or the camera failing (``camera_fault``), as must happen while the
  camera is stalled and before the line stops: failing safe, not a wrong verdict;
* ``empty_cases_labelled``: a case label printed for a case the agent holds no unit in and
  did not void;
* ``voided_labels`` (a figure, not a problem): a case or pallet label printed and then voided
  by the agent (recorded ``scrapped``: a label attempt the agent was killed in, a label that
  failed its check), its contents labelled again under a new SSCC;
* ``unbalanced``: the batch did not close balanced (printed = commissioned + rejected + …).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serialtrace.faults.stack import FaultStack

ON_SERVER = {"commissioned": "active", "decommissioned": "decommissioned"}


@dataclass
class Audit:
    lot: str
    printed: int
    edge_units: int
    edge_states: dict[str, int]
    server_units: int
    lost_at_edge: list[str] = field(default_factory=list)
    lost_at_server: list[str] = field(default_factory=list)
    unknown_at_server: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)
    wrong_parents: list[str] = field(default_factory=list)
    false_rejects: list[str] = field(default_factory=list)
    unverified_at_gate: list[str] = field(default_factory=list)
    quality_rejects: list[str] = field(default_factory=list)
    empty_cases_labelled: list[str] = field(default_factory=list)
    voided_labels: list[str] = field(default_factory=list)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    unbalanced: str | None = None

    @property
    def clean(self) -> bool:
        return not self.problems()

    def problems(self) -> dict[str, int]:
        counts = {
            name: len(getattr(self, name))
            for name in (
                "lost_at_edge",
                "lost_at_server",
                "unknown_at_server",
                "wrong_status",
                "wrong_parents",
                "false_rejects",
                "empty_cases_labelled",
            )
        }
        counts["unbalanced"] = int(self.unbalanced is not None)
        return {name: count for name, count in counts.items() if count}

    def figures(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "printed": self.printed,
            "edge_units": self.edge_units,
            "edge_states": self.edge_states,
            "server_units": self.server_units,
            "lost": len(self.lost_at_edge) + len(self.lost_at_server),
            "lost_at_edge": len(self.lost_at_edge),
            "lost_at_server": len(self.lost_at_server),
            "unknown_at_server": len(self.unknown_at_server),
            "wrong_status": len(self.wrong_status),
            "wrong_parents": len(self.wrong_parents),
            "false_rejects": len(self.false_rejects),
            "unverified_at_gate": len(self.unverified_at_gate),
            "quality_rejects": len(self.quality_rejects),
            "empty_cases_labelled": len(self.empty_cases_labelled),
            "voided_labels": len(self.voided_labels),
            "reject_reasons": self.reject_reasons,
            "balanced": self.unbalanced is None,
        }


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


EdgeUnits = dict[str, tuple[str, str | None, str | None]]
EdgeContainers = dict[str, tuple[str, str | None, int, str]]
ServerUnits = dict[str, tuple[str, str | None]]


def edge_records(db_path: Path, lot: str) -> tuple[EdgeUnits, EdgeContainers]:
    """The batch ``lot``'s units: serial -> (state, case SSCC, reason); its containers:
    SSCC -> (level, parent SSCC, units or cases in it, state)."""
    with contextlib.closing(_connect(db_path)) as db:
        (batch,) = db.execute("SELECT id FROM batches WHERE lot = ?", (lot,)).fetchone()
        units = {
            serial: (state, sscc, reason)
            for serial, state, sscc, reason in db.execute(
                "SELECT u.serial, u.state, c.sscc, u.reason FROM units u "
                "LEFT JOIN containers c ON c.id = u.case_id WHERE u.batch_id = ?",
                (batch,),
            )
        }
        containers = {
            sscc: (level, parent, children, state)
            for sscc, level, parent, children, state in db.execute(
                "SELECT c.sscc, c.level, p.sscc, "
                "(SELECT count(*) FROM units u WHERE u.case_id = c.id) "
                "+ (SELECT count(*) FROM containers k WHERE k.parent_id = c.id), c.state "
                "FROM containers c LEFT JOIN containers p ON p.id = c.parent_id "
                "WHERE c.sscc IS NOT NULL AND c.batch_id = ?",
                (batch,),
            )
        }
    return units, containers


def server_records(db_path: Path, lot: str) -> tuple[ServerUnits, dict[str, str | None]]:
    """Units of the batch ``lot`` (and of no batch): serial -> (status, case SSCC);
    containers: SSCC -> parent SSCC."""
    with contextlib.closing(_connect(db_path)) as db:
        units = {
            serial: (status, sscc)
            for serial, status, sscc in db.execute(
                "SELECT u.serial, u.status, c.sscc FROM units u "
                "LEFT JOIN containers c ON c.id = u.parent_id "
                "LEFT JOIN batches b ON b.id = u.batch_id "
                "WHERE b.lot = ? OR u.batch_id IS NULL",
                (lot,),
            )
        }
        containers = dict(
            db.execute(
                "SELECT c.sscc, p.sscc FROM containers c LEFT JOIN containers p "
                "ON p.id = c.parent_id"
            ).fetchall()
        )
    return units, containers


def audit(stack: FaultStack) -> Audit:
    printed = stack.printed
    edge_units, edge_containers = edge_records(stack.edge_db, stack.lot)
    server_units, server_containers = server_records(stack.server_db, stack.lot)
    states: dict[str, int] = {}
    for state, _case, _reason in edge_units.values():
        states[state] = states.get(state, 0) + 1
    result = Audit(
        lot=stack.lot,
        printed=len(printed.units),
        edge_units=len(edge_units),
        edge_states=states,
        server_units=len(server_units),
    )
    result.lost_at_edge = sorted(set(printed.units) - set(edge_units))
    result.unknown_at_server = sorted(set(server_units) - set(printed.units))
    for serial, (state, case, _reason) in sorted(edge_units.items()):
        if state in ON_SERVER:
            held = server_units.get(serial)
            if held is None:
                result.lost_at_server.append(serial)
                continue
            status, server_case = held
            if status != ON_SERVER[state]:
                result.wrong_status.append(serial)
            if state == "commissioned" and server_case != case:
                result.wrong_parents.append(serial)
        elif state == "rejected" and printed.units.get(serial) == ():
            kind = reject_kind(_reason or "")
            if kind == "unverified":
                result.unverified_at_gate.append(serial)
            elif kind == "quality":
                result.quality_rejects.append(serial)
            else:
                result.false_rejects.append(serial)
        if state in ("rejected", "decommissioned", "scrapped"):
            why = _reason_kind(_reason)
            result.reject_reasons[why] = result.reject_reasons.get(why, 0) + 1
    for sscc, (_level, parent, _children, _state) in sorted(edge_containers.items()):
        if sscc in server_containers and server_containers[sscc] != parent:
            result.wrong_parents.append(sscc)
    result.empty_cases_labelled, result.voided_labels = empty_and_voided(
        printed.ssccs, edge_containers
    )
    if stack.closed is None:
        result.unbalanced = f"the batch did not close: {stack.close_refused}"
    elif not stack.closed["reconciliation"]["balanced"]:
        result.unbalanced = str(stack.closed["reconciliation"])
    return result


def empty_and_voided(printed: list[str], containers: EdgeContainers) -> tuple[list[str], list[str]]:
    """Printed container labels with nothing in them at the edge: those the agent did not
    void (a problem: an empty case labelled, or a label it has no record of) and those it
    voided (recorded ``scrapped``; its contents were labelled again)."""
    empty: list[str] = []
    voided: list[str] = []
    for sscc in sorted(set(printed)):
        _level, _parent, children, state = containers.get(sscc, ("case", None, 0, "unknown"))
        if children == 0:
            (voided if state == "scrapped" else empty).append(sscc)
    return empty, voided


def _reason_kind(reason: str | None) -> str:
    """A reject reason without its particulars (numbers, codes), to count by."""
    if not reason:
        return "(none)"
    head = reason.split(":", 1)[0] if ": " in reason[:40] else reason
    return re.sub(r"[0-9][0-9.:/-]*", "#", head)[:80]


def reject_kind(reason: str) -> str:
    """How a reject of a unit printed without a fault counts: ``unverified`` (no verdict on
    its own image: the fail-safe), ``quality`` (its own image, read and matched, graded too
    low) or ``false`` (a verdict on something else than its own good print)."""
    if _unverified(reason):
        return "unverified"
    if reason.startswith("poor_quality"):
        return "quality"
    return "false"


def _unverified(reason: str) -> bool:
    """A reject for want of a verdict on the unit's own image, not on a wrong one."""
    return (
        "(no_verdict)" in reason
        or reason.startswith("camera_fault")
        or (reason.startswith("no_read") and "no frame" in reason)
    )
