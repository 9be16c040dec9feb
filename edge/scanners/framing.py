"""Framing: bytes from the port -> one frame per scan, split at the terminator.

Pure and bounded: :class:`LineFramer` never holds more than ``max_line`` bytes. A run that
grows past it without a terminator is cut off and reported as an overflow; bytes left
waiting (a scan cut short) come out of :meth:`LineFramer.flush` as a partial frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FrameKind(StrEnum):
    LINE = "line"
    """A complete scan, terminator removed."""
    PARTIAL = "partial"
    """Bytes that never got their terminator (flushed after a silence)."""
    OVERFLOW = "overflow"
    """``max_line`` bytes without a terminator: the first ``max_line`` bytes are kept."""


@dataclass(frozen=True)
class LineFrame:
    kind: FrameKind
    payload: bytes


class LineFramer:
    """Splits a byte stream at ``terminator``."""

    def __init__(self, terminator: bytes, max_line: int) -> None:
        if not terminator:
            raise ValueError("terminator: expected at least one byte, got b''")
        self.terminator = terminator
        self.max_line = max_line
        self._buffer = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Bytes waiting for their terminator."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[LineFrame]:
        """Frames completed by ``data`` (often none or one)."""
        self._buffer += data
        frames: list[LineFrame] = []
        while True:
            end = self._buffer.find(self.terminator)
            if end < 0:
                break
            payload = bytes(self._buffer[:end])
            del self._buffer[: end + len(self.terminator)]
            if self._discarding:  # the tail of an overflowed run: already reported
                self._discarding = False
                continue
            if len(payload) > self.max_line:
                frames.append(LineFrame(FrameKind.OVERFLOW, payload[: self.max_line]))
            else:
                frames.append(LineFrame(FrameKind.LINE, payload))
        if len(self._buffer) > self.max_line:
            if not self._discarding:
                frames.append(LineFrame(FrameKind.OVERFLOW, bytes(self._buffer[: self.max_line])))
            self._discarding = True
            # keep the last bytes in case they start a terminator split across reads
            del self._buffer[: len(self._buffer) - (len(self.terminator) - 1)]
        return frames

    def flush(self) -> LineFrame | None:
        """The bytes waiting for a terminator as a partial frame, or ``None``."""
        discarding, self._discarding = self._discarding, False
        if not self._buffer:
            return None
        payload = bytes(self._buffer)
        self._buffer.clear()
        return None if discarding else LineFrame(FrameKind.PARTIAL, payload)
