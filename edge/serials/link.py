"""The line's link to the serial authority: refill the buffer at its low-water mark, send
the books, and say when the line is about to run dry.

:class:`AuthorityClient` speaks the authority's HTTP API (``/auth/token``, ``/serials/pools``,
``/serials/reports``) as one line identity; :class:`AuthorityLink` is the thread that keeps a
:class:`~edge.serials.buffer.SerialBuffer` between its low-water mark and its target, and
sends the queued reports. The line keeps producing from the buffer while the authority is
unreachable; the link raises an alarm when a scope is below its low-water mark and cannot be
refilled, and the buffer stops the line (:class:`~edge.serials.errors.BufferEmptyError`) when
it is empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from edge.serials.buffer import Lookup, Scope, SerialBuffer
from edge.serials.errors import AuthorityError

log = logging.getLogger(__name__)

#: Pools asked for in one refill round at most (keeps the thread responsive to stop()).
MAX_POOLS_PER_ROUND = 200


class AuthorityUnreachable(AuthorityError):
    """The authority did not answer (network, TLS, timeout, server down)."""


class AuthorityClient:
    """One line identity at the serial authority, over HTTP(S)."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        ca_file: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._username = username
        self._password = password
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, verify=ca_file if ca_file else True
        )
        self._token: str | None = None
        self._lock = threading.Lock()

    def request_pool(
        self, scope: Scope, count: int, token: str, high_water: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {**scope.request_fields(), "count": count, "request_token": token}
        if high_water is not None:
            body["high_water"] = high_water
        answer = self._post("/serials/pools", body)
        pool = answer.get("pool")
        if not isinstance(pool, dict):
            raise AuthorityError(f"authority: expected a pool in the answer, got {answer!r:.200}")
        return pool

    def probe(self) -> None:
        """Check that the authority answers (``GET /health``); AuthorityUnreachable if not."""
        try:
            response = self._http.get("/health")
        except httpx.HTTPError as exc:
            raise AuthorityUnreachable(f"authority {self.url}: {exc!r}") from None
        _answer(response, "/health")

    def report(self, scope: Scope, statuses: dict[str, list[str]]) -> dict[str, Any]:
        return self._post("/serials/reports", {**scope.request_fields(), **statuses})

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON as the line; the answer (AuthorityError with the server's reason)."""
        return self._post(path, body)

    def get(self, path: str) -> Any:
        """GET as the line; the JSON answer."""
        for attempt in (1, 2):
            try:
                token = self._login()
                response = self._http.get(path, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise AuthorityUnreachable(f"server {self.url}: {exc!r}") from None
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code >= 400:
                _answer(response, path)  # raises with the server's reason
            try:
                return response.json()
            except ValueError:
                raise AuthorityError(
                    f"server {path}: expected JSON, got {response.text[:200]!r}"
                ) from None
        raise AssertionError("unreachable")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            response = self._send(path, body)
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired or revoked: log in again, once
                continue
            return _answer(response, path)
        raise AssertionError("unreachable")

    def _send(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            token = self._login()
            return self._http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise AuthorityUnreachable(f"authority {self.url}: {exc!r}") from None

    def _login(self) -> str:
        with self._lock:
            if self._token is None:
                response = self._http.post(
                    "/auth/token", data={"username": self._username, "password": self._password}
                )
                self._token = str(_answer(response, "/auth/token")["access_token"])
            return self._token


def _answer(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        detail = data.get("detail") if isinstance(data, dict) else None
        raise AuthorityError(
            f"authority {path}: HTTP {response.status_code}: {detail or response.text[:200]}",
            response.status_code,
        )
    if not isinstance(data, dict):
        raise AuthorityError(
            f"authority {path}: expected a JSON object, got {response.text[:200]!r}"
        )
    return data


class AuthorityLink:
    """Keeps the buffer filled and the books sent, on a thread of its own."""

    def __init__(
        self,
        buffer: SerialBuffer,
        client: AuthorityClient,
        *,
        retry_s: float = 5.0,
        max_backoff_s: float = 60.0,
        return_unused_at_close: bool = False,
    ) -> None:
        self.buffer = buffer
        self.client = client
        self._retry_s = retry_s
        self._max_backoff_s = max_backoff_s
        self._return_unused = return_unused_at_close
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lookup: Lookup | None = None
        self._on_alarm: Callable[[str | None], None] | None = None
        self._alarm: str | None = None
        self.reachable = False
        self.unreachable_since: datetime | None = None
        self.last_error: str | None = None
        self.refusals: dict[Scope, str] = {}
        self.refused_reports = 0
        self.pools_received = 0

    # -- life cycle ----------------------------------------------------------------------

    def start(self, lookup: Lookup, on_alarm: Callable[[str | None], None] | None = None) -> None:
        """Settle what earlier runs handed out (before any new unit is made), then refill and
        report on the link's thread."""
        self._lookup = lookup
        self._on_alarm = on_alarm
        for scope in self.buffer.sizing:
            self.buffer.settle(scope, lookup)
        self._thread = threading.Thread(target=self._run, name="edge-serial-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.client.close()
        self.buffer.close()

    def wake(self) -> None:
        self._wake.set()

    def batch_closed(self, gtin: str) -> dict[str, dict[str, int]]:
        """A batch of ``gtin`` closed: report every serial and SSCC handed out so far (and,
        if configured, return the rest of the GTIN's buffer)."""
        if self._lookup is None:
            return {}
        settled = {}
        for scope in self.buffer.sizing:
            if scope.kind == "sscc" or scope.name == gtin:
                rest = self._return_unused and scope.kind == "sgtin"
                settled[str(scope)] = self.buffer.settle(scope, self._lookup, return_rest=rest)
        self._wake.set()
        return settled

    # -- state ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "authority": self.client.url,
            "reachable": self.reachable,
            "unreachable_since": None
            if self.unreachable_since is None
            else self.unreachable_since.isoformat(timespec="seconds"),
            "last_error": self.last_error,
            "reports_waiting": self.buffer.report_count(),
            "refused_reports": self.refused_reports,
            "pools_received": self.pools_received,
            "refusals": {str(scope): why for scope, why in self.refusals.items()},
            "scopes": self.buffer.state(),
        }

    @property
    def alarm(self) -> str | None:
        return self._alarm

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self._retry_s
        while not self._stopping.is_set():
            try:
                ok = self._refill() and self._send_reports() and self._probe()
            except Exception as exc:  # one bad answer must not end the link
                log.exception("serial link: unexpected failure")
                self._failed(f"{exc!r}")
                ok = False
            self._update_alarm()
            if ok:
                backoff = self._retry_s
                timeout = self._retry_s
            else:
                timeout, backoff = backoff, min(backoff * 2, self._max_backoff_s)
            self._wake.wait(timeout)
            self._wake.clear()

    def _refill(self) -> bool:
        for scope in self.buffer.sizing:
            for round_ in range(MAX_POOLS_PER_ROUND):
                if self._stopping.is_set():
                    return True
                count = self.buffer.needs(scope, refilling=round_ > 0)
                if count == 0:
                    break
                token, count = self.buffer.request_token(scope, count)
                try:
                    pool = self.client.request_pool(
                        scope, count, token, self.buffer.high_water(scope)
                    )
                    received = self.buffer.store_pool(scope, token, pool)
                except AuthorityUnreachable as exc:
                    self._failed(str(exc))
                    return False
                except AuthorityError as exc:
                    self._failed(str(exc))
                    if exc.status in (403, 404, 409, 422):  # refused: a new request later
                        self.buffer.forget_request(scope)
                        self.refusals[scope] = str(exc)
                    elif exc.status is None:  # not a valid pool (overlap, malformed)
                        self.buffer.forget_request(scope)
                    break
                self._succeeded()
                self.refusals.pop(scope, None)
                self.pools_received += 1
                log.info(
                    "serial link: pool %d of %s (%d values) stored",
                    received.authority_id,
                    scope,
                    len(received.values),
                )
        return not self.refusals

    def _probe(self) -> bool:
        """Nothing to ask for: check the authority still answers, so the state shown is true."""
        try:
            self.client.probe()
        except AuthorityError as exc:
            self._failed(str(exc))
            return False
        self._succeeded()
        return True

    def _send_reports(self) -> bool:
        while not self._stopping.is_set():
            pending = self.buffer.pending_reports()
            if not pending:
                return True
            for report_id, scope, body in pending:
                try:
                    answer = self.client.report(scope, body)
                except AuthorityUnreachable as exc:
                    self._failed(str(exc))
                    return False
                except AuthorityError as exc:
                    if exc.status is not None and 400 <= exc.status < 500 and exc.status != 401:
                        # refused for good: kept on record here, not sent again
                        log.error("serial link: report %d refused: %s", report_id, exc)
                        self.refused_reports += 1
                        self.buffer.report_failed(report_id, str(exc))
                        self.buffer.report_sent(report_id)
                        continue
                    self._failed(str(exc))
                    return False
                self._succeeded()
                if answer.get("refused") or answer.get("conflicts"):
                    self.refused_reports += 1
                    log.error(
                        "serial link: the authority refused part of report %d: %s",
                        report_id,
                        {k: answer.get(k) for k in ("refused", "conflicts")},
                    )
                self.buffer.report_sent(report_id)
        return True

    def _failed(self, error: str) -> None:
        if self.reachable or self.unreachable_since is None:
            self.unreachable_since = datetime.now(UTC)
        self.reachable = False
        self.last_error = error
        log.warning("serial link: %s", error)

    def _succeeded(self) -> None:
        self.reachable = True
        self.unreachable_since = None
        self.last_error = None

    def _update_alarm(self) -> None:
        problems = []
        for state in self.buffer.state():
            scope = Scope(state["kind"], state["scope"])
            if scope in self.refusals:
                problems.append(f"{scope}: the authority refused a refill ({self.refusals[scope]})")
            elif state["low"] and not self.reachable:
                since = (
                    ""
                    if self.unreachable_since is None
                    else f" since {self.unreachable_since.astimezone(UTC):%H:%M:%S} UTC"
                )
                problems.append(
                    f"{scope}: {_duration(state['minutes_left'])} of production left in the "
                    f"serial buffer; authority unreachable{since}"
                )
        alarm = "; ".join(problems) or None
        if alarm != self._alarm:
            self._alarm = alarm
            if self._on_alarm is not None:
                self._on_alarm(alarm)


def _duration(minutes: float) -> str:
    hours, seconds = divmod(int(minutes * 60), 3600)
    if hours:
        return f"{hours} h {seconds // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
