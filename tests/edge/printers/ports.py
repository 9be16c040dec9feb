"""A serial port for driver tests: what the peer answers waits in ``inbox`` until read;
subclasses say, in ``write``, what the peer answers to what."""

from __future__ import annotations


class FakePort:
    def __init__(self) -> None:
        self.inbox = b""
        self.closed = False

    def write(self, data: bytes) -> int:
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.inbox)

    def read(self, size: int = 1) -> bytes:
        data, self.inbox = self.inbox[:size], self.inbox[size:]
        return data

    def reset_input_buffer(self) -> None:
        self.inbox = b""

    def close(self) -> None:
        self.closed = True
