"""What every EPCIS 2.0 REST resource shares: versions, standard headers, content
negotiation, RFC 7807 problems with ``epcisException:`` types.

Versions: the server speaks EPCIS 2.0.0 / CBV 2.0.0, and EPCIS 1.2 (CBV 1.2) in XML only.
A request naming a version outside that (``GS1-EPCIS-Version``, or a ``GS1-EPCIS-Min`` /
``GS1-EPCIS-Max`` range that excludes both) is answered 406 ``NotAcceptableException``, as
is a JSON request or answer asked for in 1.2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

EPCIS_VERSION = "2.0.0"
EPCIS_12 = "1.2.0"
CBV_VERSION = "2.0.0"
CBV_12 = "1.2.0"
JSON = "application/json"
JSON_LD = "application/ld+json"
XML = "application/xml"
TEXT_XML = "text/xml"
PROBLEM = "application/problem+json"
# Answers holding events, in order of preference: JSON first when the client accepts
# anything (GS1's document declares application/json and application/xml for them);
# application/ld+json when asked for.
EVENT_FORMATS = (JSON, JSON_LD, XML)
JSON_FORMATS = (JSON, JSON_LD)
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
VENDOR_VERSION = "serialtrace-1"

TITLES = {
    "ValidationException": "The request is not valid",
    "QueryParameterException": "A query parameter is not valid",
    "QueryTooLargeException": "The query result is too large",
    "QueryTooComplexException": "The query is too complex",
    "NoSuchNameException": "Resource not found",
    "SecurityException": "Not authorised",
    "NotAcceptableException": "Conflicting request and response headers",
    "UnsupportedMediaTypeException": "Unsupported Media Type",
    "CaptureLimitExceededException": "Capture payload too large",
    "ResourceAlreadyExistsException": "A resource with the provided identifier already exists",
    "SubscriptionControlsException": "Subscription error",
    "URITooLongException": "URI Too Long",
    "ImplementationException": "A server-side error occurred",
}
VERSION = re.compile(r"\d{1,3}(?:\.\d{1,3}){0,3}\Z")


class EpcisProblem(Exception):
    """An EPCIS error answered as ``application/problem+json``."""

    def __init__(
        self, status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = dict(headers or {})


def standard_headers(version: str = EPCIS_VERSION) -> dict[str, str]:
    """The headers every EPCIS answer carries."""
    return {
        "GS1-EPCIS-Version": version,
        "GS1-CBV-Version": CBV_12 if version == EPCIS_12 else CBV_VERSION,
        "GS1-EPCIS-Min": EPCIS_12,
        "GS1-EPCIS-Max": EPCIS_VERSION,
        "GS1-CBV-Min": CBV_12,
        "GS1-CBV-Max": CBV_VERSION,
        "GS1-Vendor-Version": VENDOR_VERSION,
        "GS1-EPC-Format": "Never_Translates",
        "GS1-CBV-XML-Format": "Never_Translates",
    }


def problem(
    status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An RFC 7807 answer of type ``epcisException:{kind}``."""
    body: dict[str, Any] = {
        "type": f"epcisException:{kind}",
        "title": TITLES.get(kind, kind),
        "detail": detail,
    }
    if status != 409:  # GS1's document declares 409 bodies with status 406: leave it out
        body["status"] = status
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM,
        headers={**standard_headers(), **(headers or {})},
    )


def _version(text: str, header: str) -> tuple[int, ...]:
    text = text.strip()
    if not VERSION.match(text):
        raise EpcisProblem(
            406,
            "NotAcceptableException",
            f"{header}: expected a version such as 2.0.0, got {text[:40]!r}",
        )
    parts = tuple(int(part) for part in text.split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts[:3]


def requested_version(request: Request) -> str:
    """The EPCIS version the request asks for (``2.0.0`` or ``1.2.0``); raises a 406 problem
    for any other (``GS1-EPCIS-Version``, ``GS1-EPCIS-Min``/``Max``, ``GS1-CBV-*``)."""
    headers = request.headers
    supported = [(2, 0, 0), (1, 2, 0)]
    exact = headers.get("GS1-EPCIS-Version")
    low = headers.get("GS1-EPCIS-Min")
    high = headers.get("GS1-EPCIS-Max")
    candidates = supported
    if exact is not None:
        wanted = _version(exact, "GS1-EPCIS-Version")
        candidates = [v for v in supported if v[:2] == wanted[:2]]
    if low is not None:
        minimum = _version(low, "GS1-EPCIS-Min")
        candidates = [v for v in candidates if v[:2] >= minimum[:2]]
    if high is not None:
        maximum = _version(high, "GS1-EPCIS-Max")
        candidates = [v for v in candidates if v[:2] <= maximum[:2]]
    cbv = headers.get("GS1-CBV-Version")
    if cbv is not None and _version(cbv, "GS1-CBV-Version")[:2] not in ((2, 0), (1, 2)):
        raise EpcisProblem(
            406,
            "NotAcceptableException",
            f"GS1-CBV-Version: expected 2.0.0 or 1.2.0, got {cbv[:40]!r}",
        )
    cbv_low, cbv_high = headers.get("GS1-CBV-Min"), headers.get("GS1-CBV-Max")
    if cbv_low is not None and _version(cbv_low, "GS1-CBV-Min")[:2] > (2, 0):
        raise EpcisProblem(
            406, "NotAcceptableException", "GS1-CBV-Min: this server speaks CBV 2.0.0 at most"
        )
    if cbv_high is not None and _version(cbv_high, "GS1-CBV-Max")[:2] < (1, 2):
        raise EpcisProblem(
            406, "NotAcceptableException", "GS1-CBV-Max: this server speaks CBV 1.2.0 at least"
        )
    if not candidates:
        shown = exact if exact is not None else f"{low or '-'}..{high or '-'}"
        raise EpcisProblem(
            406,
            "NotAcceptableException",
            f"GS1-EPCIS-Version: expected 2.0.0 (or 1.2.0 for XML), got {shown[:40]!r}",
        )
    return "{}.{}.{}".format(*candidates[0])


def json_version(request: Request) -> str:
    """:func:`requested_version` for a JSON-only resource: 2.0.0, else a 406 problem."""
    version = requested_version(request)
    if version != EPCIS_VERSION:
        # 1.2 comes first only when the client excludes 2.0: JSON exists in 2.0 only.
        raise EpcisProblem(
            406, "NotAcceptableException", "GS1-EPCIS-Version: EPCIS 1.2 is available in XML only"
        )
    return version


def _accepted(header: str) -> list[tuple[float, str]]:
    ranges = []
    for position, item in enumerate(header.split(",")[:50]):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranges.append((-quality, position, media.lower()))
    ranges.sort()
    return [(-q, media) for q, _, media in ranges]


def negotiate(request: Request, offers: Sequence[str]) -> str:
    """The media type of ``offers`` the ``Accept`` header prefers (the first offer without
    one); raises a 406 problem if it accepts none of them."""
    header = request.headers.get("accept")
    if not header or not header.strip():
        return offers[0]
    for _, media in _accepted(header):
        if media in ("*/*", "*"):
            return offers[0]
        if media == TEXT_XML and XML in offers:
            return XML
        if media.endswith("/*"):
            for offer in offers:
                if offer.startswith(media[:-1]):
                    return offer
        if media in offers:
            return media
    raise EpcisProblem(
        406,
        "NotAcceptableException",
        f"Accept: expected one of {', '.join(offers)}, got {header[:100]!r}",
    )


def upload_format(request: Request) -> str:
    """``json`` or ``xml`` by the request's Content-Type (sniffed from the first byte when it
    has none); raises a 415 problem for any other."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return "sniff"
    media = content_type.split(";")[0].strip().lower()
    if media in (JSON, JSON_LD):
        return "json"
    if media in (XML, TEXT_XML):
        return "xml"
    raise EpcisProblem(
        415,
        "UnsupportedMediaTypeException",
        f"Content-Type: expected application/json, application/ld+json or application/xml, "
        f"got {content_type[:100]!r}",
    )


def collection(members: list[Any], context: Any = CONTEXT) -> dict[str, Any]:
    return {"@context": context, "type": "Collection", "member": members}


def json_answer(
    content: Any,
    request: Request,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    offers: Sequence[str] = JSON_FORMATS,
) -> JSONResponse:
    """A JSON answer (in the media type negotiated among ``offers``) with the standard
    headers."""
    json_version(request)
    media = negotiate(request, offers)
    return JSONResponse(
        content,
        status_code=status,
        media_type=media,
        headers={**standard_headers(), **(headers or {})},
    )


def no_content(request: Request, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=204, headers={**standard_headers(), **(headers or {})})


def link_next(request: Request, token: str) -> str:
    """The ``Link`` header pointing at the page after this one."""
    from urllib.parse import urlencode

    query = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
    query.append(("nextPageToken", token))
    return f'<{request.url.path}?{urlencode(query)}>; rel="next"'
