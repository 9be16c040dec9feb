"""A small, realistic store for the web UI tests, filled through the real capture path.

One batch (lot ``L24A``) of 2 pallets x 2 cases x 3 units, made from two raw-material lots;
pallet 1 is shipped to a wholesaler; one unit was decommissioned as a QA sample. A second
batch (``L24B``) has 2 units that are not packed. Users: one per role, password
:data:`PASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

import epcis
import gs1
from server.auth import Role, add_user
from server.lines import register_line
from server.store import write_transaction

PASSWORD = "correct horse battery"
CPL = 7  # company prefix length of 4012345
GTIN = gs1.Gtin.parse("04012345000016")
LOT = "L24A"
OTHER_LOT = "L24B"
EXPIRY = date(2027, 6, 30)
READ_POINT = "urn:epc:id:sgln:4012345.00001.1"
SITE = "urn:epc:id:sgln:4012345.00001.0"
SHIP_TO = "urn:epc:id:sgln:4098765.00010.0"
CUSTOMER = "urn:epc:id:pgln:4098765.00000"
DESPATCH = "urn:epc:id:gdti:4012345.00001.42"
RAW_LOTS = ("API-7731", "EXC-0192")
START = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pallet:
    sscc: str
    cases: tuple[str, ...]
    serials: tuple[str, ...]


@dataclass
class SeededStore:
    pallets: list[Pallet] = field(default_factory=list)
    sample: str = ""  # serial decommissioned as a QA sample
    loose: tuple[str, ...] = ()  # serials of the other batch, not packed

    @property
    def shipped_serial(self) -> str:
        return self.pallets[0].serials[0]


#: The printed names of the seeded users (what their signatures carry).
FULL_NAMES = {"qa": "Quinn Q. Assurance", "operator": "Olga Operator", "admin": "Ada Admin"}


def add_users(engine: Engine) -> None:
    """A user per role; the device is bound to line ``web/line1`` (its read point, the site)."""
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        register_line(
            conn, "web", "line1", [READ_POINT, SITE], actor="test", reason="seed", now=now
        )
        for role in Role:
            add_user(
                conn,
                role.value,
                PASSWORD,
                role,
                now=now,
                full_name=FULL_NAMES.get(role.value),
                line="web/line1" if role is Role.DEVICE else None,
            )


def _sscc(number: int) -> str:
    body = f"0{GTIN.value[1:8]}{number:09d}"
    return gs1.Sscc.parse(body + gs1.check_digit(body)).value


def _unit_uri(serial: str) -> str:
    return gs1.sgtin_uri(GTIN, serial, CPL)


def _sscc_uri(sscc: str) -> str:
    return gs1.sscc_uri(gs1.Sscc.parse(sscc), CPL)


def documents() -> tuple[SeededStore, list[dict[str, Any]]]:
    """The seeded objects and the EPCIS documents that create them, in line order."""
    seeded = SeededStore()
    events: list[epcis.Event] = []
    clock = iter(START + timedelta(minutes=i) for i in range(1000))
    events.append(
        epcis.transformation_event(
            [
                epcis.QuantityElement(f"urn:epc:class:lgtin:4012345.099999.{raw}", 25.0, "KGM")
                for raw in RAW_LOTS
            ],
            [epcis.QuantityElement(gs1.lgtin_uri(GTIN, LOT, CPL), 12.0)],
            event_time=next(clock),
            read_point=READ_POINT,
            biz_location=SITE,
        )
    )
    number = 1
    for pallet_index in range(2):
        cases: list[str] = []
        pallet_serials: list[str] = []
        for case_index in range(2):
            serials = [f"P{pallet_index}C{case_index}U{unit}X7" for unit in range(3)]
            events.append(
                epcis.commissioning_event(
                    [_unit_uri(serial) for serial in serials],
                    event_time=next(clock),
                    read_point=READ_POINT,
                    biz_location=SITE,
                    lot=LOT,
                    expiry=EXPIRY,
                )
            )
            case = _sscc(number)
            number += 1
            events.append(
                epcis.packing_event(
                    _sscc_uri(case),
                    [_unit_uri(serial) for serial in serials],
                    event_time=next(clock),
                    read_point=READ_POINT,
                )
            )
            cases.append(case)
            pallet_serials.extend(serials)
        pallet = _sscc(number)
        number += 1
        events.append(
            epcis.packing_event(
                _sscc_uri(pallet),
                [_sscc_uri(case) for case in cases],
                event_time=next(clock),
                read_point=READ_POINT,
            )
        )
        seeded.pallets.append(Pallet(pallet, tuple(cases), tuple(pallet_serials)))
    events.append(
        epcis.shipping_event(
            [_sscc_uri(seeded.pallets[0].sscc)],
            event_time=next(clock),
            read_point=READ_POINT,
            destinations=[
                epcis.Destination(SHIP_TO, epcis.SourceDestType.LOCATION),
                epcis.Destination(CUSTOMER, epcis.SourceDestType.OWNING_PARTY),
            ],
            biz_transactions=[epcis.BizTransaction(DESPATCH, epcis.BizTransactionType.DESADV)],
        )
    )
    seeded.sample = seeded.pallets[1].serials[-1]
    events.append(
        epcis.decommissioning_event(
            [_unit_uri(seeded.sample)],
            event_time=next(clock),
            read_point=READ_POINT,
            reason="QA retention sample",
        )
    )
    seeded.loose = ("LOOSE01", "LOOSE02")
    events.append(
        epcis.commissioning_event(
            [_unit_uri(serial) for serial in seeded.loose],
            event_time=next(clock),
            read_point=READ_POINT,
            biz_location=SITE,
            lot=OTHER_LOT,
            expiry=EXPIRY,
        )
    )
    return seeded, [epcis.encode_document(events)]


def seed(base_url: str) -> SeededStore:
    """Capture the documents over HTTP as the ``device`` user; fails loudly if refused."""
    seeded, docs = documents()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        login = client.post("/auth/token", data={"username": "device", "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for document in docs:
            answer = client.post("/epcis/capture", json=document, headers=headers)
            if answer.status_code != 202:
                raise AssertionError(f"capture refused: {answer.status_code} {answer.text}")
    return seeded


SUPPLIER_LOT = "SUP-API-7731"


def record_release_file(base_url: str) -> None:
    """What is recorded before QA releases lot ``L24A``: production (the operator) records a
    production record that reconciles (15 printed = 12 on record + 2 rejected + 1 sampled) and
    the API's supplier lot :data:`SUPPLIER_LOT`; QA one passed assay. Lot ``L24B`` gets
    nothing, so its release is blocked."""
    base = f"/qa/batches/{GTIN.value}/{LOT}"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        headers_of = {}
        for role in ("operator", "qa"):
            login = client.post("/auth/token", data={"username": role, "password": PASSWORD})
            login.raise_for_status()
            headers_of[role] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        calls = [
            (
                "PUT",
                f"{base}/production",
                {
                    "line": "L1",
                    "started_at": "2025-03-03T06:00:00Z",
                    "finished_at": "2025-03-03T14:00:00Z",
                    "planned": 12,
                    "produced": 15,
                    "rejected": 2,
                    "sampled": 1,
                    "deviations": [
                        {"reference": "DV-2025-009", "description": "label roll changed"}
                    ],
                },
            ),
            (
                "POST",
                f"{base}/inspections",
                {
                    "test": "assay",
                    "specification": "95.0-105.0 %",
                    "result": "99.1 %",
                    "passed": True,
                    "tested_at": "2025-03-04T10:00:00Z",
                },
            ),
            (
                "POST",
                f"{base}/materials",
                {
                    "material": "paracetamol API",
                    "supplier": "Acme Pharma",
                    "supplier_lot": SUPPLIER_LOT,
                    "received_at": "2025-02-20T09:00:00Z",
                    "quantity": 25,
                    "uom": "KGM",
                },
            ),
        ]
        for method, path, body in calls:
            role = "qa" if path.endswith("/inspections") else "operator"
            answer = client.request(method, path, json=body, headers=headers_of[role])
            if answer.status_code not in (200, 201):
                raise AssertionError(f"{method} {path} refused: {answer.status_code} {answer.text}")
