"""``perPage`` and opaque ``nextPageToken`` values of the collection resources (capture
jobs, named queries, subscriptions, EPCs, ...); event queries have their own tokens
(:mod:`server.store.event_query`)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

from server.api.app_state import services_of
from server.api.routes.epcis.common import EpcisProblem

T = TypeVar("T")
DEFAULT_PER_PAGE = 100


def page_size(request: Request) -> int:
    """``perPage`` (default 100), at most the server's ``page_size_max``."""
    raw = request.query_params.get("perPage")
    if raw is None:
        return min(DEFAULT_PER_PAGE, services_of(request).settings.page_size_max)
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or len(digits) > 30:
        raise EpcisProblem(
            400, "QueryParameterException", f"perPage: expected an integer, got {raw[:40]!r}"
        )
    # At least 1, at most the server's limit (GS1: a server may cap what a client asks).
    return max(1, min(int(text), services_of(request).settings.page_size_max))


def write_token(kind: str, value: Any) -> str:
    data = json.dumps({"k": kind, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class PastTheEnd(Exception):
    """A ``nextPageToken`` this resource did not issue (or one invalidated): the page after
    it is empty."""


def token_value(request: Request, kind: str, convert: Callable[[Any], T], default: T) -> T:
    """The value a ``nextPageToken`` of this resource carries (``default`` without one);
    raises :class:`PastTheEnd` for a token it did not issue (answered with an empty page,
    as for a token invalidated through ``DELETE /nextPageToken/{token}``)."""
    token = request.query_params.get("nextPageToken")
    if token is None:
        return default
    problem = PastTheEnd(token[:80])
    if len(token) > 2000:
        raise problem
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("k") != kind:
            raise problem
        return convert(data["v"])
    except PastTheEnd:
        raise
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise problem from None
