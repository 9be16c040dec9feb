"""A printer's settings, defined once: the driver reads them and the edge configuration embeds
them as ``[devices.printer]`` and ``[devices.case_printer]`` (``edge.devices.DevicesConfig``).

Every key is checked where it is read; an error names the key and says what was expected,
e.g. ``printer.flow_control: expected one of ['none', 'xonxoff', 'rtscts', 'dsrdtr'], got
'cts'``. ``confirm_timeout`` may also be written ``confirm_timeout_s`` (the edge
configuration's spelling before the two models were one).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

T = TypeVar("T")


class PrinterLanguage(StrEnum):
    """The label language a printer speaks; the key of ``edge.printers.registry``."""

    ZPL = "zpl"
    DPL = "dpl"


class FlowControl(StrEnum):
    NONE = "none"
    XONXOFF = "xonxoff"
    RTSCTS = "rtscts"
    DSRDTR = "dsrdtr"


def _one_of(enum: type[StrEnum], value: object) -> StrEnum:
    try:
        if isinstance(value, str):
            return enum(value)
    except ValueError:
        pass
    raise ValueError(f"expected one of {[e.value for e in enum]}")


class PrinterSettings(BaseModel):
    """How to reach one printer and drive it (``[devices.printer]``, docs/printers.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    url: str
    """A pyserial URL: ``/dev/ttyUSB0``, ``socket://10.1.2.3:9100``, ``loop://``, …"""
    language: PrinterLanguage = PrinterLanguage.ZPL
    baudrate: int = 9600
    flow_control: FlowControl = FlowControl.NONE
    print_speed: int | None = None
    """Inches per second, sent when the port opens (ZPL ``^PR``) or with each label (DPL
    ``P``); None keeps the printer's own."""
    reply_timeout: float = 1.0
    """Seconds to wait for a complete status answer."""
    confirm_timeout: float = Field(
        default=10.0, validation_alias=AliasChoices("confirm_timeout", "confirm_timeout_s")
    )
    """Seconds a job may take, from ``confirm``, before PrinterTimeout."""
    poll_interval: float = 0.005
    max_in_flight: int = 8
    """Labels sent but not confirmed; ``send`` waits for the oldest past this."""
    reconnect_attempts: int = 3
    reconnect_delay: float = 0.2

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> StrEnum:
        return _one_of(PrinterLanguage, value)

    @field_validator("flow_control", mode="before")
    @classmethod
    def _flow_control(cls, value: object) -> StrEnum:
        return _one_of(FlowControl, value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a pyserial URL")
        return value

    @field_validator("baudrate")
    @classmethod
    def _baudrate(cls, value: int) -> int:
        return _check(value, value > 0, "a positive integer")

    @field_validator("print_speed")
    @classmethod
    def _print_speed(cls, value: int | None) -> int | None:
        return _check(value, value is None or 1 <= value <= 14, "1 to 14")

    @field_validator("reply_timeout", "confirm_timeout")
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        return _check(value, 0 < value <= 600, "seconds > 0 (at most 600)")

    @field_validator("poll_interval", "reconnect_delay")
    @classmethod
    def _seconds(cls, value: float) -> float:
        return _check(value, 0 <= value <= 60, "seconds >= 0 (at most 60)")

    @field_validator("max_in_flight")
    @classmethod
    def _in_flight(cls, value: int) -> int:
        return _check(value, 1 <= value <= 256, "an integer from 1 to 256")

    @field_validator("reconnect_attempts")
    @classmethod
    def _attempts(cls, value: int) -> int:
        return _check(value, 0 <= value <= 100, "an integer >= 0 (at most 100)")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PrinterSettings:
        """Read a TOML table; ValueError naming the first bad key (``printer.<key>: …``)."""
        known = sorted(cls.model_fields)
        unknown = sorted(set(data) - set(known) - {"confirm_timeout_s"})
        if unknown:
            raise ValueError(f"printer: expected keys from {known}, got {unknown!r}")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ValueError(describe(exc, "printer")) from None


def _check(value: T, ok: bool, expected: str) -> T:
    if not ok:
        raise ValueError(f"expected {expected}")
    return value


def describe(error: ValidationError, prefix: str) -> str:
    """The first problem of ``error`` as ``prefix.key: expected …, got …``."""
    first = error.errors()[0]
    location = ".".join([prefix, *(str(part) for part in first["loc"])])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}, got {first.get('input')!r}"


PrinterConfig = PrinterSettings
"""The name the driver API has always used for its settings."""
