"""Meaning: one framed scan -> a :class:`ScanResult` value, never an exception.

:func:`interpret` strips the configured prefix and suffix, recognises the no-read text,
splits off the symbology identifier, puts GS back for its substitute and reads the GS1
data with :func:`gs1.read`. Anything wrong becomes an outcome with an ``error`` that quotes
the bytes received.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from edge.scanners.config import ScannerConfig
from edge.scanners.framing import FrameKind, LineFrame
from gs1 import GS, Code, Gs1Error, NotGs1Error, read

_QUOTE_LIMIT = 80


class ScanOutcome(StrEnum):
    OK = "ok"
    """GS1 data read: ``code`` holds what it identifies."""
    NO_READ = "no_read"
    """The scanner reported that it read nothing."""
    NOT_GS1 = "not_gs1"
    """No GS1 data: a symbology that carries none (``]C0``, ``]A0``, …), plain ``]d1``/``]Q1``
    text that is no GS1 Digital Link, a bare add-on (:class:`gs1.NotGs1Error`)."""
    INVALID = "invalid"
    """Malformed: bad framing, prefix/suffix, characters, or GS1 data that does not parse."""


@dataclass(frozen=True)
class ScanResult:
    """One scan: the bytes as received (framing removed) and what they mean."""

    outcome: ScanOutcome
    raw: bytes
    received_at: float
    symbology_identifier: str | None = None
    data: str | None = None
    """The data after the symbology identifier, GS as 0x1D."""
    code: Code | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is ScanOutcome.OK


def interpret(frame: LineFrame, config: ScannerConfig, received_at: float) -> ScanResult:
    """The meaning of one framed scan under ``config``."""
    raw = frame.payload
    if frame.kind is FrameKind.PARTIAL:
        return _invalid(
            raw,
            received_at,
            f"terminator: expected {config.terminator!r} after {_quote(raw)}, "
            f"got silence for {config.line_timeout_s:g} s",
        )
    if frame.kind is FrameKind.OVERFLOW:
        return _invalid(
            raw,
            received_at,
            f"line: expected at most {config.max_line} bytes before "
            f"{config.terminator!r}, got more, starting {_quote(raw[:32])}",
        )
    body = raw
    if config.prefix:
        if not body.startswith(config.prefix):
            return _invalid(
                raw, received_at, f"prefix: expected {config.prefix!r} first, got {_quote(raw)}"
            )
        body = body[len(config.prefix) :]
    if config.suffix:
        if not body.endswith(config.suffix):
            return _invalid(
                raw, received_at, f"suffix: expected {config.suffix!r} last, got {_quote(raw)}"
            )
        body = body[: -len(config.suffix)]
    if not body.isascii():
        position = next(i for i, byte in enumerate(body) if byte > 0x7F)
        return _invalid(
            raw,
            received_at,
            f"line: expected ASCII, got byte 0x{body[position]:02X} at {position} in {_quote(raw)}",
        )
    text = body.decode("ascii")
    if text == config.no_read:
        return ScanResult(ScanOutcome.NO_READ, raw, received_at)
    symbology: str | None = None
    if config.symbology_ids:
        if len(text) < 3 or text[0] != "]":
            return _invalid(
                raw,
                received_at,
                f"symbology_identifier: expected ']' and two characters first, got {_quote(raw)}",
            )
        symbology, text = text[:3], text[3:]
    if config.gs_substitute is not None:
        text = text.replace(config.gs_substitute, GS)
    try:
        reading = read(text if symbology is None else symbology + text)
    except Gs1Error as exc:
        outcome = ScanOutcome.NOT_GS1 if isinstance(exc, NotGs1Error) else ScanOutcome.INVALID
        return ScanResult(outcome, raw, received_at, symbology, text, error=str(exc))
    return ScanResult(
        ScanOutcome.OK,
        raw,
        received_at,
        reading.symbology_identifier or symbology,
        text,
        reading.code,
    )


def _invalid(raw: bytes, received_at: float, error: str) -> ScanResult:
    return ScanResult(ScanOutcome.INVALID, raw, received_at, error=error)


def _quote(raw: bytes) -> str:
    if len(raw) <= _QUOTE_LIMIT:
        return repr(raw)
    return f"{raw[:_QUOTE_LIMIT]!r}… ({len(raw)} bytes)"
