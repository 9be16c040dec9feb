"""The demo's final printout: the reconciliation, the gate, the trace server's view, the
shipments, one unit's trace, the URLs and this run's passwords."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from serialtrace.demo.options import DEMO_USERS, Credentials
from serialtrace.demo.story import Summary


def print_report(console: Console, summary: Summary, credentials: Credentials, data: Path) -> None:
    rec = summary.reconciliation
    table = Table(title=f"Batch {summary.batch.get('lot')} reconciliation", show_header=False)
    for key in ("printed", "commissioned", "rejected", "sampled", "scrapped"):
        table.add_row(key, str(rec.get(key, "")))
    table.add_row("balanced", str(rec.get("balanced", "")))
    console.print(table)
    gate = summary.gate
    console.print(
        f"PLC reject gate: {gate.get('passed', 0)} passed, {gate.get('rejected', 0)} "
        f"rejected, {gate.get('no_verdict', 0)} without a verdict"
    )
    console.print(
        "Units at the line by final state: " + json.dumps(summary.unit_states, sort_keys=True)
    )
    console.print(
        "Trace server batch: " + json.dumps(summary.server_batch.get("counts", {}), sort_keys=True)
    )
    for shipment in summary.shipments:
        console.print(f"Shipped {len(shipment['pallets'])} pallet(s) to {shipment['customer']}")
    if not summary.shipments:
        console.print("Nothing shipped: no pallet of commissioned units.")
    console.rule("One unit's trace")
    if summary.unit_trace is None:
        console.print("No unit stayed commissioned, so there is no unit to trace.")
    else:
        console.print_json(data=_trace_digest(summary.unit_trace))
    console.rule()
    for name, url in summary.urls.items():
        console.print(f"{name.replace('_', ' ')}: {url}")
    console.print(login_lines(credentials))
    console.print(f"Batch done in {summary.seconds:.1f} s; data in {data}")


def login_lines(credentials: Credentials) -> str:
    """This run's logins (made up per run): one line per user."""
    lines = ["This run's logins (new passwords every run):"]
    where = {"qa": "QA web UI", "operator": "operator HMI and production records", "admin": "IT"}
    for role, (name, _full_name) in DEMO_USERS.items():
        lines.append(f"  {where[role]}: {name} / {credentials.passwords[role]}")
    return "\n".join(lines)


def _trace_digest(trace: dict[str, Any]) -> dict[str, Any]:
    """The unit trace without its full event history (that is in the web UI)."""
    digest = {k: v for k, v in trace.items() if k != "events"}
    events = trace.get("events") or []
    digest["events"] = [
        {k: e.get(k) for k in ("event_time", "event_type", "action", "biz_step") if k in e}
        for e in events
    ]
    return digest
