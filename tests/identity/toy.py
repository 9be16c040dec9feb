"""A toy non-GS1 code scheme for tests: ``TOY`` + a 6-digit product + a 10-digit serial,
printed as a plain DataMatrix, named in events as ``urn:example:toy:{product}.{serial}``.

It stands for a market's own code (China's NMPA drug traceability code is 20 digits: a
7-digit product identifier, a 9-digit serial, a 4-digit check part) without claiming to be
one; docs/identity.md walks through it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from identity import DATAMATRIX, PrintPayload, ScanMatch, UnitKey

NAME = "toy"
EPC_PREFIX = "urn:example:toy:"
_CODE = re.compile(r"TOY(\d{6})(\d{10})")
_EPC = re.compile(re.escape(EPC_PREFIX) + r"(\d{6})\.(\d{10})")


class ToyCodeError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ToyCode:
    product: str
    serial: str
    lot: str | None = None
    expiry: dt.date | None = None

    def __post_init__(self) -> None:
        if not (len(self.product) == 6 and self.product.isdigit()):
            raise ToyCodeError(f"product: expected 6 digits, got {self.product!r}")
        if not (len(self.serial) == 10 and self.serial.isdigit()):
            raise ToyCodeError(f"serial: expected 10 digits, got {self.serial!r}")

    @property
    def scheme(self) -> str:
        return NAME

    def key(self) -> UnitKey:
        return UnitKey(NAME, self.product, self.serial)

    def expiry_date(self) -> dt.date | None:
        return self.expiry

    def text(self) -> str:
        return f"TOY{self.product}{self.serial}"

    def hri(self) -> str:
        return f"TOY {self.product} {self.serial}"

    def printer_payload(self) -> PrintPayload:
        fields = {"product": self.product, "serial": self.serial, "hri": self.hri()}
        if self.lot is not None:
            fields["lot"] = self.lot
        return PrintPayload(DATAMATRIX, self.text(), fields)

    def matches(self, scan: str) -> ScanMatch:
        if not scan.startswith("]d1"):
            return ScanMatch(None, error=f"symbology_identifier: expected ']d1', got {scan[:3]!r}")
        try:
            read = TOY.read(scan)
        except ToyCodeError as exc:
            return ScanMatch(None, error=str(exc))
        mismatches = tuple(
            f"{name}: expected {want!r}, got {got!r}"
            for name, want, got in (
                ("product", self.product, read.product),
                ("serial", self.serial, read.serial),
            )
            if want != got
        )
        return ScanMatch(read, mismatches)

    def epc_uri(self, company_prefix_length: int | None = None) -> str:
        return f"{EPC_PREFIX}{self.product}.{self.serial}"

    def digital_link(self, domain: str = "https://toy.example") -> str:
        return f"{domain}/{self.product}/{self.serial}"


class ToyScheme:
    @property
    def name(self) -> str:
        return NAME

    def unit(
        self,
        product: str,
        serial: str,
        *,
        lot: str | None = None,
        expiry: str | dt.date | None = None,
    ) -> ToyCode:
        if isinstance(expiry, str):  # ISO, or YYMMDD as the edge's batch record keeps it
            expiry = (
                dt.datetime.strptime(expiry, "%y%m%d").date()
                if len(expiry) == 6
                else dt.date.fromisoformat(expiry)
            )
        return ToyCode(product, serial, lot, expiry)

    def read(self, scan: str) -> ToyCode:
        text = scan[3:] if scan.startswith("]") else scan
        match = _CODE.fullmatch(text)
        if match is None:
            raise ToyCodeError(f"code: expected TOY + 16 digits, got {text!r}")
        return ToyCode(match[1], match[2])

    def parse_epc(self, uri: str) -> UnitKey | None:
        match = _EPC.fullmatch(uri)
        return None if match is None else UnitKey(NAME, match[1], match[2])


TOY = ToyScheme()
