"""Fixtures of the EPCIS REST tests: the real app under uvicorn on a free port of
127.0.0.1, on SQLite and PostgreSQL (the ``store`` fixture), with a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from serialtrace.services import serve_asgi
from server.api.app import create_app
from server.auth import Role, User, issue_token
from server.store import write_transaction
from server.store.schema import users
from tests.server.conftest import bind_device, settings_for
from tests.support.services import free_port


@dataclass(frozen=True)
class Live:
    """A running server: its root URL, the EPCIS base URL and headers per role."""

    url: str
    headers: dict[str, dict[str, str]]

    @property
    def epcis(self) -> str:
        return self.url + "/epcis"


def role_headers(store: Engine) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    now = datetime.now(UTC)
    with write_transaction(store) as conn:
        for role in Role:
            name = f"{role.value}-epcis"
            user_id = conn.execute(
                users.insert().returning(users.c.id),
                {
                    "username": name,
                    "password_hash": "not-used",
                    "role": role.value,
                    "active": 1,
                    "created_at": now,
                },
            ).scalar_one()
            user = bind_device(conn, user_id) if role is Role.DEVICE else User(user_id, name, role)
            token = issue_token(conn, user, now=now, ttl=timedelta(hours=2))
            headers[role.value] = {"Authorization": f"Bearer {token}"}
    return headers


@pytest.fixture
def live(store: Engine) -> Iterator[Live]:
    headers = role_headers(store)
    app = create_app(settings_for(store, epcis_subscription_poll_seconds=0.2), engine=store)
    with serve_asgi(app, free_port(), name="epcis") as url:
        yield Live(url, headers)
