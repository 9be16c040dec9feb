"""The high-water journal: what protects the authority's counters against a restored backup.

Restoring the database from a backup moves every scope's ``next_position`` back to what it
was when the backup was taken: without more, the pools handed out since would be handed out
again. So before a pool leaves, the authority appends one line to this file and fsyncs it::

    v1 sgtin 09506000134352 20000 2025-03-01T08:00:00.123456+00:00 3c5f0a1e

(kind, scope name, the pool's stop position, time, CRC-32 of the rest). At start-up, and
at every grant (the database can go back under a running authority: restored, or a failover
to a replica that had not received the last commits), the authority raises a scope's
``next_position`` to the highest stop in the journal (:meth:`HighWaterJournal.high_waters`).
The file is read once; after that only what was appended since (by this process or another
one sharing the file) is read.

The journal is worth nothing if it is restored along with the database: keep it on other
storage than the database (another disk or host, not in the same backup set), or at least
never restore it from an older copy. A torn last line (power cut while appending) is ignored:
its pool never left, because the line is fsynced before the grant commits; the next append
starts on a line of its own, so the torn one cannot swallow it.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from server.errors import ConfigError

_VERSION = "v1"


class HighWaterJournal:
    """An append-only, fsynced file of the highest position each scope has handed out."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"serials_journal: expected a writable file path, got {str(self.path)!r} "
                f"({exc.strerror})"
            ) from exc
        self._fd = descriptor
        #: highest stop per scope in the first ``_read_to`` bytes of the file
        self._highest: dict[tuple[str, str], int] = {}
        self._read_to = 0
        _fsync_dir(self.path.parent)
        if _ends_torn(self.path):  # a power cut mid-append: end that line before the next one
            os.write(self._fd, b"\n")
            os.fsync(self._fd)

    def append(self, kind: str, name: str, stop: int, *, now: datetime | None = None) -> None:
        """Record that ``kind``/``name`` handed out positions below ``stop``; on disk on return."""
        at = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
        body = f"{_VERSION} {kind} {name} {stop} {at}"
        line = f"{body} {zlib.crc32(body.encode('ascii')):08x}\n".encode("ascii")
        with self._lock:
            written = os.write(self._fd, line)  # O_APPEND: one write per line, never interleaved
            if written != len(line):
                raise OSError(f"journal {self.path}: short write ({written} of {len(line)} bytes)")
            os.fsync(self._fd)

    def high_waters(self) -> dict[tuple[str, str], int]:
        """The highest stop per (kind, scope name) recorded in the file: what was read before,
        and the whole lines appended since (by any process)."""
        with self._lock:
            with open(self.path, "rb") as file:
                file.seek(self._read_to)
                added = file.read()
            end = added.rfind(b"\n") + 1  # a line being appended is read when it is whole
            for raw in added[:end].splitlines(keepends=True):
                parsed = _parse(raw)
                if parsed is not None:
                    kind, name, stop = parsed
                    if stop > self._highest.get((kind, name), -1):
                        self._highest[(kind, name)] = stop
            self._read_to += end
            return dict(self._highest)

    def high_water(self, kind: str, name: str) -> int:
        """The highest stop of one scope (0 if the journal has none)."""
        return self.high_waters().get((kind, name), 0)

    def entries(self) -> Iterator[tuple[str, str, int]]:
        """(kind, name, stop) of every intact line, oldest first."""
        with open(self.path, "rb") as file:
            for raw in file:
                parsed = _parse(raw)
                if parsed is not None:
                    yield parsed

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _parse(raw: bytes) -> tuple[str, str, int] | None:
    try:
        text = raw.decode("ascii").rstrip("\n")
        body, _, crc = text.rpartition(" ")
        if f"{zlib.crc32(body.encode('ascii')):08x}" != crc:
            return None
        version, kind, name, stop, _at = body.split(" ")
    except (UnicodeDecodeError, ValueError):
        return None
    if version != _VERSION or not stop.isdigit():
        return None
    return kind, name, int(stop)


def _ends_torn(path: Path) -> bool:
    """Whether the file's last line has no end (its append was cut short)."""
    with open(path, "rb") as file:
        if file.seek(0, os.SEEK_END) == 0:
            return False
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
