"""The append-only, hash-chained audit trail, anchored outside the database.

Every row carries ``hash = sha256(prev_hash + canonical JSON of its content)``; the first
row chains to 64 zeros. Changing or deleting a row breaks the chain from there on. The
database refuses UPDATE and DELETE on the table (a SQLite trigger, a PostgreSQL statement
trigger; see the initial migration), but its owner can drop the triggers, delete the last
rows, or rewrite a row and recompute every hash after it: the chain alone cannot show that.

So the chain is **anchored** with a key the database never holds (an Ed25519 private key
from a file or the environment, see :func:`load_private_key`):

* after every commit that appended rows, and at start, a *file checkpoint* is appended to an
  append-only checkpoint file outside the database: head id, head hash, row count, time,
  the (id, hash) of every row since the previous file checkpoint, the digest of the previous
  line, all signed;
* every ``audit_checkpoint_seconds`` (and on demand) a *chain checkpoint* is also written
  into the trail itself (action ``audit_checkpoint``): head id, head hash, row count, time,
  signed. A copy of the database and the public key suffice to check those.

:func:`verify` recomputes the chain, checks every checkpoint's signature with the trusted
public key (from the settings, never from the database) and compares what the checkpoints
pinned with what the table holds now; it names each finding (``rewritten``, ``broken_link``,
``rechained``, ``deleted``, ``truncated``, ``inserted``, ``checkpoint_invalid``,
``record_mismatch``…) and the first bad row. Signatures and batch status are cross-checked
against the trail (:func:`server.qa.signatures.cross_check`).

Rows written after the newest file checkpoint are protected by the chain alone until the
next one; file checkpoints follow every commit that appended rows, so that window is the
time between a commit and its checkpoint (milliseconds).

Appends are serialised so that two writers never chain to the same row: SQLite allows one
writer at a time (writes use BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory
lock is taken first. Because of that lock, committed rows are always a prefix of the id
order (ids may have gaps where a transaction rolled back), which is what the checkpoints
rely on.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, event, func, select, text

from server.store.engine import write_transaction
from server.store.schema import audit_trail

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x5E71A1  # "serial"-ish; any constant shared by every server process
CHECKPOINT_ACTION = "audit_checkpoint"
_DIRTY = "serialtrace_audit_appended"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_key: str
    old_value: Any
    new_value: Any
    reason: str
    hash: str


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _content_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("ascii")).hexdigest()


def _content(
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    old_value: str | None,
    new_value: str | None,
    reason: str,
) -> dict[str, Any]:
    return {
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_key": entity_key,
        "old_value": old_value,
        "new_value": new_value,
        "reason": reason,
    }


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    old_value: Any,
    new_value: Any,
    reason: str,
    now: datetime,
) -> str:
    """Record one change in ``conn``'s transaction; returns the new row's hash."""
    return append_row(
        conn,
        actor=actor,
        action=action,
        entity=entity,
        entity_key=entity_key,
        old_value=old_value,
        new_value=new_value,
        reason=reason,
        now=now,
    )[1]


def append_row(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    old_value: Any,
    new_value: Any,
    reason: str,
    now: datetime,
) -> tuple[int, str]:
    """As :func:`append`; returns the new row's id and hash."""
    _lock(conn)
    prev_hash = (
        conn.execute(select(audit_trail.c.hash).order_by(audit_trail.c.id.desc()).limit(1)).scalar()
        or GENESIS
    )
    at = now
    old_text = None if old_value is None else json.dumps(old_value, sort_keys=True)
    new_text = None if new_value is None else json.dumps(new_value, sort_keys=True)
    digest = _content_hash(
        prev_hash, _content(at, actor, action, entity, entity_key, old_text, new_text, reason)
    )
    row_id = conn.execute(
        audit_trail.insert().returning(audit_trail.c.id),
        {
            "at": at,
            "actor": actor[:64],
            "action": action,
            "entity": entity,
            "entity_key": entity_key,
            "old_value": old_text,
            "new_value": new_text,
            "reason": reason,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    ).scalar_one()
    conn.info[_DIRTY] = True  # the anchor writes a file checkpoint once this commits
    return int(row_id), digest


def entries(
    conn: Connection,
    *,
    entity: str | None = None,
    entity_key: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    query = select(audit_trail).order_by(audit_trail.c.id)
    if entity is not None:
        query = query.where(audit_trail.c.entity == entity)
    if entity_key is not None:
        query = query.where(audit_trail.c.entity_key == entity_key)
    if action is not None:
        query = query.where(audit_trail.c.action == action)
    return [_entry(row) for row in conn.execute(query.limit(limit).offset(offset))]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_key=row.entity_key,
        old_value=_loads(row.old_value),
        new_value=_loads(row.new_value),
        reason=row.reason,
        hash=row.hash,
    )


def _loads(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value  # a tampered row is still shown as it is


def entry_by_hash(conn: Connection, digest: str) -> AuditEntry | None:
    row = conn.execute(select(audit_trail).where(audit_trail.c.hash == digest)).first()
    return None if row is None else _entry(row)


def verify_chain(conn: Connection) -> int | None:
    """The id of the first row whose hash does not chain, or None if the chain is intact.

    The chain alone: :func:`verify` also checks it against the checkpoints."""
    for problem in _chain_problems(_rows(conn)):
        return problem.row_id
    return None


# -- keys -----------------------------------------------------------------------------------


class AuditKeyError(ValueError):
    """An audit key (file, environment value or public key) is unusable."""


def generate_key_file(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, PKCS#8, mode 0600) to ``path``, which must not
    exist; returns the public key (hex) to put in the verifiers' settings."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_hex(key.public_key())


def load_private_key(value: str | bytes, source: str) -> Ed25519PrivateKey:
    """A private key from PEM text, or 64 hex digits / base64 of the 32-byte seed."""
    data = value.encode("ascii", "replace") if isinstance(value, str) else value
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(stripped, password=None)
        else:
            seed = _decode_32(stripped.decode("ascii", "replace"))
            key = Ed25519PrivateKey.from_private_bytes(seed)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(
            f"{source}: expected an Ed25519 private key, got unusable data"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{source}: expected an Ed25519 private key, got another key type")
    return key


def load_public_key(value: str, source: str = "audit_public_key") -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(_decode_32(value.strip()))
    except ValueError as exc:
        raise AuditKeyError(
            f"{source}: expected 64 hex digits (an Ed25519 public key), got {value!r}"
        ) from exc


def _decode_32(text_value: str) -> bytes:
    try:
        raw = bytes.fromhex(text_value)
    except ValueError:
        try:
            raw = base64.b64decode(text_value, validate=True)
        except ValueError:
            raise ValueError("neither hex nor base64") from None
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def _sign(key: Ed25519PrivateKey, body: dict[str, Any]) -> str:
    return key.sign(canonical_json(body).encode("ascii")).hex()


def _signature_ok(key: Ed25519PublicKey, body: dict[str, Any], signature: Any) -> bool:
    if not isinstance(signature, str):
        return False
    try:
        key.verify(bytes.fromhex(signature), canonical_json(body).encode("ascii"))
    except (InvalidSignature, ValueError):
        return False
    return True


# -- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint pinned: the newest row, its hash and how many rows there were."""

    seq: int
    at: datetime
    head_id: int
    head_hash: str
    row_count: int
    in_chain: bool


class Anchor:
    """Writes checkpoints of the trail in ``engine`` to ``checkpoint_file`` (and to the trail
    itself), signed with ``private_key``; checks them with ``public_key``.

    Without a private key it writes nothing (a verifier); without a file only chain
    checkpoints can be checked."""

    def __init__(
        self,
        engine: Engine,
        *,
        checkpoint_file: Path | None,
        private_key: Ed25519PrivateKey | None,
        public_key: Ed25519PublicKey | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if public_key is None and private_key is not None:
            public_key = private_key.public_key()
        if (
            private_key is not None
            and public_key is not None
            and public_hex(private_key.public_key()) != public_hex(public_key)
        ):
            raise AuditKeyError("audit_public_key: does not belong to the audit private key")
        self.engine = engine
        self.checkpoint_file = checkpoint_file
        self.private_key = private_key
        self.public_key = public_key
        self.clock = clock
        self._lock = threading.Lock()
        self._installed = False

    @property
    def can_sign(self) -> bool:
        return self.private_key is not None and self.checkpoint_file is not None

    # -- writing ----------------------------------------------------------------------------

    def install(self) -> None:
        """Write a file checkpoint after every commit on ``engine`` that appended rows."""
        if self._installed or not self.can_sign:
            return
        event.listen(self.engine, "checkin", self._on_checkin)
        event.listen(self.engine, "rollback", self._on_rollback)
        self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            event.remove(self.engine, "checkin", self._on_checkin)
            event.remove(self.engine, "rollback", self._on_rollback)
            self._installed = False

    def _on_rollback(self, conn: Connection) -> None:
        conn.info.pop(_DIRTY, None)

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        # The connection went back to the pool: its transaction is over (committed, since a
        # rollback cleared the flag). Check it synchronously, so a request that changed the
        # trail is anchored before its answer leaves.
        if record is None or not record.info.pop(_DIRTY, False):
            return
        try:
            self.file_checkpoint()
        except Exception:  # the change is committed; the next checkpoint will cover it
            log.exception("audit: file checkpoint after a commit failed")

    def file_checkpoint(self) -> Checkpoint | None:
        """Append a checkpoint of every row committed since the last one (None if none)."""
        if not self.can_sign:
            return None
        assert self.checkpoint_file is not None and self.private_key is not None
        with self._lock, _locked_append(self.checkpoint_file) as handle:
            last = _last_line(handle)
            last_head = 0 if last is None else int(last["head_id"])
            with self.engine.connect() as conn, conn.begin():
                new_rows = [
                    (int(row.id), str(row.hash))
                    for row in conn.execute(
                        select(audit_trail.c.id, audit_trail.c.hash)
                        .where(audit_trail.c.id > last_head)
                        .order_by(audit_trail.c.id)
                    )
                ]
                if not new_rows:
                    return None
                head_id, head_hash = new_rows[-1]
                count = conn.execute(
                    select(func.count()).select_from(audit_trail).where(audit_trail.c.id <= head_id)
                ).scalar_one()
            conn_info = _CheckpointBody(
                seq=1 if last is None else int(last["seq"]) + 1,
                at=self.clock(),
                head_id=head_id,
                head_hash=head_hash,
                row_count=int(count),
            )
            body = {
                **conn_info.as_dict(),
                "rows": [[row_id, digest] for row_id, digest in new_rows],
                "prev": None if last is None else _line_digest(last),
            }
            body["sig"] = _sign(self.private_key, body)
            handle.write((canonical_json(body) + "\n").encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        return conn_info.checkpoint(in_chain=False)

    def chain_checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Write a signed checkpoint into the trail itself (and then one to the file); None
        when no row was added since the last chain checkpoint (unless ``force``)."""
        if not self.can_sign:
            return None
        assert self.private_key is not None
        with write_transaction(self.engine) as conn:
            _lock(conn)
            head = conn.execute(
                select(audit_trail.c.id, audit_trail.c.hash, audit_trail.c.action)
                .order_by(audit_trail.c.id.desc())
                .limit(1)
            ).first()
            if head is None:
                return None
            if head.action == CHECKPOINT_ACTION and not force:
                return None
            count = conn.execute(select(func.count()).select_from(audit_trail)).scalar_one()
            seq = (
                conn.execute(
                    select(func.count())
                    .select_from(audit_trail)
                    .where(audit_trail.c.action == CHECKPOINT_ACTION)
                ).scalar_one()
                + 1
            )
            info = _CheckpointBody(
                seq=int(seq),
                at=self.clock(),
                head_id=int(head.id),
                head_hash=str(head.hash),
                row_count=int(count),
            )
            body: dict[str, Any] = {
                **info.as_dict(),
                "key": public_hex(self.private_key.public_key()),
            }
            body["sig"] = _sign(self.private_key, body)
            append(
                conn,
                actor="system",
                action=CHECKPOINT_ACTION,
                entity="audit",
                entity_key=f"checkpoint {info.seq}",
                old_value=None,
                new_value=body,
                reason="periodic checkpoint of the audit trail, signed with the audit key",
                now=info.at,
            )
        if not self._installed:
            self.file_checkpoint()
        return info.checkpoint(in_chain=True)

    # -- reading ----------------------------------------------------------------------------

    def file_checkpoints(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The file's checkpoints and the problems reading them (missing file: none)."""
        if self.checkpoint_file is None or not self.checkpoint_file.exists():
            return [], []
        lines: list[dict[str, Any]] = []
        problems: list[str] = []
        with open(self.checkpoint_file, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    value = json.loads(raw)
                    if not isinstance(value, dict):
                        raise ValueError("not an object")
                except ValueError:
                    problems.append(f"checkpoint file line {number}: not a JSON object")
                    continue
                value["_line"] = number
                lines.append(value)
        return lines, problems


@dataclass(frozen=True)
class _CheckpointBody:
    seq: int
    at: datetime
    head_id: int
    head_hash: str
    row_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "row_count": self.row_count,
        }

    def checkpoint(self, *, in_chain: bool) -> Checkpoint:
        return Checkpoint(self.seq, self.at, self.head_id, self.head_hash, self.row_count, in_chain)


def _line_digest(line: dict[str, Any]) -> str:
    body = {k: v for k, v in line.items() if not k.startswith("_")}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


@contextmanager
def _locked_append(path: Path) -> Iterator[Any]:
    """The checkpoint file opened for reading and appending, under an exclusive lock (one
    writer at a time, across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _last_line(handle: Any) -> dict[str, Any] | None:
    """The newest checkpoint in the file, read backwards from its end. A last line left
    incomplete (a crash while writing it) is skipped, and the next line starts on a new
    line; :func:`verify` reports it."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return None
    handle.seek(end - 1)
    if handle.read(1) != b"\n":
        handle.write(b"\n")
        end += 1
    data = b""
    position = end
    while position > 0:
        step = min(65536, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
        lines = data.split(b"\n")
        complete = lines if position == 0 else lines[1:]  # the first may be cut
        for line in reversed(complete):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and "head_id" in value and "seq" in value:
                return value
    return None


# -- periodic checkpoints -----------------------------------------------------------------


class Checkpointer:
    """A thread that writes a chain checkpoint every ``interval`` seconds (when rows were
    added since the last one). ``stop`` writes a last one."""

    def __init__(self, anchor: Anchor, interval: float) -> None:
        self.anchor = anchor
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.anchor.can_sign:
            return
        self._run_once()  # the trail as found at start is anchored at once
        self._thread = threading.Thread(target=self._loop, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
            self._run_once()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._run_once()

    def _run_once(self) -> None:
        try:
            self.anchor.file_checkpoint()
            self.anchor.chain_checkpoint()
        except Exception:  # a database outage must not end the thread
            log.exception("audit: periodic checkpoint failed")


# -- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One finding: ``kind``, the audit row it concerns (None for other records), detail."""

    kind: str
    row_id: int | None
    detail: str


@dataclass(frozen=True)
class LastCheckpoint:
    seq: int
    at: str
    head_id: int
    row_count: int
    source: str  # "file" or "chain"


@dataclass
class AuditVerification:
    """What :func:`verify` found. ``intact`` is True only when there is no problem."""

    intact: bool
    rows: int
    first_bad_row: int | None
    first_broken_id: int | None  # the same (kept for older clients)
    problems: list[AuditProblem]
    anchored: bool
    file_checkpoints: int
    chain_checkpoints: int
    last_checkpoint: LastCheckpoint | None
    unanchored_rows: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    id: int
    content: dict[str, Any]
    prev_hash: str
    hash: str
    action: str
    new_value: str | None


def _rows(conn: Connection) -> Iterator[_Row]:
    for row in conn.execute(select(audit_trail).order_by(audit_trail.c.id)):
        yield _Row(
            id=int(row.id),
            content=_content(
                row.at,
                row.actor,
                row.action,
                row.entity,
                row.entity_key,
                row.old_value,
                row.new_value,
                row.reason,
            ),
            prev_hash=row.prev_hash,
            hash=row.hash,
            action=row.action,
            new_value=row.new_value,
        )


def _chain_problems(rows: Iterator[_Row] | Sequence[_Row]) -> Iterator[AuditProblem]:
    prev_hash = GENESIS
    prev_id: int | None = None
    for row in rows:
        if row.prev_hash != prev_hash:
            where = "the start" if prev_id is None else f"row {prev_id}"
            yield AuditProblem(
                "broken_link",
                row.id,
                f"row {row.id} does not chain to {where}: a row before it was deleted or changed",
            )
        if _content_hash(row.prev_hash, row.content) != row.hash:
            yield AuditProblem(
                "rewritten", row.id, f"row {row.id}: its content does not match its hash"
            )
        prev_hash = row.hash
        prev_id = row.id


def verify(
    conn: Connection,
    anchor: Anchor | None = None,
    *,
    cross_checks: Sequence[Callable[[Connection], list[AuditProblem]]] | None = None,
) -> AuditVerification:
    """Check the chain, the checkpoints (file and chain) and the records kept beside the
    trail (signatures, batch status); see the module docstring."""
    rows = list(_rows(conn))
    by_id = {row.id: row for row in rows}
    problems = list(_chain_problems(rows))
    warnings: list[str] = []
    public_key = anchor.public_key if anchor is not None else None
    last: LastCheckpoint | None = None

    # Checkpoints in the chain: signed by the trusted key, and what they pinned still there.
    chain_count = 0
    for row in rows:
        if row.action != CHECKPOINT_ACTION:
            continue
        chain_count += 1
        body = _loads(row.new_value)
        if not isinstance(body, dict):
            problems.append(
                AuditProblem("checkpoint_invalid", row.id, f"row {row.id}: not a checkpoint")
            )
            continue
        if public_key is None:
            continue
        signature = body.get("sig")
        signed = {k: v for k, v in body.items() if k != "sig"}
        if not _signature_ok(public_key, signed, signature):
            problems.append(
                AuditProblem(
                    "checkpoint_invalid",
                    row.id,
                    f"row {row.id}: checkpoint signature does not verify with the audit key",
                )
            )
            continue
        problems.extend(_pinned(body, by_id, rows, f"chain checkpoint {body.get('seq')}"))
        last = _later(last, body, "chain")

    # Checkpoints in the file outside the database.
    file_count = 0
    listed: set[int] = set()
    last_file_head = 0
    if anchor is not None and anchor.checkpoint_file is not None:
        lines, file_problems = anchor.file_checkpoints()
        problems.extend(AuditProblem("file_invalid", None, p) for p in file_problems)
        previous: dict[str, Any] | None = None
        for line in lines:
            file_count += 1
            number = line["_line"]
            body = {k: v for k, v in line.items() if not k.startswith("_") and k != "sig"}
            if public_key is None or not _signature_ok(public_key, body, line.get("sig")):
                if public_key is not None:
                    problems.append(
                        AuditProblem(
                            "file_invalid",
                            None,
                            f"checkpoint file line {number}: signature does not verify",
                        )
                    )
                previous = line
                continue
            expected_prev = None if previous is None else _line_digest(previous)
            if line.get("prev") != expected_prev:
                problems.append(
                    AuditProblem(
                        "file_invalid",
                        None,
                        f"checkpoint file line {number}: does not follow the line before it",
                    )
                )
            previous = line
            for item in line.get("rows") or []:
                row_id, digest = int(item[0]), str(item[1])
                listed.add(row_id)
                found = by_id.get(row_id)
                if found is None:
                    kind = "truncated" if not rows or row_id > rows[-1].id else "deleted"
                    problems.append(
                        AuditProblem(
                            kind,
                            row_id,
                            f"row {row_id} is missing (file checkpoint {line.get('seq')} "
                            "recorded it)",
                        )
                    )
                elif found.hash != digest:
                    problems.append(
                        AuditProblem(
                            "rechained",
                            row_id,
                            f"row {row_id}: its hash differs from the one file checkpoint "
                            f"{line.get('seq')} recorded (rewritten and hashes recomputed)",
                        )
                    )
            problems.extend(_pinned(line, by_id, rows, f"file checkpoint {line.get('seq')}"))
            last_file_head = max(last_file_head, int(line.get("head_id") or 0))
            last = _later(last, line, "file")
        for row in rows:
            if row.id <= last_file_head and row.id not in listed:
                problems.append(
                    AuditProblem(
                        "inserted",
                        row.id,
                        f"row {row.id} is not in any file checkpoint, though older than the "
                        "newest one",
                    )
                )

    for check in _default_cross_checks() if cross_checks is None else cross_checks:
        problems.extend(check(conn))

    anchored = public_key is not None and (file_count > 0 or chain_count > 0)
    if public_key is None:
        warnings.append(
            "no audit key configured: checkpoints are not checked, so deleting the newest "
            "rows or rewriting the chain cannot be detected (see docs/qa.md)"
        )
    elif anchor is not None and anchor.checkpoint_file is None:
        warnings.append("no checkpoint file configured: only chain checkpoints are checked")
    elif file_count == 0 and rows:
        warnings.append("the checkpoint file holds no checkpoint yet")
    head = max(last_file_head, last.head_id if last is not None else 0)
    unanchored = sum(1 for row in rows if row.id > head)
    problems = _dedupe(problems)
    bad_rows = [p.row_id for p in problems if p.row_id is not None]
    first = min(bad_rows) if bad_rows else None
    return AuditVerification(
        intact=not problems,
        rows=len(rows),
        first_bad_row=first,
        first_broken_id=first,
        problems=problems,
        anchored=anchored,
        file_checkpoints=file_count,
        chain_checkpoints=chain_count,
        last_checkpoint=last,
        unanchored_rows=unanchored,
        warnings=warnings,
    )


def _pinned(
    body: dict[str, Any], by_id: dict[int, _Row], rows: Sequence[_Row], what: str
) -> list[AuditProblem]:
    """The head row a checkpoint pinned must still be there, with the same hash, and the
    number of rows up to it must be the same."""
    problems = []
    try:
        head_id = int(body["head_id"])
        head_hash = str(body["head_hash"])
        row_count = int(body["row_count"])
    except (KeyError, TypeError, ValueError):
        return [AuditProblem("checkpoint_invalid", None, f"{what}: incomplete")]
    head = by_id.get(head_id)
    if head is None:
        kind = "truncated" if not rows or head_id > rows[-1].id else "deleted"
        problems.append(
            AuditProblem(kind, head_id, f"row {head_id}, the head of {what}, is missing")
        )
    elif head.hash != head_hash:
        problems.append(
            AuditProblem(
                "rechained",
                head_id,
                f"row {head_id}: its hash differs from the one {what} signed",
            )
        )
    count = sum(1 for row in rows if row.id <= head_id)
    if count != row_count:
        kind = "deleted" if count < row_count else "inserted"
        problems.append(
            AuditProblem(
                kind,
                None,
                f"{what}: {row_count} rows up to row {head_id} were signed, {count} are there",
            )
        )
    return problems


def _later(last: LastCheckpoint | None, body: dict[str, Any], source: str) -> LastCheckpoint | None:
    try:
        candidate = LastCheckpoint(
            seq=int(body["seq"]),
            at=str(body["at"]),
            head_id=int(body["head_id"]),
            row_count=int(body["row_count"]),
            source=source,
        )
    except (KeyError, TypeError, ValueError):
        return last
    if last is None or (candidate.head_id, candidate.source) >= (last.head_id, last.source):
        return candidate
    return last


def _dedupe(problems: list[AuditProblem]) -> list[AuditProblem]:
    seen: set[tuple[str, int | None, str]] = set()
    out = []
    for problem in problems:
        key = (problem.kind, problem.row_id, problem.detail)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    out.sort(key=lambda p: (p.row_id is None, p.row_id or 0))
    return out


def _default_cross_checks() -> list[Callable[[Connection], list[AuditProblem]]]:
    from server.qa.signatures import cross_check  # the QA records kept beside the trail

    return [cross_check]


def anchor_from_settings(settings: Any, engine: Engine) -> Anchor:
    """The anchor the settings describe (:class:`server.config.ServerSettings`); raises
    :class:`server.errors.ConfigError` naming the setting when a key is unusable."""
    from server.errors import ConfigError

    private_key = None
    key_file = Path(settings.audit_key_file) if settings.audit_key_file else None
    try:
        if settings.audit_key is not None:
            private_key = load_private_key(
                settings.audit_key.get_secret_value(), "audit_key (SERIALTRACE_SERVER__AUDIT_KEY)"
            )
        elif key_file is not None:
            try:
                mode = key_file.stat().st_mode
                data = key_file.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"audit_key_file: cannot read {str(key_file)!r}: {exc.strerror}"
                ) from exc
            if mode & 0o077:
                raise ConfigError(
                    f"audit_key_file: {str(key_file)!r} has mode {mode & 0o777:04o}, so other "
                    "users can read the key; expected 0600 (chmod 600)"
                )
            private_key = load_private_key(data, f"audit_key_file {str(key_file)!r}")
        public_key = (
            load_public_key(settings.audit_public_key) if settings.audit_public_key else None
        )
        checkpoint_file = None
        if settings.audit_checkpoint_file:
            checkpoint_file = Path(settings.audit_checkpoint_file)
        elif private_key is not None or public_key is not None:
            folder = key_file.parent if key_file is not None else Path.cwd()
            checkpoint_file = folder / "audit-checkpoints.jsonl"
        return Anchor(
            engine,
            checkpoint_file=checkpoint_file,
            private_key=private_key,
            public_key=public_key,
        )
    except AuditKeyError as exc:
        raise ConfigError(str(exc)) from exc
