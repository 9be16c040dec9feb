"""The line's records: batches and units, each change with its EPCIS event(s).

Every function here runs inside the writer's transaction (:mod:`edge.writer`) on the one write
connection: a state change and the outbox rows of its events commit together or not at all.
Nothing here talks to a device or the network.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import gs1
from edge import outbox
from edge.batch import (
    BatchAction,
    BatchState,
    Reconciliation,
    UnitState,
    check_unit_transition,
    next_state,
)
from edge.devices import UnitGrade
from edge.errors import BatchStateError, NotFoundError, PayloadError, ReconciliationError
from edge.events import EventFactory, MaterialLot
from identity import CodeScheme, UnitIdentity, get_scheme


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class BatchStart:
    """What an operator or the PLC gives to start a batch.

    With production data from the server (:mod:`edge.production`) ``lot`` and ``expiry`` may
    be "" (by rule; computed from the shelf life) until it fills them in."""

    gtin: str
    lot: str
    expiry: str  # YYMMDD
    planned: int
    materials: tuple[MaterialLot, ...] = ()
    expiry_reason: str | None = None  # why the expiry is not the computed one
    expiry_computed: str | None = None  # what the master data gives (set by edge.production)
    manufacturing_date: str | None = None  # YYYY-MM-DD; default today
    order_id: int | None = None  # the server's batch order this batch runs
    operator: str | None = None  # who confirmed the order on the HMI
    source: str = "manual"  # manual | plc | order


@dataclass(frozen=True)
class Batch:
    id: int
    gtin: str
    lot: str
    expiry: str
    planned: int
    state: BatchState
    printed: int
    materials: tuple[MaterialLot, ...]
    started_at: str
    closed_at: str | None
    reason: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "gtin": self.gtin,
            "lot": self.lot,
            "expiry": self.expiry,
            "planned": self.planned,
            "state": self.state.value,
            "printed": self.printed,
            "materials": [m.as_dict() for m in self.materials],
            "started_at": self.started_at,
            "closed_at": self.closed_at,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class UnitJob:
    """One unit on its way through print, capture and verify."""

    unit_id: int
    batch_id: int
    code: UnitIdentity
    trigger: str | None
    triggered_at: float = field(default=0.0, compare=False)

    @property
    def serial(self) -> str:
        return self.code.key().serial


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        id=row["id"],
        gtin=row["gtin"],
        lot=row["lot"],
        expiry=row["expiry"],
        planned=row["planned"],
        state=BatchState(row["state"]),
        printed=row["printed"],
        materials=tuple(MaterialLot(**m) for m in json.loads(row["materials"])),
        started_at=row["started_at"],
        closed_at=row["closed_at"],
        reason=row["reason"],
    )


class Ledger:
    """Record keeping for one line; stateless apart from its configuration."""

    def __init__(
        self,
        events: EventFactory,
        products: dict[str, int],
        events_topic: str,
        scheme: CodeScheme | None = None,
    ) -> None:
        """``products`` maps each GTIN (each product code of ``scheme``) the line packs to its
        company prefix length; ``scheme`` (default GS1, :mod:`identity`) builds the units'
        codes from a batch's product, lot and expiry and each serial."""
        self.events = events
        self.products = products
        self.topic = events_topic
        self.scheme = get_scheme() if scheme is None else scheme

    # -- batches ------------------------------------------------------------------------

    def current_batch(self, conn: sqlite3.Connection) -> Batch | None:
        """The batch that is not closed yet, if any (there is at most one)."""
        row = conn.execute(
            "SELECT * FROM batches WHERE state != 'closed' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _batch(row)

    def batch(self, conn: sqlite3.Connection, batch_id: int) -> Batch:
        row = conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"batch: no batch with id {batch_id}")
        return _batch(row)

    def require_current(self, conn: sqlite3.Connection) -> Batch:
        batch = self.current_batch(conn)
        if batch is None:
            raise BatchStateError("batch: no batch is open on this line; start one first")
        return batch

    def start_batch(self, conn: sqlite3.Connection, request: BatchStart) -> Batch:
        current = self.current_batch(conn)
        if current is not None:
            raise BatchStateError(
                f"batch: lot {current.lot!r} is {current.state.value}; "
                "close it before starting another"
            )
        gtin, lot, expiry = self._validate_start(request)
        taken = conn.execute(
            "SELECT 1 FROM batches WHERE gtin = ? AND lot = ?", (gtin.value, lot)
        ).fetchone()
        if taken is not None:
            raise BatchStateError(f"lot: {lot!r} was already run for GTIN {gtin.value}")
        now = utc_now()
        cursor = conn.execute(
            "INSERT INTO batches (gtin, lot, expiry, planned, materials, state, started_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
            (
                gtin.value,
                lot,
                expiry.yymmdd(),
                request.planned,
                json.dumps([m.as_dict() for m in request.materials]),
                now,
                now,
            ),
        )
        batch = self.batch(conn, int(cursor.lastrowid or 0))
        for event in self.events.batch_started(batch, self.products[gtin.value]):
            outbox.append(conn, self.topic, event)
        return batch

    def _validate_start(self, request: BatchStart) -> tuple[gs1.Gtin, str, gs1.Expiry]:
        problems: list[str] = []
        gtin: gs1.Gtin | None = None
        expiry: gs1.Expiry | None = None
        try:
            gtin = gs1.Gtin.parse(request.gtin)
            if gtin.value not in self.products:
                problems.append(
                    f"gtin: expected one of the line's products "
                    f"({', '.join(sorted(self.products))}), got {request.gtin!r}"
                )
        except gs1.Gs1Error as exc:
            problems.append(str(exc))
        try:
            gs1.validate_cset82(request.lot, field="lot")
        except gs1.Gs1Error as exc:
            problems.append(str(exc))
        try:
            expiry = gs1.Expiry.parse(request.expiry)
        except gs1.Gs1Error as exc:
            problems.append(str(exc))
        if request.planned < 1:
            problems.append(f"planned: expected a whole number >= 1, got {request.planned}")
        if problems or gtin is None or expiry is None:
            raise PayloadError("; ".join(problems))
        return gtin, request.lot, expiry

    def transition(
        self, conn: sqlite3.Connection, action: BatchAction, reason: str | None = None
    ) -> Batch:
        """Pause, resume or stop the current batch (close: :meth:`close`)."""
        if action is BatchAction.CLOSE:
            return self.close(conn)
        batch = self.require_current(conn)
        new = next_state(batch.lot, batch.state, action)
        conn.execute(
            "UPDATE batches SET state = ?, reason = ?, updated_at = ? WHERE id = ?",
            (new.value, reason, utc_now(), batch.id),
        )
        return self.batch(conn, batch.id)

    def reconciliation(self, conn: sqlite3.Connection, batch_id: int) -> Reconciliation:
        printed = conn.execute("SELECT printed FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if printed is None:
            raise NotFoundError(f"batch: no batch with id {batch_id}")
        counts = {
            UnitState(state): count
            for state, count in conn.execute(
                "SELECT state, count(*) FROM units WHERE batch_id = ? GROUP BY state", (batch_id,)
            )
        }
        return Reconciliation.from_counts(int(printed[0]), counts)

    def close(self, conn: sqlite3.Connection) -> Batch:
        """Close the current (stopped) batch if it reconciles exactly."""
        batch = self.require_current(conn)
        next_state(batch.lot, batch.state, BatchAction.CLOSE)
        reconciliation = self.reconciliation(conn, batch.id)
        if not reconciliation.balanced:
            raise ReconciliationError(batch.lot, reconciliation)
        unfinished = conn.execute(
            "SELECT count(*) FROM containers WHERE batch_id = ? AND state NOT IN "
            "('closed', 'scrapped', 'decommissioned')",
            (batch.id,),
        ).fetchone()[0]
        if unfinished:
            raise BatchStateError(
                f"batch {batch.lot!r}: {unfinished} cases or pallets are not packed yet; "
                "close them first"
            )
        now = utc_now()
        conn.execute(
            "UPDATE batches SET state = 'closed', closed_at = ?, updated_at = ? WHERE id = ?",
            (now, now, batch.id),
        )
        closed = self.batch(conn, batch.id)
        outbox.append(
            conn,
            self.topic,
            self.events.batch_closed(closed, self.products[closed.gtin], reconciliation),
        )
        # The close event's line sequence number: "closed on the server" once confirmed.
        conn.execute(
            "UPDATE batches SET close_seq = ? WHERE id = ?", (outbox.last_line_seq(conn), batch.id)
        )
        return closed

    def closes(self, conn: sqlite3.Connection, limit: int = 5) -> list[tuple[str, str, int | None]]:
        """The latest closed batches, newest first: (GTIN, lot, close event's sequence number)."""
        rows = conn.execute(
            "SELECT gtin, lot, close_seq FROM batches WHERE state = 'closed' "
            "ORDER BY closed_at DESC, id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(str(r[0]), str(r[1]), None if r[2] is None else int(r[2])) for r in rows]

    # -- units --------------------------------------------------------------------------

    def allocate(
        self,
        conn: sqlite3.Connection,
        batch: Batch,
        serial: str,
        trigger: str | None,
        triggered_at: float,
    ) -> UnitJob:
        """Record a serial as allocated to the next unit of ``batch`` (running)."""
        now = utc_now()
        cursor = conn.execute(
            "INSERT INTO units (batch_id, gtin, serial, state, trigger, created_at, updated_at) "
            "VALUES (?, ?, ?, 'allocated', ?, ?, ?)",
            (batch.id, batch.gtin, serial, trigger, now, now),
        )
        code = self.scheme.unit(batch.gtin, serial, lot=batch.lot, expiry=batch.expiry)
        return UnitJob(int(cursor.lastrowid or 0), batch.id, code, trigger, triggered_at)

    def _move(
        self,
        conn: sqlite3.Connection,
        unit_id: int,
        new: UnitState,
        reason: str | None = None,
        image: str | None = None,
    ) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT id, batch_id, gtin, serial, state, case_id FROM units WHERE id = ?",
            (unit_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"unit: no unit with id {unit_id}")
        old = UnitState(row["state"])
        check_unit_transition(row["serial"], old, new)
        conn.execute(
            "UPDATE units SET state = ?, reason = coalesce(?, reason), "
            "image = coalesce(?, image), updated_at = ? WHERE id = ?",
            (new.value, reason, image, utc_now(), unit_id),
        )
        if old is UnitState.ALLOCATED and new is not UnitState.VOIDED:
            # the label went (or may have gone) to the printer
            conn.execute(
                "UPDATE batches SET printed = printed + 1 WHERE id = ?", (row["batch_id"],)
            )
        return row

    def encoded(self, conn: sqlite3.Connection, unit_id: int) -> None:
        """The label was sent to the printer."""
        self._move(conn, unit_id, UnitState.ENCODED)

    def commission(
        self, conn: sqlite3.Connection, job: UnitJob, grade: UnitGrade | None = None
    ) -> None:
        """The printed code was read back and matched: the unit exists in the supply chain.
        Its print-quality ``grade`` goes with the commissioning event."""
        self._move(conn, job.unit_id, UnitState.COMMISSIONED)
        self._record_grade(conn, job.unit_id, grade)
        cpl = self.products[job.code.key().product]
        outbox.append(conn, self.topic, self.events.unit_commissioned(job.code, cpl, grade))

    def reject(
        self,
        conn: sqlite3.Connection,
        unit_id: int,
        reason: str,
        image: str | None,
        grade: UnitGrade | None = None,
    ) -> None:
        """Verification failed: the PLC takes the unit off the line."""
        self._move(conn, unit_id, UnitState.REJECTED, reason, image)
        self._record_grade(conn, unit_id, grade)

    def _record_grade(
        self, conn: sqlite3.Connection, unit_id: int, grade: UnitGrade | None
    ) -> None:
        """The unit's print-quality grade, with its verification (JSON, as in the event)."""
        if grade is not None:
            conn.execute(
                "UPDATE units SET grade = ? WHERE id = ?",
                (json.dumps(grade.as_extension(), separators=(",", ":")), unit_id),
            )

    def scrap(self, conn: sqlite3.Connection, unit_id: int, reason: str) -> None:
        """A label that cannot become a good unit (print fault, verification lost)."""
        self._move(conn, unit_id, UnitState.SCRAPPED, reason)

    def void(self, conn: sqlite3.Connection, unit_id: int, reason: str) -> None:
        """A serial allocated but never sent to the printer: it is not used, ever."""
        self._move(conn, unit_id, UnitState.VOIDED, reason)

    def unit(self, conn: sqlite3.Connection, serial: str, gtin: str | None = None) -> sqlite3.Row:
        sql = "SELECT * FROM units WHERE serial = ?"
        params: tuple[str, ...] = (serial,)
        if gtin is not None:
            sql += " AND gtin = ?"
            params = (serial, gs1.Gtin.parse(gtin).value)
        rows: list[sqlite3.Row] = conn.execute(sql, params).fetchall()
        if not rows:
            raise NotFoundError(f"serial: no unit with serial {serial!r} on this line")
        if len(rows) > 1:
            raise PayloadError(f"serial: {serial!r} exists for several GTINs; give the gtin")
        return rows[0]

    def code_of(self, conn: sqlite3.Connection, row: sqlite3.Row) -> UnitIdentity:
        batch = self.batch(conn, row["batch_id"])
        return self.scheme.unit(row["gtin"], row["serial"], lot=batch.lot, expiry=batch.expiry)

    def sample(self, conn: sqlite3.Connection, serial: str, reason: str) -> None:
        """QA took a commissioned unit as a sample: decommissioned with reason ``sample``."""
        row = self.unit(conn, serial)
        if row["case_id"] is not None:
            raise BatchStateError(
                f"serial: {serial!r} is packed in a case; take it out of the case first"
            )
        self._move(conn, row["id"], UnitState.SAMPLED, reason)
        code = self.code_of(conn, row)
        outbox.append(
            conn,
            self.topic,
            self.events.decommissioned([code.epc_uri(self.products[row["gtin"]])], "sample"),
        )

    # -- the reject gate's reports --------------------------------------------------------

    def prepare(self, conn: sqlite3.Connection) -> bool:
        """Create the indexes the ledger needs beyond :mod:`edge.store`'s schema (idempotent);
        True if the database has no unit yet."""
        conn.execute("CREATE INDEX IF NOT EXISTS units_trigger ON units (trigger)")
        return conn.execute("SELECT 1 FROM units LIMIT 1").fetchone() is None

    def unit_by_trigger(self, conn: sqlite3.Connection, trigger: str) -> sqlite3.Row | None:
        """The most recent unit of the PLC's trigger id (the PLC's unit counter), if any."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT id, batch_id, gtin, serial, state, case_id FROM units WHERE trigger = ? "
            "ORDER BY id DESC LIMIT 1",
            (trigger,),
        ).fetchone()
        return row

    def container_state(self, conn: sqlite3.Connection, container_id: int) -> str:
        row = conn.execute("SELECT state FROM containers WHERE id = ?", (container_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"container: no container with id {container_id}")
        return str(row[0])

    def leave_unpacked_case(self, conn: sqlite3.Connection, unit_id: int, case_id: int) -> None:
        """Take a unit out of a case that has no packing event yet (open, full, labelling or
        held): the case's packing event will not name it, so no event is needed."""
        conn.execute("UPDATE units SET case_id = NULL WHERE id = ?", (unit_id,))
        conn.execute("UPDATE containers SET children = children - 1 WHERE id = ?", (case_id,))

    def decommission(self, conn: sqlite3.Connection, unit_id: int, reason: str) -> None:
        """A commissioned unit that is not in a case leaves the supply chain (decommissioning
        ObjectEvent, disposition inactive, with the reason)."""
        packed = conn.execute(
            "SELECT serial FROM units WHERE id = ? AND case_id IS NOT NULL", (unit_id,)
        ).fetchone()
        if packed is not None:
            raise BatchStateError(f"unit {packed[0]!r}: take it out of its case first")
        row = self._move(conn, unit_id, UnitState.DECOMMISSIONED, reason)
        code = self.scheme.unit(row["gtin"], row["serial"])
        epc = code.epc_uri(self.products[row["gtin"]])
        outbox.append(conn, self.topic, self.events.decommissioned([epc], reason))

    def note(self, conn: sqlite3.Connection, unit_id: int, note: str) -> None:
        """Add a note to a unit's reason (its state does not change)."""
        conn.execute(
            "UPDATE units SET reason = coalesce(reason || '; ', '') || ?, updated_at = ? "
            "WHERE id = ?",
            (note, utc_now(), unit_id),
        )

    def counts(self, conn: sqlite3.Connection, batch_id: int) -> dict[str, int]:
        return {
            state: count
            for state, count in conn.execute(
                "SELECT state, count(*) FROM units WHERE batch_id = ? GROUP BY state", (batch_id,)
            )
        }

    def recover(self, conn: sqlite3.Connection) -> dict[str, int]:
        """After a restart: every unit still in flight lost its print or its verification.

        It cannot be verified any more (it has moved on, and the PLC's gate rejects every unit
        it got no accept for), so it is scrapped: never silently commissioned.
        """
        recovered: dict[str, int] = {}
        rows = conn.execute(
            "SELECT id, state FROM units WHERE state IN ('allocated', 'encoded') ORDER BY id"
        ).fetchall()
        for row in rows:
            reason = (
                "restart: label may have been printed, never confirmed"
                if row["state"] == UnitState.ALLOCATED
                else "restart: printed, verification lost"
            )
            self._move(conn, row["id"], UnitState.SCRAPPED, reason)
            recovered[row["state"]] = recovered.get(row["state"], 0) + 1
        return recovered


def closed_on_server(
    closes: list[tuple[str, str, int | None]], confirmed: int | None
) -> list[dict[str, Any]]:
    """Each closed batch (GTIN, lot, its close event's line sequence number) and whether the
    trace server holds every event of the line up to that close event: ``confirmed`` is the
    number the server confirmed up to, None when the outbox is settled by the broker (then
    nobody knows, and ``closed_on_server`` is None)."""
    return [
        {
            "gtin": gtin,
            "lot": lot,
            "close_seq": seq,
            "closed_on_server": None
            if confirmed is None
            else (seq is not None and confirmed >= seq),
        }
        for gtin, lot, seq in closes
    ]
