"""The serial authority on SQLite and PostgreSQL: pools, never twice, books, registration."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select

import gs1
from gs1.serials import NUMERIC, SAFE, SerialGenerator, SerialScheme
from server import audit
from server.auth import User
from server.serials import ScopeKey, SerialAuthority
from server.serials.errors import Conflict, Exhausted, NotALine, Refused, Unavailable, UnknownScope
from server.store import read_transaction, write_transaction
from server.store.schema import alerts, containers, units
from tests.server.serials.conftest import GTIN, KEY, NOW, SCHEME, add_device

KEY_SGTIN = ScopeKey.sgtin(GTIN)


def register(authority: SerialAuthority, volume: int = 10_000_000) -> None:
    authority.register_gtin(GTIN, SCHEME, volume, actor="qa1", reason="new product", now=NOW)


def test_pools_are_disjoint_ready_made_and_the_generators_serials(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    one, two = lines
    a = authority.grant(one, KEY_SGTIN, 1000, "t-1", now=NOW)
    b = authority.grant(two, KEY_SGTIN, 500, "t-1", now=NOW)  # same token, other line: new pool
    c = authority.grant(one, KEY_SGTIN, 1000, "t-2", now=NOW)
    assert (a.start, a.stop, b.start, b.stop, c.start, c.stop) == (0, 1000, 1000, 1500, 1500, 2500)
    assert (a.site, a.line, b.site, b.line) == ("plant1", "line1", "plant2", "line7")
    generator = SerialGenerator(KEY, gs1.Gtin.parse(GTIN), SCHEME)
    assert a.values == generator.serials(0, 1000)
    everything = a.values + b.values + c.values
    assert len(set(everything)) == 2500
    assert all(len(v) == 12 and v.isdigit() for v in everything)


def test_a_retried_request_gets_the_same_pool(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    one, _ = lines
    first = authority.grant(one, KEY_SGTIN, 100, "retry-me", now=NOW)
    again = authority.grant(one, KEY_SGTIN, 100, "retry-me", now=NOW)
    assert (again.id, again.start, again.stop, again.values) == (
        first.id,
        first.start,
        first.stop,
        first.values,
    )
    authority.register_sscc(0, "9506000", actor="qa1", reason="pallets", now=NOW)
    with pytest.raises(Conflict) as error:
        authority.grant(one, ScopeKey.sscc(0, "9506000"), 10, "retry-me", now=NOW)
    assert str(error.value) == (
        "request_token: 'retry-me' was used for GTIN 09506000134352, not SSCC extension 0, "
        "company prefix 9506000"
    )


def test_concurrent_grants_never_overlap(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    one, two = lines

    def take(n: int) -> tuple[int, int]:
        pool = authority.grant(one if n % 2 else two, KEY_SGTIN, 37, f"c-{n}", now=NOW)
        return pool.start, pool.stop

    with ThreadPoolExecutor(8) as executor:
        ranges = sorted(executor.map(take, range(40)))
    assert ranges == [(37 * i, 37 * (i + 1)) for i in range(40)]


def test_only_a_registered_line_gets_pools(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    stranger = add_device(store, "unbound")
    with pytest.raises(NotALine) as error:
        authority.grant(stranger, KEY_SGTIN, 10, "x", now=NOW)
    assert str(error.value) == (
        "line: 'unbound' is not registered as a line at the serial authority "
        "(serialtrace serials add-line)"
    )
    with pytest.raises(UnknownScope) as unknown:
        authority.grant(lines[0], ScopeKey.sgtin("09506000134369"), 10, "y", now=NOW)
    assert str(unknown.value) == "GTIN 09506000134369: not registered at the serial authority"


def test_register_line_checks_role_and_binding(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    with pytest.raises(Refused) as role:
        authority.register_line("nobody", "p", "l", actor="admin", reason="x", now=NOW)
    assert str(role.value) == (
        "username: expected an active user with role 'device', got 'nobody' (no such user)"
    )
    add_device(store, "second-pc")
    with pytest.raises(Conflict) as taken:
        authority.register_line("second-pc", "plant1", "line1", actor="a", reason="x", now=NOW)
    assert str(taken.value) == "line: 'line1-pc' is already line plant1/line1"
    same = authority.register_line("line1-pc", "plant1", "line1", actor="a", reason="x", now=NOW)
    assert same.name == "plant1/line1"  # idempotent


def test_a_scope_hands_out_up_to_its_guessing_limit_then_stops(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    authority.register_gtin(GTIN, SerialScheme(NUMERIC, 6), 99, actor="qa", reason="x", now=NOW)
    pool = authority.grant(lines[0], KEY_SGTIN, 150, "a", now=NOW)
    assert (pool.stop - pool.start, pool.insufficient) == (99, True)
    with pytest.raises(Exhausted) as error:
        authority.grant(lines[0], KEY_SGTIN, 1, "b", now=NOW)
    assert str(error.value) == (
        f"GTIN {GTIN}: all 99 positions of scheme 'ff3-1/numeric/6/key:{KEY.key_id}' have been "
        "handed out"
    )


def test_registration_checks_the_eu_fmd_limit_and_pins_the_scheme(
    store: Engine, authority: SerialAuthority
) -> None:
    with pytest.raises(Refused) as risky:
        authority.register_gtin(GTIN, SCHEME, 100_000_000, actor="qa", reason="x", now=NOW)
    assert str(risky.value) == (
        "volume: expected at most 99,999,999 serials for scheme numeric/12 (guessing "
        "probability below 1/10,000), got 100,000,000 (probability 0.0001)"
    )
    scope = authority.register_gtin(GTIN, SCHEME, 1000, actor="qa", reason="new", now=NOW)
    assert scope.scheme == f"ff3-1/numeric/12/key:{KEY.key_id}"
    assert authority.register_gtin(GTIN, SCHEME, 1000, actor="qa", reason="again", now=NOW) == scope
    with pytest.raises(Conflict, match=r"already pinned to 'ff3-1/numeric/12/key:"):
        authority.register_gtin(GTIN, SerialScheme(SAFE, 10), 1000, actor="q", reason="x", now=NOW)
    with read_transaction(store) as conn:
        entries = audit.entries(conn, entity="serial_scope")
    assert [(e.action, e.entity_key, e.actor, e.reason) for e in entries] == [
        ("serial_scope_register", f"sgtin:{GTIN}", "qa", "new")
    ]
    assert entries[0].new_value["first_counter"] == 0


def _commission(store: Engine, serials: list[str]) -> None:
    with write_transaction(store) as conn:
        conn.execute(
            units.insert(),
            [
                {"gtin": GTIN, "serial": s, "status": "active", "commission_event": 1}
                for s in serials
            ],
        )


def test_a_gtin_the_lines_already_serialised_continues_above_their_counters(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    generator = SerialGenerator(KEY, gs1.Gtin.parse(GTIN), SCHEME)
    _commission(store, [*generator.serials(0, 50), "SHORT1"])  # made by a local allocator
    register(authority)
    pool = authority.grant(lines[0], KEY_SGTIN, 10, "a", now=NOW)
    assert pool.start == 50


def test_known_serials_of_another_key_refuse_the_registration(
    store: Engine, authority: SerialAuthority
) -> None:
    from gs1.serials import SerialKey

    other = SerialGenerator(SerialKey(bytes(32)), gs1.Gtin.parse(GTIN), SCHEME)
    _commission(store, other.serials(0, 200))
    with pytest.raises(Conflict, match=r"knows serials of this GTIN that this scheme and key"):
        register(authority)


def test_sscc_scope_counts_above_the_ssccs_already_known(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    known = gs1.Sscc.build(0, "9506000", 41).value
    with write_transaction(store) as conn:
        conn.execute(
            containers.insert(),
            {"sscc": known, "epc": "x", "level": 1, "status": "packed", "created_at": NOW},
        )
    authority.register_sscc(0, "9506000", actor="qa", reason="pallets", now=NOW)
    pool = authority.grant(lines[0], ScopeKey.sscc(0, "9506000"), 3, "s", now=NOW)
    assert pool.values == [gs1.Sscc.build(0, "9506000", n).value for n in (42, 43, 44)]


def test_the_books_follow_every_report(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    one, two = lines
    pool = authority.grant(one, KEY_SGTIN, 10, "p", now=NOW)
    others = authority.grant(two, KEY_SGTIN, 5, "p", now=NOW)
    v = pool.values
    result = authority.report(
        one, KEY_SGTIN, {"used": v[:5], "destroyed": v[5:7], "returned": v[7:9]}, now=NOW
    )
    assert result.recorded == {"used": 5, "destroyed": 2, "returned": 2}
    again = authority.report(one, KEY_SGTIN, {"used": v[:5]}, now=NOW)
    assert (again.recorded["used"], again.unchanged) == (0, 5)
    later = authority.report(one, KEY_SGTIN, {"destroyed": [v[0]], "used": [v[7]]}, now=NOW)
    assert later.recorded["destroyed"] == 1  # decommissioned after it was used: allowed
    assert later.conflicts == [(v[7], "returned", "used")]  # a returned serial was printed?
    stolen = authority.report(one, KEY_SGTIN, {"used": [others.values[0], "12"]}, now=NOW)
    assert stolen.refused == [
        (
            "12",
            "serial: expected 12 characters of alphabet 'numeric', got 2 in '12'",
        ),
        (others.values[0], f"{others.values[0]!r} was not issued to line plant1/line1"),
    ]
    summary = authority.summary(KEY_SGTIN)
    assert (summary.issued, summary.used, summary.destroyed, summary.returned) == (15, 4, 3, 2)
    assert summary.outstanding == 6
    assert summary.lines["plant1/line1"] == {
        "pools": 1,
        "issued": 10,
        "used": 4,
        "destroyed": 3,
        "returned": 2,
        "outstanding": 1,
    }
    states = {
        value: authority.status_of(KEY_SGTIN, value)["status"]
        for value in (v[0], v[1], v[5], v[7], v[9], others.values[0])
    }
    assert states == {
        v[0]: "destroyed",
        v[1]: "used",
        v[5]: "destroyed",
        v[7]: "returned",
        v[9]: "issued",
        others.values[0]: "issued",
    }
    unissued = SerialGenerator(KEY, gs1.Gtin.parse(GTIN), SCHEME).serial(999)
    assert authority.status_of(KEY_SGTIN, unissued) == {
        "value": unissued,
        "status": "unissued",
        "position": 999,
    }
    with read_transaction(store) as conn:
        kinds = [row.kind for row in conn.execute(select(alerts.c.kind))]
    assert kinds == ["serial_report_refused", "serial_report_refused"]


def test_a_report_says_which_statuses_it_knows(
    authority: SerialAuthority, lines: tuple[User, User]
) -> None:
    register(authority)
    with pytest.raises(Refused) as error:
        authority.report(lines[0], KEY_SGTIN, {"lost": ["1"]}, now=NOW)
    assert str(error.value) == (
        "report: unknown statuses ['lost']; expected used, destroyed, returned"
    )


def test_another_key_cannot_serve_a_pinned_gtin(
    store: Engine, authority: SerialAuthority, lines: tuple[User, User], journal: object
) -> None:
    from gs1.serials import SerialKey

    register(authority)
    other = SerialAuthority(store, key=SerialKey(bytes(32)), journal=None)
    with pytest.raises(Unavailable, match=rf"pinned to key {KEY.key_id}; this authority holds"):
        other.grant(lines[0], KEY_SGTIN, 1, "k", now=NOW)
    keyless = SerialAuthority(store, key=None, journal=None)
    with pytest.raises(Unavailable, match=r"holds no serial key"):
        keyless.grant(lines[0], KEY_SGTIN, 1, "k", now=NOW)
