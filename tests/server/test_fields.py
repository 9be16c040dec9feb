"""The EPCIS query index rows an event gives (``server.ingest.fields``): a table of what is
indexed under which name, and properties over hostile input (never raises, bounded)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from server.ingest.fields import MAX_ROWS, MAX_TEXT, bounded, field_rows

EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2025-01-01T00:00:00Z",
    "action": "OBSERVE",
    "bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:x:po1"}],
    "sourceList": [{"type": "owning_party", "source": "urn:x:src"}],
    "destinationList": [
        {"type": "https://ref.gs1.org/cbv/SDT-location", "destination": "urn:x:dst"}
    ],
    "persistentDisposition": {"set": ["urn:epcglobal:cbv:disp:recalled"], "unset": ["active"]},
    "quantityList": [{"epcClass": "urn:x:c", "quantity": 2.5, "uom": "KGM"}],
    "ilmd": {"cbvmda:lotNumber": "L1", "ex:nested": {"ex:deep": 7}},
    "readPoint": {"id": "urn:x:rp", "ex:zone": "A"},
    "ex:flag": True,
    "ex:when": "2025-02-03T04:05:06+01:00",
    "sensorElementList": [
        {
            "sensorMetadata": {"time": "2025-01-01T00:00:00Z", "deviceID": "urn:x:dev"},
            "sensorReport": [{"type": "gs1:Temperature", "value": 3, "uom": "CEL", "percRank": 5}],
        }
    ],
    "errorDeclaration": {
        "declarationTime": "2025-01-02T00:00:00Z",
        "correctiveEventIDs": ["urn:x:fix"],
        "ex:why": "typo",
    },
}
CONTEXT = [{"ex": "https://example.com/ns/"}]
NS = "https://example.com/ns/"


def test_what_is_indexed_under_which_name() -> None:
    rows = set(field_rows(EVENT, CONTEXT))
    expected = {
        ("bt:po", "urn:x:po1", None, None),
        ("src:owning_party", "urn:x:src", None, None),
        ("dst:location", "urn:x:dst", None, None),
        ("pds", "recalled", None, None),
        ("pdu", "active", None, None),
        ("q", None, 2.5, None),
        ("q:KGM", None, 2.5, None),
        ("il:urn:epcglobal:cbv:mda:lotNumber", "L1", None, None),
        (f"il:{NS}nested", None, None, None),
        ("il:ex:nested", None, None, None),
        (f"ili:{NS}deep", None, 7.0, None),
        (f"rp:{NS}zone", "A", None, None),
        (f"x:{NS}flag", "true", None, None),
        ("s", None, None, None),
        ("s:deviceID", "urn:x:dev", None, None),
        ("s:type", "Temperature", None, None),
        ("s:value:CEL", None, 3.0, None),
        ("s:percRank", None, 5.0, None),
        ("edc", "urn:x:fix", None, None),
        (f"ed:{NS}why", "typo", None, None),
    }
    assert expected <= rows, expected - rows
    moment = datetime(2025, 2, 3, 3, 5, 6, tzinfo=UTC)
    [when] = [row for row in rows if row[0] == f"x:{NS}when"]
    assert when[3] == moment and when[1] == "2025-02-03T04:05:06+01:00"


def test_long_text_is_stored_as_its_digest() -> None:
    long = "x" * (MAX_TEXT + 1)
    assert bounded(long).startswith("#") and len(bounded(long)) == 65
    assert bounded(long) == bounded(long) != bounded(long + "y")
    assert bounded("short") == "short"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(10**400)  # beyond any float
    | st.floats()
    | st.text(max_size=400),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(event=st.dictionaries(st.text(max_size=30), JSON, max_size=12), context=JSON)
def test_any_event_gives_bounded_rows(event: dict[str, Any], context: Any) -> None:
    """Whatever a hostile document holds: no exception, at most MAX_ROWS rows, names and
    texts within the index columns, no infinite numbers."""
    rows = field_rows(event, context)
    assert len(rows) <= MAX_ROWS
    for name, text, number, moment in rows:
        assert len(name) <= MAX_TEXT and (text is None or len(text) <= MAX_TEXT)
        assert number is None or abs(number) < float("inf")
        assert moment is None or moment.tzinfo is not None
