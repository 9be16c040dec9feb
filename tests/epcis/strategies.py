"""Hypothesis strategies for EPCIS events made of valid GS1 identifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from epcis.model import (
    AggregationEvent,
    BizTransaction,
    Destination,
    Location,
    ObjectEvent,
    QuantityElement,
    Source,
)
from epcis.vocabulary import Action, BizStep, BizTransactionType, Disposition, SourceDestType

_SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz0123456789-_"


@st.composite
def company_item(draw: st.DrawFn, total: int) -> tuple[str, str]:
    """A company prefix (6-12 digits) and the reference filling up to ``total`` digits."""
    cp_length = draw(st.integers(6, 12))
    cp = draw(st.text("0123456789", min_size=cp_length, max_size=cp_length))
    rest = draw(st.text("0123456789", min_size=total - cp_length, max_size=total - cp_length))
    return cp, rest


serials = st.text(_SERIAL_CHARS, min_size=1, max_size=20)
sgtins = st.builds(lambda ci, s: f"urn:epc:id:sgtin:{ci[0]}.{ci[1]}.{s}", company_item(13), serials)
ssccs = company_item(17).map(lambda ci: f"urn:epc:id:sscc:{ci[0]}.{ci[1]}")
sglns = st.builds(
    lambda ci, ext: f"urn:epc:id:sgln:{ci[0]}.{ci[1]}.{ext}",
    company_item(12),
    st.sampled_from(["0", "1", "L2"]),
)
lgtins = st.builds(
    lambda ci, s: f"urn:epc:class:lgtin:{ci[0]}.{ci[1]}.{s}", company_item(13), serials
)

times = st.builds(
    lambda base, minutes, millis: (base + timedelta(milliseconds=millis)).astimezone(
        timezone(timedelta(minutes=minutes))
    ),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
    st.sampled_from([0, 60, -300, 330, 840, -720]),
    st.integers(0, 999),
)


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


object_events = st.builds(
    lambda when, action, epcs, quantities, step, disp, rp, bl, bts, srcs, dsts, lot: ObjectEvent(
        event_time=when,
        event_time_zone_offset=_offset(when),
        action=action,
        epc_list=tuple(epcs),
        quantity_list=tuple(quantities),
        biz_step=step,
        disposition=disp,
        read_point=Location(rp),
        biz_location=bl and Location(bl),
        biz_transactions=tuple(bts),
        sources=tuple(srcs),
        destinations=tuple(dsts),
        ilmd={"cbvmda:lotNumber": lot} if lot and action is Action.ADD else None,
    ),
    times,
    st.sampled_from(Action),
    st.lists(st.one_of(sgtins, ssccs), min_size=1, max_size=4, unique=True),
    st.lists(
        st.builds(
            QuantityElement,
            lgtins,
            st.one_of(st.none(), st.integers(1, 500), st.floats(0.5, 99.5)),
            st.sampled_from([None, "KGM", "EA"]),
        ),
        max_size=2,
    ),
    st.sampled_from(BizStep),
    st.one_of(st.none(), st.sampled_from(Disposition)),
    sglns,
    st.one_of(st.none(), sglns),
    st.lists(
        st.builds(
            BizTransaction,
            st.builds(lambda n: f"urn:epcglobal:cbv:bt:0614141073467:{n}", st.integers(1, 10**6)),
            st.one_of(st.none(), st.sampled_from(BizTransactionType)),
        ),
        max_size=2,
    ),
    st.lists(st.builds(Source, sglns, st.sampled_from(SourceDestType)), max_size=2),
    st.lists(st.builds(Destination, sglns, st.sampled_from(SourceDestType)), max_size=2),
    st.one_of(st.none(), serials),
)

aggregation_events = st.builds(
    lambda when, action, parent, children, rp: AggregationEvent(
        event_time=when,
        event_time_zone_offset=_offset(when),
        action=action,
        parent_id=parent,
        child_epcs=tuple(children),
        biz_step=BizStep.PACKING if action is Action.ADD else BizStep.UNPACKING,
        read_point=Location(rp),
    ),
    times,
    st.sampled_from([Action.ADD, Action.DELETE]),
    ssccs,
    st.lists(sgtins, min_size=1, max_size=5, unique=True),
    sglns,
)

events = st.one_of(object_events, aggregation_events)
