"""Serial lists and SSCC ranges from a brand owner or an L4 system: three document formats.

``csv`` (UTF-8, a header row names the layout; one of)::

    gtin,serial                           one serial of a GTIN per row
    company_prefix,sscc                   one SSCC per row (18 digits)
    company_prefix,first_sscc,last_sscc   an SSCC range, both ends included

``epcis``: an EPCIS 2.0 JSON(-LD) ``EPCISDocument`` whose ``ObjectEvent`` s with action ``ADD``
and bizStep ``encoding`` (or none) list the identifiers provisioned, as EPC URIs
(``urn:epc:id:sgtin:…``, ``urn:epc:id:sscc:…``) or GS1 Digital Link URIs, in ``epcList``.
Other event types, actions or bizSteps are refused: they would not be provisioning.

``openscs``: a JSON object shaped after OPC 30260 (OPEN-SCS)'s ``SNtoUnallocated`` arguments::

    {"snFormat": "gs1-ai21" | "sscc" | "epc-uri",
     "poolSelectionCriteria": [{"key": "GTIN", "value": "09506000134352"}],
     "snCollection": {"id": "…", "description": "…", "state": "unallocated",
                      "associatedPoolID": "…", "serialNumbers": ["…", …]}}

``gs1-ai21`` serial numbers need the ``GTIN`` criterion, ``sscc`` ones ``COMPANY_PREFIX``
(the SSCC does not say where its prefix ends); ``epc-uri`` ones carry both.

Every value is checked against GS1's rules here (GTIN and SSCC check digits, serials of 1 to
20 characters of CSET 82, SSCCs of the stated company prefix, no value twice); the authority
then checks them against every value already known (:meth:`SerialAuthority.import_lists`).
Problems are collected, not raised one by one: a document is imported whole or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from typing import Any

import gs1
from epcis import loads_bounded
from epcis.errors import PayloadLimitError
from server.serials.authority import ScopeKey
from server.serials.errors import Refused

FORMATS = ("csv", "epcis", "openscs")
#: At most this many identifiers per document (an SSCC range is counted expanded).
MAX_VALUES = 2_000_000
MAX_DEPTH = 16
_SHOWN = 20


@dataclass(frozen=True)
class Provisioning:
    """A checked document: the identifiers per scope, in the document's order."""

    format: str
    reference: str
    sha256: str
    lists: dict[ScopeKey, list[str]]

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.lists.values())


class _Collector:
    def __init__(self) -> None:
        self.lists: dict[ScopeKey, list[str]] = {}
        self.seen: dict[tuple[ScopeKey, str], str] = {}
        self.problems: list[str] = []
        self.count = 0

    def add(self, key: ScopeKey, value: str, where: str) -> None:
        first = self.seen.get((key, value))
        if first is not None:
            self.problems.append(f"{where}: {value!r} appears twice (first at {first})")
            return
        self.count += 1
        if self.count > MAX_VALUES:
            raise Refused(f"document: expected at most {MAX_VALUES:,} identifiers, got more")
        self.seen[(key, value)] = where
        self.lists.setdefault(key, []).append(value)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def result(self, format: str, reference: str, payload: bytes) -> Provisioning:
        if self.problems:
            raise Refused(
                f"document refused: {_count(len(self.problems))}; first: "
                + "; ".join(self.problems[:_SHOWN]),
                problems=self.problems,
            )
        if not self.lists:
            raise Refused("document: expected at least one serial or SSCC, got none")
        digest = hashlib.sha256(payload).hexdigest()
        return Provisioning(format, reference, digest, self.lists)


def parse_document(payload: bytes, format: str, *, reference: str = "") -> Provisioning:
    """Check a provisioning document; :class:`Refused` lists every problem found."""
    if format not in FORMATS:
        raise Refused(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Refused(f"document: expected UTF-8, got a byte it cannot decode ({exc})") from None
    collector = _Collector()
    if format == "csv":
        _csv(text, collector)
    else:
        document = _json(text)
        if format == "epcis":
            reference = reference or _epcis(document, collector)
        else:
            reference = reference or _openscs(document, collector)
    return collector.result(format, reference, payload)


# -- CSV ------------------------------------------------------------------------------------


_LAYOUTS = {
    ("gtin", "serial"): "serials",
    ("company_prefix", "sscc"): "ssccs",
    ("company_prefix", "first_sscc", "last_sscc"): "ranges",
}


def _csv(text: str, out: _Collector) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    names = tuple(h.strip().lower() for h in header or ())
    layout = _LAYOUTS.get(names)
    if layout is None:
        expected = " or ".join(",".join(columns) for columns in _LAYOUTS)
        raise Refused(f"header: expected {expected}, got {','.join(names) or 'nothing'!r}")
    for number, row in enumerate(reader, start=2):
        where = f"line {number}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            out.problem(where, f"expected {len(names)} fields, got {len(row)}")
            continue
        cells = [cell.strip() for cell in row]
        try:
            if layout == "serials":
                out.add(ScopeKey.sgtin(cells[0]), _serial(cells[1]), where)
            elif layout == "ssccs":
                key, sscc = _sscc(cells[0], cells[1])
                out.add(key, sscc.value, where)
            else:
                _range(cells[0], cells[1], cells[2], where, out)
        except (gs1.Gs1Error, Refused) as exc:
            out.problem(where, str(exc))


def _serial(value: str) -> str:
    return gs1.validate_cset82(value, field="serial")


def _sscc(company_prefix: str, value: str) -> tuple[ScopeKey, gs1.Sscc]:
    sscc = gs1.Sscc.parse(value)
    if not (6 <= len(company_prefix) <= 12 and company_prefix.isdigit()):
        raise Refused(f"company_prefix: expected 6 to 12 digits, got {company_prefix!r}")
    if sscc.value[1 : 1 + len(company_prefix)] != company_prefix:
        raise Refused(f"sscc: expected an SSCC of company prefix {company_prefix}, got {value!r}")
    return ScopeKey.sscc(sscc.extension_digit, company_prefix), sscc


def _range(company_prefix: str, first: str, last: str, where: str, out: _Collector) -> None:
    key, low = _sscc(company_prefix, first)
    other, high = _sscc(company_prefix, last)
    if other != key:
        raise Refused(f"last_sscc: expected the extension digit of {first!r}, got {last!r}")
    head = len(key.name)
    start, stop = int(low.value[head:17]), int(high.value[head:17]) + 1
    if stop <= start:
        raise Refused(f"last_sscc: expected an SSCC at or after {first!r}, got {last!r}")
    if out.count + (stop - start) > MAX_VALUES:
        raise Refused(f"document: expected at most {MAX_VALUES:,} identifiers, got more")
    for reference in range(start, stop):
        out.add(key, gs1.Sscc.build(key.extension, key.company_prefix, reference).value, where)


# -- JSON documents -------------------------------------------------------------------------


def _json(text: str) -> Any:
    try:
        return loads_bounded(text, max_depth=MAX_DEPTH, field="document")
    except PayloadLimitError as exc:
        raise Refused(str(exc)) from None


def _identifier(text: Any, where: str, out: _Collector) -> None:
    """An EPC URI or a GS1 Digital Link URI of a serialised unit or an SSCC."""
    if not isinstance(text, str):
        out.problem(where, f"expected an EPC or GS1 Digital Link URI, got {text!r}")
        return
    try:
        if text.startswith("urn:epc:"):
            epc = gs1.parse_epc_uri(text)
            if epc.scheme == "sgtin" and epc.gtin is not None and epc.serial is not None:
                out.add(ScopeKey("sgtin", epc.gtin.value), epc.serial, where)
                return
            if epc.scheme == "sscc" and epc.sscc is not None:
                prefix = epc.sscc.company_prefix(epc.company_prefix_length)
                key = ScopeKey.sscc(epc.sscc.extension_digit, prefix)
                out.add(key, epc.sscc.value, where)
                return
            out.problem(where, f"expected an sgtin or sscc EPC URI, got {text!r}")
            return
        code = gs1.parse(text)
    except gs1.Gs1Error as exc:
        out.problem(where, str(exc))
        return
    if isinstance(code, gs1.UnitCode) and code.serial:
        out.add(ScopeKey("sgtin", code.gtin.value), code.serial, where)
    else:
        # A Digital Link SSCC does not say where its company prefix ends.
        out.problem(where, f"expected a serialised unit (01 + 21) or an SSCC EPC URI, got {text!r}")


def _epcis(document: Any, out: _Collector) -> str:
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise Refused("document: expected an EPCIS 2.0 JSON object with type EPCISDocument")
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise Refused("epcisBody.eventList: expected a list of events")
    for index, event in enumerate(events):
        where = f"eventList[{index}]"
        if not isinstance(event, dict):
            out.problem(where, f"expected an event object, got {type(event).__name__}")
            continue
        step = event.get("bizStep")
        if (
            event.get("type") != "ObjectEvent"
            or event.get("action") != "ADD"
            or step not in (None, "encoding", "urn:epcglobal:cbv:bizstep:encoding")
        ):
            out.problem(
                where,
                "expected an ObjectEvent with action ADD and bizStep encoding (or none), got "
                f"{event.get('type')!r} {event.get('action')!r} {step!r}",
            )
            continue
        epcs = event.get("epcList")
        if not isinstance(epcs, list) or not epcs:
            out.problem(where, "epcList: expected a non-empty list of identifiers")
            continue
        for position, epc in enumerate(epcs):
            _identifier(epc, f"{where}.epcList[{position}]", out)
    created = document.get("creationDate")
    return f"EPCISDocument {created}" if isinstance(created, str) else "EPCISDocument"


def _openscs(document: Any, out: _Collector) -> str:
    if not isinstance(document, dict):
        raise Refused("document: expected a JSON object with snFormat and snCollection")
    sn_format = document.get("snFormat")
    collection = document.get("snCollection")
    if sn_format not in ("gs1-ai21", "sscc", "epc-uri"):
        raise Refused(f"snFormat: expected gs1-ai21, sscc or epc-uri, got {sn_format!r}")
    if not isinstance(collection, dict):
        raise Refused("snCollection: expected an object with serialNumbers")
    state = collection.get("state", "unallocated")
    if state not in ("unassigned", "unallocated"):
        raise Refused(
            f"snCollection.state: expected unassigned or unallocated (serial numbers a line has "
            f"not used), got {state!r}"
        )
    numbers = collection.get("serialNumbers")
    if not isinstance(numbers, list) or not numbers:
        raise Refused("snCollection.serialNumbers: expected a non-empty list")
    criteria = _criteria(document.get("poolSelectionCriteria", []))
    reference = str(collection.get("associatedPoolID") or collection.get("id") or "")[:256]
    if sn_format == "epc-uri":
        for index, value in enumerate(numbers):
            _identifier(value, f"serialNumbers[{index}]", out)
        return reference
    if sn_format == "gs1-ai21":
        if "GTIN" not in criteria:
            raise Refused("poolSelectionCriteria: expected a GTIN for gs1-ai21 serial numbers")
        key = ScopeKey.sgtin(criteria["GTIN"])
        for index, value in enumerate(numbers):
            where = f"serialNumbers[{index}]"
            try:
                out.add(key, _serial(value if isinstance(value, str) else repr(value)), where)
            except gs1.Gs1Error as exc:
                out.problem(where, str(exc))
        return reference
    prefix = criteria.get("COMPANY_PREFIX")
    if prefix is None:
        raise Refused("poolSelectionCriteria: expected a COMPANY_PREFIX for sscc serial numbers")
    for index, value in enumerate(numbers):
        where = f"serialNumbers[{index}]"
        try:
            key, sscc = _sscc(prefix, value if isinstance(value, str) else repr(value))
            out.add(key, sscc.value, where)
        except (gs1.Gs1Error, Refused) as exc:
            out.problem(where, str(exc))
    return reference


def _criteria(raw: Any) -> dict[str, str]:
    """OPENSCSKeyValueDataType[]: ``[{"key": …, "value": …}]``."""
    if not isinstance(raw, list):
        raise Refused("poolSelectionCriteria: expected a list of {key, value}")
    criteria: dict[str, str] = {}
    for item in raw:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("key"), str)
            and isinstance(item.get("value"), str)
        ):
            raise Refused(f"poolSelectionCriteria: expected {{key, value}} strings, got {item!r}")
        criteria[item["key"].upper()] = item["value"]
    return criteria


def _count(problems: int) -> str:
    return "1 problem" if problems == 1 else f"{problems} problems"
