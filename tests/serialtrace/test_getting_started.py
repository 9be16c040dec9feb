"""docs/getting-started.md section 2, run as the doc says: a secured broker set up with
``serialtrace broker init/add-line/add-plc``, ``serialtrace sim line`` and the real edge agent
(``serialtrace edge run``), a batch started, watched and closed through the agent's API."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from serialtrace.services import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"
HEADING = "## 2. The real edge agent on a simulated line, without the demo"
PORTS = "BROKER_PORT=8883 HMI_PORT=8710"


def doc_block() -> str:
    """The section's shell block, exactly as the doc shows it."""
    text = DOC.read_text()
    section = text[text.index(HEADING) :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None, f"no sh block under {HEADING!r}"
    return match.group(1)


def test_the_doc_block_sets_its_ports_in_one_place():
    block = doc_block()
    assert block.startswith(PORTS + "\n")
    assert "8883" not in block[len(PORTS) :] and "8710" not in block[len(PORTS) :]


@pytest.mark.slow
@pytest.mark.mqtt
@pytest.mark.timeout(900)
def test_getting_started_runs_the_edge_agent_against_the_simulated_line(tmp_path: Path):
    script = doc_block().replace(PORTS, f"BROKER_PORT={free_port()} HMI_PORT={free_port()}", 1)
    (tmp_path / "path.sh").write_text(script)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SERIALTRACE_EDGE_API_TOKEN", None)
    shell = subprocess.Popen(
        ["bash", "-e", "path.sh"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: whatever it leaves is stopped below
    )
    try:
        out, _ = shell.communicate(timeout=800)
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.communicate()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
    log = (tmp_path / "agent.log").read_text() if (tmp_path / "agent.log").exists() else ""
    assert shell.returncode == 0, out + "\n--- agent.log ---\n" + log[-4000:]
    assert "line1.toml: valid (site plant1, line line1)" in out, out
    assert "batch GS-1 started (GTIN 09506000134352, 100 planned)" in out, out
    closed = re.search(
        r"batch GS-1 closed: printed (\d+) = commissioned (\d+) \+ rejected (\d+) \+ "
        r"sampled (\d+) \+ scrapped (\d+)",
        out,
    )
    assert closed is not None, out
    printed, commissioned, *rest = (int(n) for n in closed.groups())
    assert commissioned >= 1 and printed == commissioned + sum(rest), out
    # The agent published to the broker: its outbox is empty.
    assert "broker up" in out, out
