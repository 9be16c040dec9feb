"""Per unit: trigger → serial (durable) → print → capture + verify → commission or reject.

Three stages, each on its own thread, connected by queues, so unit *n* is verified while unit
*n+1* prints and unit *n+2* gets its serial: the line speed is set by the devices.

* **allocate** (the writer thread): take a serial from the pool and record the unit as
  ``allocated``; only after that commit does the job reach the printer.
* **print**: send the label; record ``encoded`` (group-committed, not waited for).
* **verify**: capture and verify; ``ok`` commissions the unit (ObjectEvent in the same
  transaction, with its print-quality grade) and puts it in the open case; anything else
  rejects it: the PLC is told at once, the reason and the image are recorded. Every graded
  unit, accepted or not, goes to ``on_grade`` (the agent's moving grade and its alarm).

The PLC gate is fail-safe: it lets a unit through only on an ``accept`` for its trigger, so a
unit whose decision was lost (crash, fault) is rejected physically and scrapped on record.
The gate reports what it did with each unit (``plc/gate``, :meth:`Pipeline.gate`): a unit that
was commissioned but went to the reject bin anyway (the accept was lost or came late) is
decommissioned, and taken out of its case; a unit the gate rejected before its verdict is
rejected, not commissioned, when the verdict comes.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from edge.aggregation import Aggregation, Packer
from edge.batch import IN_FLIGHT, BatchState, UnitState
from edge.devices import (
    DeviceFault,
    PrintTicket,
    SerialSource,
    UnitGrade,
    UnitPrinter,
    UnitVerifier,
    Verdict,
)
from edge.errors import BatchStateError
from edge.gate_timing import GateTiming, TimingSettings
from edge.ledger import Ledger, UnitJob
from edge.plc import GateReport
from edge.writer import Writer, WriterStopped

log = logging.getLogger(__name__)


class PlcCommands(Protocol):
    """What the pipeline tells the PLC."""

    def accept(self, trigger: str | None, serial: str) -> None: ...

    def reject(self, trigger: str | None, serial: str | None, reason: str) -> None: ...

    def stop_line(self, reason: str) -> None: ...


#: ``on_fault(reason, alarm)``: the line stopped; ``alarm`` names it (``device``, ``store``).
FaultHandler = Callable[[str, str], None]
#: ``on_device(device, problem, at)``: a device faulted (``problem``; ``at`` is now) or did a
#: job it was given at ``at`` (``problem`` None); both times are ``time.time()``.
DeviceHandler = Callable[[str, str | None, float], None]


class GateFinding(StrEnum):
    """What a gate report meant for the unit's record."""

    AS_DECIDED = "as_decided"  # passed an accepted unit, or rejected one not commissioned
    DECOMMISSIONED = "decommissioned"  # commissioned, yet in the reject bin: decommissioned now
    BEFORE_VERDICT = "before_verdict"  # rejected while in flight: rejected when verified
    PASSED_UNACCEPTED = "passed_unaccepted"  # a fail-safe gate never does this: alarm
    UNKNOWN = "unknown"  # no unit has this trigger id


#: Refused triggers are logged at most once per this many seconds (with a count).
REFUSAL_LOG_INTERVAL_S = 5.0

#: How many trigger ids rejected at the gate before their verdict are remembered.
MAX_EARLY_GATE_REJECTS = 4096


@dataclass
class PipelineStats:
    triggers: int = 0
    refused_triggers: int = 0
    printed: int = 0
    print_faults: int = 0
    cancelled_labels: int = 0  # sent, then cancelled in the printer after its fault
    commissioned: int = 0
    rejected: int = 0
    gate_decommissioned: int = 0
    gate_before_verdict: int = 0
    gate_passed_unaccepted: int = 0
    latencies: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=100_000)
    )

    def percentile(self, fraction: float) -> float | None:
        values = sorted(self.latencies)
        if not values:
            return None
        return values[min(len(values) - 1, int(fraction * len(values)))]

    def as_dict(self) -> dict[str, Any]:
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        return {
            "triggers": self.triggers,
            "refused_triggers": self.refused_triggers,
            "printed": self.printed,
            "print_faults": self.print_faults,
            "cancelled_labels": self.cancelled_labels,
            "commissioned": self.commissioned,
            "rejected": self.rejected,
            "gate_decommissioned": self.gate_decommissioned,
            "gate_before_verdict": self.gate_before_verdict,
            "gate_passed_unaccepted": self.gate_passed_unaccepted,
            "decision_ms_p50": None if p50 is None else round(p50 * 1000, 2),
            "decision_ms_p99": None if p99 is None else round(p99 * 1000, 2),
        }


class Pipeline:
    def __init__(
        self,
        *,
        ledger: Ledger,
        aggregation: Aggregation,
        writer: Writer,
        printer: UnitPrinter,
        verifier: UnitVerifier,
        serials: Callable[[str], SerialSource],
        plc: PlcCommands,
        packer: Packer,
        images_dir: Path,
        max_in_flight: int = 64,
        on_fault: FaultHandler | None = None,
        on_grade: Callable[[UnitGrade], None] | None = None,
        timing: GateTiming | None = None,
        on_device: DeviceHandler | None = None,
    ) -> None:
        self._ledger = ledger
        self._aggregation = aggregation
        self._writer = writer
        self._printer = printer
        self._verifier = verifier
        self._serials = serials
        self._plc = plc
        self._packer = packer
        self._images_dir = images_dir
        self._max_in_flight = max_in_flight
        self._on_fault = on_fault
        self._on_grade = on_grade
        self._on_device = on_device
        self._print_queue: queue.SimpleQueue[UnitJob | None] = queue.SimpleQueue()
        self._verify_queue: queue.SimpleQueue[tuple[UnitJob, PrintTicket] | None] = (
            queue.SimpleQueue()
        )
        self._in_flight = 0
        # trigger times (monotonic) of the units in flight, for the stuck-unit watch
        self._since: collections.Counter[float] = collections.Counter()
        # the gate's verdict deadline (s) of each unit in flight, by unit id
        self._deadlines: dict[int, float] = {}
        self.timing = timing or GateTiming(TimingSettings())
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._halted = threading.Event()  # set after a device fault until the batch resumes
        self._threads: list[threading.Thread] = []
        # trigger ids the gate rejected before their verdict; only the writer thread uses it
        self._early_rejects: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.stats = PipelineStats()
        self._refusal_logged_at = -REFUSAL_LOG_INTERVAL_S
        self._refusals_unlogged = 0

    def start(self) -> None:
        self._images_dir.mkdir(parents=True, exist_ok=True)
        for name, target in (("edge-print", self._print_loop), ("edge-verify", self._verify_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._print_queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def resume(self) -> None:
        """The operator cleared the fault and resumed the batch."""
        resync = getattr(self._verifier, "resync", None)
        if callable(resync):  # a camera stopped out of step matches its count afresh
            resync()
        self.timing.reset_window()
        self._halted.clear()

    def workers_alive(self) -> dict[str, bool]:
        """Whether each stage's thread runs, by thread name (not running before start)."""
        alive = {thread.name: thread.is_alive() for thread in self._threads}
        return {name: alive.get(name, False) for name in ("edge-print", "edge-verify")}

    def _device(self, device: str, problem: str | None, at: float | None = None) -> None:
        if self._on_device is not None:
            try:
                self._on_device(device, problem, time.time() if at is None else at)
            except Exception:  # the device state must never stop a stage
                log.exception("device state handler failed")

    @property
    def halted(self) -> bool:
        """The line stopped after a fault (until the batch resumes)."""
        return self._halted.is_set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def oldest_in_flight_s(self, now: float | None = None) -> float | None:
        """How long the oldest unit in flight has been since its trigger (None: no unit)."""
        with self._lock:
            oldest = min(self._since) if self._since else None
        if oldest is None:
            return None
        return (time.monotonic() if now is None else now) - oldest

    def settle(self, reason: str, timeout: float = 10.0) -> int:
        """Once no unit is in flight here, scrap every unit the records still show in flight
        (its record was lost: a store error after it was printed). Returns how many; 0 if
        units are still in flight after ``timeout`` or the batch runs (only a paused or stopped
        batch allocates no unit meanwhile). Makes the batch closable after a fault."""
        if not self._idle.wait(timeout):
            return 0

        def command(conn: Any) -> int:
            batch = self._ledger.current_batch(conn)
            if batch is not None and batch.state is BatchState.RUNNING:
                return 0  # units may be allocated meanwhile: only on a paused or stopped line
            rows = conn.execute(
                "SELECT id FROM units WHERE state IN ('allocated', 'encoded') ORDER BY id"
            ).fetchall()
            for row in rows:
                self._ledger.scrap(conn, row[0], reason)
            return len(rows)

        with self._lock:  # a trigger may have come meanwhile: then not now
            if self._in_flight:
                return 0
            self._idle.clear()  # no new unit until the sweep is committed
            self._in_flight += 1
        try:
            return self._writer.call(command)
        finally:
            self._finished(None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no unit is between trigger and decision."""
        return self._idle.wait(timeout)

    # -- allocate ---------------------------------------------------------------------------

    def trigger(self, trigger: str | None, deadline_ms: float | None = None) -> None:
        """A unit arrived at the printer (PLC photo-eye or the timer). Never blocks.

        ``deadline_ms``: the reject gate's verdict deadline the PLC announced for this unit
        (else the configured one)."""
        self.stats.triggers += 1
        triggered_at = time.monotonic()
        with self._lock:
            if self._in_flight >= self._max_in_flight:
                full = True
            else:
                full = False
                self._in_flight += 1
                self._since[triggered_at] += 1
                self._idle.clear()
        if full:
            self._refuse(trigger, f"{self._max_in_flight} units already in flight; line too fast")
            return
        deadline = self.timing.deadline(deadline_ms)
        try:
            future = self._writer.submit(
                lambda conn: self._allocate(conn, trigger, triggered_at, deadline),
                then=self._print_queue.put,
            )
        except WriterStopped:
            self._finished(triggered_at)
            self._refuse(trigger, "the agent is stopping")
            return
        future.add_done_callback(lambda f: self._allocation_failed(f, trigger, triggered_at))

    def _allocate(
        self, conn: Any, trigger: str | None, triggered_at: float, deadline: float
    ) -> UnitJob:
        batch = self._ledger.require_current(conn)
        if batch.state is not BatchState.RUNNING:
            raise BatchStateError(f"batch {batch.lot!r} is {batch.state.value}, not running")
        if self._halted.is_set():
            raise BatchStateError(f"batch {batch.lot!r}: the line stopped after a fault")
        serial = self._serials(batch.gtin).take()
        job = self._ledger.allocate(conn, batch, serial, trigger, triggered_at)
        self._deadlines[job.unit_id] = deadline
        return job

    def _allocation_failed(
        self, future: Future[UnitJob], trigger: str | None, triggered_at: float
    ) -> None:
        exc = future.exception()
        if exc is not None:
            self._finished(triggered_at)
            self._refuse(trigger, str(exc))
            stop = (isinstance(exc, DeviceFault) and exc.stop_line) or isinstance(
                exc, sqlite3.Error
            )
            if isinstance(exc, DeviceFault) and exc.stop_line:
                self._device(exc.device, exc.problem)
            if stop:  # e.g. the serial buffer ran dry, or the disk is full
                alarm = "store" if isinstance(exc, sqlite3.Error) else "device"
                reason = f"store: {exc}" if alarm == "store" else str(exc)
                self._fault_later(reason, alarm)

    def _fault_later(self, reason: str, alarm: str = "device") -> None:
        """:meth:`_fault` on a thread of its own (from the writer's thread, which the fault
        handler must not wait for)."""
        if self._halted.is_set():
            return
        threading.Thread(
            target=self._fault, args=(reason, alarm), name="edge-fault", daemon=True
        ).start()

    def _refuse(self, trigger: str | None, reason: str) -> None:
        self.stats.refused_triggers += 1
        now = time.monotonic()
        if now - self._refusal_logged_at >= REFUSAL_LOG_INTERVAL_S:  # not one line per unit
            more = f" (and {self._refusals_unlogged} more)" if self._refusals_unlogged else ""
            log.warning("trigger %s refused: %s%s", trigger, reason, more)
            self._refusal_logged_at, self._refusals_unlogged = now, 0
        else:
            self._refusals_unlogged += 1
        self._plc.reject(trigger, None, reason)

    def _finished(self, triggered_at: float | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if triggered_at is not None:
                self._since[triggered_at] -= 1
                if self._since[triggered_at] <= 0:
                    del self._since[triggered_at]
            if self._in_flight == 0:
                self._idle.set()

    def _done(self, job: UnitJob) -> None:
        self._deadlines.pop(job.unit_id, None)
        self._finished(job.triggered_at)

    def _verdict_sent(self, job: UnitJob) -> None:
        """The PLC has this unit's verdict now: its margin to the gate's deadline."""
        deadline = self._deadlines.get(job.unit_id, self.timing.settings.deadline_s)
        self.timing.record(time.monotonic() - job.triggered_at, deadline)

    # -- print -------------------------------------------------------------------------------

    def _print_loop(self) -> None:
        while True:
            job = self._print_queue.get()
            if job is None:
                self._verify_queue.put(None)
                return
            if self._halted.is_set():
                self._void(job, "line stopped after a fault")
                continue
            try:
                ticket = self._printer.send(job.code)
            except Exception as exc:
                self._print_failed(job, exc)
                continue
            self.stats.printed += 1
            # stopping (WriterStopped): the unit is scrapped as in flight on the next start
            with contextlib.suppress(WriterStopped):
                self._writer.submit(
                    partial(self._ledger.encoded, unit_id=job.unit_id)
                ).add_done_callback(self._store_failure)
            self._verify_queue.put((job, ticket))

    def _print_failed(self, job: UnitJob, exc: Exception) -> None:
        self.stats.print_faults += 1
        if isinstance(exc, DeviceFault):
            self._scrap(job, f"print fault: {exc}")
            if exc.stop_line:
                self._device(exc.device, exc.problem)
                self._fault(str(exc))
                if exc.device == "printer":
                    self._cancel_printing(str(exc))
        else:  # a driver bug must not stop the line thread
            log.error("printer driver failed: %r", exc)
            self._scrap(job, f"print fault: {exc!r}")
            self._device("printer", f"driver failed: {exc!r}")
            self._fault(f"printer: {exc!r}")

    def _cancel_printing(self, fault: str) -> None:
        """The printer stopped on a fault with labels in its buffer: their units are scrapped
        (the line is stopped), and a printer prints what it holds once the fault is cleared,
        labels of scrapped units on the next packs. They are cancelled in the printer where
        its language can (ZPL ``~JA``), else the operator is told to take them out."""
        cancel = getattr(self._printer, "cancel_pending", None)
        cancelled = cancel() if callable(cancel) else None
        if cancelled is None:
            log.warning(
                "%s: labels already sent to the printer may print when it resumes; their "
                "units are scrapped: take those labels out",
                fault,
            )
        elif cancelled:
            self.stats.cancelled_labels += cancelled
            log.warning(
                "%s: %d labels waiting in the printer cancelled (their units are scrapped)",
                fault,
                cancelled,
            )

    def _scrap(self, job: UnitJob, reason: str) -> None:
        self._plc.reject(job.trigger, job.serial, reason)
        self._record(job, lambda conn: self._ledger.scrap(conn, job.unit_id, reason))

    def _void(self, job: UnitJob, reason: str) -> None:
        self._plc.reject(job.trigger, job.serial, reason)
        self._record(job, lambda conn: self._ledger.void(conn, job.unit_id, reason))

    def _record(self, job: UnitJob, command: Callable[[Any], Any]) -> None:
        """Record a unit's final state; the unit is done here whether or not that works."""
        try:
            future = self._writer.submit(command, then=lambda _: self._done(job))
        except WriterStopped:
            self._done(job)
            return
        future.add_done_callback(partial(self._log_failure, job))

    def _fault(self, reason: str, alarm: str = "device") -> None:
        """A device (or the store) cannot go on: stop the line, raise the alarm, pause the
        batch (the agent does that; it retries while the store refuses)."""
        if self._halted.is_set():
            return
        self._halted.set()
        log.error("line stopped: %s", reason)
        try:
            self._plc.stop_line(reason)
        except Exception:  # the alarm and the pause must still happen
            log.exception("telling the PLC to stop failed")
        if self._on_fault is not None:
            try:
                self._on_fault(reason, alarm)
            except Exception:
                log.exception("fault handler failed")

    def stop_line(self, reason: str, alarm: str) -> None:
        """Stop the line from outside the stages (stuck unit, gate timing)."""
        self._fault(reason, alarm)

    # -- verify ------------------------------------------------------------------------------

    def _verify_loop(self) -> None:
        while True:
            item = self._verify_queue.get()
            if item is None:
                return
            job, ticket = item
            try:
                self._printer.confirm(ticket)
            except Exception as exc:
                self._print_failed(job, exc)
                continue
            self._device("printer", None, ticket.sent_at)  # a label sent after a fault is out
            try:
                verdict = self._verifier.verify(job.code, ticket.sent_at, label=ticket.sequence)
            except DeviceFault as exc:
                verdict = Verdict("camera_fault", str(exc))
                if exc.stop_line:
                    self._device(exc.device, exc.problem)
                    self._fault(str(exc))
            except Exception as exc:
                log.exception("verifier failed")
                verdict = Verdict("camera_fault", repr(exc))
            else:
                self._device("camera", None, ticket.sent_at)
            if verdict.grade is not None and self._on_grade is not None:
                try:
                    self._on_grade(verdict.grade)
                except Exception:  # the trend must never stop verification
                    log.exception("grade trend failed")
            if verdict.ok:
                self._commission(job, verdict.grade)
            else:
                self._reject(job, verdict)

    def _commission(self, job: UnitJob, grade: UnitGrade | None = None) -> None:
        def command(conn: Any) -> int | bool | None:
            gate = None if job.trigger is None else self._early_rejects.pop(job.trigger, None)
            if gate is not None:  # already in the reject bin: never commissioned
                reason = f"verified, but the reject gate had already rejected it ({gate})"
                self._ledger.reject(conn, job.unit_id, reason, None)
                return False
            self._ledger.commission(conn, job, grade)
            if not self._packer.enabled:  # no case labeller: units are not aggregated here
                return None
            return self._aggregation.add_unit(conn, job.batch_id, job.unit_id)

        def committed(full_case: int | bool | None) -> None:
            self.stats.latencies.append(time.monotonic() - job.triggered_at)
            if full_case is False:  # the gate did not wait for this verdict: a miss
                self._verdict_sent(job)
                self._done(job)
                self.stats.rejected += 1
                return
            self._plc.accept(job.trigger, job.serial)
            self._verdict_sent(job)
            self._done(job)
            self.stats.commissioned += 1
            if full_case is not None:
                self._packer.submit(full_case)

        try:
            future = self._writer.submit(command, then=committed)
        except WriterStopped:
            self._done(job)
            return
        future.add_done_callback(partial(self._log_failure, job))

    def _reject(self, job: UnitJob, verdict: Verdict) -> None:
        reason = f"{verdict.outcome}: {verdict.detail}" if verdict.detail else verdict.outcome
        self._plc.reject(job.trigger, job.serial, reason)
        self._verdict_sent(job)
        self.stats.rejected += 1
        self.stats.latencies.append(time.monotonic() - job.triggered_at)
        image = self._save_image(job, verdict)
        self._record(
            job, lambda conn: self._ledger.reject(conn, job.unit_id, reason, image, verdict.grade)
        )

    # -- the reject gate's reports -------------------------------------------------------

    def gate(self, report: GateReport, then: Callable[[GateFinding], None]) -> Future[GateFinding]:
        """The PLC's gate passed or rejected the unit of ``report.id``: bring the records in
        line, then call ``then`` (after the commit). Raises WriterStopped if stopping."""
        return self._writer.submit(partial(self._gate, report=report), then=then)

    def _gate(self, conn: Any, report: GateReport) -> GateFinding:
        unit = self._ledger.unit_by_trigger(conn, report.id)
        if unit is None:
            return GateFinding.UNKNOWN
        state = UnitState(unit["state"])
        if report.passed:
            if state is UnitState.COMMISSIONED:
                return GateFinding.AS_DECIDED
            self.stats.gate_passed_unaccepted += 1
            self._ledger.note(conn, unit["id"], "the reject gate passed it without an accept")
            return GateFinding.PASSED_UNACCEPTED
        if state in IN_FLIGHT:  # verdict still to come: the unit is already in the bin
            self._early_rejects[report.id] = report.reason or "rejected"
            while len(self._early_rejects) > MAX_EARLY_GATE_REJECTS:
                self._early_rejects.popitem(last=False)
            self.stats.gate_before_verdict += 1
            return GateFinding.BEFORE_VERDICT
        if state is not UnitState.COMMISSIONED:
            return GateFinding.AS_DECIDED
        if unit["case_id"] is not None:
            if self._ledger.container_state(conn, unit["case_id"]) == "closed":
                self._aggregation.remove_unit(conn, unit["serial"])  # AggregationEvent DELETE
            else:  # not packed yet: its packing event will not name the unit
                self._ledger.leave_unpacked_case(conn, unit["id"], unit["case_id"])
        reason = f"rejected at the reject gate after commissioning ({report.reason})"
        self._ledger.decommission(conn, unit["id"], reason)
        self.stats.gate_decommissioned += 1
        return GateFinding.DECOMMISSIONED

    def _save_image(self, job: UnitJob, verdict: Verdict) -> str | None:
        if verdict.image is None:
            return None
        path = self._images_dir / f"{job.code.key().product}-{job.serial}.png"
        try:
            import cv2  # only needed for rejects

            cv2.imwrite(str(path), verdict.image)
        except Exception as exc:  # a full disk must not stop the decision
            log.error("cannot save reject image %s: %s", path, exc)
            return None
        return str(path)

    def _log_failure(self, job: UnitJob, future: Future[Any]) -> None:
        """A unit's final record failed: the unit is done here (it stays in flight on record
        until :meth:`settle`); a store error stops the line."""
        exc = future.exception()
        if exc is not None:
            log.error("unit %s: record failed: %s", job.serial, exc)
            self._done(job)
            self._store_failure(future)

    def _store_failure(self, future: Future[Any]) -> None:
        exc = future.exception()
        if isinstance(exc, sqlite3.Error):  # e.g. "database or disk is full"
            self._fault_later(f"store: {exc}", "store")
