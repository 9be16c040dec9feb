"""Product master data: what a line needs to know to pack a GTIN.

A product is created or changed by QA (API, web UI, CSV, EPCIS master data); every change is
in the audit trail with the old and new record and the reason. Edges read the active
products (``GET /production/products``) and refuse a batch of a GTIN they do not know.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, select

import gs1
from gs1.serials import ConfigError as SchemeError
from gs1.serials import SerialScheme, alphabet_named
from gs1.shelf_life import ExpiryRule, ShelfLife
from server import audit
from server.production.errors import ProductionError, Refused, Unknown
from server.production.tables import products

_MARKET = re.compile(r"^[A-Z]{2}$")


class Product(BaseModel):
    """One product's master data (valid or a ValidationError naming the field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gtin: str
    company_prefix_length: Annotated[int, Field(ge=6, le=12)]
    name: Annotated[str, Field(min_length=1, max_length=256)]
    strength: Annotated[str, Field(max_length=128)] = ""
    markets: list[str] = []
    shelf_life_months: Annotated[int, Field(ge=0, le=600)] = 0
    shelf_life_days: Annotated[int, Field(ge=0, le=36_600)] = 0
    expiry_rule: Literal["exact", "end_of_month"] = "end_of_month"
    units_per_case: Annotated[int, Field(ge=1, le=10_000)] = 10
    cases_per_pallet: Annotated[int, Field(ge=1, le=10_000)] = 20
    unit_template: Annotated[str, Field(min_length=1, max_length=128)] = "unit-50x30-203"
    case_template: Annotated[str, Field(min_length=1, max_length=128)] = "sscc-100x150-203"
    pallet_template: Annotated[str, Field(min_length=1, max_length=128)] = "sscc-100x150-203"
    serial_alphabet: Literal["numeric", "safe", "cset82"] = "numeric"
    serial_length: Annotated[int, Field(ge=4, le=20)] = 12
    active: bool = True

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str) -> str:
        return gs1.Gtin.parse(value).value

    @field_validator("markets")
    @classmethod
    def _markets(cls, value: list[str]) -> list[str]:
        cleaned = sorted({m.strip().upper() for m in value if m.strip()})
        bad = [m for m in cleaned if not _MARKET.match(m)]
        if bad:
            raise ValueError(f"expected ISO 3166-1 alpha-2 country codes such as DE, got {bad}")
        return cleaned

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        ShelfLife(self.shelf_life_months, self.shelf_life_days)  # at least a day or a month
        try:
            SerialScheme(alphabet_named(self.serial_alphabet), self.serial_length)
        except SchemeError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def shelf_life(self) -> ShelfLife:
        return ShelfLife(self.shelf_life_months, self.shelf_life_days)

    @property
    def rule(self) -> ExpiryRule:
        return ExpiryRule(self.expiry_rule)


def product_from(data: dict[str, Any], *, where: str = "product") -> Product:
    """A Product, or Refused naming every field that is wrong."""
    try:
        return Product.model_validate(data)
    except ValidationError as exc:
        raise Refused(f"{where}: " + "; ".join(_describe(e) for e in exc.errors())) from None
    except gs1.Gs1Error as exc:
        raise Refused(f"{where}: {exc}") from None


def _describe(error: Any) -> str:
    location = ".".join(str(p) for p in error["loc"]) or "product"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if message.startswith(location) else f"{location}: {message}"


def get(conn: Connection, gtin: str) -> Product:
    row = conn.execute(select(products).where(products.c.gtin == gtin)).first()
    if row is None:
        raise Unknown(f"product: no product with GTIN {gtin}")
    return _product(row)


def find(conn: Connection, gtin: str) -> Product | None:
    row = conn.execute(select(products).where(products.c.gtin == gtin)).first()
    return None if row is None else _product(row)


def listing(conn: Connection, *, active_only: bool = False) -> list[Product]:
    query = select(products).order_by(products.c.gtin)
    if active_only:
        query = query.where(products.c.active == 1)
    return [_product(row) for row in conn.execute(query)]


def put(conn: Connection, product: Product, *, actor: str, reason: str, now: datetime) -> bool:
    """Create or change a product (audited); False if nothing changed."""
    before = find(conn, product.gtin)
    if before == product:
        return False
    values = _row(product) | {"updated_at": now, "updated_by": actor}
    if before is None:
        conn.execute(products.insert(), values)
    else:
        conn.execute(products.update().where(products.c.gtin == product.gtin).values(values))
    audit.append(
        conn,
        actor=actor,
        action="product_create" if before is None else "product_change",
        entity="product",
        entity_key=product.gtin,
        old_value=None if before is None else _changed(before, product)[0],
        new_value=product.model_dump() if before is None else _changed(before, product)[1],
        reason=reason,
        now=now,
    )
    return True


def _changed(before: Product, after: Product) -> tuple[dict[str, Any], dict[str, Any]]:
    old, new = before.model_dump(), after.model_dump()
    keys = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


def _row(product: Product) -> dict[str, Any]:
    data = product.model_dump()
    data["markets"] = json.dumps(product.markets)
    data["active"] = 1 if product.active else 0
    return data


def _product(row: Any) -> Product:
    data = dict(row._mapping)
    data.pop("updated_at"), data.pop("updated_by")
    data["markets"] = json.loads(data["markets"])
    data["active"] = bool(data["active"])
    return Product.model_validate(data)


# -- imports -------------------------------------------------------------------------------


def from_csv(text: str) -> list[Product]:
    """One product per row; the header names the fields (``gtin``, ``company_prefix_length``
    and ``name`` at least); markets separated by ``;``. Refused with every bad row named."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = set(Product.model_fields)
    unknown = sorted(set(reader.fieldnames or ()) - fields)
    if unknown or not {"gtin", "company_prefix_length", "name"} <= set(reader.fieldnames or ()):
        raise Refused(
            f"header: expected gtin, company_prefix_length, name and any of "
            f"{', '.join(sorted(fields - {'gtin', 'company_prefix_length', 'name'}))}; "
            f"got {', '.join(reader.fieldnames or []) or 'nothing'}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    found: list[Product] = []
    problems: list[str] = []
    for number, row in enumerate(reader, start=2):
        data: dict[str, Any] = {k: v.strip() for k, v in row.items() if v is not None and v.strip()}
        if "markets" in data:
            data["markets"] = [m for m in data["markets"].split(";")]
        if "active" in data:
            data["active"] = data["active"].lower() in ("1", "true", "yes")
        try:
            found.append(product_from(data, where=f"line {number}"))
        except ProductionError as exc:
            problems.append(str(exc))
    return _checked(found, problems)


#: EPCIS master data attribute ids read for an EPCClass (a GTIN); others are ignored.
MDA = {
    "urn:epcglobal:cbv:mda#regulatedProductName": "name",
    "https://gs1.org/voc/regulatedProductName": "name",
    "urn:epcglobal:cbv:mda#strengthDescription": "strength",
    "https://gs1.org/voc/strengthDescription": "strength",
    "urn:serialtrace:mda:targetMarket": "markets",
    "urn:serialtrace:mda:companyPrefixLength": "company_prefix_length",
    "urn:serialtrace:mda:shelfLifeMonths": "shelf_life_months",
    "urn:serialtrace:mda:shelfLifeDays": "shelf_life_days",
    "urn:serialtrace:mda:expiryRule": "expiry_rule",
    "urn:serialtrace:mda:unitsPerCase": "units_per_case",
    "urn:serialtrace:mda:casesPerPallet": "cases_per_pallet",
    "urn:serialtrace:mda:unitTemplate": "unit_template",
    "urn:serialtrace:mda:caseTemplate": "case_template",
    "urn:serialtrace:mda:palletTemplate": "pallet_template",
    "urn:serialtrace:mda:serialAlphabet": "serial_alphabet",
    "urn:serialtrace:mda:serialLength": "serial_length",
}
EPC_CLASS = "urn:epcglobal:epcis:vtype:EPCClass"
_IDPAT = re.compile(r"urn:epc:idpat:sgtin:([0-9]{6,12})\.([0-9]{1,7})\.\*")
_DIGITAL_LINK = re.compile(r"https?://[^/]+/01/([0-9]{14})/?")


def from_epcis(document: Any) -> list[Product]:
    """The EPCClass vocabulary of an EPCIS 2.0 JSON document's master data
    (``epcisHeader.epcisMasterData.vocabularyList``): one product per element, identified by
    ``urn:epc:idpat:sgtin:CP.IR.*`` (which gives the company prefix length) or a GS1 Digital
    Link ``…/01/{GTIN}``, with the attributes of :data:`MDA`."""
    header = document.get("epcisHeader") if isinstance(document, dict) else None
    master = header.get("epcisMasterData") if isinstance(header, dict) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, dict) else None
    if not isinstance(vocabularies, list):
        raise Refused(
            "epcisHeader.epcisMasterData.vocabularyList: expected the master data of an EPCIS "
            "2.0 document, got none"
        )
    found: list[Product] = []
    problems: list[str] = []
    for v_index, vocabulary in enumerate(vocabularies):
        if not isinstance(vocabulary, dict) or vocabulary.get("type") != EPC_CLASS:
            continue
        elements = vocabulary.get("vocabularyElementList")
        for e_index, element in enumerate(elements if isinstance(elements, list) else []):
            where = f"vocabularyList[{v_index}].vocabularyElementList[{e_index}]"
            try:
                found.append(product_from(_element(element, where), where=where))
            except ProductionError as exc:
                problems.append(str(exc))
    if not found and not problems:
        raise Refused(f"vocabularyList: expected a vocabulary of type {EPC_CLASS}, got none")
    return _checked(found, problems)


def _element(element: Any, where: str) -> dict[str, Any]:
    if not isinstance(element, dict) or not isinstance(element.get("id"), str):
        raise Refused(f"{where}: expected an element with an id")
    ident = element["id"]
    data: dict[str, Any] = {}
    if match := _IDPAT.fullmatch(ident):
        prefix, reference = match.groups()
        if len(prefix) + len(reference) != 13:
            raise Refused(
                f"{where}.id: expected 13 digits of prefix and item reference, got {ident!r}"
            )
        payload = reference[0] + prefix + reference[1:]
        data["gtin"] = payload + gs1.check_digit(payload)
        data["company_prefix_length"] = len(prefix)
    elif match := _DIGITAL_LINK.fullmatch(ident):
        data["gtin"] = match.group(1)
    else:
        raise Refused(
            f"{where}.id: expected urn:epc:idpat:sgtin:CP.IR.* or a GS1 Digital Link …/01/GTIN, "
            f"got {ident!r}"
        )
    for attribute in element.get("attributes") or []:
        if not isinstance(attribute, dict):
            continue
        name = MDA.get(str(attribute.get("id")))
        value = attribute.get("attribute")
        if name is None:
            continue
        if name == "markets":
            data.setdefault("markets", []).extend(value if isinstance(value, list) else [value])
        else:
            data[name] = value
    return data


def _checked(found: list[Product], problems: list[str]) -> list[Product]:
    seen: set[str] = set()
    for product in found:
        if product.gtin in seen:
            problems.append(f"GTIN {product.gtin}: given twice")
        seen.add(product.gtin)
    if problems:
        raise Refused(
            f"import refused: {len(problems)} problem(s); first: " + "; ".join(problems[:10]),
            problems=problems,
        )
    if not found:
        raise Refused("import: expected at least one product, got none")
    return found
