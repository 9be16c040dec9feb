"""The operator HMI: one page served by the edge agent itself (``/hmi/``).

It talks only to the agent's local API, so the line keeps its screen while the trace server
or the broker is down. See docs/hmi.md.
"""

from __future__ import annotations

from edge.hmi.router import hmi_router

__all__ = ["hmi_router"]
