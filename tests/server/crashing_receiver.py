"""A receiver process that dies (as a segfault would end it) on any message holding
``CRASH-ME``, unless it is passed on as poison: the poison-message tests start it instead
of :mod:`server.ingest.receiver` (``MqttIngest.receiver_command``)."""

from __future__ import annotations

import os
from typing import Any

from server.ingest import receiver

_check = receiver.check_message


def _crashing_check(
    message: Any, generation: Any, max_bytes: int, *, poison: bool = False
) -> bytes:
    if not poison and b"CRASH-ME" in bytes(message.payload):
        os._exit(70)
    return _check(message, generation, max_bytes, poison=poison)


if __name__ == "__main__":
    receiver.check_message = _crashing_check  # type: ignore[assignment]
    receiver.main()
