"""The scanner's settings are defined once, by the driver: ``[devices.scanner]`` of the edge
file is :class:`ScannerSettings`, and its framing keys are the driver's :class:`ScannerConfig`,
with the same defaults, so the two spellings (text in the file, bytes in the driver) cannot
drift apart."""

from __future__ import annotations

import dataclasses

import pytest

from edge.errors import ConfigError
from edge.scanners import ScannerConfig, ScannerSettings

DEVICE_KEYS = {"url", "baudrate", "timeout_s"}  # where the scanner is and how long to wait


def test_the_framing_keys_are_the_drivers() -> None:
    framing = {field.name for field in dataclasses.fields(ScannerConfig)}
    assert set(ScannerSettings.model_fields) - DEVICE_KEYS == framing


def test_the_defaults_are_the_drivers() -> None:
    assert ScannerSettings(url="loop://").framing() == ScannerConfig()


def test_every_framing_key_reaches_the_driver() -> None:
    settings = ScannerSettings(
        url="loop://",
        terminator="CRLF",
        prefix="\\x02",
        suffix="#",
        symbology_ids=False,
        gs_substitute="<GS>",
        no_read="NR",
        max_line=512,
        line_timeout_s=0.25,
    )
    assert settings.framing() == ScannerConfig(
        terminator=b"\r\n",
        prefix=b"\x02",
        suffix=b"#",
        symbology_ids=False,
        gs_substitute="<GS>",
        no_read="NR",
        max_line=512,
        line_timeout_s=0.25,
    )


def test_a_bad_framing_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"max_line: expected 16 to 1000000 bytes, got 4"):
        ScannerSettings(url="loop://", max_line=4)
    with pytest.raises(ConfigError, match=r"^terminator: expected at least one byte"):
        ScannerConfig(terminator=b"")
