"""``serialtrace demo``: a simulated packaging line end to end, on this machine.

Three parts: :mod:`~serialtrace.demo.stack` starts the processes, ports and children (and
stops them), :mod:`~serialtrace.demo.story` runs the batch, :mod:`~serialtrace.demo.report`
prints what came of it. :mod:`~serialtrace.demo.options` holds the options, the run's
credentials and lot code (random per run) and the overall deadline.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType

import httpx
from rich.console import Console

from edge.agent import Agent
from serialtrace.demo.options import (
    GTIN,
    Credentials,
    Deadline,
    DemoError,
    DemoOptions,
)
from serialtrace.demo.report import login_lines, print_report
from serialtrace.demo.stack import Stack
from serialtrace.demo.story import Story, Summary
from serialtrace.services import free_port


class Stopped(Exception):
    """SIGTERM arrived: everything the demo started was stopped."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}; everything the demo started is stopped")
        self.signal_name = signal_name


class Demo:
    """Starts everything, runs the batch, and stops everything it started."""

    def __init__(
        self,
        options: DemoOptions,
        console: Console | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        options.check()
        self.options = options
        self.console = console or Console()
        self.credentials = credentials or Credentials.generate()
        self.deadline = Deadline(options.overall_timeout)
        self.stack = Stack(options, self.console, self.credentials, self.deadline)
        self.data = self.stack.data

    def __enter__(self) -> Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stack.close()

    def start(self) -> None:
        self.stack.start()
        self.console.print(login_lines(self.credentials))

    def run_batch(self) -> Summary:
        return Story(self.stack).run()

    def report(self, summary: Summary) -> None:
        print_report(self.console, summary, self.credentials, self.data)

    @property
    def agent(self) -> Agent | None:
        return self.stack.agent

    @property
    def api(self) -> httpx.Client:
        """The trace server's API, logged in as the demo's admin."""
        return self.stack.client("admin")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM unwinds the demo as Ctrl-C (SIGINT) does, every child stopped on the way out;
    a second signal while it stops is ignored, so the stopping is not cut short."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, was in previous.items():
            signal.signal(sig, was)


def run(options: DemoOptions, console: Console | None = None, *, serve: bool = True) -> Summary:
    """Run the demo; with ``serve`` keep everything up until Ctrl-C or SIGTERM after the
    report. Call from the main thread (it handles SIGTERM)."""
    with _stop_on_signals(), Demo(options, console) as demo:
        demo.start()
        summary = demo.run_batch()
        demo.report(summary)
        if serve and not options.exit_after:
            # Inside the suppress before the line is printed: a Ctrl-C sent as soon as the line
            # appears (the CLI test does) landed between the print and the block, and the demo
            # exited 130 instead of 0.
            with contextlib.suppress(KeyboardInterrupt, Stopped):
                demo.console.print("Serving until Ctrl-C.")
                _forever()
        return summary


def _forever() -> None:
    while True:
        time.sleep(3600)


__all__ = [
    "GTIN",
    "Credentials",
    "Demo",
    "DemoError",
    "DemoOptions",
    "Stopped",
    "Summary",
    "free_port",
    "run",
]
