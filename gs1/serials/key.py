"""The secret serial key: what makes serials unguessable.

Whoever holds the key can list every serial a GTIN will get, in order, so it is kept like a
password: out of the TOML file and the repository, in a file readable only by the service
that holds it (mode 0600) or in the environment from a secret store. Only its
:attr:`key_id`, a one-way fingerprint, is stored in databases and shown in logs.

This module does no I/O: :func:`edge.serials.keyfile.read_key` and the serial authority read
the file and hand its text and mode to :meth:`SerialKey.from_key_file`.
"""

from __future__ import annotations

import hashlib
import secrets
import stat
from dataclasses import dataclass, field

from gs1.serials.errors import ConfigError
from gs1.serials.fpe import KEY_BYTES


@dataclass(frozen=True)
class SerialKey:
    """An AES-128/192/256 key for FF3-1; its repr never shows the key."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) not in KEY_BYTES:
            raise ConfigError(
                f"serial key: expected 16, 24 or 32 bytes (32, 48 or 64 hex digits), "
                f"got {len(self.material)} bytes"
            )

    @classmethod
    def generate(cls) -> SerialKey:
        """A new random AES-256 key."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def from_hex(cls, text: str, *, field: str = "serial key") -> SerialKey:
        cleaned = text.strip()
        try:
            material = bytes.fromhex(cleaned)
        except ValueError:
            raise ConfigError(
                f"{field}: expected 32, 48 or 64 hex digits, got {len(cleaned)} characters "
                "that are not all hex"
            ) from None
        if len(material) not in KEY_BYTES:
            raise ConfigError(
                f"{field}: expected 32, 48 or 64 hex digits, got {len(cleaned)} hex digits"
            )
        return cls(material)

    @classmethod
    def from_key_file(cls, text: str, mode: int, *, name: str) -> SerialKey:
        """A key from the text and permission bits of a key file (the caller reads them), or
        ConfigError if others may read the file: the rule for every key file, in one place."""
        field_name = f"serial key file {name!r}"
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{field_name}: expected mode 0600 (owner only), got {stat.S_IMODE(mode):04o}"
            )
        return cls.from_hex(text, field=field_name)

    @property
    def key_id(self) -> str:
        """A 16-hex-digit fingerprint that identifies the key without revealing it."""
        return hashlib.sha256(b"serialtrace serial key id\x00" + self.material).hexdigest()[:16]

    def hex(self) -> str:
        return self.material.hex()
