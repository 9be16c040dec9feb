"""The line with production data from a real trace server: master data, expiry from the
shelf life, lots by rule (and an offline reserve), reused lots refused from every entry point,
and a batch order from release to close; two lines on separate databases never share a lot."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from edge.agent import Agent
from edge.api_auth import ensure_token
from edge.batch import BatchAction
from edge.errors import BatchStateError, PayloadError
from edge.ledger import BatchStart
from edge.wiring import build_agent
from gs1.shelf_life import ExpiryRule, ShelfLife, compute_expiry
from serialtrace.cli import main as cli
from serialtrace.services import free_port, serve_asgi
from server import audit
from server.api.app import create_app
from server.auth import Role, add_user, issue_token
from server.config import ServerSettings
from server.production import lots as lot_codes
from server.production.tables import lots
from server.serials import SerialAuthority
from server.store import read_transaction, write_transaction
from tests.edge.agent.line import (
    GTIN,
    SimLine,
    config_for,
    mqtt_section,
    sim_devices,
    start_line,
)
from tests.server.conftest import migrated_store
from tests.support.services import Broker

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

PASSWORD = "line password 42"
NOW = datetime(2025, 3, 1, tzinfo=UTC)
PRODUCT = {"company_prefix_length": 7, "name": "Paracetamol", "strength": "500 mg",
           "shelf_life_months": 24, "expiry_rule": "end_of_month", "units_per_case": 5,
           "cases_per_pallet": 3, "reason": "new product"}  # fmt: skip


class Server:
    """The trace server (with /production and /serials) in a thread, stoppable."""

    def __init__(self, store: Engine) -> None:
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = ServerSettings(
            db_url=store.url.render_as_string(hide_password=False), migrate_on_start=False
        )
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(
            serve_asgi(create_app(self.settings, engine=self.store), self.port)
        )

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@pytest.fixture
def server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Server, dict[str, str]]]:
    with migrated_store("sqlite", tmp_path, request) as store:
        books = SerialAuthority(store, key=None, journal=None)
        with write_transaction(store) as conn:
            qa = add_user(conn, "qa1", "qa password 1", Role.QA, now=NOW)
            token = issue_token(conn, qa, now=datetime.now(UTC), ttl=timedelta(hours=2))
            for name in ("line3-pc", "line4-pc"):
                add_user(conn, name, PASSWORD, Role.DEVICE, now=NOW)
        books.register_line("line3-pc", "plant1", "line3", actor="a", reason="t", now=NOW)
        books.register_line("line4-pc", "plant1", "line4", actor="a", reason="t", now=NOW)
        served = Server(store)
        served.start()
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.put(
                f"{served.url}/production/products/{GTIN}", json=PRODUCT, headers=headers
            ).status_code
            == 200
        )
        rule = {
            "pattern": "P{YY}{JJJ}{SEQ:3}",
            "timezone": "UTC",
            "reason": "site rule",
        }  # no {LINE}
        assert (
            httpx.put(
                f"{served.url}/production/lot-rules/plant1/*", json=rule, headers=headers
            ).status_code
            == 200
        )
        yield served, headers
        served.stop()


def agent_for(tmp: Path, mosquitto: Broker, sim: SimLine, server: Server, line: str) -> Agent:
    tmp.mkdir(parents=True, exist_ok=True)
    password = tmp / "password"
    password.write_text(PASSWORD)
    os.chmod(password, 0o600)
    config = config_for(
        tmp / "edge", mosquitto.url, sim,
        extra={
            "agent": {"line": line, "read_point": {"gln": "9506000000008", "extension": line[-1],
                                                   "company_prefix_length": 7}},
            "server": {"url": server.url, "user": f"{line}-pc", "password_file": str(password),
                       "poll_s": 0.3},
            # the line's own broker identity: an agent whose link is refused waits out its
            # drain timeout (5 s) when it stops
            "mqtt": mqtt_section(mosquitto, "plant1", line),
        },
    )  # fmt: skip
    return build_agent(config, sim_devices(config, sim))


@pytest.fixture
def sims() -> Iterator[list[SimLine]]:
    lines = [start_line(), start_line()]
    yield lines
    for sim in lines:
        sim.close()


def synced(agent: Agent) -> None:
    production = agent.devices.production
    assert production is not None
    assert production.sync_now(), production.last_error


def run_empty_batch(agent: Agent, request: BatchStart) -> str:
    batch = agent.start_batch(request)
    agent.transition(BatchAction.STOP)
    agent.close_batch()
    return batch.lot


def test_master_data_expiry_and_lots_at_the_line(
    tmp_path: Path, mosquitto: Broker, sims: list[SimLine], server: tuple[Server, dict[str, str]]
) -> None:
    served, qa = server
    agent = agent_for(tmp_path / "l3", mosquitto, sims[0], served, "line3")
    agent.start()
    try:
        synced(agent)
        with pytest.raises(PayloadError, match=r"^gtin: expected a product of the master data"):
            agent.start_batch(BatchStart("09506000134369", "", "", 10))
        today = datetime.now().date()
        computed = compute_expiry(today, ShelfLife(24), ExpiryRule.END_OF_MONTH).yymmdd()
        with pytest.raises(PayloadError) as override:
            agent.start_batch(BatchStart(GTIN, "", "301231", 10))
        assert str(override.value) == (
            f"expiry: computed {computed} from manufacturing date {today.isoformat()} and the "
            "product's shelf life; 301231 needs expiry_reason"
        )
        batch = agent.start_batch(BatchStart(GTIN, "", "", 10))
        # today's codes 001-003 went to the line's offline reserve when it synced
        assert (batch.expiry, batch.lot) == (
            computed,
            f"P{today:%y}{today.timetuple().tm_yday:03d}004",
        )
        agent.transition(BatchAction.STOP)
        agent.close_batch()
        with_reason = agent.start_batch(
            BatchStart(GTIN, "HAND-1", "301231", 10, expiry_reason="QA ok")
        )
        assert (with_reason.lot, with_reason.expiry) == ("HAND-1", "301231")
        agent.transition(BatchAction.STOP)
        agent.close_batch()
        # a lot used on another line (claimed at the server) is refused here: API and PLC
        other_line = {"gtin": GTIN, "planned": 5, "lot": "USED-9", "site": "plant1",
                      "line": "line4"}  # fmt: skip
        httpx.post(f"{served.url}/production/orders", headers=qa, json=other_line)
        with pytest.raises(BatchStateError, match=r"^lot: 'USED-9' was already used for GTIN"):
            agent.start_batch(BatchStart(GTIN, "USED-9", "", 10))
        with pytest.raises(BatchStateError, match=r"^lot: 'HAND-1' was already run for GTIN"):
            agent.handle_batch_command(
                {"command": "start", "gtin": GTIN, "lot": "HAND-1", "planned": 5}
            )
        with pytest.raises(BatchStateError, match=r"^lot: 'USED-9' was already used"):
            agent.handle_batch_command(
                {"command": "start", "gtin": GTIN, "lot": "USED-9", "planned": 5}
            )
        # the server goes away: a lot by rule comes from the line's offline reserve
        reserve = agent.status()["production"]["lot_reserve"]
        assert reserve == 2 * 3  # today and tomorrow, three each
        served.stop()
        offline = run_empty_batch(agent, BatchStart(GTIN, "", "", 10))
        assert offline.startswith(f"P{today:%y}{today.timetuple().tm_yday:03d}")
        served.start()
        synced(agent)
        with read_transaction(served.store) as conn:
            bound = conn.execute(
                select(lots.c.gtin, lots.c.source).where(lots.c.lot == offline)
            ).all()
        assert [tuple(r) for r in bound] == [(GTIN, "rule")]
        # the typed expiry of HAND-1 (no order) is on the server's audit trail with its reason
        with read_transaction(served.store) as conn:
            overrides = [
                (e.entity_key, e.old_value, e.new_value["expiry"], e.reason)
                for e in audit.entries(conn, entity="batch")
                if e.action == "batch_expiry_override"
            ]
        assert overrides == [(f"(01){GTIN}(10)HAND-1", {"expiry": computed}, "301231", "QA ok")]
        # QA changes the product's unit label in the master data: the line, set up for the
        # old one, refuses to start the product until its configuration follows
        changed = {**PRODUCT, "unit_template": "unit-40x20-300", "reason": "new carton"}
        put = httpx.put(f"{served.url}/production/products/{GTIN}", json=changed, headers=qa)
        assert put.status_code == 200, put.text
        synced(agent)
        with pytest.raises(BatchStateError, match=r"labelled with templates unit-40x20-300, "):
            agent.start_batch(BatchStart(GTIN, "", "", 10))
    finally:
        agent.stop()


def test_an_order_from_release_to_close(
    tmp_path: Path,
    mosquitto: Broker,
    sims: list[SimLine],
    server: tuple[Server, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served, qa = server
    material = {"gtin": "04012345000009", "lot": "BULK-7", "company_prefix_length": 7,
                "quantity": 12.5, "uom": "KGM"}  # fmt: skip
    order = httpx.post(f"{served.url}/production/orders", headers=qa, json={
        "gtin": GTIN, "planned": 20, "site": "plant1", "line": "line3", "release": True,
        "manufacturing_date": "2025-03-15", "materials": [material]}).json()  # fmt: skip
    assert order["lot"] == "P25074001" and order["expiry"] == "270200"
    agent = agent_for(tmp_path / "l3", mosquitto, sims[0], served, "line3")
    api = None
    agent.start()
    try:
        synced(agent)
        from edge.api import create_app as edge_app

        with serve_asgi(edge_app(agent, manage_agent=False), free_port()) as url:
            token = ensure_token(agent.config)  # state changes need the API token
            api = httpx.Client(
                base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
            )
            listed = api.get("/orders").json()["orders"]
            assert [o["number"] for o in listed] == [order["number"]]
            started = api.post(f"/orders/{order['id']}/confirm", json={"operator": "Anna"}).json()
            assert (started["batch"]["lot"], started["batch"]["expiry"]) == ("P25074001", "270200")
            assert started["batch"]["materials"] == [material]  # the order's raw-material lots
            assert api.get("/orders").json()["orders"] == []
            agent.transition(BatchAction.STOP)
            agent.close_batch()
            synced(agent)  # sends the start and the close
            api.close()
            # the command line starts a batch by rule too: no --lot, no --expiry
            monkeypatch.setenv("SERIALTRACE_EDGE_API_TOKEN", token)
            capsys.readouterr()
            code = cli(["edge", "batch", "start", "--api", url, "--gtin", GTIN, "--planned", "5"])
            today = datetime.now().date()
            by_rule = f"P{today:%y}{today.timetuple().tm_yday:03d}004"  # 001-003: the reserve
            assert (code, capsys.readouterr().out) == (
                0, f"batch {by_rule} started (GTIN {GTIN}, 5 planned)\n",
            )  # fmt: skip
            batch = agent.current_batch()
            assert batch is not None
            computed = compute_expiry(today, ShelfLife(24), ExpiryRule.END_OF_MONTH).yymmdd()
            assert batch.expiry == computed
            agent.transition(BatchAction.STOP)
            agent.close_batch()
            # a typed lot another line used for the GTIN is refused (the HMI's route too)
            httpx.post(f"{served.url}/production/orders", headers=qa, json={
                "gtin": GTIN, "planned": 5, "lot": "CLI-USED", "site": "plant1",
                "line": "line4"}).raise_for_status()  # fmt: skip
            code = cli(["edge", "batch", "start", "--api", url, "--gtin", GTIN, "--planned", "5",
                        "--lot", "CLI-USED"])  # fmt: skip
            assert code != 0
            assert "lot: 'CLI-USED' was already used for GTIN" in capsys.readouterr().err
            current = agent.current_batch()
            assert current is None or current.lot != "CLI-USED"
        detail = httpx.get(f"{served.url}/production/orders/{order['id']}", headers=qa).json()
        assert (detail["state"], detail["confirmed_by"], detail["reconciliation"]["balanced"]) == (
            "closed", "Anna", True,
        )  # fmt: skip
    finally:
        agent.stop()


def test_a_lot_typed_offline_and_used_elsewhere_meanwhile_raises_the_alarm(
    tmp_path: Path, mosquitto: Broker, sims: list[SimLine], server: tuple[Server, dict[str, str]]
) -> None:
    """Offline, a typed lot is claimed later; when the server refuses the claim (another line
    took the lot for the GTIN meanwhile), the line's production alarm says so."""
    served, _qa = server
    agent = agent_for(tmp_path / "l3", mosquitto, sims[0], served, "line3")
    agent.start()
    try:
        synced(agent)
        served.stop()
        today = datetime.now().date()
        expiry = compute_expiry(today, ShelfLife(24), ExpiryRule.END_OF_MONTH).yymmdd()
        assert run_empty_batch(agent, BatchStart(GTIN, "OFF-1", expiry, 5)) == "OFF-1"
        production = agent.devices.production
        assert production is not None and production.status()["notices_waiting"] == 1
        with write_transaction(served.store) as conn:  # line 4 got there first
            lot_codes.claim(conn, gtin=GTIN, lot="OFF-1", source="manual", site="plant1",
                            line="line4", actor="line4-pc", now=datetime.now(UTC))  # fmt: skip
        served.start()
        synced(agent)
        status = agent.status()
        waiting = status["production"]["notices_waiting"]
        assert (waiting, status["production"]["refused_notices"]) == (0, 1)
        assert status["alarms"]["production"].startswith(
            "the server refused /production/lots/claim: "
        )
        assert "'OFF-1' was already used for GTIN" in status["alarms"]["production"]
        synced(agent)  # a later good sync does not clear it
        assert "production" in agent.status()["alarms"]
    finally:
        agent.stop()


def test_two_lines_on_separate_databases_never_share_a_lot(
    tmp_path: Path, mosquitto: Broker, sims: list[SimLine], server: tuple[Server, dict[str, str]]
) -> None:
    """The rule has no {LINE}: uniqueness comes from the server's sequence (and the reserve
    it handed out), online and offline."""
    served, _qa = server
    agents = [agent_for(tmp_path / name, mosquitto, sim, served, name)
              for name, sim in (("line3", sims[0]), ("line4", sims[1]))]  # fmt: skip
    for agent in agents:
        agent.start()
    used: list[str] = []
    try:
        for agent in agents:
            synced(agent)
        for round_ in range(7):
            if round_ == 4:
                served.stop()  # the last three rounds run on the offline reserves (3 a day)
            for agent in agents:
                used.append(run_empty_batch(agent, BatchStart(GTIN, "", "", 5)))
        with pytest.raises(BatchStateError, match=r"offline reserve has none left for P"):
            agents[0].start_batch(BatchStart(GTIN, "", "", 5))
        served.start()
        for agent in agents:
            synced(agent)
    finally:
        for agent in agents:
            agent.stop()
    assert len(used) == 14 and len(set(used)) == 14
    with read_transaction(served.store) as conn:
        recorded = {r.lot for r in conn.execute(select(lots.c.lot).where(lots.c.gtin == GTIN))}
    assert set(used) <= recorded
