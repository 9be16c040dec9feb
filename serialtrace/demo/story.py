"""The demo's story: one batch, from QA's order to the shipped pallets.

The PLC triggers ``units`` units at ``ppm``; the agent serializes, prints, verifies,
commissions or rejects, aggregates cases and pallets, and publishes every step; the batch is
stopped and closed (reconciled); production and QA record and release it at the trace server;
the pallets are shipped to a few customers through the trace server's API.

Every wait is bounded by the run's overall :class:`~serialtrace.demo.options.Deadline` and
names what it waited for when it gives up. Any mix of unit outcomes finishes: a unit counts
as done once it left flight, whatever its final state (commissioned, rejected, sampled,
scrapped, voided, or decommissioned when the gate rejected it after it was commissioned).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from edge.batch import IN_FLIGHT
from serialtrace.demo.options import COMPANY_PREFIX, CUSTOMERS, GTIN, LINE, RAW_MATERIALS, SITE
from serialtrace.demo.stack import Stack, ok

# Agent unit states of units that were commissioned at some point (the trace server holds
# each of them, whatever became of it).
EVER_COMMISSIONED = ("commissioned", "sampled", "decommissioned")


@dataclass
class Summary:
    """What the demo reports at the end (also returned to the caller and the tests)."""

    batch: dict[str, Any]
    reconciliation: dict[str, Any]
    server_batch: dict[str, Any]
    shipments: list[dict[str, Any]]
    unit_trace: dict[str, Any] | None  # None when no unit stayed commissioned
    gate: dict[str, int]
    unit_states: dict[str, int]
    seconds: float
    urls: dict[str, str] = field(default_factory=dict)


class Story:
    """Runs the batch on a started :class:`Stack`."""

    def __init__(self, stack: Stack) -> None:
        assert stack.line is not None and stack.agent is not None, "start the stack first"
        self.stack = stack
        self.options = stack.options
        self.console = stack.console
        self.deadline = stack.deadline
        self.line = stack.line
        self.agent = stack.agent
        self.edge = stack.client("edge")
        self.admin = stack.client("admin")
        self.qa = stack.client("qa")
        self.production = stack.client("operator")

    def run(self) -> Summary:
        started = time.monotonic()
        batch_started = datetime.now(UTC)
        self._master_data()
        lot = self._start_from_order()
        self.line.conveyor.run(self.options.units)
        self._watch(self.options.units)
        self._wait(lambda: self.line.conveyor.wait_done(0.2), "the last units to reach the gate")
        self._wait(self._settled, "every unit at the agent to leave flight")
        ok(self.edge.post("/batch/stop", json={"reason": "planned quantity reached"}), "stop")
        closed = ok(self.edge.post("/batch/close"), "close the batch")
        self._wait(lambda: self._outbox_depth() == 0, "the edge outbox to drain")
        counts = closed["reconciliation"]
        states = self._unit_states()
        expected = sum(states.get(state, 0) for state in EVER_COMMISSIONED)
        self._wait(
            lambda: sum(self._server_batch(lot).get("counts", {}).values()) >= expected,
            f"the trace server to ingest the {expected} unit(s) commissioned in lot {lot}",
        )
        self._release(lot, counts, states, started_at=batch_started)
        shipments = self._ship(lot)
        server_batch = self._server_batch(lot)
        unit = self._one_commissioned_serial()
        trace = ok(self.admin.get(f"/units/{GTIN}/{unit}"), "trace a unit") if unit else None
        return Summary(
            batch=closed["batch"],
            reconciliation=counts,
            server_batch=server_batch,
            shipments=shipments,
            unit_trace=trace,
            gate=self.line.conveyor.counts(),
            unit_states=states,
            seconds=time.monotonic() - started,
            urls={
                "qa_web_ui": f"{self.stack.server_url}/ui/",
                "operator_hmi": f"{self.stack.hmi_url}/hmi/",
                "api_docs": f"{self.stack.server_url}/docs",
            },
        )

    # -- steps --------------------------------------------------------------------------------

    def _master_data(self) -> None:
        """QA's product master data and the line's lot rule (the order takes its lot by it;
        the rule carries the run's code, so no two runs share a lot)."""
        product = {
            "company_prefix_length": 7,
            "name": "Paracetamol",
            "strength": "500 mg, 20 tablets",
            "markets": ["DE"],
            "shelf_life_months": 24,
            "expiry_rule": "end_of_month",
            "units_per_case": self.options.units_per_case,
            "cases_per_pallet": self.options.cases_per_pallet,
            "reason": "demo product",
        }
        ok(self.qa.put(f"/production/products/{GTIN}", json=product), "record the product")
        rule = {**self.stack.credentials.lot_rule, "reason": "demo line's lot rule"}
        ok(self.qa.put(f"/production/lot-rules/{SITE}/{LINE}", json=rule), "set the lot rule")

    def _start_from_order(self) -> str:
        """QA's batch order, lot by rule and expiry computed, released to the line; the
        operator confirms it on the line. Returns the lot."""
        order = ok(
            self.qa.post(
                "/production/orders",
                json={
                    "gtin": GTIN,
                    "planned": self.options.units,
                    "materials": list(RAW_MATERIALS),
                    "site": SITE,
                    "line": LINE,
                    "release": True,
                },
            ),
            "create the batch order",
        )
        self._wait(
            lambda: any(
                o["id"] == order["id"] for o in ok(self.edge.get("/orders"), "orders")["orders"]
            ),
            f"the line to see order {order['number']}",
        )
        started = ok(
            self.edge.post(f"/orders/{order['id']}/confirm", json={"operator": "Demo operator"}),
            "confirm the order on the line",
        )
        self.console.log(
            f"order {order['number']}: lot {order['lot']} by rule, expiry {order['expiry']} "
            "from the shelf life; confirmed on the line"
        )
        return str(started["batch"]["lot"])

    def _watch(self, units: int) -> None:
        """Live progress until every triggered unit has a final state at the agent."""
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        )
        begin = time.monotonic()
        done = 0
        with Progress(*columns, console=self.console) as progress:
            bar = progress.add_task("units", total=units, detail="")
            outbox = progress.add_task("outbox", total=None, detail="")
            while True:
                status = ok(self.edge.get("/status"), "read the line status")
                counts = status.get("counts") or {}
                done = _done(counts)
                minutes = max(time.monotonic() - begin, 1e-6) / 60
                progress.update(
                    bar,
                    completed=done,
                    detail=f"{done / minutes:5.0f}/min  commissioned "
                    f"{counts.get('commissioned', 0)}  rejected {counts.get('rejected', 0)}  "
                    f"decommissioned {counts.get('decommissioned', 0)}  "
                    f"cases {status.get('packer', {}).get('packed_cases', 0)}",
                )
                depth = status.get("outbox", {}).get("depth", 0)
                progress.update(outbox, detail=f"depth {depth}")
                if done >= units or (self.line.conveyor.wait_done(0.05) and done >= self._gate()):
                    return
                if self.deadline.expired():
                    raise self.deadline.fail(
                        f"the line to finish the batch's units ({done} of {units} done, "
                        f"{self._gate()} triggered; unit states {_states(counts)})"
                    )
                time.sleep(0.25)

    def _settled(self) -> bool:
        """No unit at the agent is still in flight (allocated, encoded)."""
        counts = ok(self.edge.get("/status"), "read the line status").get("counts") or {}
        return not any(counts.get(str(state), 0) for state in IN_FLIGHT)

    def _gate(self) -> int:
        return int(self.line.conveyor.counts().get("triggered", 0))

    def _outbox_depth(self) -> int:
        status = ok(self.edge.get("/status"), "read the line status")
        return int(status.get("outbox", {}).get("depth", 0))

    def _unit_states(self) -> dict[str, int]:
        rows = self.agent.read(
            lambda conn: conn.execute(
                "SELECT state, count(*) FROM units GROUP BY state ORDER BY state"
            ).fetchall()
        )
        return {str(state): int(count) for state, count in rows}

    def _server_batch(self, lot: str) -> dict[str, Any]:
        response = self.admin.get(f"/batches/{GTIN}/{lot}")
        if response.status_code == 404:
            return {}
        result: dict[str, Any] = ok(response, f"read batch {lot} at the trace server")
        return result

    def _pallets(self) -> list[str]:
        rows = self.agent.read(
            lambda conn: conn.execute(
                "SELECT sscc FROM containers WHERE level = 'pallet' AND sscc IS NOT NULL "
                "AND state != 'decommissioned' ORDER BY id"
            ).fetchall()
        )
        return [row[0] for row in rows]

    def _release(
        self,
        lot: str,
        counts: dict[str, Any],
        states: dict[str, int],
        *,
        started_at: datetime,
    ) -> None:
        """The batch record and its release: production (the operator) records the
        production record and the raw materials' origin, QA a QC result and then signs the
        release (password re-entered). Unreleased batches cannot ship.

        The trace server counts as commissioned every unit it was told of, decommissioned
        ones too; the line's reconciliation counts those as scrapped. So the production
        record's scrapped are the units scrapped before they were commissioned."""
        base = f"/qa/batches/{GTIN}/{lot}"
        now = datetime.now(UTC).isoformat()
        production = {
            "line": f"{SITE}/{LINE}",
            "started_at": started_at.isoformat(),
            "finished_at": now,
            "planned": self.options.units,
            "produced": counts["printed"],
            "rejected": counts["rejected"],
            "sampled": counts["sampled"],
            "scrapped": counts["scrapped"] - states.get("decommissioned", 0),
        }
        ok(self.production.put(f"{base}/production", json=production), "record the production")
        for material, supplier, lot_no in (
            ("Paracetamol (API)", "Acme Pharma Chemicals", "AC-77812"),
            ("Microcrystalline cellulose", "Excipia GmbH", "EX-20931"),
        ):
            body = {
                "material": material,
                "supplier": supplier,
                "supplier_lot": lot_no,
                "received_at": started_at.isoformat(),
            }
            ok(self.production.post(f"{base}/materials", json=body), "record a raw material")
        inspection = {
            "test": "Serialization and label verification",
            "specification": "100 % of commissioned units verified by the line camera",
            "result": f"{counts['commissioned']} verified, {counts['rejected']} rejected",
            "passed": True,
            "tested_at": now,
        }
        ok(self.qa.post(f"{base}/inspections", json=inspection), "record the QC result")
        signature = {
            "status": "released",
            "password": self.stack.credentials.passwords["qa"],
            "reason": "Batch record reviewed; released for sale",
        }
        ok(self.qa.post(f"{base}/status", json=signature), "release the batch")

    def _ship(self, lot: str) -> list[dict[str, Any]]:
        shipments = []
        pallets = self._pallets()
        for index, (name, gln) in enumerate(CUSTOMERS):
            share = pallets[index :: len(CUSTOMERS)]
            if not share:
                continue
            body = {
                "ssccs": share,
                "destination": f"urn:epc:id:sgln:{COMPANY_PREFIX}.{gln[7:12]}.0",
                "customer": f"urn:epc:id:pgln:{COMPANY_PREFIX}.{gln[7:12]}",
                "biz_transaction": f"urn:epcglobal:cbv:bt:{gln}:DESADV-{lot}-{index + 1}",
                "reason": f"demo shipment to {name}",
            }
            created = ok(self.admin.post("/shipments", json=body), f"ship to {name}")
            shipments.append({"customer": name, "pallets": share, "event_id": created["event_id"]})
        return shipments

    def _one_commissioned_serial(self) -> str | None:
        row = self.agent.read(
            lambda conn: conn.execute(
                "SELECT serial FROM units WHERE state = 'commissioned' ORDER BY id LIMIT 1"
            ).fetchone()
        )
        return None if row is None else str(row[0])

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds, within the run's overall deadline."""
        with self.console.status(f"waiting for {what}"):
            while not condition():
                if self.deadline.expired():
                    raise self.deadline.fail(what)
                time.sleep(0.2)


def _done(counts: dict[str, int]) -> int:
    """Units that left flight, whatever their outcome (a commissioned unit the gate rejected
    anyway ends "decommissioned", not "scrapped")."""
    return sum(n for state, n in counts.items() if state not in IN_FLIGHT)


def _states(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "none"
