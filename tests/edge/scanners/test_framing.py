from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.scanners import FrameKind, LineFrame, LineFramer

TERMINATORS = st.sampled_from([b"\r", b"\n", b"\r\n", b"\x03"])


@given(
    terminator=TERMINATORS,
    lines=st.lists(st.binary(max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_any_split_of_the_stream_gives_the_same_lines(
    terminator: bytes, lines: list[bytes], cuts: list[int]
) -> None:
    lines = [line.replace(terminator[:1], b"") for line in lines]  # no terminator inside
    stream = b"".join(line + terminator for line in lines)
    framer = LineFramer(terminator, max_line=4096)
    frames: list[LineFrame] = []
    start = 0
    for cut in [*sorted({min(cut, len(stream)) for cut in cuts}), len(stream)]:
        frames += framer.feed(stream[start:cut])
        start = cut
    assert frames == [LineFrame(FrameKind.LINE, line) for line in lines]
    assert framer.pending == 0 and framer.flush() is None


def test_bytes_without_terminator_are_flushed_as_partial() -> None:
    framer = LineFramer(b"\r\n", max_line=100)
    assert framer.feed(b"]d2010950\r") == []
    assert framer.flush() == LineFrame(FrameKind.PARTIAL, b"]d2010950\r")
    assert framer.feed(b"next\r\n") == [LineFrame(FrameKind.LINE, b"next")]


def test_overlong_line_in_one_read_is_an_overflow() -> None:
    framer = LineFramer(b"\r", max_line=16)
    assert framer.feed(b"A" * 20 + b"\rOK\r") == [
        LineFrame(FrameKind.OVERFLOW, b"A" * 16),
        LineFrame(FrameKind.LINE, b"OK"),
    ]


def test_overlong_run_is_reported_once_and_skipped_to_the_next_terminator() -> None:
    framer = LineFramer(b"\r", max_line=16)
    frames = framer.feed(b"A" * 20)
    assert frames == [LineFrame(FrameKind.OVERFLOW, b"A" * 16)]
    assert framer.feed(b"B" * 30) == []
    assert framer.pending < 16  # memory stays bounded
    assert framer.feed(b"tail\rOK\r") == [LineFrame(FrameKind.LINE, b"OK")]


@given(st.binary(max_size=2000))
def test_buffer_never_exceeds_max_line(data: bytes) -> None:
    framer = LineFramer(b"\r\n", max_line=32)
    for frame in framer.feed(data):
        assert len(frame.payload) <= 32
    assert framer.pending <= 32
