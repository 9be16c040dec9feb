"""Construction only in edge/wiring.py: the agent takes its writer, publisher and PLC link."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import edge.agent
from edge.agent import LinkHooks
from edge.config import parse_config
from edge.vision import QueueSource
from edge.wiring import agent_links, build_agent, build_devices, events_for
from simulators.camera.transport import FrameQueue
from tests.edge.agent.line import line_config

BUILT_IN_WIRING = {"Publisher", "Writer", "PlcLink", "ZplPrinter", "DplPrinter", "SerialScanner"}


def test_the_agent_module_builds_none_of_its_links_or_drivers() -> None:
    tree = ast.parse(Path(edge.agent.__file__).read_text(encoding="utf-8"))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & BUILT_IN_WIRING


def test_build_agent_hands_the_agent_the_links_it_built(tmp_path: Path) -> None:
    config = parse_config(line_config(tmp_path, "mqtt://127.0.0.1:1"))
    devices = build_devices(config, frame_source=QueueSource(FrameQueue(maxsize=1), name="t"))
    agent = build_agent(config, devices)
    try:
        assert agent.writer is not None and agent.publisher is not None
        assert agent.plc is not None and agent.devices is devices
    finally:
        devices.close()
    links = agent_links(config, events_for(config))
    with pytest.raises(RuntimeError, match="called before the agent was built"):
        links.hooks.trigger("u1")  # nothing bound yet: loud, not lost
    assert isinstance(links.hooks, LinkHooks)
    links.conn.close()
