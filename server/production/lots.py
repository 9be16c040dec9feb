"""Lot codes: rules per line, codes handed out by rule, and every lot the system knows.

One place decides every lot code: a rule's sequence (per rendering of the rest of the
pattern) is counted here under a row lock, and every lot, however it was made (by rule, typed
by an operator, sent by MES or a PLC), is recorded per GTIN in ``lots``. A lot already there
for the GTIN, or already on record at the trace server (``batches``), is refused.

Lines keep an *offline reserve*: rule lots handed out in advance for the periods (days,
shifts) ahead, recorded here with GTIN "" and the line; the line uses one when it starts a
batch by rule without a connection, and claims it for the GTIN when it is back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, and_, delete, or_, select, update

import gs1
from gs1.lots import LotPattern, parse_shifts
from server import audit
from server.production.errors import Conflict, Refused, Unknown
from server.production.tables import lot_rules, lot_sequences, lots
from server.store.dialect import insert_ignore
from server.store.schema import batches

SOURCES = ("rule", "manual", "mes", "plc", "import")


@dataclass(frozen=True)
class Rule:
    site: str
    line: str
    pattern: LotPattern
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "line": self.line,
            "pattern": self.pattern.text,
            "site_code": self.pattern.site_code,
            "line_code": self.pattern.line_code,
            "shifts": ",".join(f"{s.code}@{s.starts:%H:%M}" for s in self.pattern.shifts),
            "timezone": self.timezone,
        }


def make_rule(
    site: str, line: str, pattern: str, site_code: str, line_code: str, shifts: str, timezone: str
) -> Rule:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(
            f"timezone: expected an IANA time zone such as Europe/Berlin, got {timezone!r}"
        ) from None
    try:
        compiled = LotPattern(pattern, site_code, line_code, parse_shifts(shifts))
    except gs1.Gs1Error as exc:
        raise Refused(str(exc)) from None
    return Rule(site, line, compiled, zone.key)


def put_rule(conn: Connection, rule: Rule, *, actor: str, reason: str, now: datetime) -> None:
    old = conn.execute(
        select(lot_rules).where(lot_rules.c.site == rule.site, lot_rules.c.line == rule.line)
    ).first()
    values = {**{k: v for k, v in rule.as_dict().items()}, "updated_at": now, "updated_by": actor}
    if old is None:
        conn.execute(lot_rules.insert(), values)
    else:
        conn.execute(
            lot_rules.update()
            .where(lot_rules.c.site == rule.site, lot_rules.c.line == rule.line)
            .values(values)
        )
    audit.append(
        conn,
        actor=actor,
        action="lot_rule_set",
        entity="lot_rule",
        entity_key=f"{rule.site}/{rule.line}",
        old_value=None if old is None else _rule(old).as_dict(),
        new_value=rule.as_dict(),
        reason=reason,
        now=now,
    )


def rule_for(conn: Connection, site: str, line: str) -> Rule:
    """The line's rule, else its site's (line ``*``), else the global one (``*``/``*``)."""
    for key in ((site, line), (site, "*"), ("*", "*")):
        row = conn.execute(
            select(lot_rules).where(lot_rules.c.site == key[0], lot_rules.c.line == key[1])
        ).first()
        if row is not None:
            return _rule(row)
    raise Unknown(f"lot rule: none for line {site}/{line} (nor for its site, nor a global one)")


def rules(conn: Connection) -> list[Rule]:
    return [
        _rule(r)
        for r in conn.execute(select(lot_rules).order_by(lot_rules.c.site, lot_rules.c.line))
    ]


def _rule(row: Any) -> Rule:
    return make_rule(
        row.site, row.line, row.pattern, row.site_code, row.line_code, row.shifts, row.timezone
    )


def local_moment(rule: Rule, moment: datetime, manufacturing_date: date | None) -> datetime:
    """``moment`` on the plant's clock (naive), on the manufacturing date when given."""
    local = moment.astimezone(rule.zone).replace(tzinfo=None)
    if manufacturing_date is not None:
        local = datetime.combine(manufacturing_date, local.time())
    return local


def next_lot(
    conn: Connection,
    *,
    gtin: str,
    site: str,
    line: str,
    moment: datetime,
    actor: str,
    manufacturing_date: date | None = None,
    order_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """The line's next lot by rule at ``moment``, recorded for ``gtin`` ("": reserved for the
    line, not yet used). Codes already known for the GTIN are skipped, never reused."""
    rule = rule_for(conn, site, line)
    local = local_moment(rule, moment, manufacturing_date)
    period = rule.pattern.period(local)
    conn.execute(insert_ignore(conn, lot_sequences).values(period=period, next=1))
    query = select(lot_sequences.c.next).where(lot_sequences.c.period == period)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    sequence = int(conn.execute(query).scalar_one())
    while True:
        if sequence > rule.pattern.max_sequence:
            raise Conflict(
                f"lot rule {rule.site}/{rule.line}: every sequence number of {period!r} is used "
                f"({rule.pattern.max_sequence}); widen {{SEQ:n}} in {rule.pattern.text!r}"
            )
        lot = rule.pattern.render(local, sequence)
        sequence += 1
        if not _taken(conn, gtin, lot):
            break
    conn.execute(
        update(lot_sequences).where(lot_sequences.c.period == period).values(next=sequence)
    )
    conn.execute(
        lots.insert(),
        {
            "gtin": gtin,
            "lot": lot,
            "source": "rule",
            "site": site,
            "line": line,
            "period": period,
            "order_id": order_id,
            "reserved_at": now or moment,
            "reserved_by": actor,
        },
    )
    return lot


def _taken(conn: Connection, gtin: str, lot: str) -> bool:
    """Any record of ``lot``: for this GTIN, reserved by rule (""), or (for a reserve lot,
    gtin "") for any GTIN at all; or a batch the trace server has seen."""
    owners = select(lots.c.gtin).where(lots.c.lot == lot)
    if gtin:
        owners = owners.where(lots.c.gtin.in_([gtin, ""]))
    if conn.execute(owners.limit(1)).first() is not None:
        return True
    seen = select(batches.c.id).where(batches.c.lot == lot)
    if gtin:
        seen = seen.where(batches.c.gtin == gtin)
    return conn.execute(seen.limit(1)).first() is not None


def claim(
    conn: Connection,
    *,
    gtin: str,
    lot: str,
    source: str,
    site: str,
    line: str,
    actor: str,
    now: datetime,
    order_id: int | None = None,
) -> None:
    """Record ``lot`` as used for ``gtin`` by the line; Conflict if the system knows it
    already for the GTIN (a reserve lot of this line is bound to the GTIN)."""
    if source not in SOURCES:
        raise Refused(f"source: expected one of {', '.join(SOURCES)}, got {source!r}")
    try:
        gs1.validate_cset82(lot, field="lot")
    except gs1.Gs1Error as exc:
        raise Refused(str(exc)) from None
    mine = conn.execute(
        select(lots).where(lots.c.lot == lot, or_(lots.c.gtin == gtin, lots.c.gtin == ""))
    ).first()
    if mine is not None:
        same_line = (mine.site, mine.line) == (site, line)
        if mine.gtin == "" and same_line:  # the line's offline reserve: bind it to the GTIN
            conn.execute(delete(lots).where(and_(lots.c.gtin == "", lots.c.lot == lot)))
            conn.execute(
                lots.insert(),
                {"gtin": gtin, "lot": lot, "source": "rule", "site": site, "line": line,
                 "period": mine.period, "order_id": order_id, "reserved_at": now,
                 "reserved_by": actor},
            )  # fmt: skip
            return
        if mine.gtin == gtin and same_line and order_id is not None and mine.order_id == order_id:
            return  # the same order claiming again
        where = f"line {mine.site}/{mine.line}" if mine.site else "import"
        raise Conflict(
            f"lot: {lot!r} was already used for GTIN {gtin} ({mine.source}, {where}, "
            f"{mine.reserved_at:%Y-%m-%d %H:%M} UTC); a lot is used once per GTIN"
            if mine.gtin == gtin
            else f"lot: {lot!r} is reserved by rule for line {mine.site}/{mine.line}"
        )
    seen = conn.execute(
        select(batches.c.first_seen, batches.c.site, batches.c.line).where(
            batches.c.gtin == gtin, batches.c.lot == lot
        )
    ).first()
    if seen is not None:
        raise Conflict(
            f"lot: {lot!r} of GTIN {gtin} is already on record at the trace server (batch first "
            f"seen {seen.first_seen:%Y-%m-%d %H:%M} UTC on {seen.site}/{seen.line}); a lot is "
            "used once per GTIN"
        )
    conn.execute(
        lots.insert(),
        {"gtin": gtin, "lot": lot, "source": source, "site": site, "line": line, "period": None,
         "order_id": order_id, "reserved_at": now, "reserved_by": actor},
    )  # fmt: skip


def reserve(
    conn: Connection,
    *,
    site: str,
    line: str,
    days: int,
    per_period: int,
    now: datetime,
    actor: str,
) -> dict[str, Any]:
    """Top up the line's offline reserve: ``per_period`` unused rule lots for every period
    (day, or shift when the pattern has one) of today and the ``days - 1`` days after it.
    Returns the rule and every unused reserve lot of the line."""
    if not 1 <= days <= 14 or not 1 <= per_period <= 50:
        raise Refused(
            f"reserve: expected days 1..14 and per_period 1..50, got {days}, {per_period}"
        )
    rule = rule_for(conn, site, line)
    today = now.astimezone(rule.zone).date()
    moments = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        starts = [s.starts for s in rule.pattern.shifts] or [datetime.min.time()]
        moments += [datetime.combine(day, start) + timedelta(minutes=1) for start in starts]
    for moment in moments:
        period = rule.pattern.period(moment)
        have = conn.execute(
            select(lots.c.lot).where(
                lots.c.gtin == "", lots.c.site == site, lots.c.line == line, lots.c.period == period
            )
        ).all()
        for _ in range(per_period - len(have)):
            utc = moment.replace(tzinfo=rule.zone)
            next_lot(conn, gtin="", site=site, line=line, moment=utc, actor=actor, now=now)
    reserved = conn.execute(
        select(lots.c.lot, lots.c.period)
        .where(lots.c.gtin == "", lots.c.site == site, lots.c.line == line)
        .order_by(lots.c.period, lots.c.lot)
    ).all()
    return {"rule": rule.as_dict(), "lots": [{"lot": r.lot, "period": r.period} for r in reserved]}
