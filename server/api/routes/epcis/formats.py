"""The formats a query answer's identifiers and CBV values are written in: the
``GS1-EPC-Format`` and ``GS1-CBV-XML-Format`` request headers of GS1's OpenAPI document.

``GS1-EPC-Format`` (default ``Always_GS1_Digital_Link``, as GS1's document says):

* ``Always_GS1_Digital_Link``: every EPC URI of a GS1 key becomes its Digital Link
  (``https://id.gs1.org/01/…/21/…``);
* ``Always_EPC_URN``: every Digital Link becomes its EPC URI, where the company prefix of its
  key is known (a Digital Link does not say how long the prefix is): from the products'
  master data (GTIN and company prefix length) or from an EPC URI in the same answer;
* ``Never_Translates`` and ``No_Preference``: as captured.

What cannot be translated (a pattern, a non-GS1 URI, a Digital Link with data attributes or
of an unknown company prefix) stays as captured. Translated are the identifiers of objects,
classes and places: ``epcList``, ``childEPCs``, ``inputEPCList``, ``outputEPCList``,
``parentID``, ``epcClass`` of the quantity lists, ``readPoint``, ``bizLocation``, sources,
destinations and business transactions. The answer's ``GS1-EPC-Format`` says what was applied
(``Never_Translates`` for ``No_Preference``).

``GS1-CBV-XML-Format`` (XML answers only): ``Always_Web_URI`` writes CBV values as GS1 web
URIs (``https://ref.gs1.org/cbv/BizStep-receiving``), ``Always_URN`` as URNs
(``urn:epcglobal:cbv:bizstep:receiving``); otherwise as captured (a bare word is a URN in
XML). JSON answers are never translated (``Never_Translates``). Translation goes through the
``gs1`` package only; identifier parsing lives there.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from epcis.xml import VOCABULARIES, WEB_VOCABULARIES, bare
from gs1.identifiers import company_prefix, to_digital_link, to_epc_uri
from server.api.routes.epcis.common import XML, EpcisProblem
from server.epc_format import (
    DEFAULT_EPC_FORMAT,
    EPC_FORMATS,
    apply_epc_format,
    product_prefixes,
)

CBV_XML_FORMATS = ("No_Preference", "Always_Web_URI", "Always_URN", "Never_Translates")
PARTY_LISTS = (("sourceList", "source"), ("destinationList", "destination"))


def _header(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.headers.get(name)
    if value is None or not value.strip():
        return default
    value = value.strip()
    if value not in allowed:
        raise EpcisProblem(
            406,
            "NotAcceptableException",
            f"{name}: expected one of {', '.join(allowed)}, got {value[:60]!r}",
        )
    return value


def epc_format(request: Request) -> str:
    """The ``GS1-EPC-Format`` asked for (406 for a value GS1's document does not define)."""
    return _header(request, "GS1-EPC-Format", EPC_FORMATS, DEFAULT_EPC_FORMAT)


def cbv_xml_format(request: Request, media: str) -> str:
    """The ``GS1-CBV-XML-Format`` to apply to an answer in ``media``: ``Never_Translates``
    for JSON (the header is for XML only), else what the request asks."""
    asked = _header(request, "GS1-CBV-XML-Format", CBV_XML_FORMATS, "No_Preference")
    if media != XML or asked == "No_Preference":
        return "Never_Translates"
    return asked


def format_identifiers(
    request: Request, conn: Connection, values: list[str], *, digital_links: bool = False
) -> tuple[list[str], dict[str, str]]:
    """A list of identifiers (``/epcs``, ``/readPoints``, ``/bizLocations``) in the format the
    request's ``GS1-EPC-Format`` asks, and the header saying what was applied.
    ``digital_links``: the values are Digital Links already (``/epcs`` lists GS1 keys so)."""
    mode = epc_format(request)
    if mode == "Always_EPC_URN":
        prefixes = product_prefixes(conn)
        prefixes.update(p for p in (company_prefix(value) for value in values) if p)
        frozen = frozenset(prefixes)
        values = [to_epc_uri(value, frozen) or value for value in values]
        return values, {"GS1-EPC-Format": mode}
    if mode == "Always_GS1_Digital_Link" and not digital_links:
        values = [to_digital_link(value) or value for value in values]
    if digital_links or mode == "Always_GS1_Digital_Link":
        return values, {"GS1-EPC-Format": "Always_GS1_Digital_Link"}
    return values, {"GS1-EPC-Format": "Never_Translates"}


def _cbv(value: Any, vocabulary: str, web: bool) -> Any:
    if not isinstance(value, str):
        return value
    word = bare(value, vocabulary)
    if ":" in word or not word:  # not a CBV value of that vocabulary: as captured
        return value
    return WEB_VOCABULARIES[vocabulary] + word if web else vocabulary + word


def apply_cbv_xml_format(events: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """``events`` with their CBV values as web URIs (``Always_Web_URI``) or URNs
    (``Always_URN``), for an XML answer; as they are otherwise."""
    if mode not in ("Always_Web_URI", "Always_URN"):
        return events
    web = mode == "Always_Web_URI"
    translated = []
    for event in events:
        out = dict(event)
        for key in ("bizStep", "disposition"):
            if key in out:
                out[key] = _cbv(out[key], VOCABULARIES[key], web)
        persistent = out.get("persistentDisposition")
        if isinstance(persistent, dict):
            out["persistentDisposition"] = {
                key: [_cbv(v, VOCABULARIES[key], web) for v in value]
                if key in ("set", "unset") and isinstance(value, list)
                else value
                for key, value in persistent.items()
            }
        declaration = out.get("errorDeclaration")
        if isinstance(declaration, dict) and "reason" in declaration:
            out["errorDeclaration"] = {
                **declaration,
                "reason": _cbv(declaration["reason"], VOCABULARIES["reason"], web),
            }
        for key, field in (*PARTY_LISTS, ("bizTransactionList", "bizTransaction")):
            if isinstance(out.get(key), list):
                out[key] = [
                    {**item, "type": _cbv(item["type"], VOCABULARIES[field], web)}
                    if isinstance(item, dict) and "type" in item
                    else item
                    for item in out[key]
                ]
        translated.append(out)
    return translated


def format_answer(
    request: Request, conn: Connection, events: list[dict[str, Any]], media: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``events`` as the request's ``GS1-EPC-Format`` and ``GS1-CBV-XML-Format`` ask, and
    the headers that say what was applied."""
    epc_mode = epc_format(request)
    cbv_mode = cbv_xml_format(request, media)
    translated, applied = apply_epc_format(conn, events, epc_mode)
    translated = apply_cbv_xml_format(translated, cbv_mode)
    return translated, {"GS1-EPC-Format": applied, "GS1-CBV-XML-Format": cbv_mode}
