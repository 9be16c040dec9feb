"""Routes of the operator HMI: the page, its assets and the read-only views it needs.

Batch control goes through the agent API (``/status``, ``/batch/…``); this router adds what
that API lacks, read from the agent's committed data with :meth:`Agent.read`:

* ``GET /hmi/api/line``: site, line, the configured products and the outbox alarm depth;
* ``GET /hmi/api/rejects?limit=N``: the current batch's latest rejected and scrapped units
  with their reasons, and the reject count per outcome (``no_read``, ``wrong_data`` …);
* ``GET /hmi/api/units/{gtin}/{serial}/image``: the camera image saved for a rejected unit;
* ``GET /hmi/api/timing``: gate timing (the reject gate's deadline, the last margin, missed
  and at-risk verdicts in the window) and one point per second of the last five minutes:
  units verified and the smallest and median margin, for the margin and line-rate charts;
* ``POST /hmi/api/login`` (``{"name", "password"}`` of an operator in ``api.operators``) and
  ``POST /hmi/api/logout``: the session whose token the page sends with batch commands.

``/`` and ``/hmi`` redirect to the page. Errors are JSON ``{"error": "…"}`` like the agent
API's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from edge.agent import Agent
from edge.api_auth import ApiGuard

STATIC = Path(__file__).resolve().parent / "static"
_MEDIA_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
_NO_STORE = {"Cache-Control": "no-store"}
MAX_REJECTS = 200


class Login(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def hmi_router(agent: Agent, guard: ApiGuard | None = None) -> APIRouter:
    """The HMI of ``agent``: include it in the agent's app (``app.include_router``)."""
    router = APIRouter(tags=["hmi"])
    if guard is not None:

        @router.post("/hmi/api/login")
        def login(body: Login) -> Response:
            result = guard.login(body.name, body.password)
            if isinstance(result, str):
                return _error(401, f"login: {result}")
            token, ttl = result
            return JSONResponse({"token": token, "operator": body.name, "expires_in": int(ttl)})

        @router.post("/hmi/api/logout")
        def logout(authorization: Annotated[str | None, Header()] = None) -> Response:
            guard.logout(authorization)
            return JSONResponse({"signed_out": True})

        @router.get("/hmi/api/session")
        def session(authorization: Annotated[str | None, Header()] = None) -> Response:
            who = guard.who(authorization)
            if who is None:
                return _error(401, "authorization: not signed in")
            return JSONResponse({"operator": who})

    assets = {path.name: path for path in STATIC.iterdir() if path.suffix in _MEDIA_TYPES}
    rejects_dir = (agent.config.data_path / "rejects").resolve()

    @router.get("/", include_in_schema=False)
    @router.get("/hmi", include_in_schema=False)
    def to_page() -> RedirectResponse:
        return RedirectResponse("/hmi/")

    @router.get("/hmi/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(assets["index.html"], media_type="text/html", headers=_NO_STORE)

    @router.get("/hmi/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        path = assets.get(name)  # only files that exist in static/: no path from the request
        if path is None:
            return _error(404, f"asset: no file {name!r} in the HMI")
        return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=_NO_STORE)

    @router.get("/hmi/api/line")
    def line() -> dict[str, Any]:
        config = agent.config
        production = agent.devices.production
        master = {} if production is None else {p["gtin"]: p for p in production.products()}

        def name(gtin: str, configured: str) -> str:
            known = master.get(gtin)
            if known is None:
                return configured
            return f"{known['name']} {known['strength']}".strip()

        return {
            "site": config.agent.site,
            "line": config.agent.line,
            "products": [{"gtin": p.gtin, "name": name(p.gtin, p.name)} for p in config.products],
            "rule_lots": production is not None,
            "outbox_alarm_depth": config.outbox.alarm_depth,
            "trigger": config.trigger.source,
        }

    @router.get("/hmi/api/timing")
    def timing() -> dict[str, Any]:
        return agent.pipeline.timing.snapshot(seconds=300)

    @router.get("/hmi/api/rejects")
    def rejects(
        limit: Annotated[int, Query(ge=1, le=MAX_REJECTS)] = 20,
    ) -> dict[str, Any]:
        result: dict[str, Any] = agent.read(lambda conn: _rejects(conn, limit))
        return result

    @router.get("/hmi/api/units/{gtin}/{serial:edgetext}/image")
    def image(gtin: str, serial: str) -> Response:
        row = agent.read(
            lambda conn: conn.execute(
                "SELECT image FROM units WHERE gtin = ? AND serial = ?", (gtin, serial)
            ).fetchone()
        )
        if row is None:
            return _error(404, f"serial: no unit with GTIN {gtin!r} and serial {serial!r}")
        if row["image"] is None:
            return _error(404, f"image: no camera image was saved for serial {serial!r}")
        path = Path(row["image"]).resolve()
        if not path.is_relative_to(rejects_dir) or not path.is_file():
            return _error(404, f"image: the image of serial {serial!r} is no longer on disk")
        return FileResponse(path, media_type="image/png")

    return router


def _rejects(conn: sqlite3.Connection, limit: int) -> dict[str, Any]:
    batch = conn.execute(
        "SELECT id, lot FROM batches WHERE state != 'closed' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if batch is None:
        return {"lot": None, "units": [], "reasons": {}}
    units = [
        {
            "gtin": row["gtin"],
            "serial": row["serial"],
            "state": row["state"],
            "reason": row["reason"],
            "at": row["updated_at"],
            "image": row["image"] is not None,
        }
        for row in conn.execute(
            "SELECT gtin, serial, state, reason, image, updated_at FROM units "
            "WHERE batch_id = ? AND state IN ('rejected', 'scrapped') "
            "ORDER BY updated_at DESC, id DESC LIMIT ?",
            (batch["id"], limit),
        )
    ]
    # The outcome is the reason up to its first colon: "no_read: no code found" -> "no_read".
    reasons = {
        outcome: count
        for outcome, count in conn.execute(
            "SELECT substr(r, 1, instr(r || ':', ':') - 1) AS outcome, count(*) FROM "
            "(SELECT coalesce(reason, 'unknown') AS r FROM units "
            "WHERE batch_id = ? AND state IN ('rejected', 'scrapped')) "
            "GROUP BY outcome ORDER BY count(*) DESC, outcome",
            (batch["id"],),
        )
    }
    return {"lot": batch["lot"], "units": units, "reasons": reasons}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
