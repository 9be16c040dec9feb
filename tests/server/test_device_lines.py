"""A device account is bound to one registered line (issue 14 item 3, over HTTP): it
captures its own line's events; an event whose read point or business location is another
line's is refused as a whole (403), dead-lettered (kind ``location``) with an alert and
changes no unit, exactly as over MQTT; an unbound device account may capture nothing. The
binding is made by the CLI and the users API and audited; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from serialtrace.cli import main
from server import audit
from server.lines import LineRegistry
from server.store import create_store_engine, read_transaction, upgrade
from server.store.migrate import current_revision, downgrade
from server.store.schema import alerts, dead_letters, units, users
from tests.server import factory as f
from tests.server.conftest import register_line
from tests.server.qa.builders import Headers

OTHER_POINT = "urn:epc:id:sgln:0614141.07346.2"  # line B's read point
PASSWORD = "Line-PC-Passphrase-7"


@pytest.fixture
def lines(store: Engine) -> None:
    register_line(store, "siteA", "lineA", f.READ_POINT)
    register_line(store, "siteA", "lineB", OTHER_POINT)


def add_device(client: TestClient, admin: Headers, name: str, line: str | None) -> Headers:
    """A device account made through the users API (bound to ``line``), signed in."""
    body: dict[str, Any] = {"username": name, "password": PASSWORD, "role": "device"}
    if line is not None:
        body["line"] = line
    answer = client.post("/users", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    assert answer.json()["line"] == line
    token = client.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def capture(client: TestClient, headers: Headers, events: list[dict[str, Any]], **more: str) -> Any:
    return client.post(
        "/epcis/capture",
        content=f.payload(events),
        headers={**headers, "Content-Type": "application/json", **more},
    )


def counts(store: Engine) -> tuple[int, list[tuple[str, str | None, str]], list[str]]:
    with read_transaction(store) as conn:
        unit_count = conn.execute(select(func.count()).select_from(units)).scalar_one()
        letters = [
            (row.kind, row.topic, row.reason)
            for row in conn.execute(select(dead_letters).order_by(dead_letters.c.id))
        ]
        kinds = [row.kind for row in conn.execute(select(alerts).order_by(alerts.c.id))]
    return int(unit_count), letters, kinds


def test_a_bound_device_captures_its_own_lines_events(
    store: Engine, client: TestClient, tokens: Headers, lines: None
) -> None:
    device = add_device(client, tokens["admin"], "pc-a", "siteA/lineA")
    answer = capture(client, device, [f.commissioning(["A1", "A2"])])
    assert answer.status_code == 202, answer.text
    assert answer.json()["commissioned"] == 2
    one = f.commissioning(["A3"])
    single = client.post("/epcis/events", json=one, headers=device)
    assert single.status_code == 201, single.text
    assert counts(store) == (3, [], [])


@pytest.mark.parametrize("where", ["readPoint", "bizLocation"])
@pytest.mark.parametrize("behaviour", ["rollback", "proceed"])
def test_another_lines_location_is_dead_lettered_and_changes_no_unit(
    store: Engine, client: TestClient, tokens: Headers, lines: None, where: str, behaviour: str
) -> None:
    device = add_device(client, tokens["admin"], "pc-a", "siteA/lineA")
    own = f.commissioning(["B1"])
    foreign = f.commissioning(["B2"])
    foreign[where] = {"id": OTHER_POINT}
    answer = capture(
        client, device, [own, foreign], **{"GS1-Capture-Error-Behaviour": behaviour}
    )  # the whole document is refused, even with proceed: it is not the line's to send
    reason = f"eventList[1].{where}: expected a location of line siteA/lineA, got '{OTHER_POINT}'"
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": "epcisException:SecurityException",
        "title": answer.json()["title"],
        "status": 403,
        "detail": reason,
    }
    unit_count, letters, kinds = counts(store)
    assert (unit_count, letters, kinds) == (
        0,
        [("location", "pc-a", reason)],
        ["dead_letter_location"],
    )
    with read_transaction(store) as conn:
        kept = conn.execute(select(dead_letters.c.id, dead_letters.c.source)).one()
    assert (str(kept.id), kept.source) == (answer.headers["X-Dead-Letter-Id"], "http")


def test_one_event_of_another_line_is_refused_too(
    store: Engine, client: TestClient, tokens: Headers, lines: None
) -> None:
    device = add_device(client, tokens["admin"], "pc-a", "siteA/lineA")
    event = {**f.commissioning(["C1"]), "readPoint": {"id": OTHER_POINT}}
    answer = client.post("/epcis/events", json=event, headers=device)
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"].startswith("eventList[0].readPoint: expected a location of")
    assert counts(store)[0] == 0
    assert [kind for kind, _, _ in counts(store)[1]] == ["location"]


def test_an_unbound_device_may_capture_nothing(
    store: Engine, client: TestClient, tokens: Headers, lines: None
) -> None:
    device = add_device(client, tokens["admin"], "pc-free", None)
    expected = (
        "line: device account 'pc-free' is bound to no line, so it may capture nothing; an "
        "admin binds it: serialtrace server user line pc-free SITE/LINE --reason TEXT (or "
        "POST /users/{username}/line)"
    )
    for answer in (
        capture(client, device, [f.commissioning(["U1"])]),
        client.post("/epcis/events", json=f.commissioning(["U2"]), headers=device),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "epcisException:SecurityException"
        assert answer.json()["detail"] == expected
    assert counts(store)[0] == 0
    review = client.get("/users/review", headers=tokens["admin"]).json()
    assert "pc-free: device bound to no line, so it may capture nothing" in review["findings"]
    # the admin binds it; the same token captures at once (no new sign-in needed)
    bound = client.post(
        "/users/pc-free/line",
        json={"line": "siteA/lineA", "reason": "installed on line A"},
        headers=tokens["admin"],
    )
    assert bound.status_code == 200, bound.text
    assert bound.json() == {"username": "pc-free", "line": "siteA/lineA"}
    assert capture(client, device, [f.commissioning(["U3"])]).status_code == 202
    unbound = client.post(
        "/users/pc-free/line", json={"line": None, "reason": "taken off"}, headers=tokens["admin"]
    )
    assert unbound.json() == {"username": "pc-free", "line": None}
    assert capture(client, device, [f.commissioning(["U4"])]).status_code == 403
    assert counts(store)[0] == 1


def test_the_api_binds_only_device_accounts_to_registered_lines_and_audits_it(
    store: Engine, client: TestClient, tokens: Headers, lines: None
) -> None:
    admin = tokens["admin"]
    add_device(client, admin, "pc-b", "siteA/lineA")

    def bind(name: str, line: object, headers: Headers = admin) -> tuple[int, str]:
        answer = client.post(
            f"/users/{name}/line", json={"line": line, "reason": "moved"}, headers=headers
        )
        body = answer.json()
        return answer.status_code, body.get("detail") if "detail" in body else body.get("line")

    assert bind("pc-b", "siteA/lineB") == (200, "siteA/lineB")
    assert bind("pc-b", "siteA/lineB") == (409, "line: user 'pc-b' is bound to siteA/lineB already")
    assert bind("pc-b", "siteA/nowhere") == (
        422,
        "line: no line siteA/nowhere is registered "
        "(serialtrace server lines add siteA nowhere --location SGLN)",
    )
    status, detail = bind("pc-b", "no-slash")
    assert (status, detail.startswith("line: expected SITE/LINE")) == (422, True)
    assert bind("operator1", "siteA/lineA") == (
        409,
        "line: only device accounts are bound to a line; 'operator1' is operator",
    )
    assert bind("nobody", "siteA/lineA")[0] == 404
    assert bind("pc-b", "siteA/lineA", tokens["qa"])[0] == 403  # admins only
    made = client.post(
        "/users",
        json={"username": "op9", "password": PASSWORD, "role": "operator", "line": "siteA/lineA"},
        headers=admin,
    )
    assert made.status_code == 422
    assert made.json()["detail"] == "line: only device accounts are bound to a line, not operator"
    # leaving the device role ends the binding
    role = client.post(
        "/users/pc-b/role", json={"role": "operator", "reason": "now a desk"}, headers=admin
    )
    assert role.status_code == 204
    assert client.get("/users/pc-b", headers=admin).json()["line"] is None
    with read_transaction(store) as conn:
        trail = [
            (e.action, e.actor, e.old_value, e.new_value, e.reason)
            for e in audit.entries(conn, entity="user", entity_key="pc-b", limit=100)
            if e.action.startswith("user_")  # not its sign-in
        ]
    assert sorted(trail, key=lambda item: str(item[0])) == sorted(
        [
            (
                "user_add",
                "admin1",
                None,
                {"role": "device", "full_name": None, "active": True, "line": "siteA/lineA"},
                "account created",
            ),
            ("user_line", "admin1", {"line": "siteA/lineA"}, {"line": "siteA/lineB"}, "moved"),
            (
                "user_role",
                "admin1",
                {"role": "device", "line": "siteA/lineB"},
                {"role": "operator", "line": None},
                "now a desk",
            ),
        ],
        key=lambda item: str(item[0]),
    )


def test_the_cli_binds_a_device_to_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'trace.db'}"

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["server", *argv, "--db", url])
        out, err = capsys.readouterr()
        return code, out, err

    add_line = ("lines", "add", "siteA", "lineA", "--location", f.READ_POINT)
    assert run(*add_line)[0] == 0
    code, _, err = run(
        "users", "add", "pc-c", "--role", "device", "--line", "siteA/lineZ",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, err) == (
        2,
        "serialtrace: error: line: no line siteA/lineZ is registered "
        "(serialtrace server lines add siteA lineZ --location SGLN)\n",
    )
    code, out, _ = run(
        "users", "add", "pc-c", "--role", "device", "--line", "siteA/lineA",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, out) == (0, "user 'pc-c' added with role device, bound to line siteA/lineA\n")
    code, out, err = run(
        "user", "add", "pc-d", "--role", "device", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert (code, out) == (0, "user 'pc-d' added with role device\n")
    assert "bound to no line and may capture nothing" in err
    assert run("user", "line", "pc-d", "siteA/lineA", "--reason", "installed")[1] == (
        "user 'pc-d' bound to line siteA/lineA\n"
    )
    listing = run("user", "list")[1]
    assert (
        "pc-c\tdevice\t-\tactive\tlast login never\t0 live token(s)\tline siteA/lineA\n" in listing
    )
    assert (
        "pc-d\tdevice\t-\tactive\tlast login never\t0 live token(s)\tline siteA/lineA\n" in listing
    )
    assert run("user", "line", "pc-d", "--none", "--reason", "removed")[1] == (
        "user 'pc-d' bound to line (none)\n"
    )
    engine = create_store_engine(url)
    try:
        with read_transaction(engine) as conn:
            rows = {
                row.username: (row.line_site, row.line_name)
                for row in conn.execute(
                    select(users.c.username, users.c.line_site, users.c.line_name)
                )
            }
            actions = [
                (e.action, e.actor.startswith("cli:"), e.new_value)
                for e in audit.entries(conn, entity="user", entity_key="pc-d", limit=10)
            ]
    finally:
        engine.dispose()
    assert rows == {"pc-c": ("siteA", "lineA"), "pc-d": (None, None)}
    assert sorted(actions, key=str) == sorted(
        [
            ("user_add", True, {"role": "device", "full_name": None, "active": True, "line": None}),
            ("user_line", True, {"line": "siteA/lineA"}),
            ("user_line", True, {"line": None}),
        ],
        key=str,
    )


def test_migration_0015_goes_down_and_up(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade(engine)
        downgrade(engine, "0015")
        assert current_revision(engine) == "0015"
        downgrade(engine, "0014")
        assert current_revision(engine) == "0014"
        upgrade(engine)
        with read_transaction(engine) as conn:
            assert conn.execute(select(users.c.line_site, users.c.line_name)).all() == []
    finally:
        engine.dispose()


def test_hostile_event_shapes_get_a_reason_not_an_exception(store: Engine, lines: None) -> None:
    registry = LineRegistry(store)
    own = {"readPoint": {"id": f.READ_POINT}}
    assert registry.line_violation("siteA", "lineA", [own]) is None
    hostile: list[tuple[object, str]] = [
        (
            "not an event",
            "eventList[0].readPoint: expected a location of line siteA/lineA, got None",
        ),
        ({"readPoint": [f.READ_POINT]}, "got ['urn:epc:id:sgln:0614141.07346.1']"),
        ({"readPoint": {"id": {"x": 1}}}, "got {'x': 1}"),
        ({**own, "bizLocation": {"id": ["a"]}}, "eventList[0].bizLocation: expected"),
        ({"readPoint": {"id": "x" * 500}}, "..."),
    ]
    for body, part in hostile:
        reason = registry.line_violation("siteA", "lineA", [body])
        assert reason is not None and part in reason, (body, reason)
        assert len(reason) < 300
    assert registry.line_violation("siteA", "gone", [own]) == (
        "line: siteA/gone is not registered (serialtrace server lines add)"
    )
