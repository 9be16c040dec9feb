"""Hypothesis strategies for GS1 values."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from gs1 import CSET82, Element, Expiry, Gln, Gtin, Sscc, UnitCode, check_digit

CSET82_ALPHABET = "".join(sorted(CSET82))
# Printable ASCII and a few others that are NOT CSET 82.
NOT_CSET82 = " #$@[\\]^`{|}~\x00\x1d\x7f\xe9€٣²"


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=size, max_size=size)


def with_check_digit(payload: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return payload.map(lambda p: p + check_digit(p))


gtins = with_check_digit(digits(13)).map(Gtin)
ssccs = with_check_digit(digits(17)).map(Sscc)
glns = with_check_digit(digits(12)).map(Gln)
company_prefix_lengths = st.integers(6, 12)


def cset82(max_size: int = 20, exclude: str = "") -> st.SearchStrategy[str]:
    alphabet = "".join(c for c in CSET82_ALPHABET if c not in exclude)
    return st.text(alphabet, min_size=1, max_size=max_size)


expiries = st.dates(dt.date(2000, 1, 1), dt.date(2049, 12, 31)).flatmap(
    lambda d: st.sampled_from([Expiry.from_date(d), Expiry(d.year, d.month, 0)])
)


def extras(exclude: str = "") -> st.SearchStrategy[tuple[Element, ...]]:
    variable = st.sampled_from(["240", "400", "710", "711", "712", "713", "714", "715"])
    return st.dictionaries(
        st.one_of(variable, st.just("410"), st.just("11")), st.none(), max_size=3
    ).flatmap(
        lambda keys: st.tuples(
            *(
                (
                    glns.map(lambda g: g.value)
                    if ai == "410"
                    else expiries.map(Expiry.yymmdd)
                    if ai == "11"
                    else cset82(30 if ai in ("240", "400") else 20, exclude)
                ).map(lambda v, ai=ai: Element(ai, v))
                for ai in keys
            )
        )
    )


def unit_codes(exclude: str = "", with_extra: bool = True) -> st.SearchStrategy[UnitCode]:
    return st.builds(
        UnitCode,
        gtin=gtins,
        serial=st.none() | cset82(exclude=exclude),
        lot=st.none() | cset82(exclude=exclude),
        expiry=st.none() | expiries,
        extra=extras(exclude) if with_extra else st.just(()),
    )
