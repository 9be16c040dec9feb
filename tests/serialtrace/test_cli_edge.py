"""``serialtrace edge …`` against a running agent: clear output, clear errors, exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.api import create_app
from edge.api_auth import ensure_token
from edge.wiring import build_agent
from serialtrace.cli import main
from serialtrace.services import serve_asgi
from tests.edge.agent.line import GTIN, config_for, sim_devices, start_line
from tests.support.services import Broker, free_port

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_accepts_the_example_and_lists_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    example = str(REPO / "docs/examples/edge.toml")
    code, out, _ = run(capsys, "edge", "check", "--config", example, "--file-only")
    assert code == 0 and "valid (site plant1, line line3)" in out
    # the whole check also looks at this machine, which has no /var/lib/serialtrace/line3
    code, _, err = run(capsys, "edge", "check", "--config", example)
    assert code == 2
    assert (
        "  - agent.data_dir: expected an existing folder, got '/var/lib/serialtrace/line3'" in err
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[agent]\nsite = "a/b"\n[mqtt]\nurl = "http://x"\n')
    code, _, err = run(capsys, "edge", "check", "--config", str(bad))
    assert code == 2
    assert err.startswith(f"serialtrace: error: invalid configuration {bad} (")
    for problem in (
        "agent.site: String should match",
        "mqtt.url: expected mqtt://",
        "products: required, missing",
        "packing: required, missing",
    ):
        assert problem in err


def test_check_reads_the_environment_over_the_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``edge check`` reads the file and the environment as ``edge run`` does: problems of
    both listed at once."""
    example = str(REPO / "docs/examples/edge.toml")
    monkeypatch.setenv("SERIALTRACE_EDGE__API__PORT", "many")
    monkeypatch.setenv("SERIALTRACE_EDGE__PRODUCTS__4__NAME", "x")
    code, _, err = run(capsys, "edge", "check", "--config", example, "--file-only")
    assert code == 2
    assert err == (
        f"serialtrace: error: invalid configuration {example} (2 problems):\n"
        "  - environment: SERIALTRACE_EDGE__PRODUCTS__4__NAME: no list item '4' at products.4\n"
        "  - api.port: Input should be a valid integer, unable to parse string as an integer,"
        " got 'many'\n"
    )


def test_no_agent_running_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "edge", "batch", "status", "--api", url)
    assert code == 2
    assert err.startswith(f"serialtrace: error: agent: cannot reach {url}/status")
    assert "is 'serialtrace edge run' up?" in err


def test_bad_material_is_refused_before_calling(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "edge",
        "batch",
        "start",
        "--gtin",
        GTIN,
        "--lot",
        "L",
        "--expiry",
        "281130",
        "--planned",
        "5",
        "--material",
        "0401234",
    )
    assert code == 2
    assert err == (
        "serialtrace: error: --material: expected GTIN,LOT,CPL or "
        "GTIN,LOT,CPL,QUANTITY,UOM, got '0401234'\n"
    )


@pytest.fixture
def api(tmp_path: Path, mosquitto: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    line = start_line()
    # No trace server here: the broker's PUBACK settles the outbox ("0 waiting" below).
    config = config_for(
        tmp_path / "edge", mosquitto, line, extra={"outbox": {"confirm_by": "broker"}}
    )
    agent = build_agent(config, sim_devices(config, line))
    app = create_app(agent)
    # The CLI reads the agent's API token as an operator's shell would: from the environment.
    monkeypatch.setenv("SERIALTRACE_EDGE_API_TOKEN", ensure_token(config))
    with serve_asgi(app, free_port()) as url:
        yield url
    line.close()


@pytest.mark.mqtt
def test_batch_lifecycle_from_the_command_line(
    capsys: pytest.CaptureFixture[str], api: str
) -> None:
    code, out, _ = run(
        capsys,
        "edge",
        "batch",
        "start",
        "--api",
        api,
        "--gtin",
        GTIN,
        "--lot",
        "CLI1",
        "--expiry",
        "281130",
        "--planned",
        "100",
        "--material",
        "04012345000009,BULK1,7,12.5,KGM",
    )
    assert code == 0 and out == f"batch CLI1 started (GTIN {GTIN}, 100 planned)\n"
    code, _, err = run(capsys, "edge", "batch", "close", "--api", api)
    assert code == 2
    assert err == (
        "serialtrace: error: batch 'CLI1': cannot close a running batch; expected one "
        "of: pause, stop\n"
    )
    code, out, _ = run(capsys, "edge", "batch", "pause", "--api", api, "--reason", "jam")
    assert (code, out) == (0, "batch CLI1: paused\n")
    code, out, _ = run(capsys, "edge", "batch", "status", "--api", api)
    assert code == 0
    assert out.startswith(f"plant1/line3: batch CLI1 paused (GTIN {GTIN}, planned 100): no units")
    assert "outbox: 0 waiting, broker up" in out
    code, out, _ = run(capsys, "edge", "batch", "stop", "--api", api)
    assert (code, out) == (0, "batch CLI1: stopped\n")
    code, out, _ = run(capsys, "edge", "batch", "close", "--api", api)
    assert code == 0
    assert out == (
        "batch CLI1 closed: printed 0 = commissioned 0 + rejected 0 + sampled 0 + scrapped 0\n"
    )
    code, _, err = run(capsys, "edge", "unit", "sample", "--api", api, "123", "--reason", "qa")
    assert (
        code == 2 and err == "serialtrace: error: serial: no unit with serial '123' on this line\n"
    )
