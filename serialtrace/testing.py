"""A simulated packaging line for tests, benchmarks and the fault suite: real simulators, real
drivers.

Unit printer: ``VirtualPrinter`` on TCP, its labels photographed by ``CameraSimulator`` into
an in-process ``FrameQueue`` that the agent's ``QueueSource`` reads. Case printer: another
``VirtualPrinter`` on TCP whose labels the ``ScannerSimulator`` (a pty) "scans" back.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.agent import Devices
from edge.api_auth import ensure_token, hash_password
from edge.config import EdgeConfig, parse_config
from edge.vision import QueueSource
from edge.wiring import build_devices
from gs1.serials import SerialKey
from serialtrace.services import Broker
from simulators.camera.camera import CameraSimulator
from simulators.camera.optics import Optics
from simulators.camera.transport import FrameQueue
from simulators.labels import PrintedLabel
from simulators.printer import PrinterSimConfig, TcpTransport, VirtualPrinter
from simulators.printer.faults import FaultConfig
from simulators.scanner.scanner import ScannerSimulator

GTIN = "09506000134352"
KEY = SerialKey(bytes(range(32)))


def write_key(folder: Path) -> Path:
    path = folder / "serial.key"
    path.write_text(KEY.hex())
    os.chmod(path, 0o600)
    return path


def line_config(
    data_dir: Path,
    broker_url: str | Broker,
    *,
    printer_url: str = "socket://127.0.0.1:1",
    case_printer_url: str | None = None,
    scanner_url: str | None = None,
    camera_url: str = "unused",
    units_per_case: int = 5,
    cases_per_pallet: int = 3,
    trigger: str = "plc",
    rate_per_minute: float = 600.0,
    api_port: int = 8710,
    extra: dict[str, Any] | None = None,
    printer_settings: dict[str, Any] | None = None,
    scanner_settings: dict[str, Any] | None = None,
    case_printer_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data_dir.mkdir(parents=True, exist_ok=True)
    key = write_key(data_dir)
    devices: dict[str, Any] = {
        "printer": {"url": printer_url, "confirm_timeout_s": 5.0, **(printer_settings or {})},
        "camera": {"url": camera_url, "timeout_s": 2.0},
    }
    if case_printer_url and scanner_url:
        devices["case_printer"] = {"url": case_printer_url, **(case_printer_settings or {})}
        devices["scanner"] = {"url": scanner_url, "timeout_s": 2.0, **(scanner_settings or {})}
    raw: dict[str, Any] = {
        "agent": {
            "site": "plant1",
            "line": "line3",
            "data_dir": str(data_dir),
            "read_point": {"gln": "9506000000008", "extension": "3", "company_prefix_length": 7},
        },
        "products": [{"gtin": GTIN, "company_prefix_length": 7, "name": "Paracetamol 500 mg"}],
        "packing": {
            "units_per_case": units_per_case,
            "cases_per_pallet": cases_per_pallet,
            "sscc_company_prefix": "9506000",
        },
        "devices": devices,
        "serials": {"key_file": str(key), "lease_size": 1000},
        "mqtt": mqtt_section(broker_url, "plant1", "line3"),
        "trigger": {"source": trigger, "rate_per_minute": rate_per_minute},
        # the hand-driven PLCs of these tests have no reject gate: no gate deadline to keep
        # (the conveyor announces its gate's); and on a shared test machine verdicts may miss
        # a conveyor's gate, so gate timing only alarms unless a test sets the policy
        # (tests/edge/agent/test_gate_timing.py)
        "line": {"verdict_deadline_ms": 10_000.0, "policy": "alarm"},
        "api": {
            "port": api_port,
            "operators": [{"name": OPERATOR, "password_hash": operator_hash()}],
        },
    }
    for section, values in (extra or {}).items():
        raw.setdefault(section, {}).update(values)
    return raw


def mqtt_section(broker: str | Broker, site: str, line: str) -> dict[str, str]:
    """The ``[mqtt]`` section: a URL, or a test broker's URL and the line identity's secrets
    file (the broker is set up as in production)."""
    if isinstance(broker, str):
        return {"url": broker}
    return {"url": broker.url, "secrets_file": str(broker.secrets("line", site, line))}


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    """Write ``raw`` as TOML (the subset this project's config uses)."""
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in item.items()) + " }"
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        raise TypeError(item)

    def table(name: str, body: dict[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        for key, sub in body.items():
            if isinstance(sub, dict) and not _is_inline(sub):
                table(f"{name}.{key}", sub)
            elif isinstance(sub, dict):
                lines.append(f"{key} = {value(sub)}")

    for name, body in raw.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines.extend(f"{k} = {value(v)}" for k, v in item.items())
        else:
            table(name, body)
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())  # what we wrote must be TOML
    return path


def _is_inline(body: dict[str, Any]) -> bool:
    return not any(isinstance(v, dict) for v in body.values()) and set(body) <= {
        "gln",
        "extension",
        "company_prefix_length",
    }


@dataclass
class SimLine:
    """The simulators of one line, started; ``close()`` stops them all."""

    printer: VirtualPrinter
    printer_tcp: TcpTransport
    camera: CameraSimulator
    frames: FrameQueue
    case_printer: VirtualPrinter
    case_printer_tcp: TcpTransport
    scanner: ScannerSimulator
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()


def start_line(
    *,
    label_faults: dict[str, Any] | None = None,
    print_time: bool = False,
    scanner_no_read_rate: float = 0.0,
    seed: int = 7,
    camera: CameraSimulator | None = None,
    printer_language: str = "zpl",
    case_printer_language: str = "zpl",
) -> SimLine:
    """Start the simulators; ``camera`` replaces the default one (frames to a FrameQueue);
    ``printer_language`` and ``case_printer_language`` are what the unit and the case printer
    speak (``zpl`` or ``dpl``)."""
    faults = FaultConfig.from_mapping({"label": label_faults or {}, "seed": seed})
    printer = VirtualPrinter(
        PrinterSimConfig(
            language=printer_language, print_time=print_time, baudrate=0, faults=faults
        )
    ).start()
    printer_tcp = TcpTransport(printer).start()
    frames = FrameQueue(maxsize=256)
    camera = camera or CameraSimulator(Optics(), [frames], seed=seed)
    printer.subscribe(camera)
    case_printer = VirtualPrinter(
        PrinterSimConfig(
            language=case_printer_language, print_time=False, baudrate=0, width=812, length=1218
        )
    ).start()
    case_tcp = TcpTransport(case_printer).start()
    scanner = ScannerSimulator(no_read_rate=scanner_no_read_rate, seed=seed)

    def scan_case_label(label: PrintedLabel) -> None:
        text = label.data.get("code128_hri") or label.data.get("code128")
        if text and "missed" not in label.faults:
            scanner.scan(text)
        else:
            scanner.no_read()

    case_printer.subscribe(scan_case_label)
    line = SimLine(printer, printer_tcp, camera, frames, case_printer, case_tcp, scanner)
    line.closers += [printer.stop, printer_tcp.stop, case_printer.stop, case_tcp.stop]
    return line


def sim_devices(config: EdgeConfig, line: SimLine) -> Devices:
    """The agent's real drivers, pointed at the simulated line."""
    return build_devices(config, frame_source=QueueSource(line.frames, name="sim"))


OPERATOR = "op1"
OPERATOR_PASSWORD = "line three shift"


@functools.lru_cache(maxsize=1)
def operator_hash() -> str:
    """The argon2 hash of the test operator's password (argon2 is slow: hashed once)."""
    return hash_password(OPERATOR_PASSWORD)


def api_headers(config: EdgeConfig) -> dict[str, str]:
    """The Authorization header with the agent's API token (made when its app is built)."""
    return {"Authorization": f"Bearer {ensure_token(config)}"}


def config_for(tmp: Path, broker_url: str | Broker, line: SimLine, **kwargs: Any) -> EdgeConfig:
    raw = line_config(
        tmp,
        broker_url,
        printer_url=line.printer_tcp.url,
        case_printer_url=line.case_printer_tcp.url,
        scanner_url=line.scanner.port,
        **kwargs,
    )
    return parse_config(raw)
