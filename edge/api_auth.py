"""Who may change the line through the agent's local API, and from where.

A page on another origin once paused a running batch with a ``no-cors`` POST: the API
answered any request that reached 127.0.0.1. Now:

* every state-changing route needs ``Authorization: Bearer <token>``, either the API token
  (a random 256-bit value in ``api.token_file``, made at the first start, mode 0600, read by
  ``serialtrace edge``) or the session token of an operator who signed in at the HMI with a
  name and password from ``api.operators`` (argon2 hashes). A browser cannot send that
  header cross-origin without a CORS preflight, which this API never grants;
* every request must name one of this agent's own hosts in ``Host`` (``127.0.0.1``,
  ``localhost``, ``[::1]`` and ``api.allowed_hosts``, any port): a DNS-rebound name is
  refused;
* a state-changing request that carries ``Origin`` must come from this agent itself (the
  same host and port as ``Host``).

Sessions live in memory (a restart signs operators out). Five wrong passwords for a name
lock it for a minute.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.convertors import Convertor, register_url_convertor

from edge.config import EdgeConfig

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FAILURES = 5
LOCK_SECONDS = 60.0

_hasher = PasswordHasher()


#: Stands for a ``/`` decoded inside one path segment while routing (never in GS1 data).
SLASH_MARK = "\ue02f"


class _SegmentConvertor(Convertor[str]):
    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace(SLASH_MARK, "/")

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("edgetext", _SegmentConvertor())


class EncodedSlashes:
    """ASGI middleware: a ``%2F`` in a path segment stays inside that segment (a serial may
    hold ``/``, GS1 CSET 82)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if isinstance(raw, bytes) and b"%" in raw:
            path = raw.split(b"?", 1)[0].decode("ascii", "replace")
            parts = (unquote(part).replace("/", SLASH_MARK) for part in path.split("/"))
            scope = {**scope, "path": "/".join(parts)}
        await self.app(scope, receive, send)


def hash_password(password: str) -> str:
    """An argon2 hash for ``api.operators`` (``serialtrace edge operator-hash``)."""
    return _hasher.hash(password)


def token_path(config: EdgeConfig) -> Path:
    return config.resolve(config.api.token_file)


def ensure_token(config: EdgeConfig) -> str:
    """The API token, made (256 random bits, mode 0600) when the file does not exist."""
    path = token_path(config)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process meanwhile
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
    return read_token(path)


def read_token(path: Path) -> str:
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise ValueError(f"api.token_file: {str(path)!r} holds no usable token")
    return token


@dataclass(frozen=True)
class Session:
    operator: str
    expires: float


class ApiGuard:
    """The API token, the operators' sessions and the host names of one agent."""

    def __init__(self, config: EdgeConfig) -> None:
        self.token = ensure_token(config)
        self.operators = {op.name: op.password_hash for op in config.api.operators}
        self.ttl = float(config.api.session_ttl_s)
        names = {"127.0.0.1", "localhost", "::1", config.api.host, *config.api.allowed_hosts}
        self.hosts = frozenset(name.lower().strip("[]") for name in names)
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    # -- where from ---------------------------------------------------------------------

    def host_allowed(self, host: str | None) -> bool:
        """``Host`` names this agent (any port: the name is what DNS rebinding changes)."""
        if not host:
            return False
        try:
            name = urlsplit(f"//{host}").hostname
        except ValueError:
            return False
        return name is not None and name.lower() in self.hosts

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """A browser's ``Origin`` must be this very agent: the request's own host and port
        (another local port is another site)."""
        if origin is None:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.netloc or host is None:
            return False
        return parts.netloc.lower() == host.lower()

    # -- who ------------------------------------------------------------------------------

    def who(self, authorization: str | None) -> str | None:
        """``api`` for the API token, the operator's name for a live session, else None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization[7:].strip()
        if hmac.compare_digest(presented.encode(), self.token.encode()):
            return "api"
        with self._lock:
            session = self._sessions.get(presented)
            if session is None:
                return None
            if session.expires <= time.monotonic():
                del self._sessions[presented]
                return None
            return session.operator

    def login(self, name: str, password: str) -> tuple[str, float] | str:
        """A session token and its lifetime, or the reason for a refusal."""
        now = time.monotonic()
        with self._lock:
            count, until = self._failures.get(name, (0, 0.0))
            if until > now:
                return f"operator {name!r} is locked for {int(until - now) + 1} s"
        stored = self.operators.get(name)
        ok = False
        try:
            ok = stored is not None and _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if stored is None:
            _hasher.hash(password)  # the same work: names are not told apart by timing
        with self._lock:
            if not ok:
                count += 1
                self._failures[name] = (
                    (0, now + LOCK_SECONDS) if count >= MAX_FAILURES else (count, 0.0)
                )
                return "name or password wrong"
            self._failures.pop(name, None)
            token = secrets.token_urlsafe(32)
            self._sessions[token] = Session(name, now + self.ttl)
            return token, self.ttl

    def logout(self, authorization: str | None) -> None:
        if authorization and authorization.startswith("Bearer "):
            with self._lock:
                self._sessions.pop(authorization[7:].strip(), None)


#: Routes that change nothing though they are POSTed: signing in.
OPEN_POSTS = frozenset({"/hmi/api/login"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


class ApiAccess:
    """ASGI middleware: 421 for a foreign ``Host``; for a state-changing request, 403 for a
    foreign ``Origin`` and 401 without a valid token; security headers on every answer."""

    def __init__(self, app: Any, guard: ApiGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1") or None
        origin_raw = headers.get(b"origin")
        origin = origin_raw.decode("latin-1") if origin_raw is not None else None
        auth_raw = headers.get(b"authorization")
        authorization = auth_raw.decode("latin-1") if auth_raw is not None else None
        if not self.guard.host_allowed(host):
            await _refuse(send, 421, f"host: this agent answers to its own address, not {host!r}")
            return
        if scope.get("method") in UNSAFE_METHODS:
            if not self.guard.origin_allowed(origin, host):
                await _refuse(send, 403, f"origin: requests from {origin!r} are not accepted")
                return
            if scope.get("path") not in OPEN_POSTS and self.guard.who(authorization) is None:
                await _refuse(
                    send,
                    401,
                    "authorization: expected 'Bearer <token>' (the API token, or an operator "
                    "signed in at the HMI)",
                )
                return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                ours = {name for name, _ in SECURITY_HEADERS}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in ours]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Any, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
