"""A virtual line-framed serial scanner on a pseudo-terminal.

The simulator opens a pty and writes to its master side what a real scanner sends; a
driver opens the slave path (:attr:`ScannerSimulator.port`, e.g. ``/dev/pts/7``) as a
serial port. It formats each scan as a real scanner does (:class:`ScannerProfile`: prefix,
symbology identifier, data with GS or a substitute, suffix, terminator) and injects the
faults of a real one: a no-read message, a line cut short, noise bytes on the wire.
Faults can be sent on purpose or drawn at configured rates from a seeded generator.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import tty
from dataclasses import dataclass
from enum import StrEnum

from gs1 import GS, parse
from simulators.errors import ConfigError

GS1_SYMBOLOGY = "]d2"


@dataclass(frozen=True)
class ScannerProfile:
    """How the simulated scanner formats a scan (mirror of the driver's settings)."""

    terminator: bytes = b"\r"
    prefix: bytes = b""
    suffix: bytes = b""
    symbology_ids: bool = True
    gs_substitute: str | None = None
    no_read: str = "NOREAD"

    def __post_init__(self) -> None:
        if not self.terminator:
            raise ConfigError("terminator: expected at least one byte, got b''")
        if self.gs_substitute == "":
            raise ConfigError("gs_substitute: expected None (0x1D) or a non-empty text, got ''")


class Fault(StrEnum):
    NO_READ = "no_read"
    PARTIAL = "partial"
    NOISE = "noise"


def encode_scan(
    data: str, profile: ScannerProfile, symbology_identifier: str = GS1_SYMBOLOGY
) -> bytes:
    """The bytes a scanner with ``profile`` sends for ``data`` (GS as 0x1D in ``data``)."""
    body = data if profile.gs_substitute is None else data.replace(GS, profile.gs_substitute)
    if profile.symbology_ids:
        body = symbology_identifier + body
    return profile.prefix + body.encode("latin-1") + profile.suffix + profile.terminator


def element_string(code: str) -> str:
    """GS1 element string (GS between fields) of a code in any form :func:`gs1.parse`
    reads: HRI ``(01)…(21)…``, element string, Digital Link, EPC URI."""
    return parse(code).element_string()


class ScannerSimulator:
    """A scanner on a fresh pty; ``port`` is the path a driver opens.

    ``no_read_rate``, ``partial_rate`` and ``noise_rate`` are the probabilities that
    :meth:`scan` sends that fault instead of (or, for noise, before) the code; ``seed`` makes
    the draws reproducible.
    """

    def __init__(
        self,
        profile: ScannerProfile | None = None,
        *,
        no_read_rate: float = 0.0,
        partial_rate: float = 0.0,
        noise_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        for name, rate in (
            ("no_read_rate", no_read_rate),
            ("partial_rate", partial_rate),
            ("noise_rate", noise_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{name}: expected a probability 0..1, got {rate!r}")
        self.profile = profile or ScannerProfile()
        self.no_read_rate = no_read_rate
        self.partial_rate = partial_rate
        self.noise_rate = noise_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes pass as sent
        self.port = os.ttyname(self._slave)
        self.sent: list[bytes] = []

    def scan(self, code: str, symbology_identifier: str = GS1_SYMBOLOGY) -> Fault | None:
        """Type ``code`` (element string with GS, or any form gs1 reads if it starts with
        ``(`` or a URI scheme), with faults drawn at the configured rates; returns the
        fault sent, if any."""
        data = element_string(code) if code.startswith(("(", "http", "urn:")) else code
        draw = self._random.random()
        if draw < self.no_read_rate:
            self.no_read()
            return Fault.NO_READ
        if draw < self.no_read_rate + self.partial_rate:
            self.partial(data, symbology_identifier)
            return Fault.PARTIAL
        fault = None
        if self._random.random() < self.noise_rate:
            self.noise(self._random.randint(1, 8))
            fault = Fault.NOISE
        self.type(data, symbology_identifier)
        return fault

    def type(self, data: str, symbology_identifier: str = GS1_SYMBOLOGY) -> bytes:
        """Send one well-formed scan of ``data``; returns the bytes sent."""
        return self.write(encode_scan(data, self.profile, symbology_identifier))

    def no_read(self) -> bytes:
        """Send the no-read message, framed like a scan."""
        profile = self.profile
        return self.write(
            profile.prefix + profile.no_read.encode("latin-1") + profile.suffix + profile.terminator
        )

    def partial(
        self, data: str, symbology_identifier: str = GS1_SYMBOLOGY, keep: float = 0.5
    ) -> bytes:
        """Send the first ``keep`` fraction of a scan, without its terminator."""
        full = encode_scan(data, self.profile, symbology_identifier)
        body = full[: -len(self.profile.terminator)]
        return self.write(body[: max(1, int(len(body) * keep))])

    def noise(self, count: int) -> bytes:
        """Send ``count`` random bytes that are not the terminator (line noise)."""
        terminator = set(self.profile.terminator)
        noise = bytes(
            byte
            for byte in (self._random.randrange(256) for _ in range(count * 2))
            if byte not in terminator
        )[:count]
        return self.write(noise)

    def write(self, payload: bytes) -> bytes:
        """Put raw bytes on the line."""
        with self._lock:
            view = memoryview(payload)
            while view:
                written = os.write(self._master, view)
                view = view[written:]
            self.sent.append(payload)
        return payload

    def close(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> ScannerSimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
