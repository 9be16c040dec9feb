"""EPCIS query documents in the negotiated format: JSON-LD / JSON, EPCIS 2.0 XML, EPCIS 1.2
XML; and capture payloads (JSON or XML, 2.0 or 1.2) as JSON-LD documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from epcis import xml as epcis_xml
from epcis import xml12 as epcis_xml12
from server.api.routes.epcis.common import (
    CONTEXT,
    EPCIS_12,
    EPCIS_VERSION,
    XML,
    EpcisProblem,
    standard_headers,
)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def query_document(
    events: list[dict[str, Any]],
    *,
    query_name: str = "SimpleEventQuery",
    subscription_id: str | None = None,
) -> dict[str, Any]:
    """An EPCISQueryDocument holding ``events``."""
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": events}
    return {
        "@context": [CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": now_text(),
        "epcisBody": {"queryResults": results},
    }


def render(
    document: dict[str, Any], media: str, version: str, headers: dict[str, str] | None = None
) -> Response:
    """``document`` (an EPCISQueryDocument) as ``media``; in EPCIS 1.2 XML when ``version``
    is 1.2.0."""
    all_headers = {**standard_headers(version), **(headers or {})}
    if media == XML:
        if version == EPCIS_12:
            body = epcis_xml12.encode_query_document(document)
        else:
            body = epcis_xml.encode_query_document(document)
        return Response(body, media_type=XML, headers=all_headers)
    if version != EPCIS_VERSION:
        raise EpcisProblem(
            406, "NotAcceptableException", "GS1-EPCIS-Version: EPCIS 1.2 is available in XML only"
        )
    import json

    body_json = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body_json, media_type=media, headers=all_headers)


def xml_document(payload: bytes) -> dict[str, Any]:
    """A capture payload in EPCIS 2.0 or 1.2 XML as an EPCIS 2.0 JSON-LD document; raises
    :class:`epcis.EpcisError` naming what is wrong (XSD, structure)."""
    return epcis_xml.decode_any(payload)


def request_prefixes(request: Request) -> dict[str, str]:
    """Extension namespaces the client declares in ``GS1-Extensions``
    (``prefix=namespace, …``)."""
    header = request.headers.get("GS1-Extensions", "")
    prefixes: dict[str, str] = {}
    for item in header.split(",")[:50]:
        prefix, equals, namespace = item.strip().partition("=")
        if equals and prefix and namespace:
            prefixes[prefix.strip()] = namespace.strip()
    return prefixes
