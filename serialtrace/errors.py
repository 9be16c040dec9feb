"""The ``serialtrace`` command's one configuration error.

Options of a run that cannot work (``serialtrace demo --units 0``, an unknown fault scenario)
raise :class:`ConfigError`, a :class:`gs1.errors.InvalidConfig` and so a ``ValueError``; the
command prints its message as the one-line reason. The configuration errors of the parts it
wires keep their own classes (``edge.errors.ConfigError``, ``server.errors.ConfigError``,
``simulators.errors.ConfigError``), all sharing that base.
"""

from __future__ import annotations

from gs1.errors import InvalidConfig


class ConfigError(InvalidConfig):
    """An option of a ``serialtrace`` run that cannot work; the message names it."""
