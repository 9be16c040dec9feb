"""The edge agent: one packaging line's controller (ISA-95 level 2).

:class:`Agent` puts the parts together: the database and its group-committing writer, the
ledger (batches, units) and aggregation (cases, pallets), the unit pipeline, the container
packer, the outbox publisher and the PLC link. Devices come in through the small protocols
of :mod:`edge.devices`; :mod:`edge.wiring` builds the real ones from the configuration.

On start the agent recovers: every unit that was in flight when it stopped (crash included) is
scrapped, never commissioned; cases caught half-labelled are labelled again with a fresh SSCC.
The batch that was open is still open and goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import gs1
from edge import outbox, store
from edge.aggregation import CASE, PALLET, Aggregation, Packer, Packing
from edge.batch import BatchAction, BatchState, next_state
from edge.config import EdgeConfig
from edge.devices import (
    ContainerLabeller,
    DeviceFault,
    SerialSource,
    SsccSource,
    UnitPrinter,
    UnitVerifier,
)
from edge.errors import BatchStateError, PayloadError, ReconciliationError
from edge.events import EventFactory, MaterialLot
from edge.gate_timing import GateTiming, TimingSettings
from edge.health import DeviceStates
from edge.ledger import Batch, BatchStart, Ledger, closed_on_server
from edge.pipeline import GateFinding, Pipeline
from edge.plc import GateReport, PlcLink
from edge.production import ProductionLink
from edge.publisher import Publisher, state_payload
from edge.serials import usage as serial_usage
from edge.serials.link import AuthorityLink
from edge.vision.trend import GradeTrend, TrendAlarm, TrendSettings
from edge.writer import Writer, WriterStopped
from epcis.topics import LineTopics

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Alarms of a stopped line that the operator clears by resuming the batch.
LINE_FAULT_ALARMS = ("device", "store", "stuck unit", "gate timing")
PLC_LINK_TIMEOUT_S = 5.0  # the PLC link down this long while running: alarm and halt
# The broker away this long: an alarm (the line goes on, its events wait in the outbox).
BROKER_ALARM_S = 3.0
# Less free space than this in the data folder: the line stops before the store's writes fail.
MIN_FREE_BYTES = 8 * 1024 * 1024


@dataclass
class Devices:
    """The line's devices and identifier sources, as the agent sees them."""

    printer: UnitPrinter
    verifier: UnitVerifier
    serials: Callable[[str], SerialSource]
    ssccs: SsccSource
    labeller: ContainerLabeller | None = None
    serial_link: AuthorityLink | None = None  # serials from the authority (docs/serials.md)
    production: ProductionLink | None = None  # master data, orders, lots (edge/production.py)

    def close(self) -> None:
        """Release every device port, each even if another fails."""
        for device in (self.printer, self.verifier, self.labeller):
            if device is None:
                continue
            try:
                device.close()
            except Exception:  # a port that is already gone must not stop the rest
                log.exception("closing %s failed", type(device).__name__)


def database_path(config: EdgeConfig) -> Path:
    """The line's database (units, batches, the outbox)."""
    return config.data_path / "edge.sqlite"


class LinkHooks:
    """The callbacks of the PLC link and the publisher into the agent.

    :mod:`edge.wiring` builds the links before the agent they call, so it hands them these
    bound methods; the agent binds itself here when it is made. A call before that (a link
    started early) is refused loudly rather than lost."""

    def __init__(self) -> None:
        self._agent: Agent | None = None

    def bind(self, agent: Agent) -> None:
        self._agent = agent

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            raise RuntimeError("agent links: called before the agent was built")
        return self._agent

    def trigger(self, trigger: str | None, deadline_ms: float | None = None) -> None:
        self.agent.trigger(trigger, deadline_ms)

    def batch_command(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.agent.handle_batch_command(data)

    def device_fault(self, reason: str) -> None:
        """The PLC reported a fault (``plc/error``)."""
        self.agent.device_states.fault("plc", reason, time.time())
        self.agent._device_fault(reason)

    def gate_report(self, report: GateReport, answer: Callable[[str | None], None]) -> None:
        self.agent._gate_report(report, answer)

    def link_problem(self, name: str, problem: str | None) -> None:
        self.agent._link_problem(name, problem)

    def outbox_alarm(self, raised: bool, depth: int) -> None:
        self.agent._outbox_alarm(raised, depth)


@dataclass
class AgentLinks:
    """The agent's database connection and its writer, the outbox publisher and the PLC link,
    built by :func:`edge.wiring.build_agent` with ``hooks`` as their callbacks."""

    conn: sqlite3.Connection
    writer: Writer
    publisher: Publisher
    plc: PlcLink
    hooks: LinkHooks


class Agent:
    def __init__(
        self, config: EdgeConfig, devices: Devices, events: EventFactory, links: AgentLinks
    ) -> None:
        self.config = config
        self.devices = devices
        self.topics = LineTopics(config.agent.site, config.agent.line)
        self.db_path = database_path(config)
        self._conn = links.conn
        self._reader = store.connect(self.db_path)
        self._reader_lock = threading.Lock()
        self.publisher = links.publisher
        self.writer = links.writer
        products = {p.gtin: p.company_prefix_length for p in config.products}
        self.ledger = Ledger(events, products, self.topics.events)
        self.aggregation = Aggregation(
            self.ledger,
            Packing(
                units_per_case=config.packing.units_per_case,
                cases_per_pallet=config.packing.cases_per_pallet,
                sscc_company_prefix_length=len(config.packing.sscc_company_prefix),
            ),
        )
        self.plc = links.plc
        # each device's last known state: faulted (why) or working (the agent's /health)
        self.device_states = DeviceStates()
        self.packer = Packer(
            self.aggregation,
            self.writer,
            devices.labeller,
            devices.ssccs,
            on_fault=self._device_fault,
            on_device=self._device_state,
            read_timeout_s=config.devices.scanner.timeout_s if config.devices.scanner else 2.0,
        )
        self.pipeline = Pipeline(
            ledger=self.ledger,
            aggregation=self.aggregation,
            writer=self.writer,
            printer=devices.printer,
            verifier=devices.verifier,
            serials=devices.serials,
            plc=self.plc,
            packer=self.packer,
            images_dir=config.data_path / "rejects",
            on_fault=self._device_fault,
            on_device=self._device_state,
            on_grade=lambda grade: self.grade_trend.add(grade.overall, grade.parameters),
            timing=GateTiming(
                TimingSettings(
                    deadline_s=config.line.verdict_deadline_ms / 1000,
                    guard_s=config.line.guard_ms / 1000,
                    window=config.line.window,
                    max_miss_rate=config.line.max_miss_rate,
                    policy_at_risk_rate=config.line.policy_at_risk_rate,
                )
            ),
        )
        self._alarms: dict[str, str] = {}
        self._refused_links: set[str] = set()  # links the broker refused for good (alarms)
        camera = config.devices.camera
        self.grade_trend = GradeTrend(
            TrendSettings(
                window=camera.trend_window, drop=camera.trend_drop, min_grade=camera.min_grade
            )
            if camera is not None
            else TrendSettings(),
            on_change=self._grade_alarm,
        )
        self._plc_down_since: float | None = None
        self._broker_down_since: float | None = None
        self._pause_pending: str | None = None  # a fault's pause the store refused: retried
        self._timer_rate = config.trigger.rate_per_minute  # the timer's rate (slow policy)
        self._stopping = threading.Event()
        self._state_changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self.recovered: dict[str, int] = {}
        self.started_at = time.time()
        links.hooks.bind(self)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.writer.start()
        fresh = self.writer.call(self.ledger.prepare)
        self.recovered = self.writer.call(self.ledger.recover)
        if self.recovered:
            log.warning("recovered after restart: scrapped %s", self.recovered)
        if self.devices.serial_link is not None:  # settles what earlier runs handed out
            self.devices.serial_link.start(self._serial_lookup, self._serial_alarm)
        if self.devices.production is not None:
            self.devices.production.start(self._production_alarm)
        self.publisher.start()
        self.packer.start()
        self.pipeline.start()
        for container_id in self.writer.call(lambda conn: self.aggregation.waiting(conn)):
            self.packer.submit(container_id)
        self.plc.start(resume_gate_session=not fresh)
        self._spawn("edge-state", self._state_loop)
        self._spawn("edge-probe", self._probe_loop)
        if self.config.trigger.source == "timer":
            self._spawn("edge-timer", self._timer_loop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, *, drain_timeout_s: float = 5.0) -> None:
        """Stop cleanly: finish the units in flight, publish what the broker will take."""
        self._stopping.set()
        self._state_changed.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.plc.stop()
        self.pipeline.wait_idle(timeout=drain_timeout_s)
        self.pipeline.stop()
        self.packer.stop()
        if self.devices.serial_link is not None:
            self.devices.serial_link.stop()
        if self.devices.production is not None:
            self.devices.production.stop()
        self.writer.stop()
        self.publisher.stop(
            drain_timeout_s=drain_timeout_s,
            offline_payload=state_payload(
                "offline", site=self.config.agent.site, line=self.config.agent.line
            ),
        )
        self._conn.close()
        self._reader.close()
        self.devices.close()

    # -- triggers -----------------------------------------------------------------------------

    def trigger(self, trigger: str | None, deadline_ms: float | None = None) -> None:
        self.pipeline.trigger(trigger, deadline_ms)

    def _gate_report(self, report: GateReport, answer: Callable[[str | None], None]) -> None:
        """The reject gate's report on one unit (PLC link thread: never blocks)."""

        def found(finding: GateFinding) -> None:
            if finding is GateFinding.UNKNOWN:
                answer(f"id: no unit on this line has trigger id {report.id!r}")
            elif finding is GateFinding.PASSED_UNACCEPTED:
                problem = f"the reject gate passed unit {report.id!r}, which was not accepted"
                log.error("%s: the fail-safe gate is not fail-safe", problem)
                self._alarms["gate"] = problem
                self._state_changed.set()
                answer(f"outcome: {problem}")
            else:
                if finding is GateFinding.DECOMMISSIONED:
                    log.warning("unit %s: rejected at the gate after commissioning", report.id)
                answer(None)

        def failed(future: Future[GateFinding]) -> None:
            exc = future.exception()
            if exc is not None:
                log.error("gate report %s not recorded: %s", report, exc)
                answer(f"gate report not recorded: {exc}")

        with contextlib.suppress(WriterStopped):  # not acknowledged: delivered again later
            self.pipeline.gate(report, found).add_done_callback(failed)

    def _timer_loop(self) -> None:
        next_at = time.monotonic()
        count = 0
        while not self._stopping.is_set():
            next_at += 60.0 / self._timer_rate
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stopping.wait(delay)
            elif delay < -1.0:  # fell far behind (machine busy): do not burst
                next_at = time.monotonic()
            batch = self.current_batch()
            if batch is not None and batch.state is BatchState.RUNNING:
                count += 1
                self.pipeline.trigger(f"t{count}")

    # -- batch control (API, CLI, PLC) ------------------------------------------------------

    def current_batch(self) -> Batch | None:
        return self.read(self.ledger.current_batch)

    def start_batch(self, request: BatchStart) -> Batch:
        production = self.devices.production
        if production is not None:  # master data, expiry, lot by rule or claimed
            current = self.current_batch()
            if current is not None:  # before a lot is taken for nothing
                raise BatchStateError(
                    f"batch: lot {current.lot!r} is {current.state.value}; "
                    "close it before starting another"
                )
            request = production.prepare(request, lot_taken=self._lot_taken)
        batch = self.writer.call(lambda conn: self.ledger.start_batch(conn, request))
        if production is not None:
            production.started(batch, request)
        self.pipeline.resume()
        self.plc.start_line()
        self._pause_pending = None
        for name in LINE_FAULT_ALARMS:
            self._clear_alarm(name)
        self.device_states.clear()  # a device still faulted faults again at its next job
        self.grade_trend.reset()  # a new batch: a new baseline
        self._state_changed.set()
        log.info("batch %s started: GTIN %s, %d planned", batch.lot, batch.gtin, batch.planned)
        for name in sorted(self._refused_links):  # refused before the batch: halted at once
            if (problem := self._alarms.get(name)) is not None:
                log.error("%s: %s; halting the line", name, problem)
                self._halt(problem)
                return self.current_batch() or batch
        return batch

    def start_order(self, order_id: int, operator: str) -> Batch:
        """The operator confirmed a batch order released to the line: start its batch."""
        if self.devices.production is None:
            raise BatchStateError("order: this line takes no orders (no [server] configured)")
        return self.start_batch(self.devices.production.from_order(order_id, operator))

    def _lot_taken(self, gtin: str, lot: str) -> bool:
        return self.read(
            lambda conn: (
                conn.execute(
                    "SELECT 1 FROM batches WHERE gtin = ? AND lot = ?", (gtin, lot)
                ).fetchone()
                is not None
            )
        )

    def transition(self, action: BatchAction, reason: str | None = None) -> Batch:
        if action is BatchAction.CLOSE:
            return self.close_batch()
        if action is BatchAction.RESUME:  # records lost to a store fault (close does it too)
            self._settle(timeout=2.0)
        batch = self.writer.call(lambda conn: self.ledger.transition(conn, action, reason))
        if action is BatchAction.PAUSE:
            self._pause_pending = None
        if action in (BatchAction.PAUSE, BatchAction.STOP):  # the belt stops with the batch
            with contextlib.suppress(Exception):  # (no flood of refused triggers meanwhile)
                self.plc.stop_line(f"batch {batch.lot} {batch.state.value}: {reason or 'operator'}")
        if action is BatchAction.RESUME:
            self._pause_pending = None
            self.pipeline.resume()
            self.plc.start_line()
            for name in LINE_FAULT_ALARMS:  # the operator cleared the fault
                self._clear_alarm(name)
            self.device_states.clear()  # a device still faulted faults again at its next job
            self._repack()
        self._state_changed.set()
        return batch

    def _settle(self, timeout: float) -> None:
        """Scrap units the records still show in flight though none is (a store error lost
        their record): the batch balances and can close."""
        try:
            settled = self.pipeline.settle(
                "line stopped: the unit's record was lost (store error)", timeout=timeout
            )
        except (sqlite3.Error, WriterStopped) as exc:
            log.error("units in flight not settled: %s", exc)
            return
        if settled:
            log.warning("%d units left in flight by a fault scrapped", settled)

    def _repack(self) -> None:
        """Give the packer again the full cases and pallets it dropped after a fault (e.g.
        no SSCC left in the authority's buffer); only when it is idle, so none is queued
        twice."""
        if self.packer.enabled and self.packer.wait_idle(0):
            for container_id in self.writer.call(lambda conn: self.aggregation.waiting(conn)):
                self.packer.submit(container_id)

    def close_batch(self, timeout_s: float = 60.0) -> Batch:
        """Close the stopped batch: reconcile, pack partial case and pallet, record the close.

        Refused (nothing changes) when the counts do not balance."""
        self.pipeline.wait_idle(timeout=min(timeout_s, 10.0))
        self._settle(timeout=min(timeout_s, 10.0))
        batch = self.writer.call(self._check_closable)
        if self.packer.enabled:
            for level in (CASE, PALLET):
                ready = self.writer.call(
                    partial(self.aggregation.close_partial, batch_id=batch.id, level=level)
                )
                for container_id in ready:
                    self.packer.submit(container_id)
                if not self.packer.wait_idle(timeout_s):
                    raise BatchStateError(
                        f"batch {batch.lot!r}: cases and pallets not packed after {timeout_s} s"
                    )
                self._repack()  # any left behind by an earlier fault
                if not self.packer.wait_idle(timeout_s):
                    raise BatchStateError(
                        f"batch {batch.lot!r}: cases and pallets not packed after {timeout_s} s"
                    )
        closed = self.writer.call(self.ledger.close)
        if self.devices.serial_link is not None:  # report what the batch used to the authority
            self.devices.serial_link.batch_closed(closed.gtin)
        if self.devices.production is not None:  # the order's plan meets its reconciliation
            self.devices.production.closed(
                closed,
                self.read(lambda conn: self.ledger.reconciliation(conn, closed.id)).as_dict(),
            )
        self._state_changed.set()
        log.info("batch %s closed", closed.lot)
        return closed

    def _check_closable(self, conn: sqlite3.Connection) -> Batch:
        batch = self.ledger.require_current(conn)
        next_state(batch.lot, batch.state, BatchAction.CLOSE)
        reconciliation = self.ledger.reconciliation(conn, batch.id)
        if not reconciliation.balanced:
            raise ReconciliationError(batch.lot, reconciliation)
        return batch

    def handle_batch_command(self, data: dict[str, Any]) -> dict[str, Any]:
        """A batch command from the PLC (``…/plc/batch``); the reply's fields."""
        command = data.pop("command", None)
        if command == "start":
            request = parse_batch_start(data, by_rule=self.devices.production is not None)
            batch = self.start_batch(replace(request, source="plc"))
        elif command in {a.value for a in BatchAction}:
            reason = data.pop("reason", None)
            if data:
                raise PayloadError(f"{command}: unknown fields {sorted(data)}; expected 'reason'")
            if reason is not None and not isinstance(reason, str):
                raise PayloadError(f"reason: expected a string, got {reason!r}")
            batch = self.transition(BatchAction(command), reason)
        else:
            raise PayloadError(
                f"command: expected one of start, pause, resume, stop, close, got {command!r}"
            )
        return {"batch": batch.as_dict()}

    # -- reading ------------------------------------------------------------------------------

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only query on the reader connection (sees committed data only)."""
        with self._reader_lock:
            return query(self._reader)

    def _closed_on_server(self, delivery: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest closed batches and whether the server holds them whole (docs/mqtt.md)."""
        by_server = delivery.get("confirm_by") == "server"
        confirmed = int(delivery.get("last_confirmed_seq") or 0) if by_server else None
        return closed_on_server(self.read(self.ledger.closes), confirmed)

    def status(self) -> dict[str, Any]:
        delivery = self.publisher.delivery()

        def query(conn: sqlite3.Connection) -> dict[str, Any]:
            batch = self.ledger.current_batch(conn)
            if batch is None:
                return {"batch": None}
            return {
                "batch": batch.as_dict(),
                "counts": self.ledger.counts(conn, batch.id),
                "reconciliation": self.ledger.reconciliation(conn, batch.id).as_dict(),
                "cases": _container_counts(conn, batch.id),
            }

        alarms = dict(self._alarms)
        try:
            records = self.read(query)
            closed = self._closed_on_server(delivery)
        except sqlite3.Error as exc:  # the alarms must show even when the store cannot be read
            records, closed = {"batch": None, "store_error": str(exc)}, []
            alarms.setdefault("store", f"store: the records cannot be read ({exc})")
        return {
            "site": self.config.agent.site,
            "line": self.config.agent.line,
            **records,
            "pipeline": {**self.pipeline.stats.as_dict(), "in_flight": self.pipeline.in_flight},
            "packer": {
                "enabled": self.packer.enabled,
                "packed_cases": self.packer.packed_cases,
                "packed_pallets": self.packer.packed_pallets,
                "failed_labels": self.packer.failed_labels,
                "dropped_empty": self.packer.dropped_empty,
            },
            "outbox": self.publisher.stats.as_dict(),
            "delivery": {**delivery, "closed_batches": closed},
            "writer": self.writer.stats.as_dict(),
            "plc": {
                "connected": self.plc.connected,
                "errors": self.plc.errors,
                "refused": dict(self.plc.refused),
            },
            "alarms": alarms,
            "gate": self.pipeline.timing.snapshot(history=False),
            "recovered": self.recovered,
            "grade": {
                **self.grade_trend.snapshot(),
                # units verified without a grade because the verify stage was behind
                "ungraded": getattr(self.devices.verifier, "ungraded", 0),
            },
            "serials": None
            if self.devices.serial_link is None
            else self.devices.serial_link.status(),
            "production": None
            if self.devices.production is None
            else self.devices.production.status(),
        }

    # -- health -------------------------------------------------------------------------

    def workers_alive(self) -> dict[str, bool]:
        """Whether each of the agent's worker threads runs, by thread name."""
        workers = {
            "edge-writer": self.writer.alive,
            **self.pipeline.workers_alive(),
            "edge-packer": self.packer.alive,
            "outbox-publisher": self.publisher.worker_alive,
            "plc-batch": self.plc.worker_alive,
        }
        names = ["edge-state", "edge-probe"]
        if self.config.trigger.source == "timer":
            names.append("edge-timer")
        alive = {thread.name: thread.is_alive() for thread in self._threads}
        for name in names:
            workers[name] = alive.get(name, False)
        return workers

    def outbox_oldest_age_s(self, now: float | None = None) -> float:
        """Seconds since the oldest event not yet confirmed was written (0: none waits),
        read now (the publisher's own figure, if the store cannot be read)."""
        try:
            return self.read(lambda conn: outbox.oldest_age_s(conn, now))
        except sqlite3.Error:
            return self.publisher.stats.oldest_age_s

    def _probe_loop(self) -> None:
        """An idle line's printers are asked for their status every ``devices.idle_probe_s``
        (a running line's work shows their state): a printer switched off or out of labels
        between batches shows before the next batch starts."""
        while not self._stopping.wait(self.config.devices.idle_probe_s):
            try:
                self._probe_devices()
            except sqlite3.Error as exc:
                log.error("device probe: %s", exc)

    def _probe_devices(self) -> None:
        """Ask an idle line's printers for their status (nothing is printing: no unit in
        flight, no case being labelled), so that ``/health`` knows them between batches."""
        batch = self.current_batch()
        if batch is not None and batch.state is BatchState.RUNNING:
            return
        for name, device, idle in (
            ("printer", self.devices.printer, self.pipeline.wait_idle),
            ("case printer", self.devices.labeller, self.packer.wait_idle),
        ):
            probe = getattr(device, "probe", None)
            if not callable(probe) or not idle(0):
                continue
            started = time.time()
            try:
                probe()
            except DeviceFault as exc:
                self._device_state(exc.device, exc.problem, time.time())
            except Exception:  # a driver's bug must not end the probe
                log.exception("probing the %s failed", name)
            else:
                self._device_state(name, None, started)

    def _device_state(self, device: str, problem: str | None, at: float) -> None:
        if problem is None:
            self.device_states.working(device, since=at)
        else:
            self.device_states.fault(device, problem, at)

    # -- alarms and state -----------------------------------------------------------------

    def _device_fault(self, reason: str, alarm: str = "device") -> None:
        """The line stopped (the pipeline told the PLC): alarm and pause the batch."""
        self._alarms[alarm] = reason
        self._pause(reason)
        self._state_changed.set()

    def _pause(self, reason: str) -> None:
        """Pause the running batch; if the store refuses (disk full), retried by the state
        loop until it takes it, so the batch never stays ``running`` on a stopped line."""
        try:
            self.writer.call(lambda conn: self.ledger.transition(conn, BatchAction.PAUSE, reason))
        except BatchStateError:  # already paused or stopped, or no batch
            self._pause_pending = None
        except (sqlite3.Error, WriterStopped, TimeoutError) as exc:
            log.error("batch not paused (%s); retrying", exc)
            self._pause_pending = reason
        else:
            self._pause_pending = None

    @property
    def alarms(self) -> dict[str, str]:
        """The active alarms (name -> what is wrong)."""
        return dict(self._alarms)

    def _link_problem(self, name: str, problem: str | None) -> None:
        """A broker link refused for good (credentials, ACL, certificate): alarm and halt the
        line (pause the batch, stop the PLC if it can still be told); its end clears the
        alarm (the operator resumes the batch)."""
        if problem is None:
            self._refused_links.discard(name)
            if self._alarms.pop(name, None) is not None:
                log.info("%s: the broker accepts us again", name)
                self._state_changed.set()
            return
        self._alarms[name] = problem
        self._refused_links.add(name)
        log.error("%s: %s; halting the line", name, problem)
        self._halt(problem)

    def _halt(self, reason: str) -> None:
        """Pause the running batch and tell the PLC to stop (if the link still works)."""
        self._pause(reason)
        with contextlib.suppress(Exception):
            self.plc.stop_line(reason)
        self._state_changed.set()

    def _watch_line(self, now: float) -> None:
        """The line keeps step or stops: a pause the store refused is retried; a unit stuck
        in flight, or verdicts missing the reject gate's deadline, raise their alarm and
        stop the line (or slow it, by the gate-timing policy)."""
        if self._pause_pending is not None:
            self._pause(self._pause_pending)
        self._watch_disk()
        stuck = self.pipeline.oldest_in_flight_s(now)
        limit = self.config.line.stuck_unit_s
        if stuck is not None and stuck > limit and "stuck unit" not in self._alarms:
            problem = (
                f"a unit has been in flight for {stuck:.0f} s (more than {limit:g} s): "
                "printer or camera not answering"
            )
            log.error("%s; stopping the line", problem)
            self.pipeline.stop_line(problem, "stuck unit")
            self._alarms["stuck unit"] = problem  # also when the line had stopped already
            self._pause(problem)
        self._watch_timing()

    def _watch_timing(self) -> None:
        timing = self.pipeline.timing
        assessment = timing.assess()
        line = self.config.line
        if not assessment.act:
            if assessment.alarm is not None:
                self._alarms["gate timing"] = assessment.alarm
            elif not self.pipeline.halted:
                self._alarms.pop("gate timing", None)
            return
        text = assessment.alarm or (
            f"gate timing: {assessment.missed + assessment.at_risk} of the last "
            f"{assessment.verdicts} verdicts came within {line.guard_ms:g} ms of the reject "
            f"gate's {timing.last_deadline_ms:.0f} ms deadline"
        )
        if line.policy == "alarm" or self.pipeline.halted:
            self._alarms["gate timing"] = text
            return
        batch = self.current_batch()
        if batch is None or batch.state is not BatchState.RUNNING:
            return
        rate = timing.rate_per_minute() * line.slow_factor
        if line.policy == "slow" and rate >= line.min_rate_per_minute:
            self._alarms["gate timing"] = f"{text}; line slowed to {rate:.0f} units/min"
            log.warning("%s; asking the PLC for %.0f units/min", text, rate)
            self._timer_rate = rate
            self.plc.set_rate(rate, text)
            timing.reset_window()
            return
        log.error("%s; stopping the line", text)
        self.pipeline.stop_line(f"{text}; line stopped", "gate timing")
        timing.reset_window()

    def _watch_links(self, now: float) -> None:
        """The PLC link down (or its worker dead) for longer than ``plc_link_timeout_s``
        while a batch runs: alarm and halt; cleared when it is back. The events' broker away
        for ``BROKER_ALARM_S``: an alarm only (the outbox keeps every event)."""
        self._watch_broker(now)
        healthy = self.plc.connected and self.plc.worker_alive
        if healthy:
            self._plc_down_since = None
            if self._alarms.pop("plc link down", None) is not None:
                self._state_changed.set()
            return
        if self._plc_down_since is None:
            self._plc_down_since = now
            return
        if now - self._plc_down_since < PLC_LINK_TIMEOUT_S or "plc link down" in self._alarms:
            return
        batch = self.current_batch()
        if batch is None or batch.state is not BatchState.RUNNING:
            return
        what = "disconnected" if self.plc.worker_alive else "its command worker ended"
        problem = f"PLC link {what} for {now - self._plc_down_since:.0f} s"
        self._alarms["plc link down"] = problem
        log.error("%s; halting the line", problem)
        self._halt(problem)

    def _watch_disk(self) -> None:
        """The data folder nearly full while a batch runs: the ``store`` alarm and a stop,
        before SQLite refuses a write (which it may do only when it next needs a page)."""
        if "store" in self._alarms:
            return
        try:
            stat = os.statvfs(self.db_path.parent)
        except OSError:
            return
        free = stat.f_bavail * stat.f_frsize
        if free >= MIN_FREE_BYTES:
            return
        batch = self.current_batch()
        if batch is None or batch.state is not BatchState.RUNNING:
            return
        self.pipeline.stop_line(
            f"store: the data folder {self.db_path.parent} has {free // 1024} KiB free "
            f"(less than {MIN_FREE_BYTES // (1024 * 1024)} MiB): line stopped before writes fail",
            "store",
        )

    def _watch_broker(self, now: float) -> None:
        if self.publisher.connected:
            self._broker_down_since = None
            if self._alarms.pop("broker", None) is not None:
                log.info("broker: connected again")
                self._state_changed.set()
            return
        if self._broker_down_since is None:
            self._broker_down_since = now
            return
        if now - self._broker_down_since >= BROKER_ALARM_S and "broker" not in self._alarms:
            waiting = self.publisher.pending()
            why = self.publisher.stats.last_error or "not connected"
            self._alarms["broker"] = (
                f"the broker does not answer ({why}); the line goes on, "
                f"{waiting} event(s) wait in the outbox"
            )
            log.warning("broker: %s", self._alarms["broker"])
            self._state_changed.set()

    def _outbox_alarm(self, raised: bool, depth: int) -> None:
        if raised:
            self._alarms["outbox"] = f"{depth} events waiting for the broker"
        else:
            self._alarms.pop("outbox", None)
        self._state_changed.set()

    def _grade_alarm(self, alarm: TrendAlarm | None) -> None:
        """The moving print-quality grade fell (or recovered): an alarm before rejects start."""
        if alarm is None:
            self._clear_alarm("grade")
        else:
            log.warning("%s", alarm.message)
            self._alarms["grade"] = alarm.message
        self._state_changed.set()

    def _serial_alarm(self, text: str | None) -> None:
        if text is None:
            self._alarms.pop("serials", None)
        else:
            self._alarms["serials"] = text
        self._state_changed.set()

    def _production_alarm(self, text: str | None) -> None:
        if text is None:
            self._alarms.pop("production", None)
        else:
            self._alarms["production"] = text
        self._state_changed.set()

    def _serial_lookup(self, kind: str, scope: str, values: Sequence[str]) -> dict[str, str | None]:
        return self.read(lambda conn: serial_usage.lookup(conn, kind, scope, values))

    def _clear_alarm(self, name: str) -> None:
        self._alarms.pop(name, None)

    def _state_loop(self) -> None:
        last = b""
        next_full = 0.0
        while not self._stopping.is_set():
            self._state_changed.wait(timeout=1.0)
            self._state_changed.clear()
            if self._stopping.is_set():
                return
            try:
                self._watch_links(time.monotonic())
                self._watch_line(time.monotonic())
                payload = self._line_state()
            except sqlite3.Error as exc:
                log.error("line state: %s", exc)
                continue
            now = time.monotonic()
            if payload != last or now >= next_full:
                self.publisher.publish_state(payload)
                last, next_full = payload, now + 30.0

    def _line_state(self) -> bytes:
        batch = self.current_batch()
        counts: dict[str, int] = {}
        if batch is not None:
            counts = self.read(lambda conn: self.ledger.counts(conn, batch.id))
        return state_payload(
            "online",
            site=self.config.agent.site,
            line=self.config.agent.line,
            batch=None
            if batch is None
            else {"lot": batch.lot, "gtin": batch.gtin, "state": batch.state.value},
            counts=counts,
            outbox=self.publisher.stats.depth,
            alarms=sorted(self._alarms.values()),
            ts=datetime.now(UTC).isoformat(timespec="seconds"),
        )


def _container_counts(conn: sqlite3.Connection, batch_id: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT level || ':' || state, count(*) FROM containers WHERE batch_id = ? "
        "GROUP BY level, state",
        (batch_id,),
    )
    return {key: count for key, count in rows}


def parse_batch_start(data: dict[str, Any], *, by_rule: bool = False) -> BatchStart:
    """A BatchStart from a JSON object (PLC or API), or PayloadError naming the field.

    With ``by_rule`` (the line has production data from the server) ``lot`` and ``expiry``
    may be left out or null: a lot by rule, the expiry computed from the shelf life."""
    allowed = {"gtin", "lot", "expiry", "planned", "materials", "expiry_reason",
               "manufacturing_date"}  # fmt: skip
    unknown = sorted(set(data) - allowed)
    problems = [f"start: unknown fields {unknown}"] if unknown else []
    values: dict[str, Any] = {}
    for name, required in (("gtin", True), ("lot", not by_rule), ("expiry", not by_rule),
                           ("expiry_reason", False), ("manufacturing_date", False)):  # fmt: skip
        value = data.get(name)
        if value is None and not required:
            value = "" if name in ("lot", "expiry") else None
        elif not isinstance(value, str):
            problems.append(f"{name}: expected a string, got {value!r}")
        values[name] = value
    planned = data.get("planned")
    if isinstance(planned, bool) or not isinstance(planned, int):
        problems.append(f"planned: expected a whole number, got {planned!r}")
    materials: list[MaterialLot] = []
    raw = data.get("materials", [])
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        problems.append(f"materials: expected a list, got {raw!r}")
        raw = []
    for index, item in enumerate(raw):
        try:
            materials.append(_material(item))
        except PayloadError as exc:
            problems.append(f"materials.{index}.{exc}")
    if problems:
        raise PayloadError("; ".join(problems))
    assert isinstance(planned, int)  # checked above
    return BatchStart(
        values["gtin"],
        values["lot"],
        values["expiry"],
        planned,
        tuple(materials),
        expiry_reason=values["expiry_reason"],
        manufacturing_date=values["manufacturing_date"],
    )


def _material(item: Any) -> MaterialLot:
    if not isinstance(item, dict):
        raise PayloadError(f"item: expected an object, got {item!r}")
    unknown = sorted(set(item) - {"gtin", "lot", "company_prefix_length", "quantity", "uom"})
    if unknown:
        raise PayloadError(f"item: unknown fields {unknown}")
    try:
        gtin = gs1.Gtin.parse(str(item.get("gtin", ""))).value
        lot = gs1.validate_cset82(str(item.get("lot", "")), field="lot")
    except gs1.Gs1Error as exc:
        raise PayloadError(str(exc)) from None
    cpl = item.get("company_prefix_length")
    if isinstance(cpl, bool) or not isinstance(cpl, int) or not 6 <= cpl <= 12:
        raise PayloadError(f"company_prefix_length: expected a whole number 6..12, got {cpl!r}")
    quantity = item.get("quantity")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int | float)
    ):
        raise PayloadError(f"quantity: expected a number, got {quantity!r}")
    uom = item.get("uom")
    if uom is not None and not isinstance(uom, str):
        raise PayloadError(f"uom: expected a string such as 'KGM', got {uom!r}")
    return MaterialLot(gtin, lot, cpl, None if quantity is None else float(quantity), uom)
