"""Reading the serial key on the edge: file permissions and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.serials.keyfile import key_from_env, read_key
from gs1.serials import ConfigError, SerialKey

HEX = "2DE79D232DF5585D68CE47882AE256D6"


def test_key_file_must_be_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "serial.key"
    path.write_text(HEX + "\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as error:
        read_key(path)
    assert str(error.value) == (
        f"serial key file '{path}': expected mode 0600 (owner only), got 0644"
    )
    path.chmod(0o600)
    assert read_key(path) == SerialKey.from_hex(HEX)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected a readable hex key file, got \[Errno 2\]"):
        read_key(tmp_path / "none.key")


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIALTRACE_SERIAL_KEY", HEX)
    assert key_from_env() == SerialKey.from_hex(HEX)
    monkeypatch.delenv("SERIALTRACE_SERIAL_KEY")
    with pytest.raises(ConfigError, match=r"^SERIALTRACE_SERIAL_KEY: expected a hex serial key"):
        key_from_env()
