"""The line's link to the server's production data: master data, batch orders, lot codes.

With ``[server]`` configured, the agent

* keeps the server's **product master data** (``GET /production/products``) in
  ``{data_dir}/production.sqlite`` and refuses a batch of a product it does not know there,
  that is inactive, or whose pack hierarchy differs from the line's;
* computes the **expiry** from the manufacturing date (today on the line's clock, unless
  given) and the product's shelf life and rule; another expiry needs ``expiry_reason``;
* takes a **lot by rule** when none is given (``POST /production/lots``), or, while the
  server cannot be reached, one of its **offline reserve** (rule lots handed out ahead for the
  coming days and shifts, ``POST /production/lots/reserve``) for the current period;
* **claims** a lot that is given (HMI, API, PLC) at the server, which refuses one the system
  already knows for the GTIN; offline, the claim waits in a queue (the line's own records
  still refuse a lot it used before);
* shows the **orders released to the line** (``GET /production/line/orders``); the operator's
  confirmation starts the batch from the order, and the start and the close (with the
  reconciliation) go back to the server.

Every message for the server waits in a durable queue until the server took it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import gs1
from edge.errors import BatchStateError, PayloadError
from edge.events import MaterialLot
from edge.ledger import Batch, BatchStart
from edge.serials.errors import AuthorityError
from edge.serials.link import AuthorityClient, AuthorityUnreachable
from gs1.lots import LotPattern, parse_shifts
from gs1.shelf_life import ExpiryRule, ShelfLife, compute_expiry

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    gtin      TEXT PRIMARY KEY,
    body      TEXT NOT NULL,
    synced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id        INTEGER PRIMARY KEY,
    body      TEXT NOT NULL,
    synced_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lot_rule (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lot_reserve (
    lot       TEXT PRIMARY KEY,
    period    TEXT NOT NULL,
    used_gtin TEXT,
    used_at   TEXT
);
CREATE TABLE IF NOT EXISTS order_batches (
    gtin     TEXT NOT NULL,
    lot      TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    PRIMARY KEY (gtin, lot)
);
CREATE TABLE IF NOT EXISTS notices (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    path     TEXT NOT NULL,
    body     TEXT NOT NULL,
    created  TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error    TEXT
);
"""


class ProductionLink:
    """Master data, orders and lots for one line, kept in a SQLite file; a thread syncs."""

    def __init__(
        self,
        path: Path,
        client: AuthorityClient,
        *,
        units_per_case: int,
        cases_per_pallet: int,
        poll_s: float = 10.0,
        reserve_days: int = 2,
        reserve_per_period: int = 3,
        templates: dict[str, tuple[str, str, str]] | None = None,
    ) -> None:
        self.client = client
        self._hierarchy = (units_per_case, cases_per_pallet)
        # GTIN -> the (unit, case, pallet) label templates this line is set up to print
        self._templates = templates or {}
        self._poll_s = poll_s
        self._reserve = (reserve_days, reserve_per_period)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        # one sync at a time (the thread, sync_now): a queued notice is sent once
        self._syncing = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_alarm: Callable[[str | None], None] | None = None
        self.reachable = False
        self.last_sync: str | None = None
        self.last_error: str | None = None
        self.refused_notices = 0

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, on_alarm: Callable[[str | None], None] | None = None) -> None:
        self._on_alarm = on_alarm
        self._thread = threading.Thread(target=self._run, name="edge-production", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            self._conn.close()

    def sync_now(self, timeout: float = 10.0) -> bool:
        """Sync once on the caller's thread (start-up, tests); True if the server answered."""
        with self._syncing:
            return self._sync()

    # -- what the agent asks ----------------------------------------------------------------

    def product(self, gtin: str) -> dict[str, Any] | None:
        row = self._one("SELECT body FROM products WHERE gtin = ?", (gtin,))
        return None if row is None else dict(json.loads(row[0]))

    def products(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._all("SELECT body FROM products ORDER BY gtin", ())]

    def orders(self) -> list[dict[str, Any]]:
        """The orders released to the line (the HMI's list)."""
        rows = self._all("SELECT body FROM orders ORDER BY id", ())
        return [o for o in (json.loads(r[0]) for r in rows) if o["state"] == "released"]

    def order(self, order_id: int) -> dict[str, Any]:
        row = self._one("SELECT body FROM orders WHERE id = ?", (order_id,))
        if row is None:
            raise PayloadError(f"order: no order {order_id} is released to this line")
        body: dict[str, Any] = json.loads(row[0])
        if body["state"] != "released":
            raise BatchStateError(f"order {body['number']!r} is {body['state']}, not released")
        return body

    def from_order(self, order_id: int, operator: str) -> BatchStart:
        """What the operator's confirmation of an order starts."""
        order = self.order(order_id)
        materials = tuple(
            MaterialLot(
                m["gtin"], m["lot"], m["company_prefix_length"], m.get("quantity"), m.get("uom")
            )
            for m in order["materials"]
        )
        return BatchStart(
            gtin=order["gtin"],
            lot=order["lot"],
            expiry=order["expiry"],
            planned=int(order["planned"]),
            materials=materials,
            order_id=order_id,
            operator=operator,
            manufacturing_date=order["manufacturing_date"],
        )

    def prepare(self, request: BatchStart, *, lot_taken: Callable[[str, str], bool]) -> BatchStart:
        """The batch start with its product checked, its expiry computed (or its override
        justified) and its lot taken by rule or claimed; PayloadError / BatchStateError
        saying why not. ``lot_taken(gtin, lot)``: the line's own records."""
        try:
            gtin = gs1.Gtin.parse(request.gtin).value
        except gs1.Gs1Error as exc:
            raise PayloadError(str(exc)) from None
        product = self.product(gtin)
        if product is None or not product.get("active", True):
            raise PayloadError(
                f"gtin: expected a product of the master data this line has from the server "
                f"(last sync {self.last_sync or 'never'}), got {gtin}"
                + ("" if product is None else " (inactive)")
            )
        hierarchy = (product["units_per_case"], product["cases_per_pallet"])
        if hierarchy != self._hierarchy:
            raise BatchStateError(
                f"gtin: product {gtin} packs {hierarchy[0]} units per case and {hierarchy[1]} "
                f"cases per pallet; this line is set up for {self._hierarchy[0]} and "
                f"{self._hierarchy[1]} ([packing])"
            )
        mine = self._templates.get(gtin)
        wanted = tuple(product.get(f"{level}_template") for level in ("unit", "case", "pallet"))
        if mine is not None and None not in wanted and wanted != mine:
            raise BatchStateError(
                f"gtin: product {gtin} is labelled with templates {', '.join(map(str, wanted))} "
                f"(unit, case, pallet) in the master data; this line prints "
                f"{', '.join(mine)} ([[products]] unit_template, case_template, pallet_template)"
            )
        if request.order_id is not None:  # the server checked the order's lot and expiry
            return replace(request, gtin=gtin)
        made = _manufacturing_date(request.manufacturing_date)
        computed = compute_expiry(
            made,
            ShelfLife(product["shelf_life_months"], product["shelf_life_days"]),
            ExpiryRule(product["expiry_rule"]),
        ).yymmdd()
        expiry = request.expiry or computed
        if expiry != computed and not request.expiry_reason:
            raise PayloadError(
                f"expiry: computed {computed} from manufacturing date {made.isoformat()} and "
                f"the product's shelf life; {expiry} needs expiry_reason"
            )
        if expiry != computed:
            log.warning(
                "expiry override for GTIN %s: computed %s, given %s; reason: %s",
                gtin, computed, expiry, request.expiry_reason,
            )  # fmt: skip
        lot = request.lot or self._lot_by_rule(gtin, made)
        if request.lot:
            if lot_taken(gtin, lot):
                raise BatchStateError(f"lot: {lot!r} was already run for GTIN {gtin} on this line")
            self._claim(gtin, lot, request.source)
        return replace(
            request,
            gtin=gtin,
            lot=lot,
            expiry=expiry,
            expiry_computed=computed,
            manufacturing_date=made.isoformat(),
        )

    def started(self, batch: Batch, request: BatchStart) -> None:
        if request.order_id is None:
            self._expiry_override(batch, request)
            return
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO order_batches (gtin, lot, order_id) VALUES (?, ?, ?)",
                (batch.gtin, batch.lot, request.order_id),
            )
            self._queue(conn, f"/production/orders/{request.order_id}/started",
                        {"operator": request.operator or "operator"})  # fmt: skip
            self._set_state(conn, request.order_id, "started")
        self._wake.set()

    def _expiry_override(self, batch: Batch, request: BatchStart) -> None:
        """Another expiry than the computed one goes to the server's audit trail (the
        batch's history) with the operator's reason; queued until the server takes it."""
        computed = request.expiry_computed  # prepare() sets it and the manufacturing date
        if computed is None or batch.expiry == computed or not request.expiry_reason:
            return
        body = {
            "gtin": batch.gtin,
            "lot": batch.lot,
            "expiry": batch.expiry,
            "expiry_computed": computed,
            "manufacturing_date": request.manufacturing_date,
            "reason": request.expiry_reason,
        }
        with self._transaction() as conn:
            self._queue(conn, "/production/expiry-overrides", body)
        self._wake.set()

    def closed(self, batch: Batch, reconciliation: dict[str, Any]) -> None:
        row = self._one(
            "SELECT order_id FROM order_batches WHERE gtin = ? AND lot = ?", (batch.gtin, batch.lot)
        )
        if row is None:
            return
        with self._transaction() as conn:
            self._queue(
                conn, f"/production/orders/{row[0]}/closed", {"reconciliation": reconciliation}
            )
            self._set_state(conn, int(row[0]), "closed")
        self._wake.set()

    def status(self) -> dict[str, Any]:
        return {
            "server": self.client.url,
            "reachable": self.reachable,
            "last_sync": self.last_sync,
            "last_error": self.last_error,
            "products": len(self.products()),
            "orders": len(self.orders()),
            "lot_reserve": self._reserve_count(),
            "notices_waiting": self._one("SELECT count(*) FROM notices", ())[0],
            "refused_notices": self.refused_notices,
        }

    # -- lots -------------------------------------------------------------------------------

    def _lot_by_rule(self, gtin: str, made: date) -> str:
        try:
            answer = self.client.post(
                "/production/lots", {"gtin": gtin, "manufacturing_date": made.isoformat()}
            )
            return str(answer["lot"])
        except AuthorityUnreachable as exc:
            self._failed(str(exc))
            return self._from_reserve(gtin)
        except AuthorityError as exc:
            raise BatchStateError(f"lot: the server gives no lot by rule: {exc}") from None

    def _from_reserve(self, gtin: str) -> str:
        row = self._one("SELECT body FROM lot_rule WHERE id = 1", ())
        if row is None:
            raise BatchStateError(
                "lot: no lot by rule: the server is unreachable and this line has no offline "
                "reserve yet"
            )
        rule = json.loads(row[0])
        pattern = LotPattern(
            rule["pattern"], rule["site_code"], rule["line_code"], parse_shifts(rule["shifts"])
        )
        now = datetime.now(ZoneInfo(rule["timezone"])).replace(tzinfo=None)
        period = pattern.period(now)
        with self._transaction() as conn:
            found = conn.execute(
                "SELECT lot FROM lot_reserve WHERE period = ? AND used_gtin IS NULL "
                "ORDER BY lot LIMIT 1",
                (period,),
            ).fetchone()
            if found is None:
                raise BatchStateError(
                    f"lot: no lot by rule: the server is unreachable and the offline reserve "
                    f"has none left for {period}"
                )
            conn.execute(
                "UPDATE lot_reserve SET used_gtin = ?, used_at = ? WHERE lot = ?",
                (gtin, _now(), found[0]),
            )
            self._queue(
                conn, "/production/lots/claim", {"gtin": gtin, "lot": found[0], "source": "rule"}
            )
        log.warning("lot %s for GTIN %s taken from the offline reserve", found[0], gtin)
        return str(found[0])

    def _claim(self, gtin: str, lot: str, source: str) -> None:
        body = {"gtin": gtin, "lot": lot, "source": source}
        try:
            self.client.post("/production/lots/claim", body)
        except AuthorityUnreachable as exc:
            self._failed(str(exc))
            with self._transaction() as conn:
                self._queue(conn, "/production/lots/claim", body)
        except AuthorityError as exc:
            if exc.status == 409:
                raise BatchStateError(str(exc).split(": ", 2)[-1]) from None
            raise BatchStateError(f"lot: the server refused it: {exc}") from None

    def _reserve_count(self) -> int:
        row = self._one("SELECT count(*) FROM lot_reserve WHERE used_gtin IS NULL", ())
        return int(row[0])

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._syncing:
                    self._sync()
            except Exception as exc:  # one bad answer must not end the link
                log.exception("production link: unexpected failure")
                self._failed(repr(exc))
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def _sync(self) -> bool:
        try:
            self._send_notices()
            products = self.client.get("/production/products?active=true")
            orders = self.client.get("/production/line/orders")
            days, per_period = self._reserve
            reserve = self.client.post(
                "/production/lots/reserve", {"days": days, "per_period": per_period}
            )
        except AuthorityUnreachable as exc:
            self._failed(str(exc))
            return False
        except AuthorityError as exc:
            if exc.status in (404, 422):  # e.g. no lot rule for the line yet: products still
                reserve = None
                try:
                    products = self.client.get("/production/products?active=true")
                    orders = self.client.get("/production/line/orders")
                except AuthorityError as again:
                    self._failed(str(again))
                    return False
                self.last_error = str(exc)
            else:
                self._failed(str(exc))
                return False
        now = _now()
        with self._transaction() as conn:
            conn.execute("DELETE FROM products")
            conn.executemany(
                "INSERT INTO products (gtin, body, synced_at) VALUES (?, ?, ?)",
                [(p["gtin"], json.dumps(p), now) for p in products],
            )
            conn.execute("DELETE FROM orders WHERE id NOT IN (SELECT order_id FROM order_batches)")
            conn.executemany(
                "INSERT OR REPLACE INTO orders (id, body, synced_at) VALUES (?, ?, ?)",
                [(o["id"], json.dumps(o), now) for o in orders
                 if not self._mapped(conn, int(o["id"]))],
            )  # fmt: skip
            if reserve is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO lot_rule (id, body) VALUES (1, ?)",
                    (json.dumps(reserve["rule"]),),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO lot_reserve (lot, period) VALUES (?, ?)",
                    [(r["lot"], r["period"]) for r in reserve["lots"]],
                )
        self.reachable = True
        self.last_sync = now
        if reserve is not None:
            self.last_error = None
        self._alarm(None)
        return True

    def _send_notices(self) -> None:
        for notice_id, path, body in self._all(
            "SELECT id, path, body FROM notices ORDER BY id LIMIT 100", ()
        ):
            try:
                self.client.post(path, json.loads(body))
            except AuthorityUnreachable:
                raise
            except AuthorityError as exc:
                # refused for good (e.g. a lot used elsewhere meanwhile): on record, alarmed
                self.refused_notices += 1
                log.error("production link: %s refused: %s", path, exc)
                self._alarm(f"the server refused {path}: {exc}")
            with self._transaction() as conn:
                conn.execute("DELETE FROM notices WHERE id = ?", (notice_id,))

    def _failed(self, error: str) -> None:
        self.reachable = False
        self.last_error = error
        log.warning("production link: %s", error)

    def _alarm(self, text: str | None) -> None:
        if self._on_alarm is not None and (text is not None or self.refused_notices == 0):
            self._on_alarm(text)

    # -- plumbing ---------------------------------------------------------------------------

    def _mapped(self, conn: sqlite3.Connection, order_id: int) -> bool:
        return (
            conn.execute("SELECT 1 FROM order_batches WHERE order_id = ?", (order_id,)).fetchone()
            is not None
        )

    def _set_state(self, conn: sqlite3.Connection, order_id: int, state: str) -> None:
        row = conn.execute("SELECT body FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is not None:
            body = json.loads(row[0]) | {"state": state}
            conn.execute("UPDATE orders SET body = ? WHERE id = ?", (json.dumps(body), order_id))

    def _queue(self, conn: sqlite3.Connection, path: str, body: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO notices (path, body, created) VALUES (?, ?, ?)",
            (path, json.dumps(body), _now()),
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()


def _manufacturing_date(text: str | None) -> date:
    if not text:
        return datetime.now().date()  # the line's own clock
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"manufacturing_date: expected YYYY-MM-DD, got {text!r}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
