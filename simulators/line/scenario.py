"""A line scenario: the rates, devices and faults of a simulated packaging line, from TOML.

Example (``simulators/scenarios/defects-2pct.toml``)::

    name = "defects-2pct"
    description = "600 units/min, 2 % of labels smudged or voided"
    seed = 7

    [line]
    site = "plant1"
    line = "line3"
    rate_per_minute = 600
    gate_delay_s = 1.0

    [printer]                 # the unit printer (simulators.printer.PrinterSimConfig keys)
    transport = "pty"         # pty | tcp
    print_time = true
    [printer.faults.label]
    smudge = { probability = 0.01 }
    void = { probability = 0.01 }

    [camera]                  # simulators.camera.Optics keys, on top of a preset
    preset = "clean"
    output = "queue"          # queue (same process) | folder | mjpeg

    [case_scanner]
    no_read_rate = 0.0

Every key is checked; a wrong one is refused with its path and what was expected.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from simulators.camera.optics import PRESETS, Optics
from simulators.printer import PrinterSimConfig

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
CAMERA_OUTPUTS = ("queue", "folder", "mjpeg")
PRINTER_TRANSPORTS = ("pty", "tcp")


class ScenarioError(ValueError):
    """A scenario file or table that is not valid; the message names the key."""


@dataclass(frozen=True)
class LineSettings:
    site: str = "plant1"
    line: str = "line1"
    rate_per_minute: float = 600.0
    gate_delay_s: float = 1.0


@dataclass(frozen=True)
class CameraSettings:
    optics: Optics = field(default_factory=Optics)
    output: str = "queue"
    folder: Path | None = None
    mjpeg_port: int = 0


@dataclass(frozen=True)
class ScannerSettings:
    no_read_rate: float = 0.0
    partial_rate: float = 0.0
    noise_rate: float = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str = "default"
    description: str = ""
    seed: int = 0
    line: LineSettings = field(default_factory=LineSettings)
    printer: PrinterSimConfig = field(default_factory=PrinterSimConfig)
    printer_transport: str = "pty"
    camera: CameraSettings = field(default_factory=CameraSettings)
    case_scanner: ScannerSettings = field(default_factory=ScannerSettings)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """A scenario file, or the name of one in ``simulators/scenarios/``."""
        file = Path(path)
        if not file.exists() and not file.suffix:
            file = SCENARIO_DIR / f"{path}.toml"
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
            raise ScenarioError(
                f"scenario: expected a TOML file or one of {known}, got '{path}'"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario {file}: not valid TOML ({exc})") from exc
        return cls.from_mapping(data, name=file.stem)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, name: str = "default") -> Scenario:
        _only(
            data, "", {"name", "description", "seed", "line", "printer", "camera", "case_scanner"}
        )
        seed = data.get("seed", 0)
        if not isinstance(seed, int):
            raise ScenarioError(f"seed: expected an integer, got {seed!r}")
        line = _dataclass(LineSettings, data.get("line", {}), "line")
        if line.rate_per_minute <= 0:
            raise ScenarioError(
                f"line.rate_per_minute: expected more than 0, got {line.rate_per_minute!r}"
            )
        printer_data = dict(data.get("printer", {}))
        transport = printer_data.pop("transport", "pty")
        if transport not in PRINTER_TRANSPORTS:
            raise ScenarioError(
                f"printer.transport: expected one of {PRINTER_TRANSPORTS}, got {transport!r}"
            )
        faults = dict(printer_data.get("faults", {}))
        faults.setdefault("seed", seed)
        printer_data["faults"] = faults
        try:
            printer = PrinterSimConfig.from_mapping(printer_data)
        except ValueError as exc:
            raise ScenarioError(f"printer: {exc}") from exc
        camera = _camera(dict(data.get("camera", {})))
        scanner = _dataclass(ScannerSettings, data.get("case_scanner", {}), "case_scanner")
        for key in ("no_read_rate", "partial_rate", "noise_rate"):
            value = getattr(scanner, key)
            if not 0.0 <= value <= 1.0:
                raise ScenarioError(f"case_scanner.{key}: expected 0..1, got {value!r}")
        return cls(
            name=str(data.get("name", name)),
            description=str(data.get("description", "")),
            seed=seed,
            line=line,
            printer=printer,
            printer_transport=transport,
            camera=camera,
            case_scanner=scanner,
        )


def _camera(data: dict[str, Any]) -> CameraSettings:
    preset = data.pop("preset", "clean")
    if preset not in PRESETS:
        raise ScenarioError(f"camera.preset: expected one of {sorted(PRESETS)}, got {preset!r}")
    output = data.pop("output", "queue")
    if output not in CAMERA_OUTPUTS:
        raise ScenarioError(f"camera.output: expected one of {CAMERA_OUTPUTS}, got {output!r}")
    folder = data.pop("folder", None)
    mjpeg_port = data.pop("mjpeg_port", 0)
    known = {f.name for f in fields(Optics)}
    _only(data, "camera.", known)
    try:
        optics = PRESETS[preset].with_changes(**data)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"camera: {exc}") from exc
    return CameraSettings(optics, output, Path(folder) if folder else None, int(mjpeg_port))


def _only(data: dict[str, Any], prefix: str, known: set[str]) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError(f"{prefix}{unknown[0]}: unknown key; expected one of {sorted(known)}")


def _dataclass(kind: Any, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ScenarioError(f"{prefix}: expected a table, got {data!r}")
    _only(data, prefix + ".", {f.name for f in fields(kind)})
    defaults = kind()
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
            raise ScenarioError(f"{prefix}.{key}: expected {expected.__name__}, got {value!r}")
        values[key] = value
    return kind(**values)
