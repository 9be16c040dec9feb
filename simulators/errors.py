"""The simulators' one configuration error.

A simulator's settings (a virtual printer's file, its fault table, a scanner's profile, the
camera's optics, the conveyor's rate) that cannot work raise :class:`ConfigError`, a
:class:`gs1.errors.InvalidConfig` and so a ``ValueError``; the message names the key and says
what was expected (``faults.line_noise: expected a probability 0..1, got 2``). Commands sent to
a running simulator (a state or fault name that does not exist) stay plain ``ValueError``.
"""

from __future__ import annotations

from gs1.errors import InvalidConfig


class ConfigError(InvalidConfig):
    """A simulator setting that cannot work; ``problems`` holds one line per problem."""
