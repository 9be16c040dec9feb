"""What the line's own records say about identifiers it took from the authority's buffer.

:func:`lookup` is the :data:`~edge.serials.buffer.Lookup` the agent hands to the serial link:
for each serial (units) or SSCC (cases and pallets) it finds in the edge store, the status the
authority's books know:

=============================================  ===========
unit commissioned / case or pallet closed      ``used``
rejected, scrapped, sampled, decommissioned    ``destroyed`` (printed, out of the supply chain)
voided (allocated, never sent to the printer)  ``returned``
allocated, encoded, a container not packed     None: in flight, settled later
=============================================  ===========

A value the store does not hold at all was handed out but never recorded (a crash between
the reservation and the unit's commit, a refused allocation): never printed, so returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_CHUNK = 500

UNIT_STATUS: dict[str, str | None] = {
    "commissioned": "used",
    "rejected": "destroyed",
    "scrapped": "destroyed",
    "sampled": "destroyed",
    "decommissioned": "destroyed",
    "voided": "returned",
    "allocated": None,
    "encoded": None,
}
CONTAINER_STATUS: dict[str, str | None] = {
    "closed": "used",
    "scrapped": "destroyed",
    "decommissioned": "destroyed",
}


def lookup(
    conn: sqlite3.Connection, kind: str, scope: str, values: Sequence[str]
) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for start in range(0, len(values), _CHUNK):
        chunk = list(values[start : start + _CHUNK])
        marks = ", ".join("?" for _ in chunk)
        if kind == "sgtin":
            rows = conn.execute(
                f"SELECT serial, state FROM units WHERE gtin = ? AND serial IN ({marks})",
                [scope, *chunk],
            )
            found.update({serial: UNIT_STATUS.get(state) for serial, state in rows})
        else:
            rows = conn.execute(
                f"SELECT sscc, state FROM containers WHERE sscc IN ({marks})", chunk
            )
            # an SSCC on a container still being labelled is in flight (None)
            found.update({sscc: CONTAINER_STATUS.get(state) for sscc, state in rows})
    return found
