"""Routes of the QA web UI: the single-page shell, its static assets and the code resolver.

Every page under ``/ui/`` is the same shell (``index.html``); the browser-side router in
``static/js/app.js`` draws the page from the path and fetches its data from the JSON API
with the bearer token of the signed-in user. The server side only serves files and says
what a scanned or pasted code names (``/ui/resolve``), using the same GS1 reader as the
rest of the server, so the browser never parses GS1 data itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

import gs1
from server.api.deps import Reader

STATIC = (Path(__file__).parent / "static").resolve()
SHELL = STATIC / "index.html"
# The shell and assets change with each release; the browser revalidates (ETag) every time.
NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    """The server's home page is the QA web UI."""
    return RedirectResponse("/ui/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/ui")
def ui_without_slash() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/ui/static/{name:path}")
def static_file(name: str) -> FileResponse:
    """A file of ``static/``; nothing outside it, whatever ``..`` or links the name holds."""
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"static: no file {name!r}")
    return FileResponse(path, headers=NO_CACHE)


class ResolvedCode(BaseModel):
    """What a code names, and the UI page that shows it."""

    kind: Literal["unit", "container", "batch", "product", "location"]
    form: str
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: str | None = None  # YYYY-MM-DD, day 00 = end of month, as the store keeps it
    sscc: str | None = None
    gln: str | None = None
    page: str | None = None  # UI path, None when the UI has no page for it


@router.get("/ui/resolve")
def resolve(
    code: Annotated[str, Query(min_length=1, max_length=512)], _user: Reader
) -> ResolvedCode:
    """Classify a pasted or scanned code (element string with or without a symbology
    identifier, HRI, GS1 Digital Link, EPC URI, bare GTIN/SSCC); 422 naming the input when
    it is not GS1 data."""
    try:
        return resolve_code(code)
    except gs1.Gs1Error as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"code: expected a GS1 element string, HRI, Digital Link or EPC URI, "
            f"got {code!r} ({exc})",
        ) from exc


def resolve_code(text: str) -> ResolvedCode:
    """What ``text`` names; raises :class:`gs1.Gs1Error` when it is no GS1 code."""
    reading = gs1.read(text.strip())
    form = reading.form.value
    code = reading.code
    if isinstance(code, gs1.Sscc):
        return ResolvedCode(
            kind="container", form=form, sscc=code.value, page=f"/ui/container/{code.value}"
        )
    if isinstance(code, gs1.Gln):
        return ResolvedCode(kind="location", form=form, gln=code.value)
    gtin = code.gtin.value
    expiry = None
    if code.expiry is not None:
        expiry = f"{code.expiry.year:04d}-{code.expiry.month:02d}-{code.expiry.day:02d}"
    if code.serial is not None:
        return ResolvedCode(
            kind="unit",
            form=form,
            gtin=gtin,
            serial=code.serial,
            lot=code.lot,
            expiry=expiry,
            page=_path("unit", gtin, code.serial),
        )
    if code.lot is not None:
        return ResolvedCode(
            kind="batch",
            form=form,
            gtin=gtin,
            lot=code.lot,
            expiry=expiry,
            page=_path("batch", gtin, code.lot),
        )
    return ResolvedCode(
        kind="product", form=form, gtin=gtin, expiry=expiry, page=f"/ui/batches?gtin={gtin}"
    )


def _path(page: str, gtin: str, key: str) -> str:
    """A UI path; the serial or lot is percent-encoded (CSET 82 allows ``/``, ``%``, ``?``)."""
    return f"/ui/{page}/{gtin}/{quote(key, safe='')}"


@router.get("/ui/{page:path}")
def shell(page: str) -> FileResponse:
    """The single-page shell for every UI path (``/ui/``, ``/ui/unit/…``, ``/ui/batch/…``)."""
    return FileResponse(SHELL, media_type="text/html", headers=NO_CACHE)
