"""Aggregation: good units fill cases, cases fill pallets; rework and decommissioning.

Container states::

    open ──(full, or partial at batch close)──> full ──SSCC + label──> labelling
      labelling ──label read back──> closed   (AggregationEvent ADD, packing)
      labelling ──label unreadable──> full    (the SSCC is voided, a new one is used)
      full ──too many failed labels──> held   (an operator retries: ``retry_held``)
      closed ──decommission──> decommissioned

A case is never labelled, closed or put on a pallet without a good unit in it: every unit of
a full case may leave it before its label (rejected at the gate after commissioning), and
such an empty case is dropped (no SSCC, no event; one already given is kept on record as
scrapped, never reused). The same holds for a pallet without a case.

The database functions run inside the writer's transaction; :class:`Packer` is the thread
that prints and reads back container labels, so the unit pipeline never waits for a case.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import gs1
from edge import outbox
from edge.batch import UnitState, check_unit_transition
from edge.devices import ContainerLabeller, DeviceFault, SsccSource
from edge.errors import BatchStateError, NotFoundError
from edge.ledger import Ledger, utc_now
from edge.writer import Writer

log = logging.getLogger(__name__)

CASE = "case"
PALLET = "pallet"


@dataclass(frozen=True)
class Packing:
    units_per_case: int
    cases_per_pallet: int
    sscc_company_prefix_length: int
    max_label_attempts: int = 3


class Aggregation:
    """Container records; every function runs inside the writer's transaction."""

    def __init__(self, ledger: Ledger, packing: Packing) -> None:
        self.ledger = ledger
        self.packing = packing

    def _capacity(self, level: str) -> int:
        return self.packing.units_per_case if level == CASE else self.packing.cases_per_pallet

    def _sscc_uri(self, sscc: str) -> str:
        return gs1.sscc_uri(gs1.Sscc.parse(sscc), self.packing.sscc_company_prefix_length)

    def _add(self, conn: sqlite3.Connection, batch_id: int, level: str) -> tuple[int, bool]:
        """Count one more child in the open container of ``level``; (its id, now full?)."""
        row = conn.execute(
            "SELECT id, children FROM containers "
            "WHERE batch_id = ? AND level = ? AND state = 'open' LIMIT 1",
            (batch_id, level),
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO containers (batch_id, level, state, created_at) "
                "VALUES (?, ?, 'open', ?)",
                (batch_id, level, utc_now()),
            )
            container_id, children = int(cursor.lastrowid or 0), 0
        else:
            container_id, children = row["id"], row["children"]
        full = children + 1 >= self._capacity(level)
        conn.execute(
            "UPDATE containers SET children = children + 1, state = ? WHERE id = ?",
            ("full" if full else "open", container_id),
        )
        return container_id, full

    def add_unit(self, conn: sqlite3.Connection, batch_id: int, unit_id: int) -> int | None:
        """Put a commissioned unit in the open case; the case id if that filled it."""
        case_id, full = self._add(conn, batch_id, CASE)
        conn.execute("UPDATE units SET case_id = ? WHERE id = ?", (case_id, unit_id))
        return case_id if full else None

    def close_partial(self, conn: sqlite3.Connection, batch_id: int, level: str) -> list[int]:
        """At batch close: the open container of ``level`` is full as it is (or dropped if
        empty). Returns the ids of containers that now need a label."""
        rows = conn.execute(
            "SELECT id, children FROM containers WHERE batch_id = ? AND level = ? "
            "AND state = 'open'",
            (batch_id, level),
        ).fetchall()
        ready = []
        for row in rows:
            if row["children"] == 0:
                conn.execute("DELETE FROM containers WHERE id = ?", (row["id"],))
            else:
                conn.execute("UPDATE containers SET state = 'full' WHERE id = ?", (row["id"],))
                ready.append(int(row["id"]))
        return ready

    def waiting(self, conn: sqlite3.Connection, batch_id: int | None = None) -> list[int]:
        """Containers that are full or were being labelled (e.g. before a restart)."""
        sql = "SELECT id FROM containers WHERE state IN ('full', 'labelling')"
        params: tuple[int, ...] = ()
        if batch_id is not None:
            sql += " AND batch_id = ?"
            params = (batch_id,)
        return [int(row[0]) for row in conn.execute(sql + " ORDER BY id", params)]

    def drop_if_empty(self, conn: sqlite3.Connection, container_id: int) -> bool:
        """A container that is not packed yet and has no child left is dropped (its SSCC, if
        it had one, kept on record as scrapped); True if it was."""
        row = self._container(conn, container_id)
        if row["state"] in ("closed", "decommissioned", "scrapped"):
            return False
        if self._child_count(conn, row) > 0:
            return False
        if row["sscc"] is not None:
            self._void(conn, row, f"{row['level']} left with no good unit: not shipped")
        conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))
        log.warning("%s %d has no good unit left: dropped, never labelled", row["level"], row["id"])
        return True

    def _child_count(self, conn: sqlite3.Connection, row: sqlite3.Row) -> int:
        """The children really in the container (the records, not the counter)."""
        if row["level"] == CASE:
            sql = "SELECT count(*) FROM units WHERE case_id = ? AND state = 'commissioned'"
        else:
            sql = "SELECT count(*) FROM containers WHERE parent_id = ? AND state = 'closed'"
        return int(conn.execute(sql, (row["id"],)).fetchone()[0])

    def assign_sscc(
        self, conn: sqlite3.Connection, container_id: int, sscc: gs1.Sscc
    ) -> tuple[str, int] | None:
        """Give a full container its SSCC before the label is printed; (level, children),
        or None if it has no good child left (then it is dropped, the SSCC not used)."""
        if self.drop_if_empty(conn, container_id):
            return None
        row = self._container(conn, container_id)
        if row["state"] not in ("full", "labelling"):
            raise BatchStateError(
                f"container {container_id}: expected full or labelling, got {row['state']}"
            )
        if row["sscc"] is not None:  # a label attempt that never finished: void its SSCC
            self._void(conn, row, "label attempt interrupted")
        conn.execute(
            "UPDATE containers SET sscc = ?, state = 'labelling', attempts = attempts + 1 "
            "WHERE id = ?",
            (sscc.value, container_id),
        )
        return row["level"], int(row["children"])

    def _void(self, conn: sqlite3.Connection, row: sqlite3.Row, reason: str) -> None:
        """Keep a used SSCC on record as scrapped (it must never be reused)."""
        conn.execute("UPDATE containers SET sscc = NULL WHERE id = ?", (row["id"],))
        conn.execute(
            "INSERT INTO containers (batch_id, level, sscc, state, reason, created_at, closed_at) "
            "VALUES (?, ?, ?, 'scrapped', ?, ?, ?)",
            (row["batch_id"], row["level"], row["sscc"], reason, utc_now(), utc_now()),
        )

    def label_failed(
        self, conn: sqlite3.Connection, container_id: int, reason: str, hold: bool = False
    ) -> bool:
        """The label could not be read back (or the labeller failed, ``hold``): void the SSCC;
        True if another try is allowed, False if the container is held for an operator."""
        row = self._container(conn, container_id)
        self._void(conn, row, reason)
        held = hold or row["attempts"] >= self.packing.max_label_attempts
        conn.execute(
            "UPDATE containers SET state = ?, reason = ? WHERE id = ?",
            ("held" if held else "full", reason, container_id),
        )
        return not held

    def retry_held(self, conn: sqlite3.Connection) -> list[int]:
        """An operator fixed the labeller: held containers get new attempts."""
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM containers WHERE state = 'held'")]
        conn.execute("UPDATE containers SET state = 'full', attempts = 0 WHERE state = 'held'")
        return ids

    def children_epcs(self, conn: sqlite3.Connection, row: sqlite3.Row) -> list[str]:
        if row["level"] == CASE:
            units = conn.execute(
                "SELECT gtin, serial FROM units WHERE case_id = ? ORDER BY id", (row["id"],)
            ).fetchall()
            return [self._sgtin(u["gtin"], u["serial"]) for u in units]
        cases = conn.execute(
            "SELECT sscc FROM containers WHERE parent_id = ? ORDER BY id", (row["id"],)
        ).fetchall()
        return [self._sscc_uri(c["sscc"]) for c in cases]

    def _sgtin(self, gtin: str, serial: str) -> str:
        """The unit's EPC in events (an SGTIN URI for GS1), by the ledger's code scheme."""
        code = self.ledger.scheme.unit(gtin, serial)
        return code.epc_uri(self.ledger.products[gtin])

    def packed(self, conn: sqlite3.Connection, container_id: int) -> int | None:
        """The label was read back: record the packing; the pallet id if that filled one.

        If every child left while it was being labelled, the container is dropped instead
        (its SSCC scrapped) and None returned: no packing event, no pallet."""
        row = self._container(conn, container_id)
        if row["state"] != "labelling":
            raise BatchStateError(
                f"container {container_id}: expected labelling, got {row['state']}"
            )
        if self.drop_if_empty(conn, container_id):
            return None
        now = utc_now()
        conn.execute(
            "UPDATE containers SET state = 'closed', closed_at = ? WHERE id = ?",
            (now, container_id),
        )
        children = self.children_epcs(conn, row)
        outbox.append(
            conn,
            self.ledger.topic,
            self.ledger.events.packed(self._sscc_uri(row["sscc"]), children),
        )
        if row["level"] != CASE:
            return None
        pallet_id, full = self._add(conn, row["batch_id"], PALLET)
        conn.execute("UPDATE containers SET parent_id = ? WHERE id = ?", (pallet_id, container_id))
        return pallet_id if full else None

    def _container(self, conn: sqlite3.Connection, container_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"container: no container with id {container_id}")
        return row

    def container_by_sscc(self, conn: sqlite3.Connection, sscc: str) -> sqlite3.Row:
        try:
            value = gs1.Sscc.parse(sscc).value
        except gs1.Gs1Error as exc:
            raise NotFoundError(str(exc)) from None
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM containers WHERE sscc = ?", (value,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"sscc: no case or pallet {sscc!r} on this line")
        return row

    # -- rework -----------------------------------------------------------------------------

    def remove_unit(self, conn: sqlite3.Connection, serial: str) -> str:
        """Take a unit out of its case (AggregationEvent DELETE); returns the case SSCC."""
        unit = self.ledger.unit(conn, serial)
        if unit["case_id"] is None:
            raise BatchStateError(f"serial: {serial!r} is not in a case")
        case = self._container(conn, unit["case_id"])
        if case["state"] != "closed":
            raise BatchStateError(
                f"serial: {serial!r} is in a case that is {case['state']}, not packed yet; "
                "wait until it is packed"
            )
        conn.execute("UPDATE units SET case_id = NULL WHERE id = ?", (unit["id"],))
        conn.execute("UPDATE containers SET children = children - 1 WHERE id = ?", (case["id"],))
        child = self._sgtin(unit["gtin"], unit["serial"])
        outbox.append(
            conn,
            self.ledger.topic,
            self.ledger.events.unpacked(self._sscc_uri(case["sscc"]), [child]),
        )
        return str(case["sscc"])

    def insert_unit(self, conn: sqlite3.Connection, serial: str, sscc: str) -> None:
        """Put a commissioned unit that is in no case into a packed case (ADD)."""
        unit = self.ledger.unit(conn, serial)
        if unit["state"] != UnitState.COMMISSIONED:
            raise BatchStateError(
                f"serial: {serial!r} is {unit['state']}; only commissioned units can be packed"
            )
        if unit["case_id"] is not None:
            raise BatchStateError(f"serial: {serial!r} is already in a case; remove it first")
        case = self.container_by_sscc(conn, sscc)
        if case["level"] != CASE or case["state"] != "closed":
            raise BatchStateError(
                f"sscc: {sscc!r} is a {case['state']} {case['level']}; expected a packed case"
            )
        conn.execute("UPDATE units SET case_id = ? WHERE id = ?", (case["id"], unit["id"]))
        conn.execute("UPDATE containers SET children = children + 1 WHERE id = ?", (case["id"],))
        child = self._sgtin(unit["gtin"], unit["serial"])
        outbox.append(
            conn,
            self.ledger.topic,
            self.ledger.events.packed(self._sscc_uri(case["sscc"]), [child]),
        )

    def decommission_unit(self, conn: sqlite3.Connection, serial: str, reason: str) -> None:
        unit = self.ledger.unit(conn, serial)
        check_unit_transition(serial, UnitState(unit["state"]), UnitState.DECOMMISSIONED)
        if unit["case_id"] is not None:
            case = self._container(conn, unit["case_id"])
            if case["state"] == "closed":
                self.remove_unit(conn, serial)
            else:
                raise BatchStateError(
                    f"serial: {serial!r} is in a case that is {case['state']}; "
                    "wait until it is packed"
                )
        conn.execute(
            "UPDATE units SET state = 'decommissioned', reason = ?, updated_at = ? WHERE id = ?",
            (reason, utc_now(), unit["id"]),
        )
        epc = self._sgtin(unit["gtin"], unit["serial"])
        outbox.append(conn, self.ledger.topic, self.ledger.events.decommissioned([epc], reason))

    def decommission_case(self, conn: sqlite3.Connection, sscc: str, reason: str) -> int:
        """Decommission a packed case and every unit in it; returns how many units."""
        case = self.container_by_sscc(conn, sscc)
        if case["level"] != CASE or case["state"] != "closed":
            raise BatchStateError(
                f"sscc: {sscc!r} is a {case['state']} {case['level']}; expected a packed case"
            )
        units = conn.execute(
            "SELECT id, gtin, serial, state FROM units WHERE case_id = ?", (case["id"],)
        ).fetchall()
        now = utc_now()
        for unit in units:
            check_unit_transition(
                unit["serial"], UnitState(unit["state"]), UnitState.DECOMMISSIONED
            )
        conn.execute(
            "UPDATE units SET state = 'decommissioned', reason = ?, updated_at = ? "
            "WHERE case_id = ?",
            (reason, now, case["id"]),
        )
        conn.execute(
            "UPDATE containers SET state = 'decommissioned', reason = ?, closed_at = ? "
            "WHERE id = ?",
            (reason, now, case["id"]),
        )
        epcs = [self._sscc_uri(case["sscc"])]
        epcs += [self._sgtin(u["gtin"], u["serial"]) for u in units]
        outbox.append(conn, self.ledger.topic, self.ledger.events.decommissioned(epcs, reason))
        return len(units)


class Packer:
    """The container-labelling thread: SSCC, label, read back, record the packing."""

    def __init__(
        self,
        aggregation: Aggregation,
        writer: Writer,
        labeller: ContainerLabeller | None,
        ssccs: SsccSource,
        *,
        read_timeout_s: float = 2.0,
        on_fault: Callable[[str], None] | None = None,
        on_device: Callable[[str, str | None, float], None] | None = None,
    ) -> None:
        self._aggregation = aggregation
        self._on_device = on_device
        self._writer = writer
        self._labeller = labeller
        self._ssccs = ssccs
        self._read_timeout_s = read_timeout_s
        self._on_fault = on_fault
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.packed_cases = 0
        self.packed_pallets = 0
        self.failed_labels = 0
        self.dropped_empty = 0  # containers left with no good child: never labelled

    @property
    def enabled(self) -> bool:
        return self._labeller is not None

    @property
    def alive(self) -> bool:
        """Whether the packer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _device(self, device: str, problem: str | None, at: float | None = None) -> None:
        """``on_device`` (see :data:`edge.pipeline.DeviceHandler`)."""
        if self._on_device is not None:
            try:
                self._on_device(device, problem, time.time() if at is None else at)
            except Exception:  # the device state must never stop packing
                log.exception("device state handler failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edge-packer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def submit(self, container_id: int) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put(container_id)

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    def _run(self) -> None:
        while True:
            container_id = self._queue.get()
            if container_id is None:
                return
            try:
                self._pack(container_id)
            except DeviceFault as exc:
                log.error("container %d: %s", container_id, exc)
                if exc.stop_line:
                    self._device(exc.device, exc.problem)
                if self._on_fault is not None:
                    self._on_fault(str(exc))
            except Exception:
                log.exception("container %d: packing failed", container_id)
            finally:
                self._done()

    def _pack(self, container_id: int) -> None:
        labeller = self._labeller
        if labeller is None:
            return
        while True:
            if self._writer.call(
                partial(self._aggregation.drop_if_empty, container_id=container_id)
            ):
                self.dropped_empty += 1  # every unit left it: no SSCC, no label, no pallet
                return
            sscc = self._ssccs.take()
            assigned = self._writer.call(
                partial(self._aggregation.assign_sscc, container_id=container_id, sscc=sscc)
            )
            if assigned is None:  # emptied meanwhile; the SSCC taken stays unused on record
                self.dropped_empty += 1
                return
            level, children = assigned
            started = time.time()
            try:
                labeller.print_container(sscc, level, children)
                self._device("case printer", None, started)
                read = labeller.read_back(self._read_timeout_s)
            except DeviceFault as exc:
                self._writer.call(
                    partial(
                        self._aggregation.label_failed,
                        container_id=container_id,
                        reason=str(exc),
                        hold=True,
                    )
                )
                raise
            if read is not None:
                self._device("scanner", None, started)
            problem = _check_read(read, sscc)
            if problem is None:
                parent = self._writer.call(
                    partial(self._aggregation.packed, container_id=container_id)
                )
                if self._writer.call(lambda conn: _gone(conn, container_id)):
                    self.dropped_empty += 1  # emptied while labelled: label scrapped
                    return
                if level == CASE:
                    self.packed_cases += 1
                else:
                    self.packed_pallets += 1
                if parent is not None:
                    self.submit(parent)
                return
            self.failed_labels += 1
            retry = self._writer.call(
                partial(self._aggregation.label_failed, container_id=container_id, reason=problem)
            )
            if not retry:
                message = f"{level} {container_id}: label unreadable ({problem}); held for operator"
                log.error(message)
                if self._on_fault is not None:
                    self._on_fault(message)
                return


def _gone(conn: sqlite3.Connection, container_id: int) -> bool:
    return conn.execute("SELECT 1 FROM containers WHERE id = ?", (container_id,)).fetchone() is None


def _check_read(read: str | None, sscc: gs1.Sscc) -> str | None:
    """None if ``read`` is the SSCC, else why not."""
    if read is None:
        return "no read"
    try:
        parsed = gs1.parse(read)
    except gs1.Gs1Error as exc:
        return f"not GS1: {exc}"
    found = parsed if isinstance(parsed, gs1.Sscc) else getattr(parsed, "sscc", None)
    if found is None or getattr(found, "value", None) != sscc.value:
        return f"wrong data: expected SSCC {sscc.value}, got {read!r}"
    return None
