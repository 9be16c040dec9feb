"""EPCIS documents as the edge sends them (dicts, the wire format), for tests and benchmarks."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import gs1

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
COMPANY_PREFIX = "0614141"
ITEM_REFERENCE = "107346"  # indicator 1 + item reference 07346
GTIN = gs1.Gtin.parse(
    "1" + COMPANY_PREFIX + "07346" + gs1.check_digit("1" + COMPANY_PREFIX + "07346")
).value
READ_POINT = "urn:epc:id:sgln:0614141.07346.1"


def sgtin(serial: str) -> str:
    return f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{ITEM_REFERENCE}.{serial}"


def sscc(number: int, extension: int = 0) -> str:
    """The 18-digit SSCC number ``number`` of our company prefix."""
    body = f"{extension}{COMPANY_PREFIX}{number:09d}"
    return body + gs1.check_digit(body)


def sscc_uri(value: str) -> str:
    return f"urn:epc:id:sscc:{COMPANY_PREFIX}.{value[0]}{value[8:17]}"


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-03-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


def payload(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(document(events)).encode()


_ids = itertools.count(1)


def _event(kind: str, time: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{next(_ids):012d}",
        "eventTime": time,
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }


def commissioning(
    serials: list[str],
    lot: str = "LOT1",
    expiry: str = "2027-01-31",
    time: str = "2025-03-01T08:00:00Z",
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        time,
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        epcList=[sgtin(s) for s in serials],
        readPoint={"id": READ_POINT},
        ilmd={"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry},
    )


def packing(
    parent_sscc: str, children: list[str], time: str = "2025-03-01T08:01:00Z"
) -> dict[str, Any]:
    """``children``: serials of units, or 18-digit SSCCs."""
    child_epcs = [sscc_uri(c) if len(c) == 18 and c.isdigit() else sgtin(c) for c in children]
    return _event(
        "AggregationEvent",
        time,
        action="ADD",
        bizStep="packing",
        disposition="in_progress",
        parentID=sscc_uri(parent_sscc),
        childEPCs=child_epcs,
        readPoint={"id": READ_POINT},
    )


def unpacking(
    parent_sscc: str, children: list[str], time: str = "2025-03-01T09:00:00Z"
) -> dict[str, Any]:
    return {
        **packing(parent_sscc, children, time),
        "action": "DELETE",
        "bizStep": "unpacking",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{next(_ids):012d}",
    }


def decommissioning(
    serials: list[str], step: str = "decommissioning", time: str = "2025-03-02T08:00:00Z"
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        time,
        action="DELETE",
        bizStep=step,
        disposition="inactive",
        epcList=[sgtin(s) for s in serials],
        readPoint={"id": READ_POINT},
    )


def shipping(
    ssccs: list[str],
    destination: str = "urn:epc:id:sgln:4012345.00001.0",
    customer: str = "urn:epc:id:pgln:4012345.00000",
    time: str = "2025-03-03T08:00:00Z",
) -> dict[str, Any]:
    return _event(
        "ObjectEvent",
        time,
        action="OBSERVE",
        bizStep="shipping",
        disposition="in_transit",
        epcList=[sscc_uri(s) for s in ssccs],
        readPoint={"id": READ_POINT},
        destinationList=[
            {"type": "location", "destination": destination},
            {"type": "owning_party", "destination": customer},
        ],
        bizTransactionList=[
            {"type": "desadv", "bizTransaction": "urn:epc:id:gdti:4012345.00001.1"}
        ],
    )


def transformation(
    raw_lots: list[str], lot: str = "LOT1", time: str = "2025-03-01T07:00:00Z"
) -> dict[str, Any]:
    return _event(
        "TransformationEvent",
        time,
        bizStep="commissioning",
        inputQuantityList=[
            {"epcClass": f"urn:epc:class:lgtin:4012345.011111.{raw}", "quantity": 10, "uom": "KGM"}
            for raw in raw_lots
        ],
        outputQuantityList=[
            {
                "epcClass": f"urn:epc:class:lgtin:{COMPANY_PREFIX}.{ITEM_REFERENCE}.{lot}",
                "quantity": 1000,
            }
        ],
        readPoint={"id": READ_POINT},
    )


@dataclass
class Line:
    """A packaging line's output: cases of units and pallets of cases, as documents."""

    lot: str = "LOT1"
    units_per_case: int = 4
    cases_per_pallet: int = 2
    next_sscc: int = 1
    serial_prefix: str = "S"
    documents: list[list[dict[str, Any]]] = field(default_factory=list)

    def pallet(self) -> tuple[str, list[str], list[str]]:
        """Commission, pack cases, pack a pallet; (pallet SSCC, case SSCCs, serials)."""
        cases: list[str] = []
        serials: list[str] = []
        for _ in range(self.cases_per_pallet):
            case_serials = [
                f"{self.serial_prefix}{self.next_sscc:05d}{i:03d}"
                for i in range(self.units_per_case)
            ]
            case = sscc(self.next_sscc)
            self.next_sscc += 1
            self.documents.append([commissioning(case_serials, self.lot)])
            self.documents.append([packing(case, case_serials)])
            cases.append(case)
            serials.extend(case_serials)
        pallet = sscc(self.next_sscc, extension=1)
        self.next_sscc += 1
        self.documents.append([packing(pallet, cases, "2025-03-01T08:30:00Z")])
        return pallet, cases, serials
