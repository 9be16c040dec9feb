"""Adapter around GS1's reference event hash implementation (PyPI epcis-event-hash-generator).

The reference is a prototype with a few quirks that this adapter works around so that the
comparison tests exercise the canonicalisation rules themselves:

* it only knows the JSON-LD context URLs it ships; we give it the ``2.0.0`` URL (the same
  terms as the unversioned one our documents use), so it never goes to the network;
* it expands only prefixes the document declares itself, not those of the standard EPCIS
  context (``cbvmda``, ``gs1``, ``cbv``, ...); CBV 2.0 rules 15, 19 and 20 expand them all, so
  we declare them (with their standard values) for it;
* it renders JSON ``true`` as Python's ``True``; we hand it the lexical form ``"true"``;
* it sorts ``bizTransactionList``, ``sourceList``, ``destinationList``, ``ilmd`` and top-level
  extensions together as strings after ``sensorElementList`` instead of keeping the CBV
  order; :func:`in_reference_order` rearranges our pieces the same way for comparison.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from epcis.codec import namespaces_from_context
from epcis.hashing import STANDARD_NAMESPACES

REFERENCE_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
_TAIL = frozenset({"bizTransactionList", "sourceList", "destinationList", "ilmd", "extension"})


def _booleans_as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_booleans_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _booleans_as_text(v) for k, v in value.items()}
    return value


def reference_prehashes(document: Mapping[str, Any]) -> list[str]:
    """The reference implementation's pre-hash strings for the events of ``document``."""
    from epcis_event_hash_generator import hash_generator, json_to_py

    doc = _booleans_as_text(copy.deepcopy(dict(document)))
    context = doc["@context"] if isinstance(doc["@context"], list) else [doc["@context"]]
    context = [
        REFERENCE_CONTEXT if isinstance(c, str) and "epcis-context" in c else c for c in context
    ]
    declared = namespaces_from_context(context)
    context.append({k: v for k, v in STANDARD_NAMESPACES.items() if k not in declared})
    doc["@context"] = context
    logging.disable(logging.CRITICAL)  # the reference logs every step at WARNING and below
    try:
        json_to_py._namespaces.clear()  # module-level state of the reference, reset per call
        events = json_to_py.event_list_from_epcis_document_json(doc)
        prehashes: list[str] = hash_generator.derive_prehashes_from_events(events)
    finally:
        logging.disable(logging.NOTSET)
    return prehashes


def in_reference_order(segments: list[tuple[str, str]]) -> str:
    """Our pre-hash pieces joined in the order the reference (1.9.3) emits them."""
    head = [text for name, text in segments if name not in _TAIL]
    tail = sorted(text for name, text in segments if name in _TAIL)
    return "".join(head + tail)
