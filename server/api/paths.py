"""Lots, serials and user names in URL paths, whatever GS1 CSET 82 character they hold.

GS1 allows ``/`` in a lot or serial (AI 10, AI 21), so a path such as
``/batches/{gtin}/{lot}/recall`` must take the lot as ONE percent-encoded segment
(``A%2FB``). The HTTP server decodes the path before routing, which would turn ``%2F`` into
a separator; :class:`EncodedSlashes` re-reads the raw path and keeps a decoded ``/`` inside
its segment (as a private-use mark), and the ``{name:gs1text}`` path convertor gives the
route the value with its ``/`` back. Clients percent-encode every character but letters,
digits, ``-`` and ``_`` (``.`` as ``%2E`` too, which clients would otherwise treat as a
dot segment): :func:`segment` does that.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

#: Stands for a ``/`` decoded inside one segment while routing (never in GS1 data).
SLASH_MARK = "\ue02f"


class Gs1TextConvertor(Convertor[str]):
    """One path segment, its encoded slashes restored."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(SLASH_MARK, "/")

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("gs1text", Gs1TextConvertor())


def segment(value: str) -> str:
    """``value`` as one path segment (``quote`` with nothing safe, ``.`` encoded too)."""
    return quote(value, safe="").replace(".", "%2E")


class EncodedSlashes:
    """ASGI middleware: a ``%2F`` in a path segment stays inside that segment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = with_encoded_slashes(scope)
        await self.app(scope, receive, send)


def with_encoded_slashes(scope: Scope) -> Scope:
    """The scope with its path decoded once from the raw path, segment by segment (also
    when there is no ``%2F``: some ASGI clients decode twice, turning ``%2500`` into NUL)."""
    raw: Any = scope.get("raw_path")
    if not isinstance(raw, bytes | bytearray) or b"%" not in raw:
        return scope
    path = bytes(raw).split(b"?", 1)[0].decode("ascii", "replace")
    decoded = "/".join(unquote(part).replace("/", SLASH_MARK) for part in path.split("/"))
    return {**scope, "path": decoded}
