"""Lots by rule under concurrency, on SQLite and PostgreSQL: two lines (one rule without
{LINE}) asking at once never get the same code, and the sequence has no gap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from server.production import lots as lot_codes
from server.production.tables import lots
from server.store import read_transaction, write_transaction

GTIN = "09506000134352"
NOW = datetime(2025, 3, 15, 9, 0, tzinfo=UTC)


def test_concurrent_lines_never_share_a_rule_lot(store: Engine) -> None:
    rule = lot_codes.make_rule("plant1", "*", "P{YY}{JJJ}{SEQ:3}", "", "", "", "UTC")
    with write_transaction(store) as conn:
        lot_codes.put_rule(conn, rule, actor="qa1", reason="site rule", now=NOW)

    def take(n: int) -> str:
        with write_transaction(store) as conn:
            return lot_codes.next_lot(
                conn,
                gtin=GTIN,
                site="plant1",
                line="line3" if n % 2 else "line4",
                moment=NOW,
                actor="test",
                manufacturing_date=date(2025, 3, 15),
            )

    with ThreadPoolExecutor(8) as executor:
        taken = list(executor.map(take, range(40)))
    assert sorted(taken) == [f"P25074{n:03d}" for n in range(1, 41)]
    with read_transaction(store) as conn:
        recorded = sorted(conn.execute(select(lots.c.lot).where(lots.c.gtin == GTIN)).scalars())
    assert recorded == sorted(taken)
