"""Reading the serial key on the edge: a key file (mode 0600) or the environment."""

from __future__ import annotations

import os
from pathlib import Path

from gs1.serials.errors import ConfigError
from gs1.serials.key import SerialKey

#: Environment variable the edge reads the key from (hex), when no key file is configured.
KEY_ENV = "SERIALTRACE_SERIAL_KEY"


def read_key(path: Path) -> SerialKey:
    """The hex key in ``path``; refuses a file that others can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"serial key file {str(path)!r}: expected a readable hex key file, got {exc}"
        ) from exc
    return SerialKey.from_key_file(text, mode, name=str(path))


def key_from_env(name: str = KEY_ENV) -> SerialKey:
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"{name}: expected a hex serial key in the environment, got none")
    return SerialKey.from_hex(value, field=name)
