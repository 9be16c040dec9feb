"""What a demo run is given and what it makes up for itself: options, the run's credentials
and lot code (random per run), and the one overall deadline every wait is held to."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from serialtrace.errors import ConfigError

MARKER = ".serialtrace-demo"
GTIN = "09506000134352"
COMPANY_PREFIX = "9506000"
SITE, LINE = "plant1", "line1"
# The demo's users: role -> (user name, printed name). Their passwords are made up per run
# (Credentials). QA releases the batch; production (the operator) records it, since whoever
# records the production may not release it.
DEMO_USERS = {
    "qa": ("qa", "Quinn Demo (QA)"),
    "operator": ("operator", "Olga Demo (production)"),
    "admin": ("admin", "Ada Demo (IT)"),
}
LINE_USER = "line1-pc"  # the line's device identity at the trace server
READ_POINT = "urn:epc:id:sgln:9506000.00000.1"  # the edge config's read point (GLN, ext. 1)
SITE_LOCATION = "urn:epc:id:sgln:9506000.00000.0"  # its business location (the site)
CUSTOMERS = (
    ("Hospital pharmacy Nord", "9506000000107"),
    ("Wholesaler Sud", "9506000000114"),
    ("Pharmacy chain Ouest", "9506000000121"),
)
RAW_MATERIALS = (
    {"gtin": "09506000111117", "lot": "API-2611-04", "company_prefix_length": 7},
    {"gtin": "09506000111124", "lot": "EXC-2610-19", "company_prefix_length": 7},
)
# Letters and digits that cannot be misread for one another (no 0/O, 1/I).
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class DemoError(Exception):
    """The demo cannot go on; the message says what failed and where its log is."""


@dataclass(frozen=True)
class DemoOptions:
    units: int = 1000
    ppm: float = 600.0
    defect_rate: float = 0.02
    seed: int = 1
    data_dir: Path = Path(".demo")
    exit_after: bool = False
    server_port: int = 8700
    hmi_port: int = 8710
    units_per_case: int = 20
    cases_per_pallet: int = 10
    # The whole run (start, batch, release, shipping) must be done within this many seconds;
    # None: a generous allowance from the batch's length (see overall_timeout).
    timeout: float | None = None
    # Seconds from the printer to the PLC's reject gate: a verdict later than this rejects
    # the unit at the gate (a commissioned unit is then decommissioned).
    gate_delay_s: float = 1.5

    def check(self) -> None:
        if self.units < 1:
            raise ConfigError(f"--units: expected a whole number >= 1, got {self.units}")
        if not 1 <= self.ppm <= 6000:
            raise ConfigError(f"--ppm: expected 1..6000 units per minute, got {self.ppm:g}")
        if not 0 <= self.defect_rate <= 0.5:
            raise ConfigError(f"--defect-rate: expected 0..0.5, got {self.defect_rate:g}")
        for name in ("server_port", "hmi_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ConfigError(f"--{name.replace('_', '-')}: expected 1..65535, got {port}")
        if self.server_port == self.hmi_port:
            raise ConfigError(
                f"--hmi-port: expected a port other than --port, got {self.hmi_port} for both"
            )
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"--timeout: expected seconds > 0, got {self.timeout:g}")
        if not 0 <= self.gate_delay_s <= 60:
            raise ConfigError(f"--gate-delay: expected 0..60 seconds, got {self.gate_delay_s:g}")

    @property
    def overall_timeout(self) -> float:
        """--timeout, or: ten minutes to start and finish, plus three times the batch's
        length at its rate."""
        if self.timeout is not None:
            return self.timeout
        return 600.0 + 3 * 60.0 * self.units / self.ppm


@dataclass(frozen=True)
class Credentials:
    """One run's secrets, made up when the run starts and printed for its user: the users'
    passwords, the line's device password, and the run's code (in its lot codes, so no two
    runs share a lot)."""

    passwords: dict[str, str]  # role (DEMO_USERS) -> password
    line_password: str
    run_code: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            passwords={role: _password() for role in DEMO_USERS},
            line_password=_password(),
            run_code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(4)),
        )

    def login(self, role: str) -> tuple[str, str]:
        """(user name, password) of a demo user."""
        return DEMO_USERS[role][0], self.passwords[role]

    @property
    def lot_rule(self) -> dict[str, str]:
        """The line's lot rule: D + the run's code + year, day of the year and a sequence."""
        return {
            "pattern": "{LINE}{YY}{JJJ}{SEQ:2}",
            "line_code": f"D{self.run_code}",
            "timezone": "UTC",
        }


def _password() -> str:
    # 4 groups of 5 from the unambiguous alphabet: ~100 bits, meets the server's policy
    # (12+ characters, not the user name, not a common password), easy to type from a print.
    return "-".join("".join(secrets.choice(_CODE_ALPHABET) for _ in range(5)) for _ in range(4))


class Deadline:
    """The run's one overall deadline: every wait asks it how long it may still wait, and
    a wait that runs past it fails naming what it waited for."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def reset(self, seconds: float) -> None:
        """From now on, ``seconds`` left (and named in the message)."""
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def allow(self, timeout: float) -> float:
        """``timeout``, cut to what is left of the run (never below a small positive)."""
        return max(0.01, min(timeout, self.remaining()))

    def fail(self, what: str) -> DemoError:
        return DemoError(
            f"timed out after {self.seconds:g} s (the demo's overall --timeout) waiting for {what}"
        )

    def check(self, what: str) -> None:
        if self.expired():
            raise self.fail(what)
