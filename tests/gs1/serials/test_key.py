"""Serial keys: loading, fingerprint, and never leaking the key."""

from __future__ import annotations

import pytest

from gs1.serials.errors import ConfigError
from gs1.serials.key import SerialKey

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


def test_key_file_must_be_owner_only() -> None:
    with pytest.raises(ConfigError) as error:
        SerialKey.from_key_file(HEX + "\n", 0o100644, name="/etc/serial.key")
    assert str(error.value) == (
        "serial key file '/etc/serial.key': expected mode 0600 (owner only), got 0644"
    )
    assert SerialKey.from_key_file(HEX + "\n", 0o100600, name="k") == SerialKey.from_hex(HEX)


def test_key_file_text_errors_name_the_file() -> None:
    with pytest.raises(ConfigError) as error:
        SerialKey.from_key_file("nope", 0o100600, name="k")
    assert str(error.value) == (
        "serial key file 'k': expected 32, 48 or 64 hex digits, got 4 characters that are not "
        "all hex"
    )
