"""Compressed GS1 Digital Link URIs (GS1 Digital Link: compression), encoded and decoded.

A compressed Digital Link is ``{stem}/{base64url}``: the AIs and their values packed into a
bit string, written with the URI-safe base64 alphabet (``A-Z a-z 0-9 - _``, 6 bits per
character, zero bits padding the end). The bit string is a sequence of:

* an AI: its digits, 4 bits each (how many digits follows from the first two, as in every
  element string), then its value;
* or an optimisation code: two hex digits ``0A``-``0F``, ``1A``-``1F``, … (8 bits) standing
  for a fixed set of AIs (``1A``: 01, 10, 21, 17), then their values in AI order (as GS1's
  toolkit writes and reads them);
* or ``F`` and a non-GS1 key=value pair (decoded, not written here).

A value is written per component of the AI: a fixed-length numeric part as a binary number
of ``ceil(n·log2(10))`` bits; a variable-length numeric part as its digit count (``ceil(log2
(max))`` bits) then that number; an alphanumeric part as a 3-bit encoding (0 digits, 1
lower-case hex, 2 upper-case hex, 3 base64url, 4 7-bit ASCII), its character count when
variable, then the characters. Compression tries the optimisation codes first (the one that
covers the most AI digits, again and again), then the remaining AIs in AI order.

The components come from the Barcode Syntax Dictionary with consecutive fixed numeric parts
merged (8006: N14 N4 is one N18) and trailing optional parts read as one variable part
(423: N3 [N3]… is N3 N..12), which is how GS1's prototype toolkit lays them out. Unlike that
prototype, numbers are exact at any length (an SSCC round-trips) and leading zeros of
variable-length numeric values are kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from gs1.ai import BY_AI, DL_PRIMARY_KEYS, Charset, path_sequences
from gs1.elements import Element, validate_element
from gs1.errors import Gs1Error, NotGs1Error, quote

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_INDEX = {char: index for index, char in enumerate(BASE64URL)}
_HEX = "0123456789ABCDEF"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEX_LOWER = re.compile(r"[0-9a-f]+\Z")
_HEX_UPPER = re.compile(r"[0-9A-F]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
MAX_COMPRESSED_LENGTH = 1024

OPTIMISATIONS: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"), "0B": ("01", "10"), "0C": ("01", "21"), "0D": ("01", "17"),
    "0E": ("01", "7003"), "0F": ("01", "30"), "1A": ("01", "10", "21", "17"),
    "1B": ("01", "15"), "1C": ("01", "11"), "1D": ("01", "16"), "1E": ("01", "91"),
    "1F": ("01", "10", "15"), "2A": ("01", "3100"), "2B": ("01", "3101"),
    "2C": ("01", "3102"), "2D": ("01", "3103"), "2E": ("01", "3104"), "2F": ("01", "3105"),
    "3A": ("01", "3200"), "3B": ("01", "3201"), "3C": ("01", "3202"), "3D": ("01", "3203"),
    "3E": ("01", "3204"), "3F": ("01", "3205"), "9A": ("8010", "8011"),
    "9B": ("8017", "8019"), "9C": ("8018", "8019"), "9D": ("414", "254"),
    "A0": ("01", "3920"), "A1": ("01", "3921"), "A2": ("01", "3922"), "A3": ("01", "3923"),
    "A4": ("01", "3924"), "A5": ("01", "3925"), "A6": ("01", "3926"), "A7": ("01", "3927"),
    "A8": ("01", "3928"), "A9": ("01", "3929"), "C0": ("255", "3900"),
    "C1": ("255", "3901"), "C2": ("255", "3902"), "C3": ("255", "3903"),
    "C4": ("255", "3904"), "C5": ("255", "3905"), "C6": ("255", "3906"),
    "C7": ("255", "3907"), "C8": ("255", "3908"), "C9": ("255", "3909"),
    "CA": ("255", "3940"), "CB": ("255", "3941"), "CC": ("255", "3942"),
    "CD": ("255", "3943"),
}  # fmt: skip
"""GS1's optimisation codes: two hex digits for a sequence of AIs."""

# How many digits an AI has, by its first two (prefix-free, as the dictionary guarantees).
AI_LENGTHS: dict[str, int] = {}
for _ai in BY_AI:
    AI_LENGTHS.setdefault(_ai[:2], len(_ai))


def _value_bits(digits: int) -> int:
    return math.ceil(digits * math.log(10) / math.log(2) + 0.01)


def _length_bits(maximum: int) -> int:
    return math.ceil(math.log(maximum) / math.log(2) + 0.01)


@lru_cache(maxsize=1024)
def formats(ai: str) -> tuple[tuple[str, bool, int], ...]:
    """The compression layout of ``ai``: (``N`` or ``X``, variable?, length or maximum)."""
    entry = BY_AI[ai]
    layout: list[tuple[str, bool, int]] = []
    for component in entry.components:
        kind = "N" if component.charset is Charset.NUMERIC else "X"
        variable = component.optional or not component.fixed
        if layout:
            last_kind, last_variable, last_size = layout[-1]
            if last_kind == kind and not last_variable and not variable and kind == "N":
                layout[-1] = (kind, False, last_size + component.max_length)
                continue
            if last_kind == kind and not last_variable and not variable and kind == "X":
                layout[-1] = (kind, False, last_size + component.max_length)
                continue
            if last_kind == kind and variable and (last_variable or kind == "X"):
                layout[-1] = (kind, True, last_size + component.max_length)
                continue
        layout.append((kind, variable, component.max_length))
    return tuple(layout)


def _encode_chars(text: str) -> str:
    if _DIGITS.match(text):
        return "000"
    if _HEX_UPPER.match(text):
        return "010"
    if _HEX_LOWER.match(text):
        return "001"
    if _SEGMENT.match(text):
        return "011"
    return "100"


def _char_bits(encoding: str, text: str) -> str:
    if encoding == "000":
        return format(int(text), "b").zfill(_value_bits(len(text)))
    if encoding in ("001", "010"):
        return "".join(format(_HEX.index(c.upper()), "04b") for c in text)
    if encoding == "011":
        return "".join(format(_B64_INDEX[c], "06b") for c in text)
    return "".join(format(ord(c), "07b") for c in text)


def _value(ai: str, value: str) -> str:
    bits: list[str] = []
    cursor = 0
    for kind, variable, size in formats(ai):
        part = value[cursor:] if variable else value[cursor : cursor + size]
        cursor += len(part)
        if kind == "N":
            if variable:
                bits.append(format(len(part), "b").zfill(_length_bits(size)))
            if part:
                bits.append(format(int(part), "b").zfill(_value_bits(len(part))))
            continue
        encoding = _encode_chars(part) if part else "000"
        bits.append(encoding)
        if variable:
            bits.append(format(len(part), "b").zfill(_length_bits(size)))
        if part:
            bits.append(_char_bits(encoding, part))
    return "".join(bits)


def _key_bits(key: str) -> str:
    return "".join(format(int(char, 16), "04b") for char in key)


def _optimise(ais: list[str]) -> list[str]:
    chosen: list[str] = []
    while True:
        best, best_size = "", 0
        for code, sequence in OPTIMISATIONS.items():
            if all(ai in ais for ai in sequence):
                size = len("".join(sequence))
                if size > best_size:
                    best, best_size = code, size
        if not best:
            return chosen
        chosen.append(best)
        for ai in OPTIMISATIONS[best]:
            ais.remove(ai)


def compress_elements(elements: Iterable[Element], *, optimise: bool = True) -> str:
    """The base64url path segment of ``elements`` (values must be valid for their AIs)."""
    values: dict[str, str] = {}
    for ai, value in elements:
        validate_element(ai, value)
        values[ai] = value
    remaining = sorted(values)
    bits: list[str] = []
    if optimise:
        for code in _optimise(remaining):
            bits.append(_key_bits(code))
            bits.extend(_value(ai, values[ai]) for ai in sorted(OPTIMISATIONS[code]))
    for ai in remaining:
        bits.append(_key_bits(ai))
        bits.append(_value(ai, values[ai]))
    binary = "".join(bits)
    binary += "0" * (-len(binary) % 6)
    return "".join(BASE64URL[int(binary[i : i + 6], 2)] for i in range(0, len(binary), 6))


def compress_digital_link(
    elements: Sequence[Element], domain: str = "https://id.gs1.org", *, optimise: bool = True
) -> str:
    """A compressed GS1 Digital Link of ``elements`` (a primary key and its data)."""
    from gs1.digital_link import digital_link_from_elements, normalise_domain

    digital_link_from_elements(elements, domain)  # the same rules as an uncompressed link
    return f"{normalise_domain(domain)}/{compress_elements(elements, optimise=optimise)}"


class _Bits:
    def __init__(self, segment: str) -> None:
        self.data = "".join(format(_B64_INDEX[c], "06b") for c in segment)
        self.cursor = 0

    def take(self, count: int) -> str:
        if count < 0 or self.cursor + count > len(self.data):
            raise ValueError("not enough bits")
        part = self.data[self.cursor : self.cursor + count]
        self.cursor += count
        return part

    def number(self, count: int) -> int:
        return int(self.take(count), 2) if count else 0

    @property
    def left(self) -> int:
        return len(self.data) - self.cursor


def _read_chars(bits: _Bits, encoding: int, count: int) -> str:
    if encoding == 0:
        return str(bits.number(_value_bits(count))).zfill(count) if count else ""
    if encoding in (1, 2):
        text = "".join(_HEX[bits.number(4)] for _ in range(count))
        return text.lower() if encoding == 1 else text
    if encoding == 3:
        return "".join(BASE64URL[bits.number(6)] for _ in range(count))
    if encoding == 4:
        return "".join(chr(bits.number(7)) for _ in range(count))
    raise ValueError(f"encoding {encoding}")


def _read_value(bits: _Bits, ai: str) -> str:
    parts: list[str] = []
    for kind, variable, size in formats(ai):
        if kind == "N":
            count = bits.number(_length_bits(size)) if variable else size
            if count > size:
                raise ValueError(f"AI ({ai}): {count} digits")
            parts.append(str(bits.number(_value_bits(count))).zfill(count) if count else "")
            continue
        encoding = bits.number(3)
        count = bits.number(_length_bits(size)) if variable else size
        if count > size:
            raise ValueError(f"AI ({ai}): {count} characters")
        parts.append(_read_chars(bits, encoding, count))
    return "".join(parts)


def decompress_segment(segment: str) -> tuple[tuple[Element, ...], tuple[tuple[str, str], ...]]:
    """(GS1 elements, other key=value pairs) packed in a compressed path segment."""
    if not (_SEGMENT.match(segment) and len(segment) <= MAX_COMPRESSED_LENGTH):
        raise NotGs1Error("digital_link", segment, "a base64url compressed Digital Link segment")
    bits = _Bits(segment)
    elements: list[Element] = []
    others: list[tuple[str, str]] = []
    try:
        while bits.left > 8:
            h1, h2 = bits.number(4), bits.number(4)
            if h1 <= 9 and h2 <= 9:
                prefix = f"{h1}{h2}"
                size = AI_LENGTHS.get(prefix)
                if size is None:
                    raise ValueError(f"no AI starts {prefix}")
                ai = prefix
                for _ in range(size - 2):
                    digit = bits.number(4)
                    if digit > 9:
                        raise ValueError("AI digits")
                    ai += str(digit)
                if ai not in BY_AI:
                    raise ValueError(f"AI ({ai})")
                elements.append(Element(ai, _read_value(bits, ai)))
                continue
            code = _HEX[h1] + _HEX[h2]
            if code in OPTIMISATIONS:
                for ai in sorted(OPTIMISATIONS[code]):
                    elements.append(Element(ai, _read_value(bits, ai)))
                continue
            if h1 == 15:
                key_length = (h2 << 3) | bits.number(3)
                key = "".join(BASE64URL[bits.number(6)] for _ in range(key_length))
                encoding = bits.number(3)
                count = bits.number(7)
                others.append((key, _read_chars(bits, encoding, count)))
                continue
            raise ValueError(f"code {code}")
    except (ValueError, IndexError) as exc:
        raise NotGs1Error(
            "digital_link", segment, "a compressed GS1 Digital Link", f"{quote(segment)} ({exc})"
        ) from None
    if not elements:
        raise NotGs1Error("digital_link", segment, "a compressed GS1 Digital Link with AIs")
    try:
        for ai, value in elements:
            validate_element(ai, value)
    except Gs1Error as exc:
        raise NotGs1Error(
            "digital_link", segment, "a compressed GS1 Digital Link", str(exc)
        ) from None
    return tuple(elements), tuple(others)


def arrange(elements: Sequence[Element]) -> tuple[tuple[Element, ...], tuple[Element, ...]]:
    """(path, query) of decompressed elements: the primary key and the qualifiers of its
    longest matching sequence in the path, every other AI in the query."""
    values = dict(elements)
    primary = next((e.ai for e in elements if e.ai in DL_PRIMARY_KEYS), None)
    if primary is None:
        raise NotGs1Error("digital_link", "", "a compressed GS1 Digital Link with a primary key")
    best: tuple[str, ...] = (primary,)
    for sequence in sorted(path_sequences(primary)):
        if all(ai in values for ai in sequence) and len(sequence) > len(best):
            best = sequence
    path = tuple(Element(ai, values[ai]) for ai in best)
    query = tuple(e for e in elements if e.ai not in best)
    return path, query
