"""A whole simulated packaging line, without the edge agent: for integrators testing their own.

What it starts, each speaking the wire protocol of the real device:

* the unit printer: a virtual ZPL printer on a pty (or a TCP port, like Zebra's 9100);
* the verification camera: photographs every printed label into frames, handed to an
  in-process queue, written to a folder, or served as an MJPEG stream (OpenCV opens its URL);
* the case/pallet printer: a virtual ZPL printer on TCP, whose labels the case scanner reads;
* the case scanner: a line-framed serial scanner on a pty;
* the PLC: a conveyor with a photo-eye trigger and a reject gate, on the line's MQTT topics.

:meth:`LineSimulator.endpoints` says where a controller connects to each of them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epcis.broker import BrokerLink
from simulators.camera.camera import CameraSimulator
from simulators.camera.transport import FolderWriter, FrameQueue, MjpegServer
from simulators.labels import PrintedLabel
from simulators.line.scenario import Scenario
from simulators.plc.conveyor import Conveyor
from simulators.printer import PrinterSimConfig, PtyTransport, TcpTransport, VirtualPrinter
from simulators.scanner.scanner import ScannerSimulator

#: Case and pallet labels: 100 x 150 mm at 203 dpi.
CASE_LABEL_DOTS = (812, 1218)


@dataclass(frozen=True)
class Endpoints:
    """Where a line controller reaches each simulated device."""

    printer: str
    case_printer: str
    case_scanner: str
    camera: str
    mqtt: str
    site: str
    line: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class LineSimulator:
    """The devices of one line, from a :class:`Scenario`; a context manager."""

    def __init__(
        self,
        scenario: Scenario,
        broker_url: str | BrokerLink,
        *,
        work_dir: Path | None = None,
        secrets_file: str | None = None,
    ):
        """``broker_url``: a URL (the PLC identity's credentials from ``secrets_file``) or a
        ready :class:`BrokerLink` of the PLC identity."""
        self.scenario = scenario
        self.broker_url = broker_url.url if isinstance(broker_url, BrokerLink) else broker_url
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="serialtrace-line-"))
        self.frames: FrameQueue | None = None
        self._closers: list[Callable[[], Any]] = []
        self._camera_url = ""
        self._started = False

        self.printer = VirtualPrinter(scenario.printer)
        self.printer_transport: PtyTransport | TcpTransport = (
            PtyTransport(self.printer)
            if scenario.printer_transport == "pty"
            else TcpTransport(self.printer)
        )
        self.camera = CameraSimulator(scenario.camera.optics, [], seed=scenario.seed)
        width, length = CASE_LABEL_DOTS
        self.case_printer = VirtualPrinter(
            PrinterSimConfig(print_time=False, baudrate=115200, width=width, length=length)
        )
        self.case_printer_transport = TcpTransport(self.case_printer)
        settings = scenario.case_scanner
        self.case_scanner = ScannerSimulator(
            no_read_rate=settings.no_read_rate,
            partial_rate=settings.partial_rate,
            noise_rate=settings.noise_rate,
            seed=scenario.seed,
        )
        line = scenario.line
        self.conveyor = Conveyor(
            broker_url,
            line.site,
            line.line,
            rate_per_minute=line.rate_per_minute,
            gate_delay_s=line.gate_delay_s,
            secrets_file=secrets_file,
        )

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> LineSimulator:
        camera = self.scenario.camera
        if camera.output == "queue":
            self.frames = FrameQueue(maxsize=256)
            self.camera.sinks.append(self.frames)
            self._camera_url = "queue:"
        elif camera.output == "folder":
            folder = camera.folder or self.work_dir / "frames"
            folder.mkdir(parents=True, exist_ok=True)
            self.camera.sinks.append(FolderWriter(folder))
            self._camera_url = str(folder)
        else:
            server = MjpegServer(port=camera.mjpeg_port).start()
            self._closers.append(server.close)
            self.camera.sinks.append(server)
            self._camera_url = server.url
        self.printer.subscribe(self.camera)
        self.case_printer.subscribe(self._scan_case_label)
        for device, transport in (
            (self.printer, self.printer_transport),
            (self.case_printer, self.case_printer_transport),
        ):
            device.start()
            self._closers.append(device.stop)
            transport.start()
            self._closers.append(transport.stop)
        self._closers.append(self.case_scanner.close)
        self.conveyor.start()
        self._closers.append(self.conveyor.close)
        self._started = True
        return self

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            closer()

    def __enter__(self) -> LineSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a controller needs --------------------------------------------------------------

    def endpoints(self) -> Endpoints:
        if not self._started:
            raise RuntimeError("the line simulator is not started")
        return Endpoints(
            printer=self.printer_transport.url,
            case_printer=self.case_printer_transport.url,
            case_scanner=self.case_scanner.port,
            camera=self._camera_url,
            mqtt=self.broker_url,
            site=self.scenario.line.site,
            line=self.scenario.line.line,
        )

    def counts(self) -> dict[str, Any]:
        """What the devices saw: labels printed, frames taken, and the reject gate's counts."""
        return {
            "labels_printed": self.printer.status().labels_printed,
            "frames": self.camera.frames_taken,
            "case_labels_printed": self.case_printer.status().labels_printed,
            "gate": self.conveyor.counts(),
        }

    def _scan_case_label(self, label: PrintedLabel) -> None:
        """The case scanner reads each case/pallet label as it passes (unless none printed)."""
        text = label.data.get("code128_hri") or label.data.get("code128")
        if text and "missed" not in label.faults:
            self.case_scanner.scan(text)
        else:
            self.case_scanner.no_read()
