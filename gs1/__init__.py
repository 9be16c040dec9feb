"""gs1: GS1 identifiers for pharmaceutical serialization. Pure: no I/O (beyond the packaged
table), no imports of ours; the only place in serialtrace that parses identifiers.

The rules are GS1's Barcode Syntax Dictionary (every AI, linter and association rule;
:mod:`gs1.dictionary`, :mod:`gs1.ai`, :mod:`gs1.linters`), the symbology identifier table
(:mod:`gs1.symbology`), the GS1 Digital Link standard (:mod:`gs1.digital_link`, compressed
links in :mod:`gs1.dl_compression`) and the EPC Tag Data Standard (:mod:`gs1.epc`);
:func:`gs1.identifiers.parse_identifier` is the entry point for identifiers in EPCIS events.

Keys and values (valid or raise)::

    Gtin, Sscc, Gln           identification keys with valid check digits
    Expiry                    AI 17 date, YYMMDD, day 00 allowed
    UnitCode                  GTIN + serial + lot + expiry (+ extra AIs) of one unit
    Element                   one (AI, value) pair; APPLICATION_IDENTIFIERS is the AI table

Rendering a :class:`UnitCode`: ``element_string()`` (what a scanner transmits, GS between
fields), ``datamatrix_data(fnc1)`` (what an encoder needs: FNC1 first), ``hri()``,
``digital_link(domain)``, ``sgtin_uri(cpl)``, ``lgtin_uri(cpl)``; for other keys
:func:`sscc_uri`, :func:`sgln_uri`, :func:`epc_uri`.

The code-scheme seam (:mod:`identity`): :class:`UnitCode` is a
:class:`identity.UnitIdentity` (``key()``, ``printer_payload()``, ``matches(scan)``,
``epc_uri(cpl)``, ``digital_link()``) and :data:`GS1` (:class:`Gs1Scheme`) the
:class:`identity.CodeScheme` registered as ``"gs1"`` on import.

Reading anything: :func:`parse` returns the :data:`Code` a string identifies
(``UnitCode | Sscc | Gln``); :func:`read` returns a :class:`Reading` with the code, the form
(:class:`CodeForm`: element_string, hri, digital_link, epc_uri, key), every element, the
symbology identifier and, for EPC URIs, the company prefix length. Decoders pass their
symbology identifier and text: ``read("]d2" + text)``; :func:`is_gs1_ai_data` says whether an
identifier signals FNC1 in first position.

Errors (see :mod:`gs1.errors`)::

    Gs1Error(ValueError)
     ├── FormatError       wrong length, character set, date or layout
     │    └── NotGs1Error  no GS1 data at all (plain ]d1 text, a URL without a GS1 key)
     ├── CheckDigitError   wrong GS1 check digit
     └── RuleError         valid elements in a combination GS1 forbids (21 without 01)
"""

from __future__ import annotations

from gs1.ai import (
    APPLICATION_IDENTIFIERS,
    BY_AI,
    DICTIONARY_COMMIT,
    ApplicationIdentifier,
    Charset,
    Component,
)
from gs1.checkdigit import check_digit
from gs1.cset82 import CSET82, is_cset82, validate_cset82
from gs1.dates import Expiry
from gs1.digital_link import (
    DEFAULT_DOMAIN,
    DigitalLink,
    digital_link_from_elements,
    parse_digital_link,
)
from gs1.dl_compression import compress_digital_link
from gs1.elements import GS, Element, check_rules, parse_element_string, parse_hri
from gs1.epc import EpcIdentity, lgtin_uri, parse_epc_uri, sgln_uri, sgtin_uri, sscc_uri
from gs1.errors import CheckDigitError, FormatError, Gs1Error, NotGs1Error, RuleError
from gs1.keys import Gln, Gtin, Sscc
from gs1.reading import Code, CodeForm, Reading, epc_uri, parse, read
from gs1.scheme import GS1, Gs1Scheme
from gs1.symbology import SYMBOLOGIES, Symbology, identify, is_gs1_ai_data
from gs1.unit import UnitCode
from identity import register_scheme

register_scheme(GS1)

__all__ = [
    "APPLICATION_IDENTIFIERS",
    "BY_AI",
    "CSET82",
    "DEFAULT_DOMAIN",
    "DICTIONARY_COMMIT",
    "GS",
    "GS1",
    "SYMBOLOGIES",
    "ApplicationIdentifier",
    "Charset",
    "CheckDigitError",
    "Code",
    "CodeForm",
    "Component",
    "DigitalLink",
    "Element",
    "EpcIdentity",
    "Expiry",
    "FormatError",
    "Gln",
    "Gs1Error",
    "Gs1Scheme",
    "Gtin",
    "NotGs1Error",
    "Reading",
    "RuleError",
    "Sscc",
    "Symbology",
    "UnitCode",
    "check_digit",
    "check_rules",
    "compress_digital_link",
    "digital_link_from_elements",
    "epc_uri",
    "identify",
    "is_cset82",
    "is_gs1_ai_data",
    "lgtin_uri",
    "parse",
    "parse_digital_link",
    "parse_element_string",
    "parse_epc_uri",
    "parse_hri",
    "read",
    "sgln_uri",
    "sgtin_uri",
    "sscc_uri",
    "validate_cset82",
]
