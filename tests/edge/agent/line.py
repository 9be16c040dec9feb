"""The simulated line of the agent's tests: a re-export of :mod:`serialtrace.testing`, where
it lives so that benchmarks and ``serialtrace bench`` use it without importing tests."""

from serialtrace.testing import (
    GTIN,
    KEY,
    OPERATOR,
    OPERATOR_PASSWORD,
    SimLine,
    api_headers,
    config_for,
    line_config,
    mqtt_section,
    operator_hash,
    sim_devices,
    start_line,
    write_config,
    write_key,
)

__all__ = [
    "GTIN",
    "KEY",
    "OPERATOR",
    "OPERATOR_PASSWORD",
    "SimLine",
    "api_headers",
    "config_for",
    "line_config",
    "mqtt_section",
    "operator_hash",
    "sim_devices",
    "start_line",
    "write_config",
    "write_key",
]
