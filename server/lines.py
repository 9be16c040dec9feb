"""The line registry: which locations (SGLNs) each line may report events for.

An event that reaches the server on ``serialtrace/v1/{site}/{line}/events`` must name, as
its read point and (when it has one) its business location, locations registered for that
site and line; otherwise the whole document is dead-lettered (kind ``location``) with an
alert and changes no unit. A line that is not registered at all may report nothing. The
broker's ACL already keeps a line identity to its own topic; this check keeps the topic to
its content, so a line cannot speak for another line's read point.

The same check holds for HTTP capture: a ``device`` account is bound to one registered line
(:mod:`server.auth`), and ``POST /epcis/capture`` and ``POST /epcis/events`` refuse (and
dead-letter, kind ``location``, with an alert) a document with an event outside it
(:meth:`LineRegistry.line_violation`).

Managed with ``serialtrace server lines add|list|remove`` and ``/lines`` (admin); every
change is audited. :class:`LineRegistry` is the ingest writer's cache of it: a set lookup per
event on the hot path, reloaded every few seconds and on a miss (at most twice a second),
so a line registered from another process is seen at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select

from epcis import TopicError, topics
from server import audit
from server.errors import NotFound, RejectedDocument
from server.ingest.prepare import PreparedDocument
from server.store import read_transaction
from server.store.schema import line_locations, lines

SGLN_URN = "urn:epc:id:sgln:"
MAX_LOCATIONS = 1000


@dataclass(frozen=True)
class Line:
    site: str
    line: str
    locations: tuple[str, ...]
    created_at: datetime


def check_location(value: str, field: str = "location") -> str:
    """``value`` if it names a location (an SGLN as EPC URI or a GS1 Digital Link with AI
    414), else :class:`RejectedDocument` naming ``field``."""
    text = value.strip() if isinstance(value, str) else value
    ok = isinstance(text, str) and 0 < len(text) <= 512 and text.isprintable()
    if ok and not (text.startswith(SGLN_URN) or (text.startswith("https://") and "/414/" in text)):
        ok = False
    if not ok:
        raise RejectedDocument(
            f"{field}: expected an SGLN (urn:epc:id:sgln:…) or a GS1 Digital Link with "
            f"/414/, got {value!r}"
        )
    return text


def _check_ids(site: str, line: str) -> None:
    try:
        topics.validate_id(site, "site")
        topics.validate_id(line, "line")
    except TopicError as exc:
        raise RejectedDocument(str(exc)) from None


def list_lines(conn: Connection) -> list[Line]:
    found: dict[tuple[str, str], list[str]] = {}
    created: dict[tuple[str, str], datetime] = {}
    for row in conn.execute(select(lines).order_by(lines.c.site, lines.c.line)):
        found[(row.site, row.line)] = []
        created[(row.site, row.line)] = row.created_at
    query = select(line_locations).order_by(line_locations.c.location)
    for row in conn.execute(query):
        found.setdefault((row.site, row.line), []).append(row.location)
    return [
        Line(site, line, tuple(locations), created[(site, line)])
        for (site, line), locations in found.items()
        if (site, line) in created
    ]


def register_line(
    conn: Connection,
    site: str,
    line: str,
    locations: Sequence[str],
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> Line:
    """Register ``site``/``line`` with exactly ``locations`` (replacing those it had);
    audited. A location may belong to several lines (the site's business location)."""
    _check_ids(site, line)
    if not locations:
        raise RejectedDocument("locations: expected at least one SGLN, got none")
    if len(locations) > MAX_LOCATIONS:
        raise RejectedDocument(f"locations: expected at most {MAX_LOCATIONS}, got {len(locations)}")
    wanted = list(
        dict.fromkeys(
            check_location(value, f"locations[{index}]") for index, value in enumerate(locations)
        )
    )
    before = next(
        (item for item in list_lines(conn) if (item.site, item.line) == (site, line)), None
    )
    if before is None:
        conn.execute(lines.insert(), {"site": site, "line": line, "created_at": now})
    conn.execute(
        delete(line_locations).where(
            (line_locations.c.site == site) & (line_locations.c.line == line)
        )
    )
    conn.execute(
        line_locations.insert(),
        [{"site": site, "line": line, "location": location} for location in wanted],
    )
    audit.append(
        conn,
        actor=actor,
        action="line.register",
        entity="line",
        entity_key=f"{site}/{line}",
        old_value=None if before is None else list(before.locations),
        new_value=wanted,
        reason=reason,
        now=now,
    )
    return Line(site, line, tuple(sorted(wanted)), before.created_at if before else now)


def remove_line(
    conn: Connection, site: str, line: str, *, actor: str, reason: str, now: datetime
) -> None:
    """Remove a line from the registry (its events are refused from then on); audited."""
    before = next(
        (item for item in list_lines(conn) if (item.site, item.line) == (site, line)), None
    )
    if before is None:
        raise NotFound(f"line: no line {site}/{line} is registered")
    where_line = (line_locations.c.site == site) & (line_locations.c.line == line)
    conn.execute(delete(line_locations).where(where_line))
    conn.execute(delete(lines).where((lines.c.site == site) & (lines.c.line == line)))
    audit.append(
        conn,
        actor=actor,
        action="line.remove",
        entity="line",
        entity_key=f"{site}/{line}",
        old_value=list(before.locations),
        new_value=None,
        reason=reason,
        now=now,
    )


class LineRegistry:
    """The registry as the ingest writer reads it (see the module doc)."""

    MAX_AGE_SECONDS = 5.0
    MISS_RELOAD_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._locations: dict[tuple[str, str], frozenset[str]] = {}
        self._loaded_at = float("-inf")

    def reload(self) -> None:
        """Read the registry now (a replay, an explicit action, does not wait for the cache)."""
        with self._lock:
            self._reload()

    def _reload(self) -> None:
        found: dict[tuple[str, str], set[str]] = {}
        with read_transaction(self.engine) as conn:
            for row in conn.execute(select(lines.c.site, lines.c.line)):
                found[(row.site, row.line)] = set()
            for row in conn.execute(select(line_locations)):
                found.setdefault((row.site, row.line), set()).add(row.location)
        self._locations = {key: frozenset(value) for key, value in found.items()}
        self._loaded_at = time.monotonic()

    def locations(self, site: str, line: str, *, miss: bool = False) -> frozenset[str] | None:
        """The locations of a line (None if it is not registered); ``miss=True`` reloads
        first unless that was done less than half a second ago."""
        age = time.monotonic() - self._loaded_at
        if age > self.MAX_AGE_SECONDS or (miss and age > self.MISS_RELOAD_SECONDS):
            with self._lock:
                self._reload()
        return self._locations.get((site, line))

    def violation(self, document: PreparedDocument) -> str | None:
        """Why ``document`` may not come from its line (None when every event's read point
        and business location are the line's own)."""
        origin = document.origin
        if origin.source != "mqtt" or origin.site is None or origin.line is None:
            return None
        return self.line_violation(origin.site, origin.line, [e.body for e in document.events])

    def line_violation(self, site: str, line: str, bodies: Sequence[object]) -> str | None:
        """Why events with these ``bodies`` may not come from ``site``/``line`` (None when
        every read point and business location is the line's own): the check of an MQTT
        line's topic, and of an HTTP device account's bound line."""
        allowed = self.locations(site, line)
        problem = _first_outside(bodies, allowed, site, line)
        if problem is not None:  # maybe registered a moment ago: look again
            allowed = self.locations(site, line, miss=True)
            problem = _first_outside(bodies, allowed, site, line)
        return problem


def _first_outside(
    bodies: Sequence[object], allowed: frozenset[str] | None, site: str, line: str
) -> str | None:
    if allowed is None:
        return f"line: {site}/{line} is not registered (serialtrace server lines add)"
    for index, event in enumerate(bodies):
        body: Mapping[str, object] = event if isinstance(event, Mapping) else {}
        read_point = _location_id(body.get("readPoint"))
        if not isinstance(read_point, str) or read_point not in allowed:
            return (
                f"eventList[{index}].readPoint: expected a location of line {site}/{line}, "
                f"got {_short(read_point)}"
            )
        location = _location_id(body.get("bizLocation"))
        if location is not None and (not isinstance(location, str) or location not in allowed):
            return (
                f"eventList[{index}].bizLocation: expected a location of line {site}/{line}, "
                f"got {_short(location)}"
            )
    return None


def _location_id(value: object) -> object:
    """The ``id`` of a readPoint/bizLocation object (None when absent; the value itself when
    it is not an object, so a hostile document gets a reason, never an exception)."""
    if value is None:
        return None
    return value.get("id") if isinstance(value, Mapping) else value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def locations_of(values: Iterable[str]) -> list[str]:
    return [check_location(value) for value in values]
