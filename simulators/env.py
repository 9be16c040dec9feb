"""The simulators' settings from the environment, named as every part of serialtrace names
them: ``SERIALTRACE_SIM__<KEY>`` (``SERIALTRACE_SIM__MQTT_SECRETS``). The older name
``SERIALTRACE_<KEY>`` (``SERIALTRACE_MQTT_SECRETS``) is still read; the new one wins."""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_PREFIX = "SERIALTRACE_SIM__"
LEGACY_ENV_PREFIX = "SERIALTRACE_"


def setting(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of ``key`` (``mqtt_secrets``) in the environment, None if unset or empty."""
    env = os.environ if environ is None else environ
    name = key.upper()
    return env.get(ENV_PREFIX + name) or env.get(LEGACY_ENV_PREFIX + name) or None
