"""Identifiers of EPCIS events in the format a client asks (``GS1-EPC-Format``): EPC URI or
GS1 Digital Link, translated through :mod:`gs1.identifiers` only. Used by the query answers
(server/api/routes/epcis/formats.py, which documents the header) and by subscriptions.

A Digital Link does not say how long the company prefix of its key is; the prefixes known
are those of the products on record and those of the EPC URIs in the same events. What
cannot be translated stays as captured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, select

from gs1.identifiers import company_prefix, to_digital_link, to_epc_uri
from server.production.tables import products

EPC_FORMATS = ("No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates")
DEFAULT_EPC_FORMAT = "Always_GS1_Digital_Link"  # GS1's OpenAPI document: when absent
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
PARTY_LISTS = (("sourceList", "source"), ("destinationList", "destination"))


def product_prefixes(conn: Connection) -> set[str]:
    """The GS1 company prefixes of the products on record."""
    return {
        gtin[1 : 1 + length]
        for gtin, length in conn.execute(select(products.c.gtin, products.c.company_prefix_length))
        if isinstance(length, int) and 6 <= length <= 12
    }


def _identifiers(event: dict[str, Any]) -> Iterable[str]:
    """Every identifier of ``event`` that GS1-EPC-Format applies to."""
    for key in EPC_LISTS:
        items = event.get(key)
        if isinstance(items, list):
            yield from (item for item in items if isinstance(item, str))
    if isinstance(event.get("parentID"), str):
        yield event["parentID"]
    for key in QUANTITY_LISTS:
        items = event.get(key)
        if isinstance(items, list):
            yield from (
                item["epcClass"]
                for item in items
                if isinstance(item, dict) and isinstance(item.get("epcClass"), str)
            )
    for key in ("readPoint", "bizLocation"):
        place = event.get(key)
        if isinstance(place, dict) and isinstance(place.get("id"), str):
            yield place["id"]


def known_prefixes(conn: Connection, events: list[dict[str, Any]]) -> set[str]:
    """The GS1 company prefixes this answer can translate Digital Links with: those of the
    products on record and those of the EPC URIs in ``events``."""
    prefixes = product_prefixes(conn)
    for event in events:
        for text in _identifiers(event):
            prefix = company_prefix(text)
            if prefix is not None:
                prefixes.add(prefix)
    return prefixes


def _translate(event: dict[str, Any], one: Callable[[Any], Any]) -> dict[str, Any]:
    """``event`` with ``one`` applied to each identifier GS1-EPC-Format covers (copied where
    changed; the event given is not modified)."""
    out = dict(event)
    for key in EPC_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [one(item) for item in out[key]]
    if "parentID" in out:
        out["parentID"] = one(out["parentID"])
    for key in QUANTITY_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [
                {**item, "epcClass": one(item.get("epcClass"))}
                if isinstance(item, dict) and "epcClass" in item
                else item
                for item in out[key]
            ]
    for key in ("readPoint", "bizLocation"):
        if isinstance(out.get(key), dict) and "id" in out[key]:
            out[key] = {**out[key], "id": one(out[key]["id"])}
    for key, field in (*PARTY_LISTS, ("bizTransactionList", "bizTransaction")):
        if isinstance(out.get(key), list):
            out[key] = [
                {**item, field: one(item.get(field))}
                if isinstance(item, dict) and field in item
                else item
                for item in out[key]
            ]
    return out


def apply_epc_format(
    conn: Connection, events: list[dict[str, Any]], mode: str
) -> tuple[list[dict[str, Any]], str]:
    """``events`` in the EPC format ``mode`` asks for, and the format applied."""
    if mode == "Always_GS1_Digital_Link":

        def one(value: Any) -> Any:
            return (to_digital_link(value) or value) if isinstance(value, str) else value

    elif mode == "Always_EPC_URN":
        prefixes = frozenset(known_prefixes(conn, events))

        def one(value: Any) -> Any:
            return (to_epc_uri(value, prefixes) or value) if isinstance(value, str) else value

    else:
        return events, "Never_Translates"
    return [_translate(event, one) for event in events], mode


def applied_format(mode: str | None) -> str:
    """The ``GS1-EPC-Format`` an answer in ``mode`` says was applied."""
    if mode in ("Always_GS1_Digital_Link", "Always_EPC_URN"):
        return mode
    return "Never_Translates"
