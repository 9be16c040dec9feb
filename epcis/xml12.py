"""EPCIS 1.2 XML (``urn:epcglobal:epcis:xsd:1``), what most DSCSA trading partners still send
and expect, to and from EPCIS 2.0 JSON-LD dicts; the mapping rules are in :mod:`epcis.xml`.

Decoding accepts 1.2 and 2.0 alike (:func:`decode`); encoding writes 1.2: eventID and
errorDeclaration in ``baseExtension``, the fields EPCIS 1.1/1.2 added in ``extension``,
TransformationEvent in the event list's ``extension``, CBV 1.2 URNs, and what 1.2 has no
element for as extension elements in the EPCIS 2.0 namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from epcis import xml


def decode(payload: bytes) -> dict[str, Any]:
    """An EPCIS 1.2 (or 2.0) XML document as an EPCIS 2.0 JSON-LD ``EPCISDocument``."""
    return xml.decode_any(payload)


def encode_document(document: Mapping[str, Any]) -> bytes:
    """A JSON-LD ``EPCISDocument`` as an EPCIS 1.2 XML ``EPCISDocument``."""
    return xml.encode_document(document, version="1.2")


def encode_query_document(document: Mapping[str, Any]) -> bytes:
    """A JSON-LD ``EPCISQueryDocument`` as an EPCIS 1.2 XML ``EPCISQueryDocument``."""
    return xml.encode_query_document(document, version="1.2")
