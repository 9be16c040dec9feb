"""The bounded JSON decoder: the one way a payload from a device, a broker or a browser
becomes Python values.

``json.loads`` alone accepts what later code cannot survive: an object nested a few
hundred levels deep decodes, then makes ``pickle.dumps``, ``repr`` or a recursive walk raise
``RecursionError`` far from any ``try``; ``NaN``, ``Infinity`` and ``1e400`` decode to
floats that standard JSON cannot carry, so every later answer that holds them fails; an
integer of 5,000 digits raises ``ValueError`` (not a decode error) past Python's own limit.
:func:`loads_bounded` refuses all of these with :class:`PayloadLimitError`, whose message
names what was expected and what came.

The depth check counts brackets first (C speed): a payload with no more brackets than the
depth limit cannot be nested deeper, and is not walked.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from epcis.errors import PayloadLimitError

MAX_DEPTH: Final = 32
"""Nesting levels of objects and arrays (an EPCIS document with sensor data uses about 8)."""
MAX_INT_DIGITS: Final = 20
"""Digits of an integer (the widest 64-bit integer has 20)."""


def loads_bounded(
    payload: bytes | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
    field: str = "payload",
) -> Any:
    """The JSON value in ``payload``; :class:`PayloadLimitError` naming ``field`` when it is
    larger than ``max_bytes``, not UTF-8 JSON, nested deeper than ``max_depth``, holds an
    integer of more than ``max_int_digits`` digits or a non-finite number."""
    size = len(payload)
    if max_bytes is not None and size > max_bytes:
        raise PayloadLimitError(f"{field}: expected at most {max_bytes} bytes, got {size} bytes")
    if isinstance(payload, bytes | bytearray | memoryview):
        raw = bytes(payload)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadLimitError(
                f"{field}: expected UTF-8 JSON, got invalid UTF-8 at byte {exc.start}"
            ) from None
    else:
        text = payload

    def refuse_constant(name: str) -> Any:
        raise PayloadLimitError(f"{field}: expected finite numbers, got {name}")

    def parse_float(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise PayloadLimitError(
                f"{field}: expected finite numbers, got {_clip(literal)} (beyond a double)"
            )
        return value

    def parse_int(literal: str) -> int:
        digits = len(literal) - (literal[0] == "-")
        if digits > max_int_digits:
            raise PayloadLimitError(
                f"{field}: expected integers of at most {max_int_digits} digits, "
                f"got one of {digits} digits"
            )
        return int(literal)

    try:
        value = json.loads(
            text,
            parse_constant=refuse_constant,
            parse_float=parse_float,
            parse_int=parse_int,
        )
    except json.JSONDecodeError as exc:
        raise PayloadLimitError(f"{field}: expected JSON, got a syntax error: {exc}") from None
    except RecursionError:
        raise PayloadLimitError(
            f"{field}: expected at most {max_depth} levels of nesting, got more"
        ) from None
    if text.count("[") + text.count("{") > max_depth:
        check_depth(value, max_depth, field=field)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH, *, field: str = "payload") -> None:
    """:class:`PayloadLimitError` if ``value`` nests objects and arrays deeper than
    ``max_depth`` levels (iterative: any depth is safe to check)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise PayloadLimitError(
                f"{field}: expected at most {max_depth} levels of nesting, got more"
            )
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
