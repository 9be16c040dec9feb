"""Real services for tests: the same launcher the demo uses (:mod:`serialtrace.services`)."""

from serialtrace.services import Broker, free_port, start_mosquitto, wait_for_port

__all__ = ["Broker", "free_port", "start_mosquitto", "wait_for_port"]
