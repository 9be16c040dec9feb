"""The complaints dashboard: SLA attainment, open by age, satisfaction, rates by product
and batch, and the same over time (week by week) for the charts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select

from server.qa.sla import QaSettings, resolution_clock, response_clock
from server.qa.tables import qa_complaints
from server.store.schema import batch_lines, batches, units


@dataclass(frozen=True)
class BatchRate:
    gtin: str
    lot: str
    complaints: int
    units: int
    per_10k_units: float
    flagged: bool


@dataclass(frozen=True)
class Period:
    """One week (Monday 00:00 UTC on): complaints received, the share of the first-response
    and resolution clocks that fell due that week and were met, and complaints per 10,000
    units commissioned up to the end of the week."""

    start: str  # YYYY-MM-DD, the Monday
    received: int
    response_attainment: float | None
    resolution_attainment: float | None
    per_10k_units: float | None


WEEKS = 12


@dataclass(frozen=True)
class Dashboard:
    total: int
    open: int
    response_attainment: float | None  # share of due/answered complaints answered in time
    resolution_attainment: float | None
    at_risk: list[int]  # complaint ids with a clock at risk
    breached: list[int]  # open complaint ids with a breached clock
    open_by_age: dict[str, int]
    satisfaction: float | None  # share of ratings 4 or 5
    satisfaction_target: float
    satisfaction_met: bool | None
    by_product: dict[str, int]
    by_batch: list[BatchRate]
    by_category: dict[str, int]
    over_time: list[Period] = field(default_factory=list)  # the last WEEKS weeks, oldest first


def dashboard(conn: Connection, settings: QaSettings, now: datetime) -> Dashboard:
    policy = settings.policy()
    rows = conn.execute(select(qa_complaints)).all()
    response_due = response_met = resolution_due = resolution_met = 0
    at_risk, breached = [], []
    ages = {"under 24 h": 0, "24 to 48 h": 0, "over 48 h": 0}
    open_count = 0
    ratings = []
    by_category: dict[str, int] = {}
    first_week = _monday(now) - timedelta(weeks=WEEKS - 1)
    weeks = [first_week + timedelta(weeks=n) for n in range(WEEKS)]
    received = dict.fromkeys(weeks, 0)
    due: dict[tuple[datetime, str], list[int]] = {}
    for row in rows:
        response = response_clock(policy, row.received_at, row.acknowledged_at, now)
        resolution = resolution_clock(policy, row.received_at, row.resolved_at, now)
        week = _monday(row.received_at)
        if week in received:
            received[week] += 1
            for clock, kind in ((response, "response"), (resolution, "resolution")):
                if clock.state.value in ("met", "breached"):
                    tally = due.setdefault((week, kind), [0, 0])
                    tally[0] += 1
                    tally[1] += clock.state.value == "met"
        for clock, kind in ((response, "response"), (resolution, "resolution")):
            if clock.state.value in ("met", "breached"):
                if kind == "response":
                    response_due += 1
                    response_met += clock.state.value == "met"
                else:
                    resolution_due += 1
                    resolution_met += clock.state.value == "met"
        states = {response.state.value, resolution.state.value}
        is_open = row.status not in ("resolved", "closed")
        if is_open:
            open_count += 1
            age = (now - row.received_at).total_seconds() / 3600
            ages["under 24 h" if age < 24 else "24 to 48 h" if age < 48 else "over 48 h"] += 1
            if "breached" in states and (row.acknowledged_at is None or row.resolved_at is None):
                breached.append(row.id)
            elif "at_risk" in states:
                at_risk.append(row.id)
        if row.satisfaction is not None:
            ratings.append(row.satisfaction)
        key = row.category or "uncategorised"
        by_category[key] = by_category.get(key, 0) + 1
    satisfaction = None if not ratings else sum(1 for r in ratings if r >= 4) / len(ratings)
    return Dashboard(
        total=len(rows),
        open=open_count,
        response_attainment=None if not response_due else response_met / response_due,
        resolution_attainment=None if not resolution_due else resolution_met / resolution_due,
        at_risk=sorted(at_risk),
        breached=sorted(breached),
        open_by_age=ages,
        satisfaction=satisfaction,
        satisfaction_target=settings.satisfaction_target,
        satisfaction_met=None
        if satisfaction is None
        else satisfaction >= settings.satisfaction_target,
        by_product=_by_product(conn),
        by_batch=batch_rates(conn, settings),
        by_category=by_category,
        over_time=_periods(conn, weeks, received, due),
    )


def _monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _share(tally: list[int] | None) -> float | None:
    return None if not tally else round(tally[1] / tally[0], 4)


def _periods(
    conn: Connection,
    weeks: list[datetime],
    received: dict[datetime, int],
    due: dict[tuple[datetime, str], list[int]],
) -> list[Period]:
    """Week by week; units commissioned to date from ``batch_lines`` (one row per batch and
    line, so this stays cheap on a store of millions of units)."""
    lines = conn.execute(select(batch_lines.c.first_at, batch_lines.c.commissioned)).all()
    out = []
    for week in weeks:
        end = week + timedelta(weeks=1)
        made = sum(int(count) for first_at, count in lines if first_at < end)
        out.append(
            Period(
                start=week.date().isoformat(),
                received=received[week],
                response_attainment=_share(due.get((week, "response"))),
                resolution_attainment=_share(due.get((week, "resolution"))),
                per_10k_units=round(10_000 * received[week] / made, 3) if made else None,
            )
        )
    return out


def _by_product(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(func.coalesce(qa_complaints.c.gtin, batches.c.gtin), func.count())
        .select_from(qa_complaints.outerjoin(batches, batches.c.id == qa_complaints.c.batch_id))
        .group_by(func.coalesce(qa_complaints.c.gtin, batches.c.gtin))
    )
    return {(gtin or "unidentified"): int(count) for gtin, count in rows}


def batch_rates(conn: Connection, settings: QaSettings) -> list[BatchRate]:
    """Complaints per 10,000 units for every batch of a product that has complaints; a batch
    is flagged when it has at least ``batch_flag_min_complaints`` and its rate exceeds
    ``batch_flag_factor`` times the median rate of the product's batches."""
    complaint_counts: dict[int, int] = dict(
        conn.execute(
            select(qa_complaints.c.batch_id, func.count())
            .where(qa_complaints.c.batch_id.is_not(None))
            .group_by(qa_complaints.c.batch_id)
        ).all()
    )
    if not complaint_counts:
        return []
    gtins = list(
        conn.execute(
            select(batches.c.gtin).where(batches.c.id.in_(list(complaint_counts))).distinct()
        ).scalars()
    )
    unit_counts = conn.execute(
        select(batches.c.id, batches.c.gtin, batches.c.lot, func.count(units.c.id))
        .select_from(batches.outerjoin(units, units.c.batch_id == batches.c.id))
        .where(batches.c.gtin.in_(gtins))
        .group_by(batches.c.id, batches.c.gtin, batches.c.lot)
    ).all()
    rates: dict[str, list[float]] = {}
    entries = []
    for batch_id, gtin, lot, unit_count in unit_counts:
        complaints = int(complaint_counts.get(batch_id, 0))
        rate = 10_000 * complaints / unit_count if unit_count else float(complaints)
        rates.setdefault(gtin, []).append(rate)
        entries.append((gtin, lot, complaints, int(unit_count), rate))
    out = []
    for gtin, lot, complaints, unit_count, rate in entries:
        if complaints == 0:
            continue
        median = statistics.median(rates[gtin])
        flagged = complaints >= settings.batch_flag_min_complaints and (
            rate > settings.batch_flag_factor * median
        )
        out.append(BatchRate(gtin, lot, complaints, unit_count, round(rate, 3), flagged))
    return sorted(out, key=lambda item: (-item.per_10k_units, item.gtin, item.lot))
