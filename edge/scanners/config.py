"""How a serial scanner frames and formats what it sends (its "data formatting" settings).

Scanners are set up by programming barcodes or a vendor tool; these settings must match:

- ``terminator``: end of each scan; ``CR`` (most scanners' default), ``LF``, ``CRLF``,
  ``TAB``, ``ETX`` or any bytes written with escapes (``"\\x03"``).
- ``prefix``/``suffix``: fixed bytes the scanner adds around the data (stripped; a scan
  without them is an error).
- ``symbology_ids``: the scanner sends the ISO/IEC 15424 symbology identifier (``]d2``
  GS1 DataMatrix, ``]C1`` GS1-128, ``]Q3`` GS1 QR, ``]E0`` EAN-13) before the data. Turn it
  on: it is the only reliable way to tell GS1 data from plain text.
- ``gs_substitute``: what the scanner sends for the GS (FNC1) separator when it cannot send
  0x1D (keyboard-style set-ups often use ``<GS>``, ``~`` or ``^]``); ``None`` = 0x1D.
- ``no_read``: the text the scanner sends when a trigger read nothing (e.g. ``NOREAD``).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.errors import ConfigError

TERMINATORS: dict[str, bytes] = {
    "CR": b"\r",
    "LF": b"\n",
    "CRLF": b"\r\n",
    "TAB": b"\t",
    "ETX": b"\x03",
}


def terminator_from_name(value: str) -> bytes:
    """Bytes of a terminator given by name (``CR``, ``LF``, ``CRLF``, ``TAB``, ``ETX``) or as
    escaped text (``"\\r\\n"``, ``"\\x03"``)."""
    named = TERMINATORS.get(value.upper())
    if named is not None:
        return named
    raw = escaped_bytes(value, field="terminator")
    if not raw:
        expected = ", ".join(TERMINATORS)
        raise ConfigError(f"terminator: expected one of {expected} or escaped bytes, got {value!r}")
    return raw


def escaped_bytes(value: str, *, field: str) -> bytes:
    """``"\\x02"``-style escaped text as bytes (latin-1), for settings given as text."""
    try:
        return codecs.decode(value, "unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise ConfigError(f"{field}: expected text with \\xNN escapes, got {value!r}") from exc


@dataclass(frozen=True)
class ScannerConfig:
    """One scanner's framing and formatting; see the module docstring."""

    terminator: bytes = b"\r"
    prefix: bytes = b""
    suffix: bytes = b""
    symbology_ids: bool = True
    gs_substitute: str | None = None
    no_read: str = "NOREAD"
    max_line: int = 4096
    """Longest scan kept, in bytes; a longer run without a terminator is an error."""
    line_timeout_s: float = 0.5
    """Bytes left without a terminator this long are reported as a partial line."""

    def __post_init__(self) -> None:
        if not self.terminator:
            raise ConfigError("terminator: expected at least one byte, got b''")
        for name in ("prefix", "suffix"):
            if self.terminator in getattr(self, name):
                raise ConfigError(
                    f"{name}: must not contain the terminator {self.terminator!r}, "
                    f"got {getattr(self, name)!r}"
                )
        if self.gs_substitute == "":
            raise ConfigError("gs_substitute: expected None (0x1D) or a non-empty text, got ''")
        if not 16 <= self.max_line <= 1_000_000:
            raise ConfigError(f"max_line: expected 16 to 1000000 bytes, got {self.max_line!r}")
        if not 0.01 <= self.line_timeout_s <= 60:
            raise ConfigError(f"line_timeout_s: expected 0.01 to 60 s, got {self.line_timeout_s!r}")


class ScannerSettings(BaseModel):
    """A scanner as the edge configuration names it (``[devices.scanner]``): where it is,
    how long to wait for a read, and its framing (the keys of :class:`ScannerConfig`, with
    byte settings written as text: ``terminator = "CRLF"``, ``prefix = "\\x02"``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    """A pyserial URL (``/dev/ttyACM0``, ``socket://…``) or a device path."""
    baudrate: Annotated[int, Field(ge=1)] = 9600
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    """Seconds to wait for the read of a label just printed."""
    terminator: str = "CR"
    prefix: str = ""
    suffix: str = ""
    symbology_ids: bool = True
    gs_substitute: str | None = None
    no_read: str = "NOREAD"
    max_line: int = 4096
    line_timeout_s: float = 0.5

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a pyserial URL or device path")
        return value

    @model_validator(mode="after")
    def _valid_framing(self) -> ScannerSettings:
        self.framing()  # ConfigError (a ValueError) names the key
        return self

    def framing(self) -> ScannerConfig:
        """The driver's framing settings."""
        return ScannerConfig(
            terminator=terminator_from_name(self.terminator),
            prefix=escaped_bytes(self.prefix, field="prefix"),
            suffix=escaped_bytes(self.suffix, field="suffix"),
            symbology_ids=self.symbology_ids,
            gs_substitute=self.gs_substitute,
            no_read=self.no_read,
            max_line=self.max_line,
            line_timeout_s=self.line_timeout_s,
        )
