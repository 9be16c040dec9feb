"""Reports: drill report (HTML via jinja2, PDF via reportlab) and the recall's customer
notification list (CSV and PDF). Pure functions of the result values."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from reportlab.lib.styles import StyleSheet1
    from reportlab.platypus import Paragraph, Table, TableStyle
    from reportlab.platypus.flowables import Flowable

    from server.qa.drills import DrillResult
    from server.qa.recalls import RecallStatus

_env = Environment(
    loader=PackageLoader("server.qa", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# reportlab is imported by the first PDF, not by the server at start.
@cache
def _styles() -> StyleSheet1:
    from reportlab.lib.styles import getSampleStyleSheet

    return getSampleStyleSheet()


@cache
def _grid() -> TableStyle:
    from reportlab.lib import colors
    from reportlab.platypus import TableStyle

    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )


def drill_html(drill: DrillResult) -> str:
    return _env.get_template("drill.html").render(drill=asdict(drill) | {"id": drill.id})


def _p(text: str) -> Paragraph:
    from reportlab.platypus import Paragraph

    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped, _styles()["BodyText"])


def _table(header: list[str], rows: list[list[Any]]) -> Table:
    from reportlab.platypus import Table

    data = [header, *([_p(str(cell)) for cell in row] for row in rows)]
    table = Table(data, repeatRows=1)
    table.setStyle(_grid())
    return table


def _pdf(title: str, story: list[Flowable]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=title, author="serialtrace")
    doc.build(
        [Paragraph(title.replace("&", "&amp;").replace("<", "&lt;"), _styles()["Title"]), *story]
    )
    return out.getvalue()


def drill_pdf(drill: DrillResult) -> bytes:
    from reportlab.platypus import Spacer

    verdict = "complete: 100 % traceable" if drill.complete else "gaps found"
    story: list[Flowable] = [
        _p(
            f"Batch (01){drill.gtin}(10){drill.lot} ({drill.status}), run by {drill.run_by} "
            f"at {drill.started_at}. Result: {verdict}; total {drill.seconds:.3f} s."
        ),
        Spacer(0, 8),
        _table(["phase", "seconds"], [[k, f"{v:.3f}"] for k, v in drill.timings.items()]),
        Spacer(0, 8),
        _table(["what", "count"], [[k.replace("_", " "), v] for k, v in drill.counts.items()]),
        Spacer(0, 8),
        _p("Gaps: " + ("; ".join(drill.gaps) if drill.gaps else "none")),
        Spacer(0, 8),
        _table(
            ["material", "supplier", "supplier lot", "received"],
            [
                [m["material"], m["supplier"], m["supplier_lot"], m["received_at"]]
                for m in drill.material_lots
            ],
        ),
        Spacer(0, 8),
        _table(
            ["shipped", "customer", "destination", "units"],
            [
                [s["shipped_at"], s["customer"] or "", s["destination"] or "", s["units"]]
                for s in drill.shipments
            ],
        ),
    ]
    return _pdf(f"Mock-recall drill {drill.id or ''}".strip(), story)


NOTIFICATION_COLUMNS = [
    "customer",
    "destination",
    "shipment",
    "shipped_at",
    "biz_transaction",
    "ssccs",
    "units",
    "returned",
]


def notification_rows(recall: RecallStatus) -> list[list[Any]]:
    return [
        [
            line.customer or "",
            line.destination or "",
            line.shipment_id,
            line.shipped_at.isoformat(),
            line.biz_transaction or "",
            " ".join(line.ssccs),
            line.units,
            line.returned,
        ]
        for line in recall.customers
    ]


def notification_csv(recall: RecallStatus) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NOTIFICATION_COLUMNS)
    for row in notification_rows(recall):
        writer.writerow([_csv_safe(cell) for cell in row])
    return out.getvalue()


def _csv_safe(cell: Any) -> Any:
    """Neutralise spreadsheet formulas in text that came from outside (CSV injection)."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@"):
        return "'" + cell
    return cell


def notification_pdf(recall: RecallStatus) -> bytes:
    from reportlab.platypus import Spacer

    effectiveness = "n/a" if recall.effectiveness is None else f"{100 * recall.effectiveness:.1f} %"
    story: list[Flowable] = [
        _p(
            f"Class {recall.recall_class} recall opened {recall.opened_at.isoformat()} by "
            f"{recall.opened_by}. Reason: {recall.reason}"
        ),
        _p("Batches: " + ", ".join(recall.scope.get("batches", []))),
        _p(
            f"Units {recall.units}, shipped {recall.shipped_units}, returned "
            f"{recall.returned_shipped_units} of shipped (effectiveness {effectiveness})."
        ),
        Spacer(0, 8),
        _table(NOTIFICATION_COLUMNS, notification_rows(recall)),
    ]
    return _pdf(f"Recall {recall.id}: customer notification list", story)
