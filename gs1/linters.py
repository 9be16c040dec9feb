"""The content checks ("linters") GS1's Barcode Syntax Dictionary names, one function each.

A linter takes one component of an AI's data (already checked for its character set and
length) and the field name for the message, and raises :class:`~gs1.errors.Gs1Error` when the
content is wrong: ``csum`` a :class:`~gs1.errors.CheckDigitError`, every other a
:class:`~gs1.errors.FormatError` saying what was expected. :data:`LINTERS` maps the names the
dictionary uses to the functions; a test checks that every name the dictionary uses is here.

The rules follow GS1's reference linters (gs1-syntax-engine) and the GS1 General
Specifications: ``gcppos1``/``gcppos2`` check that a GS1 Company Prefix can start at position
1/2 (its first four digits are digits: no registry of allocated prefixes is consulted, as in
the reference without a lookup hook).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

from gs1._codes import (
    AIDC_MEDIA_TYPES,
    ISO3166_ALPHA2,
    ISO3166_NUMERIC,
    ISO4217_NUMERIC,
    PACKAGE_TYPES,
)
from gs1.checkdigit import check_digit, is_digits
from gs1.cset82 import CSET82
from gs1.errors import CheckDigitError, FormatError, quote

Linter = Callable[[str, str], None]

CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CSET82_ORDER = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_CSET32_ORDER = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
    97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191,
    193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293,
    307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419,
    421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
)  # fmt: skip
_GCP_MIN_LENGTH = 4


def _fail(field: str, value: str, expected: str) -> FormatError:
    return FormatError(field, value, expected)


def csum(value: str, field: str) -> None:
    """GS1 mod-10 check digit over the whole component (General Specifications 7.9.1)."""
    if not is_digits(value):
        raise _fail(field, value, "digits with a GS1 check digit")
    expected = check_digit(value[:-1]) if len(value) > 1 else "0"
    if value[-1] != expected:
        raise CheckDigitError(
            field, value, f"check digit {expected}", f"{value[-1]} in {quote(value)}"
        )


def csumalpha(value: str, field: str) -> None:
    """GS1 alphanumeric check character pair (General Specifications 7.9.5): GMN, MUDI."""
    if len(value) < 2:
        raise _fail(field, value, "data and a two-character check pair")
    if len(value) - 2 > len(_PRIMES):
        raise _fail(field, value, f"at most {len(_PRIMES) + 2} characters for a check pair")
    body, pair = value[:-2], value[-2:]
    if any(char not in CSET82 for char in body) or any(c not in _CSET32_ORDER for c in pair):
        raise _fail(field, value, "CSET 82 data and a check pair of CSET 32")
    total = sum(
        _CSET82_ORDER.index(char) * _PRIMES[len(body) - 1 - i] for i, char in enumerate(body)
    )
    total %= 1021
    expected = _CSET32_ORDER[total >> 5] + _CSET32_ORDER[total & 31]
    if pair != expected:
        raise CheckDigitError(
            field, value, f"check character pair {expected}", f"{pair} in {quote(value)}"
        )


def _gcp(value: str, field: str, offset: int) -> None:
    prefix = value[offset : offset + _GCP_MIN_LENGTH]
    if len(prefix) < _GCP_MIN_LENGTH or not is_digits(prefix):
        where = "first" if offset == 0 else "second"
        raise _fail(
            field,
            value,
            f"a GS1 Company Prefix from the {where} character (at least 4 digits)",
        )


def gcppos1(value: str, field: str) -> None:
    _gcp(value, field, 0)


def gcppos2(value: str, field: str) -> None:
    _gcp(value, field, 1)


def _date(value: str, field: str, *, year_digits: int, zero_day: bool) -> None:
    size = year_digits + 4
    name = "YYYYMMDD" if year_digits == 4 else "YYMMDD"
    if len(value) != size or not is_digits(value):
        day_rule = ", day 00 allowed" if zero_day else ""
        raise _fail(field, value, f"a date as {name} ({size} digits{day_rule})")
    month, day = int(value[-4:-2]), int(value[-2:])
    if not 1 <= month <= 12:
        raise _fail(field, value, f"a date as {name} with month 01 to 12")
    year = int(value[:year_digits])
    if year_digits == 2:
        year = _full_year(year, dt.datetime.now(dt.UTC).year)
    last = calendar.monthrange(year, month)[1] if year >= 1 else 31
    first = 0 if zero_day else 1
    if not first <= day <= last:
        raise _fail(
            field,
            value,
            f"a date as {name} with day {first:02d} to {last:02d} for {year}-{month:02d}",
        )


def _full_year(yy: int, reference_year: int) -> int:
    """GS1's sliding century window (General Specifications 7.12)."""
    century = reference_year - reference_year % 100
    difference = yy - reference_year % 100
    if 51 <= difference <= 99:
        return century - 100 + yy
    if -99 <= difference <= -50:
        return century + 100 + yy
    return century + yy


def yymmd0(value: str, field: str) -> None:
    _date(value, field, year_digits=2, zero_day=True)


def yymmdd(value: str, field: str) -> None:
    _date(value, field, year_digits=2, zero_day=False)


def yyyymmdd(value: str, field: str) -> None:
    _date(value, field, year_digits=4, zero_day=False)


def yyyymmd0(value: str, field: str) -> None:
    _date(value, field, year_digits=4, zero_day=True)


def _number_in(value: str, field: str, size: int, low: int, high: int, what: str) -> None:
    if len(value) != size or not is_digits(value) or not low <= int(value) <= high:
        raise _fail(field, value, f"{what}: {size} digits, {low:0{size}d} to {high:0{size}d}")


def hh(value: str, field: str) -> None:
    _number_in(value, field, 2, 0, 23, "an hour")


def mi(value: str, field: str) -> None:
    _number_in(value, field, 2, 0, 59, "minutes")


def ss(value: str, field: str) -> None:
    _number_in(value, field, 2, 0, 59, "seconds")


def hhmi(value: str, field: str) -> None:
    if len(value) != 4 or not is_digits(value) or int(value[:2]) > 23 or int(value[2:]) > 59:
        raise _fail(field, value, "a time as HHMI (00 to 23, 00 to 59)")


def _member(value: str, field: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise _fail(field, value, what)


def iso3166(value: str, field: str) -> None:
    _member(value, field, ISO3166_NUMERIC, "an ISO 3166-1 numeric country code")


def iso3166999(value: str, field: str) -> None:
    if value != "999":
        _member(value, field, ISO3166_NUMERIC, "an ISO 3166-1 numeric country code or 999")


def iso3166alpha2(value: str, field: str) -> None:
    _member(value, field, ISO3166_ALPHA2, "an ISO 3166-1 alpha-2 country code")


def iso4217(value: str, field: str) -> None:
    _member(value, field, ISO4217_NUMERIC, "an ISO 4217 numeric currency code")


def iso5218(value: str, field: str) -> None:
    _member(value, field, frozenset("0129"), "an ISO/IEC 5218 sex code: 0, 1, 2 or 9")


def mediatype(value: str, field: str) -> None:
    _member(value, field, AIDC_MEDIA_TYPES, "an AIDC media type: 01 to 10 or 80 to 99")


def packagetype(value: str, field: str) -> None:
    _member(value, field, PACKAGE_TYPES, "a PackageTypeCode (UN/ECE Recommendation 21 or GS1)")


def yesno(value: str, field: str) -> None:
    _member(value, field, frozenset("01"), "0 (no) or 1 (yes)")


def winding(value: str, field: str) -> None:
    _member(value, field, frozenset("019"), "a winding direction: 0, 1 or 9")


def zero(value: str, field: str) -> None:
    _member(value, field, frozenset({"0"}), "the digit 0")


def hyphen(value: str, field: str) -> None:
    if not value or value.strip("-"):
        raise _fail(field, value, "'-'")


def importeridx(value: str, field: str) -> None:
    if len(value) != 1 or not (value.isascii() and (value.isalnum() or value in "-_")):
        raise _fail(field, value, "one importer index character: 0-9, A-Z, a-z, '-' or '_'")


def nonzero(value: str, field: str) -> None:
    if not value.strip("0"):
        raise _fail(field, value, "a number other than zero")


def nozeroprefix(value: str, field: str) -> None:
    if len(value) > 1 and value.startswith("0"):
        raise _fail(field, value, "a number without leading zeros")


def hasnondigit(value: str, field: str) -> None:
    if is_digits(value):
        raise _fail(field, value, "at least one character that is not a digit")


def pieceoftotal(value: str, field: str) -> None:
    if len(value) % 2 or not is_digits(value):
        raise _fail(field, value, "piece and total as two numbers of the same length")
    half = len(value) // 2
    piece, total = int(value[:half]), int(value[half:])
    if piece == 0 or total == 0 or piece > total:
        raise _fail(field, value, "a piece number from 1 to the total (total at least 1)")


def posinseqslash(value: str, field: str) -> None:
    position, slash, count = value.partition("/")
    if (
        not slash
        or not is_digits(position)
        or not is_digits(count)
        or len(position) != len(count)
        or int(position) == 0
        or int(position) > int(count)
    ):
        raise _fail(field, value, "a position in a sequence as N/M with 1 <= N <= M")


def latitude(value: str, field: str) -> None:
    if len(value) != 10 or not is_digits(value) or int(value) > 1_800_000_000:
        raise _fail(field, value, "a latitude: 10 digits, 0000000000 to 1800000000")


def longitude(value: str, field: str) -> None:
    if len(value) != 10 or not is_digits(value) or int(value) > 3_600_000_000:
        raise _fail(field, value, "a longitude: 10 digits, 0000000000 to 3600000000")


def pcenc(value: str, field: str) -> None:
    """Percent-encoding is well formed: every ``%`` starts ``%HH`` with two hex digits."""
    index = value.find("%")
    while index != -1:
        escape = value[index + 1 : index + 3]
        if len(escape) != 2 or any(c not in "0123456789ABCDEFabcdef" for c in escape):
            raise FormatError(
                field,
                value,
                "percent-encoding as %HH (two hex digits)",
                f"{quote(value)} ('%' at position {index + 1})",
            )
        index = value.find("%", index + 3)


def iban(value: str, field: str) -> None:
    """An IBAN (ISO 13616): alpha-2 country, check digits, mod 97 = 1, at most 34 characters."""
    expected = "an IBAN: country code, check digits and account, mod 97 = 1, 11 to 34 characters"
    if len(value) < 4:
        raise _fail(field, value, expected)
    if value[:2] not in ISO3166_ALPHA2:
        raise _fail(field, value, "an IBAN starting with an ISO 3166-1 alpha-2 country code")
    if not 10 < len(value) <= 34:
        raise _fail(field, value, expected)
    total = 0
    for char in value[4:] + value[:4]:
        if "0" <= char <= "9":
            total = (total * 10 + ord(char) - 48) % 97
        elif "A" <= char <= "Z":
            total = (total * 100 + ord(char) - 55) % 97
        else:
            raise _fail(field, value, "an IBAN of digits and upper-case letters")
    if total != 1:
        raise CheckDigitError(field, value, "IBAN check digits giving mod 97 = 1", quote(value))


def _vli(value: str, at: int, field: str, what: str, low: int, high: int, add: int) -> int:
    """Read a variable-length indicator digit at ``at``; return the length it announces."""
    if at >= len(value):
        raise _fail(field, value, f"a coupon with {what} length indicator")
    digit = int(value[at])
    if not low <= digit <= high:
        raise _fail(field, value, f"a coupon with {what} length indicator {low} to {high}")
    return digit + add


def _take(value: str, at: int, size: int, field: str, what: str) -> int:
    if len(value) - at < size:
        raise _fail(field, value, f"a coupon with {what} of {size} digits")
    return at + size


def couponcode(value: str, field: str) -> None:
    """AI (8110): the North American Coupon Code (NACC) structure."""
    if not is_digits(value):
        raise _fail(field, value, "a coupon code of digits")
    at = 0
    size = _vli(value, at, field, "a GS1 Company Prefix", 0, 6, 6)
    at = _take(value, at + 1, size, field, "the GS1 Company Prefix")
    at = _take(value, at, 6, field, "an offer code")
    size = _vli(value, at, field, "a save value", 1, 5, 0)
    at = _take(value, at + 1, size, field, "the save value")
    size = _vli(value, at, field, "a first purchase requirement", 1, 5, 0)
    at = _take(value, at + 1, size, field, "the first purchase requirement")
    at = _requirement_code(value, at, field, "first")
    at = _take(value, at, 3, field, "a first purchase family code")
    if at < len(value) and value[at] == "1":
        at += 1
        if at >= len(value) or value[at] > "3":
            raise _fail(field, value, "a coupon with an additional purchase rules code 0 to 3")
        size = _vli(value, at + 1, field, "a second purchase requirement", 1, 5, 0)
        at = _take(value, at + 2, size, field, "the second purchase requirement")
        at = _requirement_code(value, at, field, "second")
        at = _take(value, at, 3, field, "a second purchase family code")
        at = _purchase_gcp(value, at, field, "second")
    if at < len(value) and value[at] == "2":
        size = _vli(value, at + 1, field, "a third purchase requirement", 1, 5, 0)
        at = _take(value, at + 2, size, field, "the third purchase requirement")
        at = _requirement_code(value, at, field, "third")
        at = _take(value, at, 3, field, "a third purchase family code")
        at = _purchase_gcp(value, at, field, "third")
    expiry: str | None = None
    if at < len(value) and value[at] == "3":
        at = _take(value, at + 1, 6, field, "an expiration date")
        expiry = value[at - 6 : at]
        _coupon_date(value, expiry, field, "expiration")
    if at < len(value) and value[at] == "4":
        at = _take(value, at + 1, 6, field, "a start date")
        start = value[at - 6 : at]
        _coupon_date(value, start, field, "start")
        if expiry is not None and start > expiry:
            raise _fail(field, value, "a coupon whose expiration date is not before its start")
    if at < len(value) and value[at] == "5":
        size = _vli(value, at + 1, field, "a serial number", 0, 9, 6)
        at = _take(value, at + 2, size, field, "the serial number")
    if at < len(value) and value[at] == "6":
        size = _vli(value, at + 1, field, "a retailer GCP/GLN", 1, 7, 6)
        at = _take(value, at + 2, size, field, "the retailer GCP/GLN")
    if at < len(value) and value[at] == "9":
        if len(value) - at < 5:
            raise _fail(
                field,
                value,
                "a coupon with four digits (save value code, applies-to, "
                "store and don't-multiply flags) after field 9",
            )
        if value[at + 1] not in "01256":
            raise _fail(field, value, "a coupon with a save value code 0, 1, 2, 5 or 6")
        if value[at + 2] > "2":
            raise _fail(field, value, "a coupon with save value applies-to 0 to 2")
        if value[at + 4] not in "01":
            raise _fail(field, value, "a coupon with a don't-multiply flag 0 or 1")
        at += 5
    if at != len(value):
        raise FormatError(
            field,
            value,
            "a coupon code without data after its last optional field",
            f"{quote(value)} (unexpected data at position {at + 1})",
        )


def _requirement_code(value: str, at: int, field: str, which: str) -> int:
    if at >= len(value) or (value[at] > "4" and value[at] != "9"):
        raise _fail(field, value, f"a coupon with a {which} purchase requirement code 0-4 or 9")
    return at + 1


def _purchase_gcp(value: str, at: int, field: str, which: str) -> int:
    if at >= len(value):
        raise _fail(field, value, f"a coupon with a {which} purchase GCP length indicator")
    digit = value[at]
    if digit == "9":
        return at + 1
    if digit > "6":
        raise _fail(field, value, f"a coupon with a {which} purchase GCP length indicator 0-6 or 9")
    return _take(value, at + 1, int(digit) + 6, field, f"the {which} purchase GCP")


def _coupon_date(value: str, date: str, field: str, which: str) -> None:
    try:
        yymmdd(date, field)
    except FormatError:
        raise _fail(field, value, f"a coupon with a valid {which} date YYMMDD") from None


def couponposoffer(value: str, field: str) -> None:
    """AI (8112): the positive offer file coupon code structure."""
    if not is_digits(value):
        raise _fail(field, value, "a coupon code of digits")
    if not value or value[0] not in "01":
        raise _fail(field, value, "a coupon with format code 0 or 1")
    size = _vli(value, 1, field, "a funder ID", 0, 6, 6)
    at = _take(value, 2, size, field, "the funder ID")
    at = _take(value, at, 6, field, "an offer code")
    size = _vli(value, at, field, "a serial number", 0, 9, 6)
    at = _take(value, at + 1, size, field, "the serial number")
    if at != len(value):
        raise FormatError(
            field,
            value,
            "a coupon code that ends after its serial number",
            f"{quote(value)} (unexpected data at position {at + 1})",
        )


LINTERS: dict[str, Linter] = {
    "couponcode": couponcode,
    "couponposoffer": couponposoffer,
    "csum": csum,
    "csumalpha": csumalpha,
    "gcppos1": gcppos1,
    "gcppos2": gcppos2,
    "hasnondigit": hasnondigit,
    "hh": hh,
    "hhmi": hhmi,
    "hyphen": hyphen,
    "iban": iban,
    "importeridx": importeridx,
    "iso3166": iso3166,
    "iso3166999": iso3166999,
    "iso3166alpha2": iso3166alpha2,
    "iso4217": iso4217,
    "iso5218": iso5218,
    "latitude": latitude,
    "longitude": longitude,
    "mediatype": mediatype,
    "mi": mi,
    "nonzero": nonzero,
    "nozeroprefix": nozeroprefix,
    "packagetype": packagetype,
    "pcenc": pcenc,
    "pieceoftotal": pieceoftotal,
    "posinseqslash": posinseqslash,
    "ss": ss,
    "winding": winding,
    "yesno": yesno,
    "yymmd0": yymmd0,
    "yymmdd": yymmdd,
    "yyyymmd0": yyyymmd0,
    "yyyymmdd": yyyymmdd,
    "zero": zero,
}
"""Every linter by the name the dictionary uses."""
