"""GS1 identification keys: GTIN, SSCC and GLN. Valid or raise; renderers are separate.

A company prefix length (6 to 12, as in the EPC Tag Data Standard) is needed to split a key
into company prefix and reference; it is not in the key itself, so methods take it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gs1.checkdigit import check_digit, is_digits, require_key
from gs1.digital_link import build_uri
from gs1.errors import FormatError

MIN_COMPANY_PREFIX_LENGTH = 6
MAX_COMPANY_PREFIX_LENGTH = 12


def require_company_prefix_length(length: int) -> int:
    """Return ``length`` if it is a valid GS1 company prefix length (6 to 12), else raise."""
    if (
        type(length) is not int
        or not MIN_COMPANY_PREFIX_LENGTH <= length <= MAX_COMPANY_PREFIX_LENGTH
    ):
        raise FormatError(
            "company_prefix_length",
            str(length),
            f"an integer {MIN_COMPANY_PREFIX_LENGTH} to {MAX_COMPANY_PREFIX_LENGTH}",
        )
    return length


@dataclass(frozen=True, slots=True)
class Gtin:
    """A GTIN as 14 digits (GTIN-8/12/13 padded with leading zeros), check digit valid.

    ``Gtin("09506000134352")`` takes exactly 14 digits; :meth:`parse` also takes 8, 12 or 13.
    """

    value: str

    def __post_init__(self) -> None:
        require_key(self.value, 14, "gtin")

    @classmethod
    def parse(cls, value: str, *, field: str = "gtin") -> Gtin:
        """Parse a GTIN-8, -12, -13 or -14 and normalise it to 14 digits."""
        if len(value) not in (8, 12, 13, 14) or not is_digits(value):
            raise FormatError(field, value, "a GTIN of 8, 12, 13 or 14 digits")
        require_key(value, len(value), field)  # leading zeros do not change the check digit
        return cls(value.zfill(14))

    def __str__(self) -> str:
        return self.value

    @property
    def indicator(self) -> str:
        """The first digit: 0 for a trade item, 1-8 for packaging levels."""
        return self.value[0]

    def company_prefix(self, company_prefix_length: int) -> str:
        require_company_prefix_length(company_prefix_length)
        return self.value[1 : 1 + company_prefix_length]

    def item_reference(self, company_prefix_length: int) -> str:
        """The item reference, without the indicator digit."""
        require_company_prefix_length(company_prefix_length)
        return self.value[1 + company_prefix_length : 13]

    def as_gtin13(self) -> str:
        return self._shortened(13)

    def as_gtin12(self) -> str:
        return self._shortened(12)

    def as_gtin8(self) -> str:
        return self._shortened(8)

    def _shortened(self, length: int) -> str:
        padding = self.value[: 14 - length]
        if padding.strip("0"):
            raise FormatError(
                "gtin",
                self.value,
                f"{14 - length} leading zeros to shorten to GTIN-{length}",
            )
        return self.value[14 - length :]


@dataclass(frozen=True, slots=True)
class Sscc:
    """A Serial Shipping Container Code: 18 digits, check digit valid.

    Layout: extension digit, company prefix, serial reference, check digit; where the company
    prefix ends is not in the digits, so :meth:`company_prefix` and :meth:`serial_reference`
    take its length.
    """

    value: str

    def __post_init__(self) -> None:
        require_key(self.value, 18, "sscc")

    @classmethod
    def parse(cls, value: str, *, field: str = "sscc") -> Sscc:
        if len(value) != 18 or not is_digits(value):
            raise FormatError(field, value, "18 digits")
        require_key(value, 18, field)
        return cls(value)

    @classmethod
    def build(cls, extension: int, company_prefix: str, serial_reference: int | str) -> Sscc:
        """Assemble an SSCC and compute its check digit.

        ``serial_reference`` is zero-padded to fill 16 digits after the company prefix.
        """
        if type(extension) is not int or not 0 <= extension <= 9:
            raise FormatError("extension", str(extension), "a digit 0 to 9")
        if not (
            MIN_COMPANY_PREFIX_LENGTH <= len(company_prefix) <= MAX_COMPANY_PREFIX_LENGTH
            and is_digits(company_prefix)
        ):
            raise FormatError("company_prefix", company_prefix, "6 to 12 digits")
        width = 16 - len(company_prefix)
        reference = str(serial_reference) if type(serial_reference) is int else serial_reference
        if not isinstance(reference, str) or not is_digits(reference) or len(reference) > width:
            raise FormatError(
                "serial_reference",
                str(serial_reference),
                f"at most {width} digits with a {len(company_prefix)}-digit company prefix",
            )
        payload = f"{extension}{company_prefix}{reference.zfill(width)}"
        return cls(payload + check_digit(payload))

    def __str__(self) -> str:
        return self.value

    @property
    def extension_digit(self) -> int:
        return int(self.value[0])

    def company_prefix(self, company_prefix_length: int) -> str:
        require_company_prefix_length(company_prefix_length)
        return self.value[1 : 1 + company_prefix_length]

    def serial_reference(self, company_prefix_length: int) -> str:
        require_company_prefix_length(company_prefix_length)
        return self.value[1 + company_prefix_length : 17]

    def element_string(self) -> str:
        return f"00{self.value}"

    def hri(self) -> str:
        return f"(00){self.value}"

    def digital_link(self, domain: str = "https://id.gs1.org") -> str:
        return build_uri(domain, "00", self.value)


@dataclass(frozen=True, slots=True)
class Gln:
    """A Global Location Number: 13 digits, check digit valid."""

    value: str

    def __post_init__(self) -> None:
        require_key(self.value, 13, "gln")

    @classmethod
    def parse(cls, value: str, *, field: str = "gln") -> Gln:
        if len(value) != 13 or not is_digits(value):
            raise FormatError(field, value, "13 digits")
        require_key(value, 13, field)
        return cls(value)

    def __str__(self) -> str:
        return self.value

    def company_prefix(self, company_prefix_length: int) -> str:
        require_company_prefix_length(company_prefix_length)
        return self.value[:company_prefix_length]

    def location_reference(self, company_prefix_length: int) -> str:
        require_company_prefix_length(company_prefix_length)
        return self.value[company_prefix_length:12]

    def element_string(self) -> str:
        return f"414{self.value}"

    def hri(self) -> str:
        return f"(414){self.value}"

    def digital_link(self, domain: str = "https://id.gs1.org") -> str:
        return build_uri(domain, "414", self.value)
