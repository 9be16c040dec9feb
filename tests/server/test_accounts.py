"""Accounts as Part 11 expects: throttled and locked logins and e-signatures (every failure
audited), logout and revocation on the server, admin account management with reasons, the
password policy and the access review; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from serialtrace.cli import main
from server import audit
from server.api.app import create_app
from server.auth import check_password
from server.store import read_transaction
from server.store.schema import alerts
from tests.server.conftest import PASSWORD, settings_for
from tests.server.qa.builders import Headers, build_batch, record_batch, sign


@pytest.fixture
def strict(store: Engine) -> Iterator[TestClient]:
    """A server that locks a user name after 3 failures and an address after 6."""
    values = settings_for(store, lockout_failures=3, address_max_failures=6, lockout_seconds=600)
    with TestClient(create_app(values, engine=store)) as client:
        yield client


def login(client: TestClient, username: str, password: str) -> tuple[int, str]:
    answer = client.post("/auth/token", data={"username": username, "password": password})
    body = answer.json()
    return answer.status_code, body.get("detail") or body.get("access_token", "")


def actions(store: Engine, key: str) -> list[str]:
    with read_transaction(store) as conn:
        return [e.action for e in audit.entries(conn, entity="user", entity_key=key, limit=1000)]


def test_wrong_passwords_lock_the_user_and_are_audited(
    store: Engine, strict: TestClient, tokens: Headers
) -> None:
    assert login(strict, "qa1", "wrong one") == (401, "username or password wrong")
    assert login(strict, "qa1", "wrong two") == (401, "username or password wrong")
    assert login(strict, "qa1", "wrong three") == (
        401,
        "username or password wrong; too many failed attempts: the user name is now locked",
    )
    status, detail = login(strict, "qa1", PASSWORD)  # the right one, too late
    assert status == 429
    assert detail.startswith("login: user 'qa1' is locked after 3 failed attempts; try again in")
    answer = strict.post("/auth/token", data={"username": "qa1", "password": PASSWORD})
    assert 590 <= int(answer.headers["Retry-After"]) <= 600
    assert actions(store, "qa1") == [
        "login_failed",
        "login_failed",
        "login_failed",
        "user_locked",
        "login_refused",
        "login_refused",
    ]
    # The lock ended the user's sessions, and QA sees an alert.
    assert strict.get("/batches", headers=tokens["qa"]).status_code == 401
    with read_transaction(store) as conn:
        alert = conn.execute(select(alerts.c.kind, alerts.c.subject)).one()
    assert tuple(alert) == ("account_locked", "qa1")
    # An admin enables the user again: the lock ends.
    enabled = strict.post(
        "/users/qa1/enable", json={"reason": "called the help desk"}, headers=tokens["admin"]
    )
    assert enabled.status_code == 204, enabled.text
    assert login(strict, "qa1", PASSWORD)[0] == 200


def test_unknown_names_lock_the_same_way(strict: TestClient) -> None:
    for _ in range(3):
        assert login(strict, "nobody", "guess")[0] == 401
    assert login(strict, "nobody", "guess")[0] == 429


def test_an_address_that_fails_too_often_is_throttled(strict: TestClient, tokens: Headers) -> None:
    for n in range(6):
        assert login(strict, f"spray{n}", "guess")[0] == 401
    status, detail = login(strict, "operator1", PASSWORD)
    assert status == 429
    assert detail.startswith("login: too many failed attempts from testclient; try again in")


def test_wrong_signature_passwords_lock_too(
    store: Engine, strict: TestClient, tokens: Headers
) -> None:
    build_batch(strict, tokens, pallets=1, shipped=0)
    record_batch(strict, tokens, "LOT1", units=4)
    for _ in range(2):
        answer = sign(strict, tokens, "LOT1", "released", password="not mine")
        assert answer.status_code == 403
        assert answer.json()["detail"] == "signature: password of user 'qa1' does not match"
    third = sign(strict, tokens, "LOT1", "released", password="not mine")
    assert third.json()["detail"].endswith("the user name is now locked")
    assert actions(store, "qa1")[-4:] == [
        "signature_failed",
        "signature_failed",
        "signature_failed",
        "user_locked",
    ]
    assert strict.get("/batches", headers=tokens["qa"]).status_code == 401  # tokens revoked


def test_logout_revokes_the_token_on_the_server(
    store: Engine, client: TestClient, tokens: Headers
) -> None:
    status, token = login(client, "qa1", PASSWORD)
    assert status == 200
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/auth/me", headers=headers).json()
    assert me == {
        "username": "qa1",
        "role": "qa",
        "full_name": "Quinn QA",
        "printed_name": "Quinn QA",
    }
    assert client.post("/auth/logout", headers=headers).status_code == 204
    refused = client.get("/batches", headers=headers)
    assert (refused.status_code, refused.json()["detail"]) == (
        401,
        "authorization: token revoked (signed out, or by an administrator)",
    )
    assert actions(store, "qa1")[-2:] == ["login", "logout"]  # both in the audit trail


def test_admin_manages_accounts_with_reasons(
    store: Engine, client: TestClient, tokens: Headers
) -> None:
    admin = tokens["admin"]
    created = client.post(
        "/users",
        json={
            "username": "jdoe",
            "password": "Batch-Review-Desk-7",
            "role": "qa",
            "full_name": "Dr. Jane Doe",
            "reason": "new QP",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["full_name"] == "Dr. Jane Doe"
    status, token = login(client, "jdoe", "Batch-Review-Desk-7")
    assert status == 200
    jdoe = {"Authorization": f"Bearer {token}"}

    revoked = client.post(
        "/users/jdoe/revoke-tokens", json={"reason": "lost laptop"}, headers=admin
    )
    assert revoked.json() == {"tokens_revoked": 1}
    assert client.get("/batches", headers=jdoe).status_code == 401

    weak = client.post(
        "/users/jdoe/password", json={"password": "password123!", "reason": "reset"}, headers=admin
    )
    assert (weak.status_code, weak.json()["detail"]) == (
        422,
        "password: too common or too easy to guess; choose another",
    )
    status, token = login(client, "jdoe", "Batch-Review-Desk-7")
    jdoe = {"Authorization": f"Bearer {token}"}
    reset = client.post(
        "/users/jdoe/password",
        json={"password": "Another-Long-Phrase-9", "reason": "forgotten"},
        headers=admin,
    )
    assert (reset.status_code, reset.json()) == (200, {"tokens_revoked": 1})
    assert client.get("/batches", headers=jdoe).status_code == 401  # a reset ends sessions
    role = client.post(
        "/users/jdoe/role", json={"role": "operator", "reason": "moved"}, headers=admin
    )
    assert role.status_code == 204
    renamed = client.post(
        "/users/jdoe/full-name", json={"full_name": "Dr. Jane Roe", "reason": "married"},
        headers=admin,
    )  # fmt: skip
    assert renamed.status_code == 204, renamed.text
    disabled = client.post("/users/jdoe/disable", json={"reason": "left"}, headers=admin)
    assert disabled.status_code == 200
    account = client.get("/users/jdoe", headers=admin).json()
    assert {k: account[k] for k in ("role", "full_name", "active", "active_tokens")} == {
        "role": "operator",
        "full_name": "Dr. Jane Roe",
        "active": False,
        "active_tokens": 0,
    }
    listed = client.get("/users", headers=admin).json()
    assert sorted(a["username"] for a in listed) == [
        "admin1", "device1", "jdoe", "operator1", "qa1",
    ]  # fmt: skip
    assert client.get("/users", headers=tokens["qa"]).status_code == 403
    assert login(client, "jdoe", "Another-Long-Phrase-9")[0] == 401
    missing = client.post("/users/ghost/disable", json={"reason": "left"}, headers=admin)
    assert (missing.status_code, missing.json()["detail"]) == (404, "username: no user 'ghost'")
    last_admin = client.post("/users/admin1/disable", json={"reason": "oops"}, headers=admin)
    assert (last_admin.status_code, last_admin.json()["detail"]) == (
        409,
        "username: 'admin1' is the last active admin; add another admin first",
    )
    assert client.post("/users", json={}, headers=tokens["qa"]).status_code == 403
    with read_transaction(store) as conn:
        trail = audit.entries(conn, entity="user", entity_key="jdoe", limit=100)
    changes = [(e.action, e.actor, e.reason) for e in trail if e.actor == "admin1"]
    assert changes == [
        ("user_add", "admin1", "new QP"),
        ("tokens_revoked", "admin1", "lost laptop"),
        ("user_password", "admin1", "forgotten"),
        ("user_role", "admin1", "moved"),
        ("user_full_name", "admin1", "married"),
        ("user_disable", "admin1", "left"),
    ]
    assert all("Another-Long" not in str(e.new_value) for e in trail)

    review = client.get("/users/review", headers=admin).json()
    assert review["roles"] == {"admin": 1, "device": 1, "operator": 1, "qa": 1}
    assert "jdoe: disabled" in review["findings"]
    assert [c["action"] for c in review["changes"]][-1] == "user_disable"


def test_own_password_change(client: TestClient, tokens: Headers) -> None:
    body = {"current_password": "wrong", "new_password": "Fresh-Long-Secret-42"}
    wrong = client.post("/auth/password", json=body, headers=tokens["operator"])
    assert (wrong.status_code, wrong.json()["detail"]) == (
        403,
        "current_password: does not match",
    )
    body = {"current_password": PASSWORD, "new_password": "operator1-and-more"}
    named = client.post("/auth/password", json=body, headers=tokens["operator"])
    assert named.json()["detail"] == "new_password: must not be or contain the user name"
    body = {"current_password": PASSWORD, "new_password": "Fresh-Long-Secret-42"}
    assert client.post("/auth/password", json=body, headers=tokens["operator"]).status_code == 204
    assert client.get("/batches", headers=tokens["operator"]).status_code == 200  # kept
    assert login(client, "operator1", "Fresh-Long-Secret-42")[0] == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "password: expected at least 12 characters, got 5"),
        ("ann-is-my-name-1", "password: must not be or contain the user name"),
        ("Password123!", "password: too common or too easy to guess; choose another"),
        ("qwertyuiopasdfgh", "password: too common or too easy to guess; choose another"),
        ("aaaaaaaaaaaaaaaa", "password: too common or too easy to guess; choose another"),
        (
            "!!Correct horse battery staple!!",
            "password: too common or too easy to guess; choose another",
        ),
    ],
)
def test_password_policy(password: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_password(password, "ann")
    assert str(refused.value) == message


@settings(max_examples=200)
@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=12),
    before=st.text(max_size=8),
    after=st.text(max_size=8),
)
def test_no_password_holding_the_user_name_passes(name: str, before: str, after: str) -> None:
    with pytest.raises(ValueError):
        check_password(before + name.upper() + after + "x" * 12, name)


def test_cli_user_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'trace.db'}"

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["server", "user", *argv, "--db", url])
        out, err = capsys.readouterr()
        return code, out, err

    assert (
        run("add", "it", "--role", "admin", "--password-stdin", stdin="Admin-Desk-Long-1\n")[0] == 0
    )
    code, out, _ = run(
        "add", "ann", "--role", "qa", "--full-name", "Ann Example", "--password-stdin",
        stdin="Quality-Long-Phrase\n",
    )  # fmt: skip
    assert (code, out) == (0, "user 'ann' added with role qa\n")
    assert run("disable", "ann", "--reason", "on leave")[1] == (
        "user 'ann' disabled, 0 token(s) revoked\n"
    )
    assert run("enable", "ann", "--reason", "back")[1] == "user 'ann' enabled\n"
    assert run("role", "ann", "operator", "--reason", "moved")[1] == "user 'ann' is now operator\n"
    assert run("name", "ann", "Ann B. Example", "--reason", "married")[1] == (
        "user 'ann' signs as 'Ann B. Example'\n"
    )
    code, _, err = run(
        "passwd", "ann", "--reason", "reset", "--password-stdin", stdin="ann12345678901\n"
    )
    assert (code, err) == (
        2,
        "serialtrace: error: password: must not be or contain the user name\n",
    )
    assert (
        run("passwd", "ann", "--reason", "reset", "--password-stdin", stdin="New-Long-Phrase-5\n")[
            0
        ]
        == 0
    )
    code, _, err = run("disable", "it", "--reason", "oops")
    assert (
        err
        == "serialtrace: error: username: 'it' is the last active admin; add another admin first\n"
    )
    listing = run("list")[1]
    assert "ann\toperator\tAnn B. Example\tactive\tlast login never\t0 live token(s)" in listing
    review = run("review")[1]
    assert "ann (operator): never logged in" in review
    assert "cli:" in review and "user_role ann: moved" in review
    assert datetime.now(UTC).date().isoformat() in review
