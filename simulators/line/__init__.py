"""A whole simulated line (printer, camera, case printer and scanner, PLC) from a scenario."""

from simulators.line.line import Endpoints, LineSimulator
from simulators.line.scenario import SCENARIO_DIR, Scenario, ScenarioError

__all__ = ["SCENARIO_DIR", "Endpoints", "LineSimulator", "Scenario", "ScenarioError"]
