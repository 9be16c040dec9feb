"""Exceptions raised by the epcis package.

The tree is small and flat::

    EpcisError (ValueError)
    ├── EventFieldError        a field of an event or document is missing or malformed
    ├── SchemaValidationError  a document does not validate against GS1's EPCIS 2.0 JSON Schema
    ├── TopicError             an MQTT topic or a site/line id does not follow the topic scheme
    ├── PayloadLimitError      a JSON payload is not UTF-8 JSON or passes a decoding limit
    └── BrokerLinkError        an MQTT broker URL, credential or secrets file is unusable

Every message names the field (as a JSON path such as ``eventList[0].eventTime``), quotes
the input and says what was expected.
"""

from __future__ import annotations


class EpcisError(ValueError):
    """Base class of every error raised by the epcis package."""


class EventFieldError(EpcisError):
    """A field of an EPCIS event or document is missing or has a wrong type or value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SchemaValidationError(EpcisError):
    """A document failed validation against the EPCIS 2.0 JSON Schema."""

    def __init__(self, errors: list[str]) -> None:
        shown = "; ".join(errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"EPCIS document does not validate: {shown}{more}")
        self.errors = errors


class TopicError(EpcisError):
    """An MQTT topic, or a site or line id used in one, is malformed."""


class PayloadLimitError(EpcisError):
    """A payload is not UTF-8 JSON, or it passes a limit of the bounded decoder (size,
    nesting depth, integer digits) or holds a non-finite number (NaN, Infinity)."""


class BrokerLinkError(EpcisError):
    """An MQTT broker URL, a credential or a secrets file cannot be used."""
