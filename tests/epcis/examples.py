"""Where GS1's EPCIS examples are (known at collection time, for parametrisation).

Same rule as the ``refdata`` fixture in tests/conftest.py: ``SERIALTRACE_REFDATA`` or
``shared/refdata`` beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFDATA = Path(os.environ.get("SERIALTRACE_REFDATA", REPO.parent / "shared" / "refdata"))
EXAMPLES = REFDATA / "epcis" / "examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.jsonld"))
