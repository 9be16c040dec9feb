"""The bounded JSON decoder: exact refusals, and what it accepts is what json.loads gives."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epcis import PayloadLimitError, loads_bounded
from epcis.jsonsafe import MAX_DEPTH, check_depth


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"x" * 11, "payload: expected at most 10 bytes, got 11 bytes"),
        (b"\xff{}", "payload: expected UTF-8 JSON, got invalid UTF-8 at byte 0"),
        (b"{", "payload: expected JSON, got a syntax error: Expecting property name"),
        (b"[NaN]", "payload: expected finite numbers, got NaN"),
        (b"[-Infinity]", "payload: expected finite numbers, got -Infinity"),
        (b"[Infinity]", "payload: expected finite numbers, got Infinity"),
        (b"[1e400]", "payload: expected finite numbers, got 1e400 (beyond a double)"),
        (
            b"[" + b"1" * 21 + b"]",
            "payload: expected integers of at most 20 digits, got one of 21 digits",
        ),
        (
            b"[-" + b"1" * 21 + b"]",
            "payload: expected integers of at most 20 digits, got one of 21 digits",
        ),
        (b"[" * 33 + b"]" * 33, "payload: expected at most 32 levels of nesting, got more"),
        (
            b'{"a":' * 33 + b"1" + b"}" * 33,
            "payload: expected at most 32 levels of nesting, got more",
        ),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "payload: expected at most 32 levels of nesting, got more",
        ),
    ],
)
def test_refusals_say_what_was_expected(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadLimitError) as caught:
        loads_bounded(payload, max_bytes=10 if payload == b"x" * 11 else None)
    assert str(caught.value).startswith(message)


def test_limits_are_inclusive_and_the_field_is_named() -> None:
    assert loads_bounded(b"[" * 32 + b"]" * 32) == _nested_lists(32)
    assert loads_bounded(b"[" + b"9" * 20 + b"]") == [int("9" * 20)]
    assert loads_bounded("[1.5e308]") == [1.5e308]
    with pytest.raises(PayloadLimitError, match=r"^trigger: expected at most 2 levels"):
        loads_bounded(b"[[[1]]]", max_depth=2, field="trigger")


def _nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**19), max_value=10**19)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(json_values)
def test_what_it_accepts_is_what_json_gives(value: Any) -> None:
    text = json.dumps(value)
    if _depth(value) <= MAX_DEPTH:
        assert loads_bounded(text.encode()) == json.loads(text)
    else:
        with pytest.raises(PayloadLimitError):
            loads_bounded(text.encode())


@given(st.integers(min_value=1, max_value=200), st.sampled_from(["[", '{"k":']))
def test_depth_is_counted_exactly(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = "1" if opener != "[" else ""
    text = opener * depth + inner + closer * depth
    if depth <= 20:
        assert loads_bounded(text, max_depth=20) is not None
    else:
        with pytest.raises(PayloadLimitError, match="levels of nesting"):
            loads_bounded(text, max_depth=20)
    check_depth(json.loads(text), max_depth=max(depth, 1))


@given(st.floats())
def test_no_non_finite_number_gets_through(number: float) -> None:
    text = json.dumps([number])  # NaN/Infinity as Python's json writes them
    if math.isfinite(number):
        assert loads_bounded(text) == [number]
    else:
        with pytest.raises(PayloadLimitError, match="expected finite numbers"):
            loads_bounded(text)
