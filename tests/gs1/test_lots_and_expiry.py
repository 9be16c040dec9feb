"""Lot codes by rule (every token) and expiry from shelf life (month ends, leap years)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gs1 import FormatError
from gs1.lots import LotPattern, check_character, is_checked, parse_shifts
from gs1.shelf_life import ExpiryRule, ShelfLife, add_months, compute_expiry

SHIFTS = parse_shifts("A@06:00,B@14:00,C@22:00")
EVERY = LotPattern(
    "{SITE}{LINE}{YY}{JJJ}{SHIFT}{SEQ:2}{CHECK}", site_code="P1", line_code="L3", shifts=SHIFTS
)


@pytest.mark.parametrize(
    ("pattern", "moment", "sequence", "lot"),
    [
        (EVERY, datetime(2025, 3, 1, 15, 30), 7, "P1L325060B07" + check_character("P1L325060B07")),
        (LotPattern("{YYYY}{MM}{DD}-{SEQ:3}"), datetime(2024, 12, 31, 8), 12, "20241231-012"),
        (LotPattern("L{JJJ}{SEQ:1}"), datetime(2024, 12, 31, 8), 9, "L3669"),  # leap year
        (LotPattern("L{JJJ}{SEQ:1}"), datetime(2025, 1, 1, 0, 0), 1, "L0011"),
        (EVERY, datetime(2025, 3, 2, 5, 59), 1, "P1L325061C01" + check_character("P1L325061C01")),
        (LotPattern("{LINE}/{YY}{MM}/{SEQ:4}", line_code="b"), datetime(2025, 3, 1), 1,
         "b/2503/0001"),
    ],
)  # fmt: skip
def test_every_token_renders(
    pattern: LotPattern, moment: datetime, sequence: int, lot: str
) -> None:
    assert pattern.render(moment, sequence) == lot
    assert len(lot) <= 20


def test_the_period_is_what_the_sequence_counts_per() -> None:
    assert EVERY.period(datetime(2025, 3, 1, 15, 30)) == "P1L325060B{SEQ}{CHECK}"
    assert EVERY.period(datetime(2025, 3, 1, 23, 0)) == "P1L325060C{SEQ}{CHECK}"
    assert EVERY.max_sequence == 99


ONE_SEQ = "pattern: expected exactly one {SEQ:n} (1 to 9 digits), got "
TOKENS = "{SITE}, {LINE}, {YYYY}, {YY}, {MM}, {DD}, {JJJ}, {SHIFT}, {SEQ:n}, {CHECK}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "L{JJJ}"}, ONE_SEQ + "'L{JJJ}'"),
        ({"text": "{SEQ:2}{SEQ:2}"}, ONE_SEQ + "'{SEQ:2}{SEQ:2}'"),
        ({"text": "{SEQ:0}"},
         "pattern: expected {SEQ:n} with n from 1 to 9 digits, got '{SEQ:0}'"),
        ({"text": "{CHECK}{SEQ:2}"},
         "pattern: expected {CHECK} once, at the end, got '{CHECK}{SEQ:2}'"),
        ({"text": "{WEEK}{SEQ:2}"},
         f"pattern: expected tokens {TOKENS}, got '{{WEEK}}' in '{{WEEK}}{{SEQ:2}}'"),
        ({"text": "A^{SEQ:2}"},
         "pattern: expected literal characters of GS1 CSET 82, got 'A^{SEQ:2}'"),
        ({"text": "{SHIFT}{SEQ:2}"},
         "shifts: expected a shift plan for a pattern with {SHIFT}, got '{SHIFT}{SEQ:2}'"),
        ({"text": "{SITE}{SEQ:2}"},
         "site_code: expected a site code for a pattern with {SITE}, got ''"),
        ({"text": "L{YYYY}{MM}{DD}{JJJ}{SEQ:9}"},
         "pattern: expected codes of at most 20 characters (GS1 AI 10), got up to 21 "
         "characters from 'L{YYYY}{MM}{DD}{JJJ}{SEQ:9}'"),
    ],
)  # fmt: skip
def test_bad_patterns_say_what_was_expected(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(FormatError) as error:
        LotPattern(**kwargs)
    assert str(error.value) == message


def test_shift_plans() -> None:
    assert [(s.code, s.starts) for s in SHIFTS] == [
        ("A", time(6)), ("B", time(14)), ("C", time(22)),
    ]  # fmt: skip
    with pytest.raises(FormatError, match=r"^shifts: expected CODE@HH:MM separated by commas"):
        parse_shifts("A@25:00")


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=19), st.data())
def test_the_check_character_catches_every_single_substitution(
    text: str, data: st.DataObject
) -> None:
    checked = text + check_character(text)
    assert is_checked(checked)
    at = data.draw(st.integers(0, len(checked) - 1))
    other = data.draw(
        st.sampled_from([c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != checked[at]])
    )
    assert not is_checked(checked[:at] + other + checked[at + 1 :])


@pytest.mark.parametrize(
    ("made", "life", "rule", "expiry"),
    [
        (date(2025, 3, 15), ShelfLife(months=24), ExpiryRule.EXACT, "270315"),
        (date(2025, 3, 15), ShelfLife(months=24), ExpiryRule.END_OF_MONTH, "270200"),
        (date(2025, 2, 28), ShelfLife(months=24), ExpiryRule.END_OF_MONTH, "270200"),  # last day
        (date(2025, 1, 31), ShelfLife(months=1), ExpiryRule.EXACT, "250228"),  # clamped
        (date(2024, 1, 31), ShelfLife(months=1), ExpiryRule.EXACT, "240229"),  # leap year
        (date(2024, 1, 31), ShelfLife(months=1), ExpiryRule.END_OF_MONTH, "240200"),
        (date(2024, 2, 29), ShelfLife(months=12), ExpiryRule.EXACT, "250228"),
        (date(2024, 2, 29), ShelfLife(months=48), ExpiryRule.EXACT, "280229"),
        (date(2025, 12, 31), ShelfLife(days=1), ExpiryRule.EXACT, "260101"),
        (date(2025, 11, 30), ShelfLife(months=1), ExpiryRule.END_OF_MONTH, "251100"),
        (date(2025, 11, 30), ShelfLife(months=1), ExpiryRule.EXACT, "251230"),
        (date(2025, 3, 31), ShelfLife(months=36, days=1), ExpiryRule.END_OF_MONTH, "280300"),
    ],
)  # fmt: skip
def test_expiry_across_month_ends_and_leap_years(
    made: date, life: ShelfLife, rule: ExpiryRule, expiry: str
) -> None:
    assert compute_expiry(made, life, rule).yymmdd() == expiry


@given(st.dates(date(2000, 1, 1), date(2040, 12, 31)), st.integers(1, 120), st.integers(0, 60))
def test_end_of_month_never_outlives_the_exact_date(made: date, months: int, days: int) -> None:
    life = ShelfLife(months=months, days=days)
    exact = compute_expiry(made, life, ExpiryRule.EXACT).as_date()
    rounded = compute_expiry(made, life, ExpiryRule.END_OF_MONTH)
    assert rounded.day == 0 and rounded.as_date() <= exact
    assert (exact - rounded.as_date()).days < 31
    assert add_months(made, months) >= made


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "shelf_life: expected a shelf life of at least one day or month, got '0'"),
        ({"months": -1}, "shelf_life_months: expected a whole number 0..600, got '-1'"),
        ({"days": 99999}, "shelf_life_days: expected a whole number 0..36600, got '99999'"),
    ],
)
def test_bad_shelf_life(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(FormatError) as error:
        ShelfLife(**kwargs)
    assert str(error.value) == message
