"""The fault-injection suite at full size: ``serialtrace bench faults`` (the same runner).

.venv/bin/python benchmarks/faults.py                          # every fault, 2000 units each
.venv/bin/python benchmarks/faults.py --units 200 --only camera-stall
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serialtrace.faults.bench import main

if __name__ == "__main__":
    sys.exit(main())
