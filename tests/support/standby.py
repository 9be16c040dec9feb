"""``python -m serialtrace ARGS`` started ahead, imports done, run on a word from the test.

Tests that SIGKILL a process and start it again (tests/edge/agent/test_crash.py,
test_authority_kills.py) spend most of each restart importing: a second or two per start
on a busy 2-core machine. A standby process imports the modules named (no I/O: nothing of
the line, its data folder, ports or broker is touched at import time) while the old process
still runs, and calls :func:`serialtrace.cli.main` with ``ARGS`` only when :meth:`go` is
called, after the kill. From then on it is the same command doing the same start-up, from
the same durable state, as ``python -m serialtrace ARGS``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GO = b"go\n"

# argv: MODULES (comma-separated) then the command's own arguments (its module is imported
# too). Anything but GO on stdin (the test ended, the pipe closed) ends it without running
# the command.
_STANDBY = """\
import importlib, sys
for name in (*filter(None, sys.argv[1].split(",")), "serialtrace.commands." + sys.argv[2]):
    importlib.import_module(name)
from serialtrace.cli import main
if sys.stdin.buffer.readline() != b"go\\n":
    sys.exit(0)
sys.exit(main(sys.argv[2:]))
"""


class Standby:
    """One standby ``serialtrace`` process (see the module doc)."""

    def __init__(
        self,
        args: Sequence[str],
        preload: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _STANDBY, ",".join(preload), *args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )

    def go(self) -> subprocess.Popen[bytes]:
        """Run the command now; the process, which goes on as the command."""
        assert self.process.stdin is not None
        self.process.stdin.write(GO)
        self.process.stdin.close()
        return self.process

    def cancel(self) -> None:
        """End it unused."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdin is not None:
            self.process.stdin.close()
