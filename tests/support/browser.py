"""Debian's Chromium, driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("SERIALTRACE_CHROMIUM", "/usr/bin/chromium"))
#: As root, without a sandbox; no background traffic to the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
