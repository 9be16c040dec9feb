"""MQTT topic names of serialtrace: ``serialtrace/v1/{site}/{line}/{kind}``.

=====================  ==========================================================  =========
kind                   payload                                                     direction
=====================  ==========================================================  =========
``events``             EPCIS 2.0 JSON document, QoS 1, every event with an eventID  edge → server
``state``              retained line state JSON; last will ``offline``              edge → all
``plc/trigger``        the PLC saw a unit at the printer / camera                   PLC → edge
``plc/reject``         reject the unit (verification failed)                        edge → PLC
``plc/command``        start / stop / pause the line                                edge → PLC
``plc/error``          a PLC fault                                                  PLC → edge
``plc/accept``         the unit passed: let it through the reject gate              edge → PLC
``plc/batch``          batch command from the PLC (start / stop / close)            PLC → edge
``plc/batch/reply``    the outcome of a batch command                               edge → PLC
``plc/invalid``        the answer to a malformed or unexpected message              edge → PLC
``plc/gate``           what the reject gate did with a unit: passed or rejected     PLC → edge
``mes/orders``         a batch order from MES (JSON, QoS 1; docs/edge.md)           MES → server
``mes/orders/reply``   the outcome of a batch order: created, or why not            server → MES
``acks``               the server's acknowledgements of stored events (issue 21)    server → edge
=====================  ==========================================================  =========

Site and line ids are 1-64 characters of ``A-Z a-z 0-9 . _ -`` starting with a letter or
digit: never ``/``, ``+``, ``#`` (MQTT separators and wildcards) nor a leading ``$``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from epcis.errors import TopicError

ROOT: Final = "serialtrace/v1"
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_ID_RULE: Final = "1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"


class TopicKind(StrEnum):
    """The last part of a line topic."""

    EVENTS = "events"
    STATE = "state"
    PLC_TRIGGER = "plc/trigger"
    PLC_REJECT = "plc/reject"
    PLC_COMMAND = "plc/command"
    PLC_ERROR = "plc/error"
    PLC_ACCEPT = "plc/accept"
    PLC_BATCH = "plc/batch"
    PLC_BATCH_REPLY = "plc/batch/reply"
    PLC_INVALID = "plc/invalid"
    PLC_GATE = "plc/gate"
    MES_ORDERS = "mes/orders"
    MES_ORDERS_REPLY = "mes/orders/reply"
    ACKS = "acks"


class LineTopic(NamedTuple):
    """A parsed line topic."""

    site: str
    line: str
    kind: TopicKind


@dataclass(frozen=True)
class LineTopics:
    """Every topic of one line, by name: ``LineTopics("plant1", "line3").plc_trigger``
    (ids validated once, here)."""

    site: str
    line: str

    def __post_init__(self) -> None:
        validate_id(self.site, "site")
        validate_id(self.line, "line")

    def of(self, kind: TopicKind) -> str:
        """The topic of ``kind`` for this line."""
        return f"{ROOT}/{self.site}/{self.line}/{kind.value}"

    @property
    def root(self) -> str:
        """``serialtrace/v1/{site}/{line}/`` (with the trailing slash)."""
        return f"{ROOT}/{self.site}/{self.line}/"

    @property
    def events(self) -> str:
        return self.of(TopicKind.EVENTS)

    @property
    def state(self) -> str:
        return self.of(TopicKind.STATE)

    @property
    def acks(self) -> str:
        return self.of(TopicKind.ACKS)

    @property
    def plc_trigger(self) -> str:
        return self.of(TopicKind.PLC_TRIGGER)

    @property
    def plc_reject(self) -> str:
        return self.of(TopicKind.PLC_REJECT)

    @property
    def plc_command(self) -> str:
        return self.of(TopicKind.PLC_COMMAND)

    @property
    def plc_error(self) -> str:
        return self.of(TopicKind.PLC_ERROR)

    @property
    def plc_accept(self) -> str:
        return self.of(TopicKind.PLC_ACCEPT)

    @property
    def plc_batch(self) -> str:
        return self.of(TopicKind.PLC_BATCH)

    @property
    def plc_batch_reply(self) -> str:
        return self.of(TopicKind.PLC_BATCH_REPLY)

    @property
    def plc_invalid(self) -> str:
        return self.of(TopicKind.PLC_INVALID)

    @property
    def plc_gate(self) -> str:
        return self.of(TopicKind.PLC_GATE)

    @property
    def mes_orders(self) -> str:
        return self.of(TopicKind.MES_ORDERS)

    @property
    def mes_orders_reply(self) -> str:
        return self.of(TopicKind.MES_ORDERS_REPLY)


def every_line(kind: TopicKind) -> str:
    """The topic filter of ``kind`` for every line of every site (``serialtrace/v1/+/+/…``)."""
    return f"{ROOT}/+/+/{kind.value}"


#: What the trace server subscribes to: the events of every line of every site.
EVENTS_SUBSCRIPTION: Final = every_line(TopicKind.EVENTS)


#: What the trace server subscribes to for batch orders from MES, every line of every site.
MES_ORDERS_SUBSCRIPTION: Final = every_line(TopicKind.MES_ORDERS)


def validate_id(value: str, field: str) -> str:
    """``value`` if it is a safe site/line/group id, else :class:`TopicError` naming ``field``."""
    if not isinstance(value, str) or _ID.match(value) is None:
        raise TopicError(f"{field}: expected {_ID_RULE}, got {value!r}")
    return value


def line_root(site: str, line: str) -> str:
    """``serialtrace/v1/{site}/{line}/``: the prefix of every topic of one line."""
    return f"{ROOT}/{validate_id(site, 'site')}/{validate_id(line, 'line')}/"


def line_topic(site: str, line: str, kind: TopicKind) -> str:
    """The topic of ``kind`` for one line."""
    return line_root(site, line) + kind.value


def events_topic(site: str, line: str) -> str:
    """EPCIS documents published by the line's edge agent."""
    return line_topic(site, line, TopicKind.EVENTS)


def state_topic(site: str, line: str) -> str:
    """Retained line state (last will: ``offline``)."""
    return line_topic(site, line, TopicKind.STATE)


def plc_trigger_topic(site: str, line: str) -> str:
    """Triggers from the PLC (a unit reached the printer or the camera)."""
    return line_topic(site, line, TopicKind.PLC_TRIGGER)


def plc_reject_topic(site: str, line: str) -> str:
    """Reject commands to the PLC."""
    return line_topic(site, line, TopicKind.PLC_REJECT)


def plc_command_topic(site: str, line: str) -> str:
    """Line commands to the PLC."""
    return line_topic(site, line, TopicKind.PLC_COMMAND)


def plc_error_topic(site: str, line: str) -> str:
    """Faults reported by the PLC."""
    return line_topic(site, line, TopicKind.PLC_ERROR)


def mes_orders_topic(site: str, line: str) -> str:
    """Batch orders for the line, published by MES."""
    return line_topic(site, line, TopicKind.MES_ORDERS)


def mes_orders_reply_topic(site: str, line: str) -> str:
    """The trace server's answers to MES's batch orders for the line."""
    return line_topic(site, line, TopicKind.MES_ORDERS_REPLY)


def acks_topic(site: str, line: str) -> str:
    """The server's acknowledgements of the line's stored events (server -> edge)."""
    return line_topic(site, line, TopicKind.ACKS)


def shared_events_subscription(group: str) -> str:
    """``$share/{group}/serialtrace/v1/+/+/events``: MQTT 5 shared ingest across servers."""
    return f"$share/{validate_id(group, 'group')}/{EVENTS_SUBSCRIPTION}"


def parse_topic(topic: str) -> LineTopic:
    """``(site, line, kind)`` of a line topic; :class:`TopicError` for anything else."""
    if not isinstance(topic, str):
        raise TopicError(f"topic: expected a string, got {topic!r}")
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"topic: expected it to start with {prefix!r}, got {topic!r}")
    parts = topic[len(prefix) :].split("/", 2)
    if len(parts) != 3:
        raise TopicError(f"topic: expected '{prefix}{{site}}/{{line}}/{{kind}}', got {topic!r}")
    site, line, kind = parts
    validate_id(site, "site")
    validate_id(line, "line")
    try:
        return LineTopic(site, line, TopicKind(kind))
    except ValueError:
        kinds = ", ".join(repr(k.value) for k in TopicKind)
        raise TopicError(f"topic kind: expected one of {kinds}, got {kind!r}") from None
