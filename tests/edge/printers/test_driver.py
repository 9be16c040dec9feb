"""The ZPL driver against a scripted peer: exact bytes out, canned answers in."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import serial

from edge.printers import (
    BufferFull,
    HeadOpen,
    LabelCancelled,
    PaperOut,
    Paused,
    PrinterConfig,
    PrinterDisconnected,
    PrinterTimeout,
    RibbonOut,
    ZplPrinter,
)
from tests.edge.printers.ports import FakePort

LABEL = b"^XA^FO1,1^A0N,9,9^FH\\^FDx^FS^XZ"


def hs(formats: int = 0, remaining: int = 0, *, paper: int = 0, pause: int = 0, full: int = 0,
       head: int = 0, ribbon: int = 0) -> bytes:  # fmt: skip
    return (
        f"\x02030,{paper},{pause},0240,{formats:03d},{full},0,0,000,0,0,0\x03\r\n"
        f"\x02001,0,{head},{ribbon},1,2,6,0,{remaining:08d},1,000\x03\r\n"
        "\x021234,0\x03\r\n"
    ).encode()


class ScriptedPort(FakePort):
    """A port that records writes and answers each ~HS with the next canned answer."""

    def __init__(self, answers: list[bytes], fail_writes: int = 0) -> None:
        super().__init__()
        self.answers = answers
        self.written: list[bytes] = []
        self.fail_writes = fail_writes

    def write(self, data: bytes) -> int:
        if self.fail_writes:
            self.fail_writes -= 1
            raise serial.SerialException("write failed: [Errno 5] Input/output error")
        self.written.append(data)
        if data == b"~HS" and self.answers:
            self.inbox += self.answers.pop(0)
        return len(data)


def printer(ports: list[Any], **config: Any) -> tuple[ZplPrinter, list[dict[str, Any]]]:
    opened: list[dict[str, Any]] = []

    def factory(url: str, **kwargs: Any) -> Any:
        opened.append({"url": url, **kwargs})
        port = ports.pop(0)
        if isinstance(port, Exception):
            raise port
        return port

    settings = {"url": "/dev/ttyS9", "poll_interval": 0, "reply_timeout": 0.05, **config}
    return ZplPrinter(PrinterConfig(**settings), port_factory=factory), opened


def test_send_then_confirm_polls_host_status() -> None:
    port = ScriptedPort([hs(formats=1, remaining=1), hs(remaining=1), hs()])
    driver, opened = printer([port], baudrate=115200, flow_control="rtscts", print_speed=6)
    job = driver.send(LABEL)
    driver.confirm(job)
    assert port.written == [b"^XA^PR6^XZ", LABEL, b"~HS", b"~HS", b"~HS"]
    assert opened[0]["baudrate"] == 115200 and opened[0]["rtscts"] and not opened[0]["xonxoff"]
    assert driver.printed == 1 and driver.last_status is not None


def test_one_status_answer_confirms_every_label_already_out() -> None:
    port = ScriptedPort([hs(formats=1, remaining=1)])
    driver, _ = printer([port])
    jobs = [driver.send(LABEL) for _ in range(5)]
    driver.confirm(jobs[2])  # 5 sent, 2 pending: jobs 1..3 are out
    driver.confirm(jobs[0])
    assert port.written.count(b"~HS") == 1


def test_send_waits_for_the_oldest_when_the_window_is_full() -> None:
    port = ScriptedPort([hs(formats=1), hs()])
    driver, _ = printer([port], max_in_flight=2)
    driver.send(LABEL)
    driver.send(LABEL)
    driver.send(LABEL)  # 2 in flight: waits until job 1 is out
    assert port.written == [LABEL, LABEL, b"~HS", LABEL]


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (hs(formats=1, paper=1), PaperOut, "printer reports paper_out"),
        (hs(formats=1, ribbon=1), RibbonOut, "printer reports ribbon_out"),
        (hs(formats=1, head=1), HeadOpen, "printer reports head_open"),
        (hs(formats=1, pause=1), Paused, "printer reports paused"),
    ],
)
def test_faults_that_stop_printing_raise_their_error(
    answer: bytes, error: type[Exception], message: str
) -> None:
    driver, _ = printer([ScriptedPort([answer])])
    job = driver.send(LABEL)
    with pytest.raises(error) as raised:
        driver.confirm(job)
    assert str(raised.value) == message
    assert raised.value.status is not None  # type: ignore[attr-defined]


def test_a_label_out_before_the_fault_is_confirmed() -> None:
    driver, _ = printer([ScriptedPort([hs(formats=1, ribbon=1)] * 2)])
    first, second = driver.send(LABEL), driver.send(LABEL)
    driver.confirm(first)
    with pytest.raises(RibbonOut):
        driver.confirm(second)


def test_labels_waiting_in_a_stopped_printer_are_cancelled_and_their_numbers_given_again() -> None:
    # four labels sent; the ribbon ran out after the first: three wait in the printer's buffer
    answers = [hs(formats=3, ribbon=1), hs(formats=1), hs(), hs()]
    port = ScriptedPort(answers)
    driver, _ = printer([port])
    jobs = [driver.send(LABEL) for _ in range(4)]
    assert driver.cancel_pending() == 3
    assert port.written[-2:] == [b"~HS", b"~JA"]  # asked first: cancelled only when stopped
    driver.confirm(jobs[0])  # out before the fault, confirmed after the cancellation
    for job in jobs[1:]:
        with pytest.raises(LabelCancelled, match=f"job {job.sequence}: cancelled in the printer"):
            driver.confirm(job)
    # the next label is the printer's second one (a camera counting its triggers agrees)
    after = driver.send(LABEL)
    assert after.sequence == 2 and after.epoch == jobs[0].epoch + 1
    driver.confirm(after)
    assert driver.printed == 2
    assert driver.cancel_pending() is None  # the printer prints again: nothing cancelled
    assert port.written.count(b"~JA") == 1


def test_the_window_of_labels_in_flight_counts_from_the_cancellation() -> None:
    port = ScriptedPort([hs(formats=2, ribbon=1), hs(formats=1)])
    driver, _ = printer([port], max_in_flight=2)
    driver.send(LABEL)
    driver.send(LABEL)
    assert driver.cancel_pending() == 2
    driver.send(LABEL)
    driver.send(LABEL)
    # the window is full of labels sent after the cancellation: wait for the first of them
    assert driver.send(LABEL).sequence == 3
    assert port.written[-3:] == [LABEL, b"~HS", LABEL]


def test_a_printer_that_prints_is_not_cancelled() -> None:
    port = ScriptedPort([hs(formats=2)])
    driver, _ = printer([port])
    driver.send(LABEL)
    driver.send(LABEL)
    assert driver.cancel_pending() is None  # its labels may be coming out: they are counted
    assert b"~JA" not in port.written


def test_buffer_full_that_does_not_drain_is_buffer_full() -> None:
    driver, _ = printer([ScriptedPort([hs(formats=64, full=1)] * 1000)])
    job = driver.send(LABEL)
    with pytest.raises(BufferFull) as raised:
        driver.confirm(job, timeout=0.02)
    assert str(raised.value) == "printer reports buffer_full with 64 labels pending"


def test_no_answer_is_a_timeout() -> None:
    driver, _ = printer([ScriptedPort([])])
    job = driver.send(LABEL)
    with pytest.raises(PrinterTimeout) as raised:
        driver.confirm(job, timeout=0.1)
    assert str(raised.value).startswith("job 1: no valid status answer within 0.1 s: ~HS:")


def test_garbled_answers_are_retried_then_a_timeout() -> None:
    garbled = hs().replace(b"030,", b"0#0,")
    driver, _ = printer([ScriptedPort([garbled, garbled, hs()])])
    driver.confirm(driver.send(LABEL), timeout=1)
    driver, _ = printer([ScriptedPort([garbled] * 1000)])
    with pytest.raises(PrinterTimeout, match=r"^job 1: no valid status answer within 0.0 s"):
        driver.confirm(driver.send(LABEL), timeout=0.01)


def test_a_failed_write_reconnects_and_resends() -> None:
    first, second = ScriptedPort([], fail_writes=1), ScriptedPort([])
    driver, opened = printer([first, second])
    driver.send(LABEL)
    assert first.closed and second.written == [LABEL] and len(opened) == 2


def test_a_printer_that_stays_away_is_disconnected() -> None:
    gone: Callable[[], Exception] = lambda: serial.SerialException("could not open port")  # noqa: E731
    driver, opened = printer(
        [ScriptedPort([], fail_writes=1), gone(), gone()],
        reconnect_attempts=1,
        reconnect_delay=0,
    )
    with pytest.raises(PrinterDisconnected) as raised:
        driver.send(LABEL)
    assert str(raised.value) == (
        "printer '/dev/ttyS9': cannot open after 2 attempts: could not open port"
    )
    assert len(opened) == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": ""}, "printer.url: expected a pyserial URL, got ''"),
        ({"url": "x", "baudrate": 0}, "printer.baudrate: expected a positive integer, got 0"),
        ({"url": "x", "print_speed": 20}, "printer.print_speed: expected 1 to 14, got 20"),
        (
            {"url": "x", "max_in_flight": 0},
            "printer.max_in_flight: expected an integer from 1 to 256, got 0",
        ),
        (
            {"url": "x", "flow_control": "cts"},
            "printer.flow_control: expected one of ['none', 'xonxoff', 'rtscts', 'dsrdtr'],"
            " got 'cts'",
        ),
        (
            {"url": "x", "speed": 6},
            "printer: expected keys from ['baudrate', 'confirm_timeout',"
            " 'flow_control', 'language', 'max_in_flight', 'poll_interval', 'print_speed',"
            " 'reconnect_attempts', 'reconnect_delay', 'reply_timeout', 'url'], got ['speed']",
        ),
    ],
)
def test_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        PrinterConfig.from_mapping(config)
    assert str(error.value) == message


def test_closing_a_socket_port_for_good_shuts_it_without_pyserials_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pyserial's ``socket://`` close sleeps 0.3 s for a quick reconnect; the driver's last
    close skips that (every agent's stop paid it per printer) and still shuts the socket."""
    from serial.urlhandler import protocol_socket

    pauses: list[float] = []
    monkeypatch.setattr(protocol_socket.time, "sleep", pauses.append)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()
        driver = ZplPrinter(PrinterConfig(url=f"socket://{host}:{port}"))
        with driver:  # opens the port
            peer, _ = listener.accept()
        with peer:
            peer.settimeout(5)
            assert peer.recv(1) == b""  # the printer's side saw the connection closed
    assert pauses == []
    driver.close()  # closed already: nothing to do
