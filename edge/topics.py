"""The MQTT topics of one line, named as :mod:`epcis.topics` defines them."""

from __future__ import annotations

from dataclasses import dataclass

from epcis import topics


@dataclass(frozen=True)
class LineTopics:
    site: str
    line: str

    def __post_init__(self) -> None:
        topics.validate_id(self.site, "site")
        topics.validate_id(self.line, "line")

    @property
    def root(self) -> str:
        """``serialtrace/v1/{site}/{line}/`` (with the trailing slash)."""
        return topics.line_root(self.site, self.line)

    @property
    def events(self) -> str:
        return topics.events_topic(self.site, self.line)

    @property
    def state(self) -> str:
        return topics.state_topic(self.site, self.line)

    @property
    def plc_trigger(self) -> str:
        return topics.plc_trigger_topic(self.site, self.line)

    @property
    def plc_reject(self) -> str:
        return topics.plc_reject_topic(self.site, self.line)

    @property
    def plc_command(self) -> str:
        return topics.plc_command_topic(self.site, self.line)

    @property
    def plc_error(self) -> str:
        return topics.plc_error_topic(self.site, self.line)

    @property
    def plc_accept(self) -> str:
        return topics.line_topic(self.site, self.line, topics.TopicKind.PLC_ACCEPT)

    @property
    def plc_batch(self) -> str:
        return topics.line_topic(self.site, self.line, topics.TopicKind.PLC_BATCH)

    @property
    def plc_batch_reply(self) -> str:
        return topics.line_topic(self.site, self.line, topics.TopicKind.PLC_BATCH_REPLY)

    @property
    def plc_invalid(self) -> str:
        return topics.line_topic(self.site, self.line, topics.TopicKind.PLC_INVALID)
