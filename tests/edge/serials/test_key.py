"""Serial keys: loading, fingerprint, and never leaking the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.serials.errors import ConfigError
from edge.serials.key import SerialKey

HEX = "2DE79D232DF5585D68CE47882AE256D6"


def test_repr_hides_the_key() -> None:
    key = SerialKey.from_hex(HEX)
    assert HEX.lower() not in repr(key).lower()
    assert repr(key) == "SerialKey()"


def test_key_id_is_stable_and_distinct() -> None:
    assert SerialKey.from_hex(HEX).key_id == SerialKey.from_hex(HEX.lower()).key_id
    assert SerialKey.from_hex(HEX).key_id != SerialKey.generate().key_id
    assert len(SerialKey.from_hex(HEX).key_id) == 16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "serial key: expected 32, 48 or 64 hex digits, got 3 characters that are not "
         "all hex"),
        ("00" * 20, "serial key: expected 32, 48 or 64 hex digits, got 40 hex digits"),
    ],
)  # fmt: skip
def test_bad_hex(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        SerialKey.from_hex(text)
    assert str(error.value) == message


def test_key_file_must_be_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "serial.key"
    path.write_text(HEX + "\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as error:
        SerialKey.from_file(path)
    assert str(error.value) == (
        f"serial key file '{path}': expected mode 0600 (owner only), got 0644"
    )
    path.chmod(0o600)
    assert SerialKey.from_file(path) == SerialKey.from_hex(HEX)


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIALTRACE_SERIAL_KEY", HEX)
    assert SerialKey.from_env() == SerialKey.from_hex(HEX)
    monkeypatch.delenv("SERIALTRACE_SERIAL_KEY")
    with pytest.raises(ConfigError, match=r"^SERIALTRACE_SERIAL_KEY: expected a hex serial key"):
        SerialKey.from_env()
