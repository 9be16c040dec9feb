"""The line's EPCIS events, built with :mod:`epcis` and encoded once for the outbox.

Each event gets its CBV 2.0 event hash as ``eventID`` when it is built (inside the
transaction that records it), so the ID stored in the outbox is the ID the server sees, however
many times the message is re-sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import gs1
from epcis.codec import SERIALTRACE_PREFIX, encode_document, encode_event
from epcis.factories import (
    ILMD_EXPIRY,
    ILMD_LOT,
    commissioning_event,
    decommissioning_event,
    packing_event,
    transformation_event,
    unpacking_event,
    with_event_id,
)
from epcis.model import Event, Location, ObjectEvent, QuantityElement
from epcis.vocabulary import Action, BizStep, Disposition
from identity import UnitIdentity

if TYPE_CHECKING:
    from edge.batch import Reconciliation
    from edge.devices import UnitGrade
    from edge.ledger import Batch

_EVENT_LIST = '"eventList":[]'
GRADE_EXTENSION = f"{SERIALTRACE_PREFIX}:grade"
"""The commissioning event's print-quality grade (docs/events.md)."""


def _encode(event: Event) -> bytes:
    return json.dumps(encode_event(event), separators=(",", ":"), ensure_ascii=False).encode()


class EpcisEvents:
    """:class:`edge.events.EventFactory` for one line at one read point."""

    def __init__(self, read_point: str, biz_location: str) -> None:
        self.read_point = read_point
        self.biz_location = biz_location

    def envelope(self) -> tuple[bytes, bytes]:
        text = json.dumps(encode_document([]), separators=(",", ":"), ensure_ascii=False)
        head, _, tail = text.partition(_EVENT_LIST)
        return (head + '"eventList":[').encode(), ("]" + tail).encode()

    def _lgtin(self, batch: Batch, cpl: int) -> str:
        return gs1.lgtin_uri(gs1.Gtin.parse(batch.gtin), batch.lot, cpl)

    def batch_started(self, batch: Batch, company_prefix_length: int) -> list[bytes]:
        now = datetime.now(UTC)
        expiry = gs1.Expiry.parse(batch.expiry).as_date()
        lgtin = self._lgtin(batch, company_prefix_length)
        events: list[bytes] = []
        if batch.materials:
            inputs = [
                QuantityElement(
                    gs1.lgtin_uri(gs1.Gtin.parse(m.gtin), m.lot, m.company_prefix_length),
                    m.quantity,
                    m.uom,
                )
                for m in batch.materials
            ]
            events.append(
                _encode(
                    transformation_event(
                        inputs,
                        [QuantityElement(lgtin, float(batch.planned), None)],
                        event_time=now,
                        read_point=self.read_point,
                        biz_location=self.biz_location,
                        ilmd={ILMD_LOT: batch.lot, ILMD_EXPIRY: expiry.isoformat()},
                    )
                )
            )
        moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
        events.append(
            _encode(
                with_event_id(
                    ObjectEvent(
                        event_time=moment,
                        event_time_zone_offset="+00:00",
                        action=Action.ADD,
                        quantity_list=(QuantityElement(lgtin, float(batch.planned), None),),
                        biz_step=BizStep.COMMISSIONING,
                        disposition=Disposition.ACTIVE,
                        read_point=Location(self.read_point),
                        biz_location=Location(self.biz_location),
                        ilmd={ILMD_LOT: batch.lot, ILMD_EXPIRY: expiry.isoformat()},
                    )
                )
            )
        )
        return events

    def batch_closed(
        self, batch: Batch, company_prefix_length: int, reconciliation: Reconciliation
    ) -> bytes:
        """The lot as made: ObjectEvent OBSERVE (inspecting) of the commissioned quantity,
        with the reconciliation as the ``serialtrace:reconciliation`` extension."""
        now = datetime.now(UTC)
        moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
        counts = {k: v for k, v in reconciliation.as_dict().items() if not isinstance(v, bool)}
        event = ObjectEvent(
            event_time=moment,
            event_time_zone_offset="+00:00",
            action=Action.OBSERVE,
            quantity_list=(
                QuantityElement(
                    self._lgtin(batch, company_prefix_length),
                    float(reconciliation.commissioned),
                    None,
                ),
            ),
            biz_step=BizStep.INSPECTING,
            disposition=Disposition.ACTIVE,
            read_point=Location(self.read_point),
            biz_location=Location(self.biz_location),
            extensions={f"{SERIALTRACE_PREFIX}:reconciliation": counts},  # type: ignore[dict-item]
        )
        return _encode(with_event_id(event))

    def unit_commissioned(
        self, code: UnitIdentity, company_prefix_length: int, grade: UnitGrade | None = None
    ) -> bytes:
        event = commissioning_event(
            [code.epc_uri(company_prefix_length)],
            event_time=datetime.now(UTC),
            read_point=self.read_point,
            biz_location=self.biz_location,
            lot=code.lot,
            expiry=code.expiry_date(),
        )
        if grade is not None:
            extension = {GRADE_EXTENSION: grade.as_extension()}
            event = with_event_id(replace(event, extensions=extension))  # type: ignore[arg-type]
        return _encode(event)

    def packed(self, parent: str, children: Sequence[str]) -> bytes:
        return _encode(
            packing_event(
                parent,
                children,
                event_time=datetime.now(UTC),
                read_point=self.read_point,
                biz_location=self.biz_location,
            )
        )

    def unpacked(self, parent: str, children: Sequence[str]) -> bytes:
        return _encode(
            unpacking_event(
                parent,
                children,
                event_time=datetime.now(UTC),
                read_point=self.read_point,
                biz_location=self.biz_location,
            )
        )

    def decommissioned(self, epcs: Sequence[str], reason: str) -> bytes:
        return _encode(
            decommissioning_event(
                epcs, event_time=datetime.now(UTC), read_point=self.read_point, reason=reason
            )
        )
