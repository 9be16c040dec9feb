"""The demo's stack: the processes, ports and children it starts, and owns until it stops.

In this order (stopped in reverse, on any exit: the batch done, an error, Ctrl-C, SIGTERM):

1. a Mosquitto broker of its own on a free 127.0.0.1 port (the system ``mosquitto`` binary);
2. the trace server (``serialtrace server``, a child process) on SQLite in the data folder,
   ingesting the line's events from that broker;
3. the simulated line's devices (:mod:`simulators.line`): the unit printer on a pty, the
   camera, the case printer and case scanner, the PLC conveyor with its reject gate;
4. the edge agent with its real drivers pointed at those devices, and its operator HMI.

Isolation: both HTTP ports must be free before anything starts (else one line saying which
is taken); the demo talks only to the trace server *its own child process* listens with
(checked in /proc, see :func:`serialtrace.services.owns_listener`) and to the HMI its own
uvicorn bound, and logs in with passwords made up for this run; the data folder is locked
while a run uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console

from edge.agent import Agent
from edge.api import create_app as create_edge_app
from edge.api_auth import ensure_token, hash_password
from edge.config import EdgeConfig, parse_config
from edge.vision import QueueSource
from edge.wiring import WiringError, build_agent, build_devices
from gs1.serials import SerialKey
from serialtrace.demo.options import (
    COMPANY_PREFIX,
    DEMO_USERS,
    GTIN,
    LINE,
    LINE_USER,
    MARKER,
    READ_POINT,
    SITE,
    SITE_LOCATION,
    Credentials,
    Deadline,
    DemoError,
    DemoOptions,
)
from serialtrace.services import (
    Broker,
    PortTaken,
    check_port_free,
    serve_asgi,
    start_mosquitto,
    tied_to_starter,
    wait_for_listener,
)
from simulators.line import LineSimulator, Scenario


def scenario_for(options: DemoOptions) -> Scenario:
    """The line's devices: print defects at ``defect_rate``, split over the defect kinds."""
    rate = options.defect_rate
    faults = {
        "smudge": {"probability": rate * 0.35},
        "void": {"probability": rate * 0.35},
        "missed": {"probability": rate * 0.30},
    }
    return Scenario.from_mapping(
        {
            "name": "demo",
            "seed": options.seed,
            "line": {
                "site": SITE,
                "line": LINE,
                "rate_per_minute": options.ppm,
                "gate_delay_s": options.gate_delay_s,
            },
            # 14 in/s prints a 30 mm label in 85 ms: up to about 700 labels a minute.
            "printer": {
                "transport": "pty",
                "print_speed": 14,
                "print_time": options.ppm <= 600,
                "faults": {"label": {k: v for k, v in faults.items() if v["probability"]}},
            },
            "camera": {"preset": "clean", "output": "queue"},
        }
    )


def edge_config(
    options: DemoOptions,
    data: Path,
    broker: Broker,
    line: LineSimulator,
    credentials: Credentials,
) -> EdgeConfig:
    ends = line.endpoints()
    (data / "edge").mkdir(parents=True, exist_ok=True)
    key_file = data / "serial.key"
    if not key_file.exists():
        key_file.write_text(SerialKey.generate().hex())
        os.chmod(key_file, 0o600)
    password_file = data / "line.password"
    _write_secret(password_file, credentials.line_password)
    operator, operator_password = credentials.login("operator")
    raw: dict[str, Any] = {
        "agent": {
            "site": SITE,
            "line": LINE,
            "data_dir": str(data / "edge"),
            "read_point": {
                "gln": "9506000000008",
                "extension": "1",
                "company_prefix_length": 7,
            },
        },
        "products": [
            {"gtin": GTIN, "company_prefix_length": 7, "name": "Paracetamol 500 mg, 20 tablets"}
        ],
        "packing": {
            "units_per_case": options.units_per_case,
            "cases_per_pallet": options.cases_per_pallet,
            "sscc_company_prefix": COMPANY_PREFIX,
        },
        "devices": {
            "printer": {"url": ends.printer, "baudrate": 115200, "confirm_timeout_s": 10.0},
            "camera": {"url": "in-process", "timeout_s": 2.0},  # frames come from a queue
            "case_printer": {"url": ends.case_printer},
            "scanner": {"url": ends.case_scanner, "timeout_s": 3.0},
        },
        "serials": {"key_file": str(key_file), "lease_size": 1000},
        "mqtt": {"url": broker.url, "secrets_file": str(broker.secrets("line", SITE, LINE))},
        "trigger": {"source": "plc", "rate_per_minute": options.ppm},
        # Verdicts that miss the reject gate's deadline (a busy machine) slow the belt rather
        # than stop the demo's batch: good units are not lost and the batch still finishes.
        "line": {"policy": "slow"},
        "api": {
            "host": "127.0.0.1",
            "port": options.hmi_port,
            # The HMI's operator; the demo itself uses the API token.
            "operators": [{"name": operator, "password_hash": hash_password(operator_password)}],
        },
        "server": {  # master data, the order and its lot by rule come from the trace server
            "url": f"http://127.0.0.1:{options.server_port}",
            "user": LINE_USER,
            "password_file": str(password_file),
            "poll_s": 1.0,
        },
    }
    return parse_config(raw, source="serialtrace demo")


def edge_agent(config: EdgeConfig, line: LineSimulator) -> Agent:
    """The agent with its real drivers on the simulated devices (camera frames in-process)."""
    if line.frames is None:
        raise DemoError("the demo's camera must hand its frames over in-process")
    try:
        devices = build_devices(config, frame_source=QueueSource(line.frames, name="demo"))
    except WiringError as exc:
        raise DemoError(f"edge agent devices: {exc}") from exc
    return build_agent(config, devices)


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class Stack:
    """Starts everything (:meth:`start`) and stops everything it started (:meth:`close`)."""

    def __init__(
        self,
        options: DemoOptions,
        console: Console,
        credentials: Credentials,
        deadline: Deadline,
    ) -> None:
        self.options = options
        self.console = console
        self.credentials = credentials
        self.deadline = deadline
        self.data = options.data_dir.resolve()
        self.server_url = f"http://127.0.0.1:{options.server_port}"
        self.hmi_url = f"http://127.0.0.1:{options.hmi_port}"
        self.broker: Broker | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.line: LineSimulator | None = None
        self.agent: Agent | None = None
        self._exits = contextlib.ExitStack()
        self._clients: dict[str, httpx.Client] = {}

    # -- what the story uses ------------------------------------------------------------------

    def client(self, role: str) -> httpx.Client:
        """The trace server's API logged in as the demo user ``role`` (see DEMO_USERS), or
        ``edge``: the agent's HMI API with its token."""
        try:
            return self._clients[role]
        except KeyError:
            raise DemoError(f"the demo is not started: no {role} client") from None

    def children(self) -> list[int]:
        """Process ids of the child processes (broker, trace server) still running."""
        found = []
        for process in (
            self.broker.process if self.broker else None,
            self.server,
        ):
            if process is not None and process.poll() is None:
                found.append(process.pid)
        return found

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._exits.close()

    def start(self) -> None:
        self._check_ports()
        self._prepare_data_dir()
        self._step("broker")
        # Broker and trace server end with the demo's main thread, even when the demo is
        # killed with SIGKILL and cannot stop them.
        broker = start_mosquitto(self.data / "broker", persistence=True, tied=True)
        self._exits.callback(broker.stop)
        self.broker = broker
        self._step("trace server")
        self._start_server(broker)
        self._step("line simulators")
        line = LineSimulator(
            scenario_for(self.options),
            broker.link("plc", SITE, LINE),
            work_dir=self.data / "line",
        )
        self._exits.enter_context(line)
        self.line = line
        self._step("edge agent")
        config = edge_config(self.options, self.data, broker, line, self.credentials)
        self.agent = edge_agent(config, line)
        self._serve_hmi(self.agent)
        if not line.conveyor.wait_connected(self.deadline.allow(30)):
            self.deadline.check("the PLC simulator to connect to the broker")
            raise DemoError("PLC simulator: could not connect to the broker")

    def _step(self, what: str) -> None:
        self.console.log(f"starting {what}")

    def _check_ports(self) -> None:
        """Both HTTP ports must be free before anything starts: the demo never talks to a
        trace server or an agent it did not start."""
        for option, port in (
            ("--port", self.options.server_port),
            ("--hmi-port", self.options.hmi_port),
        ):
            try:
                check_port_free(port)
            except PortTaken as exc:
                raise DemoError(
                    f"{option} {port}: {exc}; another program (another demo?) listens there. "
                    f"Stop it or choose a free port with {option}"
                ) from None

    def _prepare_data_dir(self) -> None:
        """A second run cleanly replaces the first: only a folder the demo made is emptied,
        and never while another run uses it (the marker file is locked while a run lives)."""
        data = self.data
        marker = data / MARKER
        if data.exists() and any(data.iterdir()):
            if not marker.exists():
                raise DemoError(
                    f"--data: {data} is not empty and was not made by serialtrace demo; "
                    "choose another folder"
                )
            with open(marker, "a") as old:
                try:
                    fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise DemoError(
                        f"--data: {data} is in use by another running demo; "
                        "stop it or choose another folder"
                    ) from None
                shutil.rmtree(data)
        data.mkdir(parents=True, exist_ok=True)
        lock: IO[str] = open(marker, "w")  # noqa: SIM115 - held (locked) until the stack closes
        self._exits.callback(lock.close)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("made by serialtrace demo; emptied by the next run\n")
        lock.flush()

    def _serialtrace(self, *args: str, stdin: str | None = None) -> None:
        """Run a ``serialtrace`` command as an administrator would type it, in this process:
        the set-up's seven commands took a Python start-up (about 1 s of CPU) each as
        subprocesses. The stack starts no thread before the trace server, so the standard
        streams are the demo's to lend."""
        from serialtrace.cli import main  # the commands import the server: not at module level

        what = " ".join(args[:3])
        self.deadline.check(f"serialtrace {what}")
        out, err = io.StringIO(), io.StringIO()
        saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin or "")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # a usage error (argparse)
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            sys.stdin = saved_stdin
        if code != 0:
            raise DemoError(f"{what}: {err.getvalue().strip() or out.getvalue().strip()}")

    def _add_users(self, db: str) -> None:
        """The demo's users (see DEMO_USERS), through ``serialtrace server user add``."""
        for role, (name, full_name) in DEMO_USERS.items():
            self._serialtrace(
                "server", "user", "add", name, "--role", role, "--full-name", full_name,
                "--db", db, "--password-stdin", "--reason", "demo user",
                stdin=self.credentials.passwords[role] + "\n",
            )  # fmt: skip

    def _start_server(self, broker: Broker) -> None:
        db = f"sqlite:///{self.data / 'server.sqlite'}"
        self._serialtrace("server", "migrate", "--db", db)
        self._add_users(db)
        self._serialtrace(
            "serials", "add-line", SITE, LINE, "--user", LINE_USER, "--db", db,
            "--password-stdin", "--reason", "demo line",
            stdin=self.credentials.line_password + "\n",
        )  # fmt: skip
        # The audit trail's checkpoints are signed with a key of the demo's own, kept (with
        # the checkpoint file) in the data folder, outside the database.
        audit_key = self.data / "audit.key"
        self._serialtrace("server", "audit-key", "--out", str(audit_key))
        # The line may report only its own read point and its site's business location.
        self._serialtrace(
            "server", "lines", "add", SITE, LINE, "--db", db,
            "--location", READ_POINT, "--location", SITE_LOCATION, "--reason", "demo line",
        )  # fmt: skip
        log_path = self.data / "server.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed by the stack
        self._exits.callback(log.close)
        port = self.options.server_port
        process = subprocess.Popen(
            tied_to_starter(
                [sys.executable, "-m", "serialtrace", "server", "--db", db, "--mqtt", broker.url,
                 "--mqtt-secrets", str(broker.secrets("server", "demo")),
                 "--host", "127.0.0.1", "--port", str(port)]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SERIALTRACE_SERVER__AUDIT_KEY_FILE": str(audit_key)},
        )  # fmt: skip
        self.server = process
        self._exits.callback(terminate, process)
        try:
            wait_for_listener(process, port, self.deadline.allow(300), "the trace server")
        except PortTaken as exc:
            raise DemoError(f"--port {port}: {exc}; see {log_path}") from None
        except TimeoutError:
            self.deadline.check(f"the trace server to listen on port {port} (log: {log_path})")
            raise DemoError(f"trace server did not start on port {port}; see {log_path}") from None
        for role in DEMO_USERS:
            client = httpx.Client(base_url=self.server_url, timeout=30)
            self._exits.callback(client.close)
            client.headers["Authorization"] = self._bearer(client, role)
            self._clients[role] = client

    def _bearer(self, client: httpx.Client, role: str) -> str:
        username, password = self.credentials.login(role)
        response = client.post("/auth/token", data={"username": username, "password": password})
        return f"Bearer {ok(response, f'log in as {username}')['access_token']}"

    def _serve_hmi(self, agent: Agent) -> None:
        port = self.options.hmi_port
        try:
            self._exits.enter_context(
                serve_asgi(
                    create_edge_app(agent), port, name="edge-api", timeout=self.deadline.allow(60)
                )
            )
        except PortTaken as exc:
            raise DemoError(f"--hmi-port {port}: {exc}") from None
        except TimeoutError:
            self.deadline.check(f"the operator HMI to listen on port {port}")
            raise DemoError(f"edge agent API did not start on port {port}") from None
        token = ensure_token(agent.config)  # the agent's API token (state changes need it)
        edge = httpx.Client(
            base_url=self.hmi_url, timeout=120, headers={"Authorization": f"Bearer {token}"}
        )
        self._exits.callback(edge.close)
        self._clients["edge"] = edge


def ok(response: httpx.Response, what: str) -> Any:
    """The JSON body of a successful answer; DemoError naming ``what`` otherwise (a body
    that is not JSON is never dumped: only its status and type are named)."""
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except (ValueError, AttributeError):
            detail = f"(a {response.headers.get('content-type', 'non-JSON')} answer)"
        raise DemoError(f"{what}: HTTP {response.status_code}: {detail}")
    try:
        return response.json()
    except ValueError:
        raise DemoError(
            f"{what}: expected JSON, got a {response.headers.get('content-type', '')} answer"
        ) from None


def terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
