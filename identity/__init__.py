"""identity: the code-scheme seam. What the line and the store need of a unit's code,
whatever standard the code follows; GS1 (:mod:`gs1`) is the first scheme, registered as
``"gs1"`` when :mod:`gs1` is imported.

The lowest layer: pure, no I/O, imports nothing of ours. Printers, verifiers, the edge's
ledger and event builders and the trace server's store take any :class:`UnitIdentity`;
the store keys a unit by ``(scheme, product, serial)`` (:class:`UnitKey`), so another scheme
needs no schema change. ``docs/identity.md`` says how to add one.

::

    UnitIdentity   one unit's code: key(), hri(), printer_payload(), matches(scan),
                   epc_uri(), digital_link(), lot, expiry_date()
    CodeScheme     a standard: builds identities from stored parts, reads scans and EPCs
    UnitKey        (scheme, product, serial): what the store keys a unit by
    PrintPayload   what a label printer encodes (symbology, data) and the label's text fields
    ScanMatch      a scan held against an expected identity: what was read, the mismatches,
                   or why the scan is not this scheme's code at all
    register_scheme(scheme), get_scheme(name), scheme_names(), schemes()
    check_key(key)  the store's limits: product and serial 1-64 characters

Errors: :class:`IdentityError` (a ValueError) for an unknown scheme or a scheme registered
twice; each scheme raises its own ValueError subclass for data it refuses.
"""

from __future__ import annotations

from identity.protocols import (
    DATAMATRIX,
    GS1_DATAMATRIX,
    MAX_PRODUCT,
    MAX_SERIAL,
    SYMBOLOGIES,
    CodeScheme,
    PrintPayload,
    ScanMatch,
    UnitIdentity,
    UnitKey,
    check_key,
)
from identity.registry import (
    DEFAULT_SCHEME,
    IdentityError,
    get_scheme,
    register_scheme,
    scheme_names,
    schemes,
    unregister_scheme,
)

__all__ = [
    "DATAMATRIX",
    "DEFAULT_SCHEME",
    "GS1_DATAMATRIX",
    "MAX_PRODUCT",
    "MAX_SERIAL",
    "SYMBOLOGIES",
    "CodeScheme",
    "IdentityError",
    "PrintPayload",
    "ScanMatch",
    "UnitIdentity",
    "UnitKey",
    "check_key",
    "get_scheme",
    "register_scheme",
    "scheme_names",
    "schemes",
    "unregister_scheme",
]
