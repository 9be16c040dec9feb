"""Adapters from the real drivers to the agent's device protocols, and building them from the
configuration, each through its driver package's registry: printers of any language
(:func:`edge.printers.open_printer`, :func:`edge.printers.label_builder`), the camera and
verifier (:func:`edge.vision.open_source`, :func:`edge.vision.make_decoder`), the case
scanner (:func:`edge.scanners.open_scanner`), the serial and SSCC pools
(:mod:`edge.serials`). Driver errors become :class:`edge.devices.DeviceFault` here, at the
boundary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import serial

import gs1
from edge import store
from edge.agent import Agent, AgentLinks, Devices, LinkHooks, database_path
from edge.config import EdgeConfig
from edge.devices import DeviceFault, PrintTicket, SerialSource, SsccSource, UnitGrade, Verdict
from edge.epcis_events import EpcisEvents
from edge.errors import ConfigError, EdgeError
from edge.plc import PlcLink
from edge.printers import (
    LabelCancelled,
    LabelDataError,
    LabelFormatter,
    LabelPrinter,
    PrinterError,
    PrinterFault,
    PrinterLanguage,
    PrinterSettings,
    PrintJob,
    TemplateError,
    label_builder,
    load_template,
    open_printer,
)
from edge.production import ProductionLink
from edge.publisher import Publisher, state_payload
from edge.scanners import ScannerError, ScannerSettings, ScanOutcome, SerialScanner, open_scanner
from edge.serials import CounterAllocator, SerialPool, SsccPool, key_from_env, read_key
from edge.serials.buffer import Scope, SerialBuffer, Sizing
from edge.serials.link import AuthorityClient, AuthorityLink
from edge.vision import (
    Calibration,
    CameraSettings,
    Decoder,
    DecodingLadder,
    FrameSource,
    Grader,
    GradeReport,
    GradingSettings,
    Outcome,
    QualityThresholds,
    Trigger,
    TriggeredCapture,
    Verifier,
    VisionError,
    make_decoder,
    open_source,
)
from edge.vision.grading.report import ABBREVIATIONS
from edge.writer import Writer
from epcis.topics import LineTopics
from gs1.serials import SerialGenerator, SerialKey, SerialScheme, SerialsError, alphabet_named
from identity import UnitIdentity

log = logging.getLogger(__name__)


def open_port(url: str, **kwargs: Any) -> serial.SerialBase:
    """``serial.serial_for_url`` with Nagle off on TCP ports (``socket://``).

    A printer driver writes a label and then a short status request; with Nagle on, the
    request waits for the label's ACK, which the printer delays (delayed ACK): about 40 ms
    per status round trip instead of well under one."""
    port = serial.serial_for_url(url, **kwargs)
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return port


def printer_driver(
    settings: PrinterSettings, port_factory: Callable[..., serial.SerialBase] = open_port
) -> LabelPrinter:
    """The driver of the printer's language, from the printer registry."""
    return open_printer(settings, port_factory=port_factory)


class LabelUnitPrinter:
    """:class:`edge.devices.UnitPrinter` on a printer of any language; one label template
    per GTIN, built by the language's builder."""

    def __init__(self, driver: LabelPrinter, builders: dict[str, LabelFormatter]) -> None:
        self._driver = driver
        self._builders = builders
        self._lock = threading.Lock()  # send (print stage) and confirm (verify stage)

    def send(self, code: UnitIdentity) -> PrintTicket:
        product = code.key().product
        builder = self._builders.get(product)
        if builder is None:
            raise DeviceFault("printer", f"no label template for GTIN {product}")
        try:
            label = builder.unit_label(code)
        except LabelDataError as exc:
            raise DeviceFault("printer", str(exc), stop_line=False) from exc
        sent_at = time.time()
        try:
            with self._lock:
                job = self._driver.send(label)
        except PrinterError as exc:
            raise DeviceFault("printer", str(exc)) from exc
        return PrintTicket(job.sequence, sent_at, job.epoch)

    def confirm(self, ticket: PrintTicket) -> None:
        try:
            with self._lock:
                self._driver.confirm(PrintJob(ticket.sequence, 0, ticket.epoch))
        except LabelCancelled as exc:  # after the fault that stopped the line: this unit only
            raise DeviceFault("printer", str(exc), stop_line=False) from exc
        except PrinterError as exc:
            raise DeviceFault("printer", str(exc)) from exc

    def cancel_pending(self) -> int | None:
        cancel = getattr(self._driver, "cancel_pending", None)
        if not callable(cancel):
            return None
        try:
            with self._lock:
                cancelled: int | None = cancel()
        except PrinterError as exc:
            log.warning("printer: labels waiting in it not cancelled: %s", exc)
            return None
        return cancelled

    def probe(self) -> None:
        """Ask the idle printer's status: DeviceFault if it does not answer or cannot print."""
        with self._lock:
            probe_printer(self._driver, "printer")

    def close(self) -> None:
        self._driver.close()


def probe_printer(driver: LabelPrinter, device: str) -> None:
    """Ask a printer's status: DeviceFault (as ``device``) if it does not answer or reports a
    state in which it does not print (a full buffer aside: it drains)."""
    try:
        status = driver.status()
    except PrinterError as exc:
        raise DeviceFault(device, str(exc)) from exc
    stopping = sorted(f.value for f in status.faults if f is not PrinterFault.BUFFER_FULL)
    if stopping:
        raise DeviceFault(device, f"printer reports {', '.join(stopping)}")


class CameraVerifier:
    """:class:`edge.devices.UnitVerifier`: the first frame after the label was sent, verified
    against the code printed.

    Load shedding: a unit whose verification starts more than ``grade_backlog_s`` after its
    label was sent (the verify stage is behind the belt) is verified without grading, unless
    a minimum grade is set; the accept/reject decision must reach the reject gate in time,
    the grade is monitoring. Such units are commissioned without ``serialtrace:grade`` and
    counted in ``ungraded``.

    Keeping step: a unit's frame is the one the camera counted for its label (see
    :class:`~edge.vision.frames.TriggeredCapture`). Frames whose code is read but is not the
    unit's own (``wrong_data``) for ``max_lost_frames`` units in a row mean the count no
    longer names the labels (a label the printer dropped, a camera counting a double
    trigger): the camera is out of step, and the line stops rather than reject every unit
    after. The count is matched afresh (:meth:`resync`) only after the camera lost step: a
    printer's fault stops the line with labels in its buffer, which are cancelled and their
    numbers given again (ZPL) or print when it resumes and are counted by the camera (DPL), so
    that the count still holds.
    """

    def __init__(
        self,
        source: FrameSource,
        verifier: Verifier,
        timeout_s: float,
        *,
        grade_backlog_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        max_lost_frames: int = 3,
    ) -> None:
        self._capture = TriggeredCapture(source, max_lost=max_lost_frames)
        self._verifier = verifier
        self._timeout_s = timeout_s
        self._grade_backlog_s = grade_backlog_s
        self._clock = clock
        self.ungraded = 0
        self._out_of_step = False  # the camera lost step since the count was last matched
        self._others_in_row = 0  # units in a row whose frame read another code

    def verify(
        self, expected: UnitIdentity, printed_after: float, *, label: int | None = None
    ) -> Verdict:
        trigger = Trigger(expected.key().serial, printed_after, origin="printer")
        lost = self._capture.lost
        # A unit's frame is due within timeout_s of its printing: the wait is anchored at the
        # print, so that when the camera stops, the units printed behind the first one do not
        # wait a whole timeout each, one after the other (a dead camera shows in about one
        # timeout, not max_lost_frames of them). Never less than a share of the timeout, so
        # that a verification running behind still gives a late frame time to come; a frame
        # already there is taken at once either way.
        wait = max(
            printed_after + self._timeout_s - self._clock(),
            self._timeout_s / self._capture.max_lost,
        )
        try:
            frame = self._capture.capture(trigger, wait, tag=label)
        except (VisionError, ConfigError) as exc:
            self._out_of_step = True
            raise DeviceFault("camera", str(exc)) from exc
        if frame is None:
            if self._capture.lost > lost:
                return Verdict("no_read", f"camera: no frame for label {label} (frame lost)")
            return Verdict(
                "no_read", f"no frame within {self._timeout_s} s of printing (waited {wait:.2f} s)"
            )
        behind = self._clock() - printed_after > self._grade_backlog_s
        grade = self._verifier.grader is not None and not behind
        if self._verifier.grader is not None and behind and self._verifier.min_grade is None:
            self.ungraded += 1
        result = self._verifier.verify(frame.image, expected, source=frame.source, grade=grade)
        detail = "; ".join(result.mismatches) or (result.error or "") or "; ".join(result.failures)
        if result.decoded is not None and not result.ok:
            read = result.parsed.hri() if isinstance(result.parsed, UnitIdentity) else None
            detail = f"{detail}; read {read or repr(result.decoded.transmitted)}"
        self._keep_step(result.outcome is Outcome.WRONG_DATA, label, detail)
        return Verdict(result.outcome.value, detail, unit_grade(result.grade), result.image)

    def _keep_step(self, other_code: bool, label: int | None, detail: str) -> None:
        """DeviceFault (the line stops) when ``max_lost_frames`` units in a row read another
        code than their own."""
        self._others_in_row = self._others_in_row + 1 if other_code else 0
        if self._others_in_row < self._capture.max_lost:
            return
        self._out_of_step = True
        raise DeviceFault(
            "camera",
            f"camera out of step: {self._others_in_row} units in a row read another code "
            f"than their own (label {label}: {detail})",
        )

    def resync(self) -> None:
        """The operator resumed: match the camera's trigger count to the labels afresh if
        the camera lost step (see the class), else keep it."""
        self._others_in_row = 0
        if self._out_of_step:
            self._out_of_step = False
            self._capture.reset()

    def close(self) -> None:
        self._capture.source.close()


class LabelContainerLabeller:
    """:class:`edge.devices.ContainerLabeller`: SSCC label on a printer (of a language that
    prints logistic labels), read back by a serial scanner."""

    def __init__(
        self,
        driver: LabelPrinter,
        case_builder: LabelFormatter,
        pallet_builder: LabelFormatter,
        scanner: SerialScanner,
    ) -> None:
        self._driver = driver
        self._builders = {"case": case_builder, "pallet": pallet_builder}
        self._scanner = scanner
        self._lock = threading.Lock()  # the packer prints, the agent probes an idle printer

    def print_container(self, sscc: gs1.Sscc, level: str, children: int) -> None:
        while self._scanner.get(timeout=0) is not None:  # forget scans of earlier labels
            pass
        builder = self._builders[level]
        content = f"{children} {'units' if level == 'case' else 'cases'}"
        variables = {"content": content} if "content" in builder.template.variables else {}
        try:
            with self._lock:
                self._driver.confirm(self._driver.send(builder.logistic_label(sscc, variables)))
        except (PrinterError, LabelDataError) as exc:
            raise DeviceFault("case printer", str(exc)) from exc

    def read_back(self, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            scan = self._scanner.get(timeout=remaining)
            if scan is None:
                return None
            if scan.outcome is ScanOutcome.OK and scan.data is not None:
                return scan.data
            return None if scan.outcome is ScanOutcome.NO_READ else scan.raw.decode("latin-1")
        return None

    def probe(self) -> None:
        """Ask the idle case printer's status: DeviceFault if it does not answer or cannot
        print."""
        with self._lock:
            probe_printer(self._driver, "case printer")

    def device_problems(self) -> dict[str, str]:
        """What is wrong with the scanner now that no job shows (its port was lost and its
        reader ended), by device name (the agent's ``/health``)."""
        scanner = self._scanner
        if scanner.alive:
            return {}
        return {"scanner": scanner.fault or f"scanner {scanner.url!r}: its reader is not running"}

    def close(self) -> None:
        self._scanner.close()
        self._driver.close()


def serial_key(config: EdgeConfig) -> SerialKey:
    if config.serials.key_file is not None:
        return read_key(config.resolve(config.serials.key_file))
    return key_from_env()


def serial_sources(
    config: EdgeConfig,
) -> tuple[Callable[[str], SerialPool], SsccPool]:
    """One serial pool per product GTIN and the SSCC pool, on the configured allocator."""
    allocator = CounterAllocator(config.resolve(config.serials.allocator))
    key = serial_key(config)
    scheme = SerialScheme(alphabet_named(config.serials.alphabet), config.serials.length)
    line = f"{config.agent.site}/{config.agent.line}"
    pools = {
        product.gtin: SerialPool(
            allocator,
            SerialGenerator(key, gs1.Gtin.parse(product.gtin), scheme),
            line=line,
            range_size=config.serials.lease_size,
        )
        for product in config.products
    }
    ssccs = SsccPool(
        allocator,
        extension=config.packing.sscc_extension,
        company_prefix=config.packing.sscc_company_prefix,
        line=line,
        range_size=config.serials.sscc_lease_size,
    )
    return pools.__getitem__, ssccs


class BufferedSerials:
    """:class:`edge.devices.SerialSource` on the authority's buffer: an empty buffer is a
    device fault that stops the line."""

    def __init__(self, buffer: SerialBuffer, scope: Scope) -> None:
        self._buffer = buffer
        self._scope = scope

    def take(self) -> str:
        try:
            return self._buffer.take(self._scope)
        except SerialsError as exc:
            raise DeviceFault("serial buffer", str(exc)) from exc


class BufferedSsccs:
    """:class:`edge.devices.SsccSource` on the authority's buffer."""

    def __init__(self, buffer: SerialBuffer, scope: Scope) -> None:
        self._serials = BufferedSerials(buffer, scope)

    def take(self) -> gs1.Sscc:
        return gs1.Sscc.parse(self._serials.take())


AUTHORITY_PASSWORD_ENV = "SERIALTRACE_AUTHORITY_PASSWORD"
SERVER_PASSWORD_ENV = "SERIALTRACE_SERVER_PASSWORD"


def authority_password(config: EdgeConfig) -> str:
    """The line's password at the serial authority: a file of its owner only, or the
    environment; never the TOML file."""
    return _password(
        config,
        config.serials.authority_password_file,
        "serials.authority_password_file",
        AUTHORITY_PASSWORD_ENV,
        "serial authority",
    )


def _password(config: EdgeConfig, path: str | None, setting: str, env: str, what: str) -> str:
    if path is None:
        value = os.environ.get(env)
        if not value:
            raise WiringError(
                f"{env}: expected the line's password at the {what} (or {setting}), got none"
            )
        return value
    file = config.resolve(path)
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WiringError(
            f"{setting}: expected a readable file, got {str(file)!r} ({exc})"
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WiringError(
            f"{setting}: expected mode 0600 (owner only), got "
            f"{stat.S_IMODE(mode):04o} on {str(file)!r}"
        )
    return text


def production_link(config: EdgeConfig) -> ProductionLink | None:
    """The line's link to the server's master data, orders and lots (``[server]``)."""
    server = config.server
    if server is None:
        return None
    password = _password(
        config, server.password_file, "server.password_file", SERVER_PASSWORD_ENV, "trace server"
    )
    client = AuthorityClient(
        server.url,
        server.user,
        password,
        ca_file=None if server.ca_file is None else str(config.resolve(server.ca_file)),
    )
    return ProductionLink(
        config.resolve(server.data),
        client,
        units_per_case=config.packing.units_per_case,
        cases_per_pallet=config.packing.cases_per_pallet,
        poll_s=server.poll_s,
        reserve_days=server.lot_reserve_days,
        reserve_per_period=server.lot_reserve_per_period,
        templates={
            p.gtin: (p.unit_template, p.case_template, p.pallet_template) for p in config.products
        },
    )


def authority_sources(
    config: EdgeConfig, *, with_ssccs: bool
) -> tuple[Callable[[str], BufferedSerials], BufferedSsccs, AuthorityLink]:
    """The buffer of every product GTIN (and the SSCC prefix, ``with_ssccs``), its sources
    and the link that keeps it filled from the authority."""
    serials = config.serials
    assert serials.authority_url is not None and serials.authority_user is not None
    rate = serials.line_rate_per_minute or config.trigger.rate_per_minute
    packing = config.packing
    sizing = {
        Scope.sgtin(p.gtin): Sizing.hours(
            rate, serials.buffer_hours, serials.low_water_hours, serials.pool_size
        )
        for p in config.products
    }
    sscc_scope = Scope.sscc(packing.sscc_extension, packing.sscc_company_prefix)
    if with_ssccs:
        # cases and pallets at full speed, plus a fifth for labels printed again (unreadable)
        containers = rate / packing.units_per_case * (1 + 1 / packing.cases_per_pallet) * 1.2
        sizing[sscc_scope] = Sizing.hours(
            containers, serials.buffer_hours, serials.low_water_hours, serials.sscc_pool_size
        )
    link: AuthorityLink | None = None
    buffer = SerialBuffer(
        config.resolve(serials.buffer), sizing, on_low=lambda: link.wake() if link else None
    )
    client = AuthorityClient(
        serials.authority_url,
        serials.authority_user,
        authority_password(config),
        ca_file=None
        if serials.authority_ca_file is None
        else str(config.resolve(serials.authority_ca_file)),
    )
    link = AuthorityLink(
        buffer,
        client,
        retry_s=serials.authority_retry_s,
        max_backoff_s=max(serials.authority_max_backoff_s, serials.authority_retry_s),
        return_unused_at_close=serials.return_unused_at_close,
    )
    sources = {
        scope.name: BufferedSerials(buffer, scope) for scope in sizing if scope.kind == "sgtin"
    }
    return sources.__getitem__, BufferedSsccs(buffer, sscc_scope), link


def unit_builders(
    config: EdgeConfig, language: PrinterLanguage = PrinterLanguage.ZPL
) -> dict[str, LabelFormatter]:
    """The unit label builder of every product, in the printer's language."""
    return {
        p.gtin: label_builder(language, load_template(_template(config, p.unit_template)))
        for p in config.products
    }


def _template(config: EdgeConfig, name: str) -> str | Path:
    """A template name is built in; anything with a suffix is a file (relative: data dir)."""
    return config.resolve(name) if name.endswith(".toml") else name


def unit_grade(report: GradeReport | None) -> UnitGrade | None:
    """What the line keeps of a grading (the commissioning event's ``serialtrace:grade``)."""
    if report is None:
        return None
    return UnitGrade(
        overall=report.overall,
        iso=report.iso_notation(),
        parameters={ABBREVIATIONS[name]: p.grade for name, p in report.parameters.items()},
        limiting=tuple(ABBREVIATIONS[name] for name in report.limiting)
        if report.scan_grade < 4
        else (),
    )


def camera_decoder(camera: CameraSettings) -> Decoder:
    if camera.decoder == "ladder":
        return DecodingLadder(deadline_ms=camera.deadline_ms)
    return make_decoder(camera.decoder)


def camera_verifier(
    camera: CameraSettings,
    source: FrameSource | None = None,
    *,
    max_lost_frames: int = 3,
    verdict_deadline_ms: float | None = None,
) -> CameraVerifier:
    """The camera's verifier; grading is shed from ``grade_backlog_ms`` after printing, or
    from half the reject gate's ``verdict_deadline_ms`` if that comes sooner (the verdict must
    reach the gate; the grade is monitoring)."""
    grader = None
    if camera.grade:
        c = camera.calibration
        grader = Grader(
            GradingSettings(
                aperture=camera.aperture,
                calibration=Calibration(
                    c.black_grey, c.white_grey, c.black_reflectance, c.white_reflectance
                ),
                wavelength_nm=camera.wavelength_nm,
            )
        )
    verifier = Verifier(
        camera_decoder(camera),
        QualityThresholds(min_symbol_contrast=camera.min_symbol_contrast),
        grader=grader,
        min_grade=camera.min_grade if grader is not None else None,
    )
    source = source or open_source(camera.url, watch=True)  # watch: a folder fills as it goes
    return CameraVerifier(
        source,
        verifier,
        camera.timeout_s,
        grade_backlog_s=min(
            camera.grade_backlog_ms,
            camera.grade_backlog_ms if verdict_deadline_ms is None else verdict_deadline_ms / 2,
        )
        / 1000.0,
        max_lost_frames=max_lost_frames,
    )


def container_labeller(
    config: EdgeConfig, printer: PrinterSettings, scanner: ScannerSettings
) -> LabelContainerLabeller:
    product = config.products[0]
    language = printer.language
    return LabelContainerLabeller(
        printer_driver(printer),
        label_builder(language, load_template(_template(config, product.case_template))),
        label_builder(language, load_template(_template(config, product.pallet_template))),
        open_scanner(scanner).start(),
    )


class WiringError(EdgeError):
    """A device or identifier source named in the configuration cannot be set up."""


def build_devices(config: EdgeConfig, *, frame_source: FrameSource | None = None) -> Devices:
    """The real devices of the configuration (printer and camera are required).

    ``frame_source`` replaces the camera URL's source (e.g. a ``QueueSource`` fed in-process
    by the camera simulator)."""
    devices = config.devices
    if devices.printer is None or devices.camera is None:
        raise WiringError("devices: expected [devices.printer] and [devices.camera], got neither")
    try:
        packs_cases = devices.case_printer is not None and devices.scanner is not None
        link = None
        serials: Callable[[str], SerialSource]
        ssccs: SsccSource
        if config.serials.authority_url is not None:
            serials, ssccs, link = authority_sources(config, with_ssccs=packs_cases)
        else:
            serials, ssccs = serial_sources(config)
        labeller = None
        if packs_cases:
            assert devices.case_printer is not None and devices.scanner is not None
            labeller = container_labeller(config, devices.case_printer, devices.scanner)
        return Devices(
            printer=LabelUnitPrinter(
                printer_driver(devices.printer), unit_builders(config, devices.printer.language)
            ),
            verifier=camera_verifier(
                devices.camera,
                frame_source,
                max_lost_frames=config.line.max_lost_frames,
                verdict_deadline_ms=config.line.verdict_deadline_ms,
            ),
            serials=serials,
            ssccs=ssccs,
            labeller=labeller,
            serial_link=link,
            production=production_link(config),
        )
    except (
        SerialsError,
        PrinterError,
        LabelDataError,
        ValueError,
        TemplateError,
        ScannerError,
        VisionError,
        OSError,
    ) as exc:
        raise WiringError(str(exc)) from exc


def events_for(config: EdgeConfig) -> EpcisEvents:
    read_point = config.agent.read_point
    gln = gs1.Gln.parse(read_point.gln)
    return EpcisEvents(
        read_point=read_point.uri,
        biz_location=gs1.sgln_uri(gln, read_point.company_prefix_length, "0"),
    )


def agent_links(config: EdgeConfig, events: EpcisEvents) -> AgentLinks:
    """The agent's writer (on its own connection), outbox publisher and PLC link, their
    callbacks going to the agent through the returned ``hooks``."""
    hooks = LinkHooks()
    topics = LineTopics(config.agent.site, config.agent.line)
    db_path = database_path(config)
    conn = store.connect(db_path)
    publisher = Publisher(
        db_path,
        config.mqtt,
        config.client_id,
        topics.state,
        events.envelope,
        config.outbox,
        offline_payload=state_payload("offline", site=config.agent.site, line=config.agent.line),
        on_alarm=hooks.outbox_alarm,
        on_link_problem=partial(hooks.link_problem, "mqtt"),
        acks_topic=topics.acks,  # server-confirmed delivery (docs/mqtt.md)
    )
    writer = Writer(
        conn, gather_s=config.agent.commit_interval_ms / 1000, after_commit=publisher.wake
    )
    plc = PlcLink(
        config.mqtt,
        f"{config.client_id}-plc",
        topics,
        on_trigger=hooks.trigger,
        on_batch=hooks.batch_command,
        on_plc_fault=hooks.device_fault,
        on_gate=hooks.gate_report,
        on_link_problem=partial(hooks.link_problem, "plc link"),
    )
    return AgentLinks(conn=conn, writer=writer, publisher=publisher, plc=plc, hooks=hooks)


def build_agent(config: EdgeConfig, devices: Devices | None = None) -> Agent:
    """The agent of ``config``: every part it is made of is built here."""
    events = events_for(config)
    devices = devices or build_devices(config)
    return Agent(config, devices, events, agent_links(config, events))
