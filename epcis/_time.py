"""RFC 3339 timestamps as EPCIS writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from epcis.errors import EventFieldError

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
TIME_ZONE_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)\Z")


def parse_time(value: object, field: str) -> datetime:
    """An aware datetime from an RFC 3339 date-time string (``Z`` or ``±hh:mm`` offset)."""
    if not isinstance(value, str) or RFC3339.match(value) is None:
        raise EventFieldError(
            field,
            f"expected an RFC 3339 date-time such as '2024-05-01T08:30:00.000Z', got {value!r}",
        )
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise EventFieldError(field, f"expected a real calendar date-time, got {value!r}") from None


def format_time(moment: datetime) -> str:
    """RFC 3339 with milliseconds (microseconds when they are not whole milliseconds).

    The offset of ``moment`` is kept; a zero offset is written ``Z``.
    """
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()!r}")
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    text = moment.replace(tzinfo=None).isoformat(timespec=spec)
    if not offset:
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_offset(moment: datetime) -> str:
    """The ``eventTimeZoneOffset`` text (``+01:00``) of an aware datetime."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()!r}")
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def canonical_utc(moment: datetime) -> str:
    """The event-hash form: UTC, milliseconds (half-even rounded), ``Z``."""
    utc = moment.astimezone(UTC)
    millis = round(utc.microsecond / 1000)  # round() is half-to-even, like the reference
    utc = utc.replace(microsecond=0) + timedelta(milliseconds=millis)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
