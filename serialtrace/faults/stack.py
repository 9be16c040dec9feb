"""The whole system on one machine, each part in its own process where it is one in
production, for injecting faults into.

* the broker: Mosquitto, set up as ``serialtrace broker init`` does (TLS, passwords, ACLs),
  with persistence;
* the trace server: ``serialtrace server`` on SQLite (WAL), ingesting from the broker as its
  own identity, the line registered;
* the edge agent: ``serialtrace edge run`` with its real drivers;
* the line's devices (:func:`serialtrace.testing.start_line`: the virtual ZPL printers on TCP,
  the camera writing frames into a folder the agent watches, the case scanner on a pty) and
  the PLC conveyor on MQTT, in this process, so that every printed label is recorded here as
  the printer made it, and the camera can be stalled.

:class:`FaultStack` starts and stops them, kills and restarts each (SIGKILL), fills a disk,
stalls the camera, and watches the alarms (the agent's ``/status``, the server's
``/health``) all along.
"""

from __future__ import annotations

import contextlib
import getpass
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import gs1
from edge.agent import LINE_FAULT_ALARMS
from edge.api_auth import read_token
from serialtrace.faults.processes import Service, SmallDisk
from serialtrace.services import Broker, free_port, start_mosquitto
from serialtrace.testing import GTIN, SimLine, line_config, start_line, write_config
from simulators.camera.camera import CameraFrame, CameraSimulator
from simulators.camera.optics import Optics
from simulators.camera.transport import FolderWriter
from simulators.labels import PrintedLabel
from simulators.plc import Conveyor

SITE, LINE = "plant1", "line3"
#: The line's read point (``line_config``: GLN 9506000000008, extension 3) and its site.
READ_POINT = "urn:epc:id:sgln:9506000.00000.3"
SITE_LOCATION = "urn:epc:id:sgln:9506000.00000.0"
POLL_S = 0.2
#: The agent's alarms of a stopped line, cleared when the operator starts the next batch.
STOPPED_LINE_SIGNALS = frozenset(f"edge: {name}" for name in LINE_FAULT_ALARMS)


@dataclass
class Printed:
    """What the printers put on paper, as the simulated printers made it (the ground truth)."""

    units: dict[str, tuple[str, ...]] = field(default_factory=dict)  # serial -> print faults
    order: list[str] = field(default_factory=list)
    ssccs: list[str] = field(default_factory=list)
    unreadable: int = 0  # unit labels with no serial the printer understood

    def unit_label(self, label: PrintedLabel) -> None:
        hri = label.data.get("datamatrix_hri")
        code = gs1.parse(hri) if hri else None
        if isinstance(code, gs1.UnitCode) and code.serial:
            self.units[code.serial] = label.faults
            self.order.append(code.serial)
        else:
            self.unreadable += 1

    def case_label(self, label: PrintedLabel) -> None:
        text = label.data.get("code128_hri") or label.data.get("code128")
        code = gs1.parse(text) if text else None
        if isinstance(code, gs1.Sscc):
            self.ssccs.append(code.value)


class StallingCamera:
    """A camera sink (frames into the agent's folder) that can stall: while stalled, the
    frames it takes are held back, and delivered late, all at once, when it recovers, as a
    camera whose link hung does."""

    def __init__(self, folder: Path) -> None:
        self.writer = FolderWriter(folder)
        self._lock = threading.Lock()
        self._held: list[CameraFrame] = []
        self.stalled = False
        self.held_back = 0

    def __call__(self, frame: CameraFrame) -> None:
        with self._lock:
            if self.stalled:
                self._held.append(frame)
                self.held_back += 1
                return
        self.writer(frame)

    def stall(self) -> None:
        with self._lock:
            self.stalled = True

    def recover(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            self.stalled = False
        for frame in held:
            self.writer(frame)


class AlarmWatch:
    """Polls the agent's ``/status`` and the server's ``/health`` every 0.2 s and keeps when
    each alarm signal was first seen. A signal: ``edge: NAME`` per alarm of the agent,
    ``edge: unreachable``, ``server: PART`` per failing part of the server's health,
    ``server: unreachable``."""

    def __init__(self, edge_url: str, server_url: str) -> None:
        self.edge_url, self.server_url = edge_url, server_url
        self.history: list[tuple[float, frozenset[str]]] = []
        # why a poll found a part unreachable, the latest (for a report)
        self.problems: deque[str] = deque(maxlen=20)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-alarms", daemon=True)
        self._client = httpx.Client(timeout=1.0)

    def start(self) -> AlarmWatch:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()

    def signals(self) -> frozenset[str]:
        found: set[str] = set()
        try:
            reply = self._client.get(self.edge_url + "/status")
            if reply.status_code != 200:  # no status: the HMI shows no alarm either
                answer = f"{reply.status_code}: {reply.text[:200]}"
                self.problems.append(f"edge /status answered {answer}")
                found.add("edge: unreachable")
            else:
                found |= {f"edge: {name}" for name in reply.json().get("alarms", {})}
        except (httpx.HTTPError, ValueError) as exc:
            self.problems.append(f"edge /status: {type(exc).__name__}: {exc}")
            found.add("edge: unreachable")
        try:
            health = self._client.get(self.server_url + "/health")
            if health.status_code != 200:
                failing = health.json().get("failing", ["unknown"])
                found |= {"server: " + str(line).split(":", 1)[0] for line in failing}
        except (httpx.HTTPError, ValueError):
            found.add("server: unreachable")
        return frozenset(found)

    def _run(self) -> None:
        while not self._stop.is_set():
            seen = self.signals()
            with self._lock:
                self.history.append((time.monotonic(), seen))
            self._stop.wait(POLL_S)

    def report(self, seconds: float = 40.0) -> str:
        """What the watch saw over the last ``seconds``: each change of the signals, and the
        last reasons a part was unreachable (for a fault run's report)."""
        now = time.monotonic()
        with self._lock:
            entries = [(at, seen) for at, seen in self.history if at >= now - seconds]
            problems = list(self.problems)[-10:]
        lines, last = [], None
        for at, seen in entries:
            if seen != last:
                lines.append(f"{at - now:+7.1f} s  {sorted(seen) or 'no alarm'}")
                last = seen
        return "\n".join(lines + [f"unreachable: {p}" for p in problems])

    def settle(self, allowed: frozenset[str], timeout: float) -> frozenset[str]:
        """Wait (at most ``timeout``) until only ``allowed`` signals are up; what is up."""
        return self._until(lambda seen: not seen - allowed, timeout)

    def wait_for(self, wanted: frozenset[str], timeout: float) -> frozenset[str]:
        """Wait (at most ``timeout``) until every ``wanted`` signal is up; what is up."""
        return self._until(lambda seen: not wanted - seen, timeout)

    def _until(self, done: Callable[[frozenset[str]], bool], timeout: float) -> frozenset[str]:
        deadline = time.monotonic() + timeout
        seen = self.signals()
        while not done(seen) and time.monotonic() < deadline:
            time.sleep(POLL_S)
            seen = self.signals()
        return seen

    def current(self) -> frozenset[str]:
        with self._lock:
            return self.history[-1][1] if self.history else frozenset()

    def wait_new(self, since: float, baseline: frozenset[str], timeout: float) -> float | None:
        """Seconds from ``since`` until a signal not in ``baseline`` was seen (None: none
        within ``timeout``)."""
        deadline = since + timeout
        index = 0
        while True:
            with self._lock:
                entries = self.history[index:]
                index = len(self.history)
            for at, seen in entries:
                if at >= since and seen - baseline:
                    return at - since
            if time.monotonic() > deadline + 2 * POLL_S:
                return None
            time.sleep(POLL_S / 2)


class FaultStack:
    """Broker, trace server, edge agent, line devices and PLC, started by :meth:`start`,
    stopped by :meth:`close`; one batch after another runs on it (:meth:`start_batch`), each
    with its own lot."""

    def __init__(
        self,
        folder: Path,
        *,
        rate_per_minute: float = 300.0,
        gate_delay_s: float = 3.0,
        units_per_case: int = 10,
        cases_per_pallet: int = 4,
        small_disks: bool | None = None,
    ) -> None:
        """``small_disks``: put the edge's and the server's data folders on small tmpfs
        (:class:`SmallDisk`) that :meth:`fill_disk` can fill; default: when root."""
        self.folder = folder
        self.rate_per_minute = rate_per_minute
        self.gate_delay_s = gate_delay_s
        self.units_per_case = units_per_case
        self.cases_per_pallet = cases_per_pallet
        self.small_disks = SmallDisk.available() is None if small_disks is None else small_disks
        self.disks: dict[str, SmallDisk] = {}
        self.printed = Printed()
        self.lot = ""
        self.batches = 0
        self._trigger_base = 0
        self._closers: list[Callable[[], Any]] = []
        self.broker: Broker
        self.server: Service
        self.edge: Service
        self.sim: SimLine
        self.camera: StallingCamera
        self.plc: Conveyor
        self.alarms: AlarmWatch
        self.closed: dict[str, Any] | None = None
        self.close_refused: str | None = None
        #: unit labels of this batch printed when each fault was injected
        self.printed_at_faults: list[int] = []

    # -- paths ----------------------------------------------------------------------------------

    @property
    def edge_dir(self) -> Path:
        return self.folder / "edge"

    @property
    def server_dir(self) -> Path:
        return self.folder / "server"

    @property
    def edge_db(self) -> Path:
        return self.edge_dir / "edge.sqlite"

    @property
    def server_db(self) -> Path:
        return self.server_dir / "trace.db"

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> FaultStack:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        if self.small_disks:
            sides = (("edge", self.edge_dir, 256), ("server", self.server_dir, 128))
            for side, where, size in sides:
                disk = SmallDisk(where, size).mount()
                self._closers.append(disk.unmount)
                self.disks[side] = disk
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self.broker = start_mosquitto(self.folder / "broker", persistence=True)
        self._closers.append(self.broker.stop)
        db_url = f"sqlite:///{self.server_db}"
        command = [sys.executable, "-m", "serialtrace"]
        _prepare_server_store(db_url)
        server_port = free_port()
        secrets = self.broker.secrets("server", "faults")
        mqtt = ["--mqtt", self.broker.url, "--mqtt-secrets", str(secrets)]
        self.server_url = f"http://127.0.0.1:{server_port}"
        self.server = Service(
            "trace server",
            [*command, "server", "--db", db_url, "--port", str(server_port), *mqtt],
            self.folder / "server.log",
            self.server_url + "/health",
            ready=(200, 503),
        )
        self._closers.append(self.server.stop)  # (also if it fails to come up)
        self.server.spawn()  # it comes up while the line and the agent start

        frames = self.folder / "frames"
        frames.mkdir(exist_ok=True)
        self.camera = StallingCamera(frames)
        camera = CameraSimulator(Optics(frame_width=800, frame_height=600), [self.camera])
        self.sim = start_line(camera=camera)
        self._closers.append(self.sim.close)
        self.sim.printer.subscribe(lambda label: self.printed.unit_label(label))
        self.sim.case_printer.subscribe(lambda label: self.printed.case_label(label))

        api_port = free_port()
        self.edge_url = f"http://127.0.0.1:{api_port}"
        raw = line_config(
            self.edge_dir,
            self.broker,
            printer_url=self.sim.printer_tcp.url,
            case_printer_url=self.sim.case_printer_tcp.url,
            scanner_url=self.sim.scanner.port,
            camera_url=str(frames),
            units_per_case=self.units_per_case,
            cases_per_pallet=self.cases_per_pallet,
            api_port=api_port,
        )
        config = write_config(self.folder / "edge.toml", raw)
        self.edge = Service(
            "edge agent",
            [*command, "edge", "run", "--config", str(config)],
            self.folder / "edge.log",
            self.edge_url + "/health",
            ready=(200, 503),
        )
        self._closers.append(self.edge.stop)  # (also if it fails to come up)
        self.edge.spawn()
        self.server.wait_ready()
        self.edge.wait_ready()

        self.plc = Conveyor(
            self.broker.link("plc", SITE, LINE),
            SITE,
            LINE,
            rate_per_minute=self.rate_per_minute,
            gate_delay_s=self.gate_delay_s,
        )
        self.plc.start()
        self._closers.append(self.plc.close)
        if not self.plc.wait_connected(30):
            raise RuntimeError("the PLC simulator did not connect to the broker")
        self.alarms = AlarmWatch(self.edge_url, self.server_url).start()
        self._closers.append(self.alarms.close)
        self.wait_quiet(30)

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            with contextlib.suppress(Exception):
                closer()

    # -- the agent's API ------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        token = read_token(self.edge_dir / "api.token")
        return httpx.post(
            self.edge_url + path,
            json=body or {},
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        )

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.edge_url + "/status", timeout=10).json()
        return answer

    def start_batch(self, planned: int) -> str:
        """Start a new batch (its own lot) and record its labels afresh; the lot."""
        self.batches += 1
        self.lot = f"FAULT{self.batches:03d}"
        self.printed = Printed()
        self.closed, self.close_refused = None, None
        self.printed_at_faults = []
        self._trigger_base = int(self.plc.counts().get("triggered", 0))
        answer = self.post(
            "/batch/start", {"gtin": GTIN, "lot": self.lot, "expiry": "281130", "planned": planned}
        )
        if answer.status_code != 200:
            raise RuntimeError(f"batch start refused: {answer.text}")
        return self.lot

    def heal(self, timeout: float = 120.0) -> None:
        """Undo what a fault left behind: every process up, disks freed, camera working, old
        frames gone, no batch open (a batch whose close is refused for units still in flight
        is closed after the agent was restarted: its restart recovery decides them); then
        wait for quiet. RuntimeError if the batch still cannot be closed."""
        for disk in self.disks.values():
            disk.free()
        self.camera.recover()
        self.plc.halt("fault suite: heal")
        self.broker.start()
        down = [service for service in (self.server, self.edge) if not service.alive]
        for service in down:  # side by side
            service.spawn()
        for service in down:
            service.wait_ready()
        for attempt in range(2):
            batch = self.status().get("batch") or {}
            if batch.get("state") in ("running", "paused"):
                self.post("/batch/stop", {"reason": "fault suite: heal"})
            if batch.get("state") not in ("running", "paused", "stopped"):
                break
            answer = self.post("/batch/close")
            if answer.status_code == 200:
                break
            if attempt == 1:
                raise RuntimeError(f"heal: batch {batch.get('lot')} cannot close: {answer.text}")
            self.edge.stop()
            self.edge.start()
        for frame in (self.folder / "frames").iterdir():  # a new batch: a new camera session
            frame.unlink(missing_ok=True)
        # Quiet, but for the alarms of a stopped line (a camera that stalled, late verdicts):
        # they clear when the next batch starts (the operator's acknowledgement), not on an
        # idle line, so waiting for them would only wait out the timeout.
        self.alarms.settle(STOPPED_LINE_SIGNALS, timeout)

    def wait_quiet(self, timeout: float) -> bool:
        """Wait until neither the agent nor the server raises an alarm (a clean baseline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alarms.signals():
                return True
            time.sleep(POLL_S)
        return False

    # -- the belt -------------------------------------------------------------------------------

    def triggered(self) -> int:
        """Units the PLC triggered in this batch."""
        return int(self.plc.counts().get("triggered", 0)) - self._trigger_base

    def run_belt(self, units: int, timeout: float, until: int | None = None) -> None:
        """Keep the belt going until ``until`` (default: ``units``) unit labels of this batch
        were printed: the PLC is started again after the agent halted it or the batch of
        triggers ran out while the agent was away, and a paused batch is resumed (as an
        operator does once the alarm is dealt with). Bounded by ``timeout``."""
        goal = units if until is None else until
        deadline = time.monotonic() + timeout
        while len(self.printed.order) < goal and time.monotonic() < deadline:
            if not self.plc.running.is_set():
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    batch = self.status().get("batch") or {}
                    if batch.get("state") == "paused":
                        self.post("/batch/resume", {"reason": "fault cleared"})
                    elif batch.get("state") == "running":
                        self.plc.run(max(1, units - len(self.printed.order)))
            time.sleep(POLL_S)

    def finish(self, units: int, timeout: float) -> None:
        """Run the belt to ``units`` triggers, let the last units be decided, stop and close
        the batch, and wait until the outbox is empty and the server holds what it should."""
        self.run_belt(units, timeout)
        # The batch's labels are printed: the belt stops. (A belt the agent started again
        # after the PLC had sent its count runs until stopped: it printed 384 labels for a
        # batch of 40 and waited out the 60 s below.)
        self.plc.halt("the batch's units are printed")
        self.plc.wait_done(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if not self.status()["pipeline"]["in_flight"]:
                    break
            time.sleep(POLL_S)
        self.post("/batch/stop", {"reason": "end of the fault run"})
        answer = self.post("/batch/close")
        if answer.status_code == 200:
            self.closed = answer.json()
        else:
            self.close_refused = answer.text
        self.drain(timeout)

    def drain(self, timeout: float) -> None:
        """Wait until the server holds what it should: the agent's outbox is empty, the
        server is healthy and has confirmed every event of the line up to the batch's close
        event (the agent's ``/status``: ``delivery.closed_batches``; server-confirmed
        delivery, so what is confirmed is stored). A batch that did not close has no close
        event to go by: then until the outbox is empty, the server healthy and no new event
        came for 2 s."""
        deadline = time.monotonic() + timeout
        last = -1
        steady = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, sqlite3.Error):
                status = self.status()
                depth = status["outbox"]["depth"]
                healthy = httpx.get(self.server_url + "/health", timeout=5).status_code == 200
                if self.closed is not None:
                    whole = any(
                        batch["lot"] == self.lot and batch["closed_on_server"]
                        for batch in status["delivery"]["closed_batches"]
                    )
                    if depth == 0 and healthy and whole:
                        return
                else:
                    stored = self._server_count()
                    steady = steady + 1 if (depth == 0 and healthy and stored == last) else 0
                    last = stored
                    if steady >= 10:  # 2 s with an empty outbox and nothing new on the server
                        return
            time.sleep(POLL_S)

    def _server_count(self) -> int:
        with contextlib.closing(_read_only(self.server_db)) as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    # -- faults ---------------------------------------------------------------------------------

    def fill_disk(self, side: str) -> int:
        """Fill the ``side`` (``edge`` or ``server``) data folder's disk; the bytes written."""
        disk = self.disks.get(side)
        if disk is None:
            raise RuntimeError(f"no small disk for {side!r}: {SmallDisk.available()}")
        return disk.fill()

    def free_disk(self, side: str) -> None:
        disk = self.disks.get(side)
        if disk is not None:
            disk.free()


def _prepare_server_store(db_url: str) -> None:
    """Bring the server's store up to date and register the line with its read point and
    site, as ``serialtrace server migrate`` and ``serialtrace server lines add`` do (in this
    process: two interpreters fewer to start)."""
    from server.lines import register_line
    from server.store import create_store_engine, upgrade, write_transaction

    engine = create_store_engine(db_url)
    try:
        upgrade(engine)
        with write_transaction(engine) as conn:
            register_line(
                conn,
                SITE,
                LINE,
                [READ_POINT, SITE_LOCATION],
                actor=f"cli:{getpass.getuser()}",
                reason="fault suite",
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
