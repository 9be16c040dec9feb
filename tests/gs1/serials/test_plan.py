"""Schemes and the EU FMD guessing-probability check."""

from __future__ import annotations

from fractions import Fraction

import pytest

from gs1.serials.alphabet import CSET82, NUMERIC, SAFE, Alphabet
from gs1.serials.errors import ConfigError, GuessingRiskError
from gs1.serials.plan import EU_FMD_LIMIT, SerialPlan, max_volume
from gs1.serials.scheme import SerialScheme


@pytest.mark.parametrize(
    ("scheme", "volume", "probability", "acceptable"),
    [
        (SerialScheme(NUMERIC, 12), 10_000_000, Fraction(1, 100_000), True),
        (SerialScheme(NUMERIC, 12), 99_999_999, Fraction(99_999_999, 10**12), True),
        (SerialScheme(NUMERIC, 12), 100_000_000, EU_FMD_LIMIT, False),  # must be BELOW 1/10,000
        (SerialScheme(NUMERIC, 6), 100, Fraction(1, 10_000), False),
        (SerialScheme(SAFE, 10), 10**9, Fraction(10**9, 34**10), True),
        (SerialScheme(CSET82, 20), 10**12, Fraction(10**12, 82**20), True),
    ],
)
def test_probability_and_verdict(
    scheme: SerialScheme, volume: int, probability: Fraction, acceptable: bool
) -> None:
    plan = SerialPlan(scheme, volume)
    assert plan.probability == probability
    assert plan.acceptable is acceptable
    assert plan.acceptable is (volume <= plan.max_volume)


def test_max_volume_is_the_boundary() -> None:
    assert max_volume(10**12) == 99_999_999
    assert max_volume(10**6) == 99
    assert Fraction(max_volume(34**10), 34**10) < EU_FMD_LIMIT
    assert Fraction(max_volume(34**10) + 1, 34**10) >= EU_FMD_LIMIT


def test_refusal_names_the_field_and_the_limit() -> None:
    with pytest.raises(GuessingRiskError) as error:
        SerialPlan(SerialScheme(NUMERIC, 9), 200_000).require_acceptable()
    assert str(error.value) == (
        "volume: expected at most 99,999 serials for scheme numeric/9 (guessing probability "
        "below 1/10,000), got 200,000 (probability 0.0002)"
    )


def test_volume_must_be_positive() -> None:
    with pytest.raises(ConfigError) as error:
        SerialPlan(SerialScheme(NUMERIC, 9), 0)
    assert str(error.value) == "volume: expected a whole number >= 1, got 0"


@pytest.mark.parametrize(
    ("alphabet", "length", "message"),
    [
        (
            NUMERIC,
            5,
            "length: expected 6..20 for alphabet 'numeric' (FF3-1 needs 10^length >= 1,000,000;"
            " GS1 AI 21 allows at most 20), got 5",
        ),
        (
            CSET82,
            21,
            "length: expected 4..20 for alphabet 'cset82' (FF3-1 needs 82^length >= 1,000,000;"
            " GS1 AI 21 allows at most 20), got 21",
        ),
    ],
)
def test_scheme_length_limits(alphabet: Alphabet, length: int, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        SerialScheme(alphabet, length)
    assert str(error.value) == message
