"""QA web UI of the trace server: pages under ``/ui/`` calling the JSON API.

A small single-page app (plain HTML, CSS and JavaScript modules in ``static/``, served from
this package: no build step, nothing fetched from elsewhere). Wire it with
``app.include_router(server.web.router)``; it also redirects ``/`` to ``/ui/``.
"""

from __future__ import annotations

from server.web.routes import ResolvedCode, resolve_code, router

__all__ = ["ResolvedCode", "resolve_code", "router"]
